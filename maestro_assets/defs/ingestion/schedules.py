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


def _job_and_schedule(
    source: Source, kind: str, selection: AssetSelection, job_text: str, schedule_text: str, evaluate
):
    job = define_asset_job(f"ingest_{source.name}_{kind}", selection=selection, description=job_text)
    return job, schedule(
        name=f"{source.name}_{'daily' if kind == 'daily' else 'snapshot'}_schedule",
        cron_schedule=source.schedule,
        job=job,
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.STOPPED,
        description=f"{schedule_text} ({source.schedule}, UTC).",
    )(evaluate)


def source_jobs_and_schedules(source: Source):
    """(jobs, schedules) of one source: a daily one for its timestamped tables, one for its snapshots."""

    def daily(context: ScheduleEvaluationContext):
        day = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
        if not DAILY.has_partition_key(day):  # before start_date or from end_date on
            return SkipReason(
                f"{day} is not a daily partition ({DAILY.get_first_partition_key()}.."
                f"{DAILY.get_last_partition_key()}: the sources file's start_date/end_date)"
            )
        return RunRequest(run_key=f"{source.name}:{day}", partition_key=day)

    def snapshots(context: ScheduleEvaluationContext):
        return RunRequest(run_key=f"{source.name}:snapshot:{context.scheduled_execution_time.isoformat()}")

    pairs = []
    if (selection := _bronze_and_readers(source, partitioned=True)) is not None:
        pairs.append(
            _job_and_schedule(
                source,
                "daily",
                selection,
                f"One day of {source.name}'s timestamped tables, bronze to silver.",
                f"Ingests yesterday's partition of {source.name}",
                daily,
            )
        )
    if (selection := _bronze_and_readers(source, partitioned=False)) is not None:
        pairs.append(
            _job_and_schedule(
                source,
                "snapshots",
                selection,
                f"Whole-table snapshots of {source.name}.",
                f"Snapshots {source.name}'s whole tables",
                snapshots,
            )
        )
    return [job for job, _ in pairs], [sched for _, sched in pairs]


def ingestion_jobs_and_schedules():
    jobs, schedules = [], []
    for source in SOURCES.sources:
        more_jobs, more_schedules = source_jobs_and_schedules(source)
        jobs += more_jobs
        schedules += more_schedules
    return jobs, schedules
