"""The backup domain: a daily backup, a weekly restore drill and a daily retention pass, all three
schedules stopped until someone starts them."""

from dagster import DefaultScheduleStatus, Definitions, ScheduleDefinition

from .ops import platform_backup, platform_restore_drill, platform_retention

platform_backup_schedule = ScheduleDefinition(
    name="platform_backup_schedule",
    job=platform_backup,
    cron_schedule="30 2 * * *",  # 02:30 UTC, before the day's ingestion
    execution_timezone="UTC",
    description="Each night, a backup of every platform database into backups/ of the lake.",
    default_status=DefaultScheduleStatus.STOPPED,
)
platform_restore_drill_schedule = ScheduleDefinition(
    name="platform_restore_drill_schedule",
    job=platform_restore_drill,
    cron_schedule="30 4 * * 0",  # Sundays 04:30 UTC, after that night's backup
    execution_timezone="UTC",
    description="Each Sunday, the newest backup restored into the scratch server and verified.",
    default_status=DefaultScheduleStatus.STOPPED,
)
platform_retention_schedule = ScheduleDefinition(
    name="platform_retention_schedule",
    job=platform_retention,
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    description="Each night, lake partitions and MLflow runs older than MAESTRO_RETENTION's thresholds deleted.",
    default_status=DefaultScheduleStatus.STOPPED,
)

defs = Definitions(
    jobs=[platform_backup, platform_restore_drill, platform_retention],
    schedules=[platform_backup_schedule, platform_restore_drill_schedule, platform_retention_schedule],
)
