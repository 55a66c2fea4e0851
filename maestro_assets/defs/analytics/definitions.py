"""The analytics domain: the artifact library and its impact ranking, weekly git and CI/CD metrics,
the weekly team insights (efficiency and recommendations), project success prediction, and two
weekly schedules (stopped until someone starts them): the partitioned assets of the week just
ended, and the catalogue and predictions over everything."""

from dagster import (
    DefaultScheduleStatus,
    Definitions,
    ScheduleDefinition,
    build_schedule_from_partitioned_job,
    define_asset_job,
)

from .assets import ANALYTICS_ASSETS, artifact_library, cicd_weekly_metrics, git_weekly_metrics, top_artifacts
from .insights import INSIGHTS_ASSETS, team_insights_asset
from .success import SUCCESS_ASSETS, project_success_predictions

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
analytics_catalogue_job = define_asset_job(
    "analytics_catalogue",
    selection=[artifact_library, top_artifacts, project_success_predictions],
    description="The artifact library, the impact ranking and the project success predictions, over all history.",
)
analytics_catalogue_schedule = ScheduleDefinition(
    name="analytics_catalogue_schedule",
    job=analytics_catalogue_job,
    cron_schedule="0 6 * * 1",  # Mondays 06:00 UTC: after the weekly metrics of the week just ended
    execution_timezone="UTC",
    description="Each Monday morning, the artifact library, the impact ranking and the success predictions.",
    default_status=DefaultScheduleStatus.STOPPED,
)

defs = Definitions(
    assets=ANALYTICS_ASSETS + INSIGHTS_ASSETS + SUCCESS_ASSETS,
    jobs=[analytics_weekly_job, analytics_catalogue_job],
    schedules=[analytics_weekly_schedule, analytics_catalogue_schedule],
)
