"""Hourly refresh of the online store: the latest complete day's gold rows, written again (Feast
keeps the newest row per entity, so a re-run changes nothing unless gold changed)."""

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, SkipReason, define_asset_job, schedule

from ..config import DAILY
from .assets import ONLINE_KEY

feast_online_store_job = define_asset_job(
    "feast_online_store_job", selection=[ONLINE_KEY], description="Write a gold day to Feast's online store."
)


@schedule(
    name="feast_online_store_hourly",
    cron_schedule="0 * * * *",
    job=feast_online_store_job,
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
    description="Every hour: the latest complete day of gold into the online store (0 * * * *, UTC).",
)
def feast_online_store_hourly(context: ScheduleEvaluationContext):
    day = DAILY.get_last_partition_key(current_time=context.scheduled_execution_time)
    if day is None:
        return SkipReason("no complete daily partition yet (the sources file's start_date is in the future)")
    return RunRequest(partition_key=day, tags={"maestro/trigger": "hourly"})
