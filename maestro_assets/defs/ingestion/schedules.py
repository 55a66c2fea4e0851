"""A daily schedule per declared source: yesterday's partition of its timestamped tables and of
what reads them directly (their silver tables), and a fresh snapshot of its whole tables and
what reads them, on the source's cron (UTC)."""

from datetime import timedelta

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    define_asset_job,
    schedule,
)

from ...lib.ingestion.sources import Source
from ..config import DAILY, SOURCES
from .assets import bronze_key


def _bronze_and_readers(source: Source, partitioned: bool) -> AssetSelection | None:
    keys = [bronze_key(t) for t in source.tables if t.partitioned == partitioned]
    return AssetSelection.assets(*keys).downstream(depth=1) if keys else None


def source_jobs_and_schedules(source: Source):
    """(jobs, schedules) of one source."""
    jobs, schedules = [], []
    daily_selection = _bronze_and_readers(source, partitioned=True)
    if daily_selection is not None:
        daily_job = define_asset_job(
            f"ingest_{source.name}_daily",
            selection=daily_selection,
            description=f"One day of {source.name}'s timestamped tables, bronze to silver.",
        )

        @schedule(
            name=f"{source.name}_daily_schedule",
            cron_schedule=source.schedule,
            job=daily_job,
            execution_timezone="UTC",
            default_status=DefaultScheduleStatus.STOPPED,
            description=f"Ingests yesterday's partition of {source.name} ({source.schedule}, UTC).",
        )
        def daily(context: ScheduleEvaluationContext):
            day = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
            if not DAILY.has_partition_key(day):  # before start_date or from end_date on
                return SkipReason(
                    f"{day} is not a daily partition ({DAILY.get_first_partition_key()}.."
                    f"{DAILY.get_last_partition_key()}: the sources file's start_date/end_date)"
                )
            return RunRequest(run_key=f"{source.name}:{day}", partition_key=day)

        jobs.append(daily_job)
        schedules.append(daily)
    snapshot_selection = _bronze_and_readers(source, partitioned=False)
    if snapshot_selection is not None:
        snapshot_job = define_asset_job(
            f"ingest_{source.name}_snapshots",
            selection=snapshot_selection,
            description=f"Whole-table snapshots of {source.name}.",
        )

        @schedule(
            name=f"{source.name}_snapshot_schedule",
            cron_schedule=source.schedule,
            job=snapshot_job,
            execution_timezone="UTC",
            default_status=DefaultScheduleStatus.STOPPED,
            description=f"Snapshots {source.name}'s whole tables ({source.schedule}, UTC).",
        )
        def snapshots(context: ScheduleEvaluationContext):
            return RunRequest(run_key=f"{source.name}:snapshot:{context.scheduled_execution_time.isoformat()}")

        jobs.append(snapshot_job)
        schedules.append(snapshots)
    return jobs, schedules


def ingestion_jobs_and_schedules():
    jobs, schedules = [], []
    for source in SOURCES.sources:
        more_jobs, more_schedules = source_jobs_and_schedules(source)
        jobs += more_jobs
        schedules += more_schedules
    return jobs, schedules
