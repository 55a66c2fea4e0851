"""The analytics domain: the artifact library and its impact ranking, weekly git and CI/CD metrics,
the weekly team insights (efficiency and recommendations), and a weekly schedule of the
partitioned assets (stopped until someone starts it)."""

from dagster import DefaultScheduleStatus, Definitions, build_schedule_from_partitioned_job, define_asset_job

from .assets import ANALYTICS_ASSETS, cicd_weekly_metrics, git_weekly_metrics
from .insights import INSIGHTS_ASSETS, team_insights_asset

analytics_weekly_job = define_asset_job(
    "analytics_weekly",
    selection=[git_weekly_metrics, cicd_weekly_metrics, team_insights_asset],
    description="The week's git and CI/CD metrics of every configured repository and CI source, then "
    "the week's team insights and recommendations from them.",
)
analytics_weekly_schedule = build_schedule_from_partitioned_job(
    analytics_weekly_job,
    name="analytics_weekly_schedule",
    description="Each Monday, the week just ended of the git and CI/CD metrics and the team insights.",
    default_status=DefaultScheduleStatus.STOPPED,
)

defs = Definitions(
    assets=ANALYTICS_ASSETS + INSIGHTS_ASSETS, jobs=[analytics_weekly_job], schedules=[analytics_weekly_schedule]
)
