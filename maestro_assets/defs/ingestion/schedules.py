"""A daily schedule per declared source: yesterday's partition of its timestamped tables (bronze
and the silver built on them), and a fresh snapshot of its whole tables, on the source's cron."""

from datetime import timedelta

from dagster import (
    AssetKey,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleEvaluationContext,
    define_asset_job,
    schedule,
)

from ...lib.ingestion.sources import Source
from .assets import bronze_key
from .partitions import SOURCES


def _with_silver(keys: list[AssetKey], silver_keys: dict[AssetKey, AssetKey]) -> list[AssetKey]:
    return [*keys, *(silver_keys[k] for k in keys if k in silver_keys)]


def source_jobs_and_schedules(source: Source, silver_keys: dict[AssetKey, AssetKey]):
    """(jobs, schedules) of one source; ``silver_keys`` maps bronze keys to their silver assets."""
    jobs, schedules = [], []
    daily_keys = _with_silver([bronze_key(t) for t in source.tables if t.partitioned], silver_keys)
    if daily_keys:
        daily_job = define_asset_job(
            f"ingest_{source.name}_daily",
            selection=daily_keys,  # daily, as its assets
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
            return RunRequest(run_key=f"{source.name}:{day}", partition_key=day)

        jobs.append(daily_job)
        schedules.append(daily)
    snapshot_keys = _with_silver([bronze_key(t) for t in source.tables if not t.partitioned], silver_keys)
    if snapshot_keys:
        snapshot_job = define_asset_job(
            f"ingest_{source.name}_snapshots",
            selection=snapshot_keys,
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


def ingestion_jobs_and_schedules(silver_keys: dict[AssetKey, AssetKey]):
    jobs, schedules = [], []
    for source in SOURCES.sources:
        more_jobs, more_schedules = source_jobs_and_schedules(source, silver_keys)
        jobs += more_jobs
        schedules += more_schedules
    return jobs, schedules
