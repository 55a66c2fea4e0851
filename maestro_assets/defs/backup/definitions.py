"""The backup domain: a nightly backup, a weekly restore drill and a nightly retention pass, all three
schedules stopped until someone starts them."""

from dagster import DefaultScheduleStatus, Definitions, JobDefinition, ScheduleDefinition

from .ops import platform_backup, platform_restore_drill, platform_retention


def _stopped_schedule(job: JobDefinition, cron: str, description: str) -> ScheduleDefinition:
    return ScheduleDefinition(
        name=f"{job.name}_schedule",
        job=job,
        cron_schedule=cron,
        execution_timezone="UTC",
        description=description,
        default_status=DefaultScheduleStatus.STOPPED,
    )


SCHEDULES = [
    _stopped_schedule(
        platform_backup, "30 2 * * *", "Each night at 02:30 UTC, every platform database into backups/ of the lake."
    ),
    _stopped_schedule(
        platform_restore_drill,
        "30 4 * * 0",
        "Each Sunday at 04:30 UTC (after that night's backup), the newest backup restored into the scratch "
        "server and verified.",
    ),
    _stopped_schedule(
        platform_retention,
        "0 3 * * *",
        "Each night at 03:00 UTC, lake partitions and MLflow runs older than MAESTRO_RETENTION's thresholds deleted.",
    ),
]

defs = Definitions(jobs=[platform_backup, platform_restore_drill, platform_retention], schedules=SCHEDULES)
