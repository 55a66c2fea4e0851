"""The local instance's storages (maestro_assets.platform_storage) through real Dagster instances:
what the project's dagster.yaml selects, a partitioned run's events stored in batches with the same
rows as Dagster's own storage writes, events of several processes at once, the files staying
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
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetKey,
    BackfillPolicy,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    DailyPartitionsDefinition,
    MaterializeResult,
    asset,
    materialize,
)
from dagster._core.scheduler.instigation import InstigatorType, TickData, TickStatus
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME
from dagster._serdes import deserialize_value

from maestro_assets import platform_storage
from maestro_assets.defs.runs import partition_range_tags
from maestro_assets.platform_storage import (
    EVENT_BATCH_SIZE,
    MaestroLocalInstance,
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
        assert isinstance(instance, MaestroLocalInstance)
        assert instance._get_event_batch_size() == EVENT_BATCH_SIZE  # Dagster's batches are stored as batches
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


DAYS = DailyPartitionsDefinition(start_date="2026-01-01", end_date="2026-01-31")  # 30 daily partitions
FIRST, LAST = DAYS.get_first_partition_key(), DAYS.get_last_partition_key()


@asset(
    partitions_def=DAYS,
    backfill_policy=BackfillPolicy.single_run(),
    check_specs=[AssetCheckSpec("rows", asset="daily", blocking=True), AssetCheckSpec("fresh", asset="daily")],
)
def daily(context):
    for day in context.partition_keys:  # each partition's own figure, as Maestro's assets add them
        context.add_asset_metadata({"dagster/row_count": int(day[-2:])}, partition_key=day)
    yield MaterializeResult(metadata={"partitions": len(context.partition_keys)})
    yield AssetCheckResult(check_name="rows", passed=True)
    yield AssetCheckResult(check_name="fresh", passed=False)


@asset(deps=[daily], partitions_def=DAYS, backfill_policy=BackfillPolicy.single_run())
def daily_downstream() -> None:
    return None


def stored_rows(runs_dir: Path) -> dict:
    """What the event log's databases hold, without the ids, run ids and times that differ between
    two runs: every event of the run's database and of the index, the index's asset rows (with the
    partition of the asset's latest materialization), its tags and check executions (each with the
    kind and partition of the event it points at, so that a wrong id shows)."""
    index = sqlite3.connect(runs_dir / "index.db")
    events = {
        event_id: (kind, key, partition)
        for event_id, kind, key, partition in index.execute(
            "SELECT id, dagster_event_type, asset_key, partition FROM event_logs"
        )
    }
    (run_db,) = [path for path in runs_dir.glob("*.db") if path.name != "index.db"]
    run = sqlite3.connect(run_db)
    rows = {
        "run": Counter(run.execute("SELECT dagster_event_type, asset_key, partition FROM event_logs")),
        "index": Counter(events.values()),
        "assets": sorted(
            (key, deserialize_value(last).event_log_entry.dagster_event.partition if last else None, stamp is not None)
            for key, last, stamp in index.execute(
                "SELECT asset_key, last_materialization, last_materialization_timestamp FROM asset_keys"
            )
        ),
        "tags": Counter(
            (key, tag, events[event_id])
            for event_id, key, tag in index.execute("SELECT event_id, asset_key, key FROM asset_event_tags")
        ),
        "checks": Counter(
            (key, name, partition, status, events.get(event_id))
            for key, name, partition, status, event_id in index.execute(
                "SELECT asset_key, check_name, partition, execution_status, evaluation_event_storage_id"
                " FROM asset_check_executions"
            )
        ),
    }
    run.close()
    index.close()
    return rows


def test_a_partitioned_run_stores_its_events_in_batches_with_the_rows_of_dagsters_own_storage(
    project_home, tmp_path, monkeypatch
):
    batches = []
    store_event_batch = MaestroSqliteEventLogStorage.store_event_batch

    def counted_batch(self, events):
        batches.append(Counter(event.dagster_event_type.value for event in events))
        return store_event_batch(self, events)

    monkeypatch.setattr(MaestroSqliteEventLogStorage, "store_event_batch", counted_batch)
    tags = partition_range_tags(FIRST, LAST)
    with DagsterInstance.get() as instance:
        # the check "fresh" fails and is not blocking: the run succeeds
        assert materialize([daily, daily_downstream], instance=instance, tags=tags).success
        assert instance.get_materialized_partitions(AssetKey("daily_downstream")) == set(DAYS.get_partition_keys())
        storage = instance.event_log_storage
        with storage._engine(INDEX_SHARD_NAME).connect() as conn:  # the storage's own connection
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    # the run's planned materializations and checks in one batch, each step's materializations in one
    assert batches == [
        Counter({"ASSET_MATERIALIZATION_PLANNED": 60, "ASSET_CHECK_EVALUATION_PLANNED": 2}),
        Counter({"ASSET_MATERIALIZATION": 30}),
        Counter({"ASSET_MATERIALIZATION": 30}),
    ]
    runs_dir = project_home / "history" / "runs"
    for database in runs_dir.glob("*.db"):  # Dagster created them in WAL mode; a new connection sees it
        assert sqlite3.connect(database).execute("PRAGMA journal_mode").fetchone() == ("wal",)

    # the same run through Dagster's own SQLite storage, one event at a time
    stock_home = tmp_path / "stock"
    stock_home.mkdir()
    with DagsterInstance.local_temp(str(stock_home)) as stock:
        assert type(stock.event_log_storage) is SqliteEventLogStorage
        assert materialize([daily, daily_downstream], instance=stock, tags=tags).success
    ours, dagsters = stored_rows(runs_dir), stored_rows(stock_home / "history" / "runs")
    assert ours == dagsters
    assert ours["index"][("ASSET_MATERIALIZATION", '["daily"]', "2026-01-30")] == 1
    assert ('["daily"]', "2026-01-30", True) in ours["assets"]  # the asset's latest: the run's last day
    planned = [partition for (_, name, partition, status, _), n in ours["checks"].items() if status == "PLANNED"]
    assert sorted(planned) == sorted(DAYS.get_partition_keys() * 2)  # each check, a row per partition


WRITER = textwrap.dedent(
    """
    import sys
    from dagster import BackfillPolicy, DagsterInstance, DailyPartitionsDefinition, asset, materialize
    from maestro_assets.defs.runs import partition_range_tags

    @asset(name=sys.argv[1])
    def written():
        return None

    # a single-run backfill of 20 days: its planned and its materialization events stored as batches
    @asset(name=f"daily_{sys.argv[1]}", partitions_def=DailyPartitionsDefinition(start_date="2026-01-01"),
           backfill_policy=BackfillPolicy.single_run())
    def daily() -> None:
        return None

    days = partition_range_tags("2026-01-01", "2026-01-20")
    with DagsterInstance.get() as instance:
        for _ in range(int(sys.argv[2])):
            assert materialize([written], instance=instance).success
            assert materialize([daily], instance=instance, tags=days).success
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
        assert [materializations(instance, f"daily_asset_{n}") for n in range(3)] == [6 * 20] * 3
        assert len(instance.get_run_records()) == 1 + 3 * 6 * 2


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
