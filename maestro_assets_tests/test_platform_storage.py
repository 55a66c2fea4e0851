"""The local instance's storages (maestro_assets.platform_storage) through real Dagster instances:
what the project's dagster.yaml selects, events of several processes at once, the files staying
readable by Dagster's own storage class, more runs than connections kept open, and runs and ticks
that wait out another connection's long write instead of failing on "database is locked"."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus, asset, materialize
from dagster._core.scheduler.instigation import InstigatorType, TickData, TickStatus
from dagster._core.storage.event_log import SqliteEventLogStorage

from maestro_assets import platform_storage
from maestro_assets.platform_storage import (
    MaestroSqliteEventLogStorage,
    MaestroSqliteRunStorage,
    MaestroSqliteScheduleStorage,
)

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
        assert isinstance(instance.run_storage, MaestroSqliteRunStorage)
        assert isinstance(instance.schedule_storage, MaestroSqliteScheduleStorage)
        assert (project_home / "history" / "runs.db").exists()  # where Dagster's default instance keeps them
        assert (project_home / "schedules" / "schedules.db").exists()
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


HOLD_SECONDS = 7  # longer than sqlite3's default busy timeout (5 s), well within Dagster's own (30 s)


@contextmanager
def write_locked(database: Path, seconds: float) -> Iterator[None]:
    """Another connection holds ``database``'s write lock for ``seconds`` (as a long write by the
    daemon, a webserver request or a run would): the block runs once the lock is held."""
    held, done = threading.Event(), threading.Event()

    def hold():
        db = sqlite3.connect(database, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        held.set()
        time.sleep(seconds)
        db.execute("COMMIT")
        db.close()
        done.set()

    threading.Thread(target=hold, daemon=True).start()
    assert held.wait(30)
    yield
    assert done.wait(60)


def test_runs_and_ticks_wait_out_a_long_write_on_the_run_and_schedule_databases(project_home, caplog):
    with DagsterInstance.get() as instance:
        assert materialize([counted], instance=instance).success  # the databases exist, as once `make ui` ran
        tick = TickData(
            instigator_origin_id="origin",
            instigator_name="a_sensor",
            instigator_type=InstigatorType.SENSOR,
            status=TickStatus.SKIPPED,
            timestamp=time.time(),
            selector_id="selector",
        )
        started = time.monotonic()
        with (
            write_locked(project_home / "history" / "runs.db", HOLD_SECONDS),
            write_locked(project_home / "schedules" / "schedules.db", HOLD_SECONDS),
            ThreadPoolExecutor(2) as pool,
        ):
            ticked = pool.submit(instance.create_tick, tick)
            result = materialize([counted], instance=instance)
            ticked.result(timeout=60)
        assert time.monotonic() - started >= HOLD_SECONDS  # both writes waited for the lock
        assert result.success
        record = instance.get_run_record_by_id(result.run_id)
        assert record.dagster_run.status == DagsterRunStatus.SUCCESS
        events = {e.dagster_event.event_type for e in instance.all_logs(result.run_id) if e.dagster_event}
        assert {DagsterEventType.RUN_START, DagsterEventType.RUN_SUCCESS} <= events
        assert materializations(instance) == 2
        assert len(instance.get_ticks("origin", "selector")) == 1
    assert "database is locked" not in caplog.text
