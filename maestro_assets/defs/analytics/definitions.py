"""The analytics domain: the artifact library and its impact ranking, weekly git and CI/CD metrics,
and a weekly schedule of the partitioned metrics (stopped until someone starts it)."""

from dagster import DefaultScheduleStatus, Definitions, build_schedule_from_partitioned_job, define_asset_job

from .assets import ANALYTICS_ASSETS, cicd_weekly_metrics, git_weekly_metrics

analytics_weekly_job = define_asset_job(
    "analytics_weekly",
    selection=[git_weekly_metrics, cicd_weekly_metrics],
    description="The week's git and CI/CD metrics of every configured repository and CI source.",
)
analytics_weekly_schedule = build_schedule_from_partitioned_job(
    analytics_weekly_job,
    name="analytics_weekly_schedule",
    description="Each Monday, the week just ended of the git and CI/CD metrics.",
    default_status=DefaultScheduleStatus.STOPPED,
)

defs = Definitions(assets=ANALYTICS_ASSETS, jobs=[analytics_weekly_job], schedules=[analytics_weekly_schedule])
