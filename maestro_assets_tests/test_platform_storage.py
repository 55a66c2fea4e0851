"""The local instance's event log (maestro_assets.platform_storage) through real Dagster instances:
what the project's dagster.yaml selects, events of several processes at once, the files staying
readable by Dagster's own storage class, and more runs than connections kept open."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, asset, materialize
from dagster._core.storage.event_log import SqliteEventLogStorage

from maestro_assets import platform_storage
from maestro_assets.platform_storage import MaestroSqliteEventLogStorage

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project_home(maestro_home):
    home = maestro_home / "dagster"
    shutil.copyfile(ROOT / "dagster.yaml", home / "dagster.yaml")
    return home


@asset
def counted():
    return None


def materializations(instance, key: str = "counted") -> int:
    return len(instance.fetch_materializations(AssetKey(key), limit=1000).records)


def test_the_project_instance_keeps_events_in_the_open_connection_storage(project_home):
    with DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, MaestroSqliteEventLogStorage)
        assert Path(instance.event_log_storage._base_dir) == project_home / "history" / "runs"
        assert materialize([counted], instance=instance).success
        assert materializations(instance) == 1
    # Dagster's own class reads the same files: the webserver or a tool without Maestro sees every event
    plain = SqliteEventLogStorage(str(project_home / "history" / "runs"))
    try:
        assert len(plain.fetch_materializations(AssetKey("counted"), limit=10).records) == 1
    finally:
        plain.dispose()


WRITER = textwrap.dedent(
    """
    import sys
    from dagster import DagsterInstance, asset, materialize

    @asset(name=sys.argv[1])
    def written():
        return None

    with DagsterInstance.get() as instance:
        for _ in range(int(sys.argv[2])):
            assert materialize([written], instance=instance).success
    """
)


def test_runs_of_several_processes_at_once_store_every_event(project_home, tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = dict(os.environ, DAGSTER_HOME=str(project_home))
    with DagsterInstance.get() as instance:  # the instance's databases exist, as once `make ui` has started
        assert materialize([counted], instance=instance).success
    writers = [
        subprocess.Popen([sys.executable, str(script), f"asset_{n}", "6"], env=env, stderr=subprocess.PIPE, text=True)
        for n in range(3)
    ]
    errors = [writer.communicate(timeout=300)[1] for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0, 0], errors
    assert not any("database is locked" in text for text in errors)
    with DagsterInstance.get() as instance:
        assert [materializations(instance, f"asset_{n}") for n in range(3)] == [6, 6, 6]
        assert len(instance.get_run_records()) == 1 + 18


def test_more_runs_than_open_connections_are_all_readable(project_home, monkeypatch):
    monkeypatch.setattr(platform_storage, "OPEN_RUN_SHARDS", 2)
    with DagsterInstance.get() as instance:
        run_ids = [materialize([counted], instance=instance).run_id for _ in range(5)]
        storage = instance.event_log_storage
        assert len(storage._engines) <= 3  # two run shards and the index stay open
        for run_id in run_ids:  # a closed shard is opened again when it is read
            logs = instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
            assert len(logs) == 1
        assert materializations(instance) == 5
