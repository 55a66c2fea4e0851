"""The local Dagster instance's storages: Dagster's SQLite ones, with the event log's connections
kept open and its batches of events stored in one transaction.

Dagster's ``SqliteEventLogStorage`` builds a new SQLAlchemy engine for every read and write and
disposes it afterwards (``NullPool``). Each event then pays for an engine (SQLAlchemy compiles
code for it), a ``sqlite3`` connection, a commit that waits for the disk, and — because closing
the last connection of a WAL database checkpoints it — a second wait for the disk. A single-run
backfill of 365 days stores some 1,500 events (two per partition and asset), so that cost, about
60 ms per event on this machine, was most of the run.

:class:`MaestroSqliteEventLogStorage` is the same storage (same files, same schema, same
queries; the webserver, the daemon and runs can mix it with Dagster's own class) except that it
keeps one engine with one open connection per database (the run shards most recently used, and
the index), serialised by the storage's own lock as Dagster's connections are, and sets
``synchronous=NORMAL`` on them — in WAL mode a commit is then durable against a crash of the
process, and only a power cut can lose the last events (SQLite's documented trade-off). It is the
embedded default in the project's ``dagster.yaml``; production keeps events in PostgreSQL
(``deploy/dagster.yaml``), where none of this applies.

Dagster emits a run's planned materializations and checks, and a partitioned step's
materializations, as one batch each (a 90-day single-run backfill of 14 assets: 1,260 planned and
1,260 materialization events). :class:`MaestroLocalInstance` — Dagster's instance, selected by
``instance_class`` in ``dagster.yaml`` — hands such a batch to the storage at once (what Dagster
does when ``DAGSTER_EVENT_BATCH_SIZE`` is set), and the storage's ``store_event_batch`` stores it with
Dagster's own ``store_event``, event by event, inside one transaction per database, writing an
asset's row of the index once for the batch's last event. Besides, the storage remembers the
schema it finds (Dagster's asks SQLite whether a table or column exists before every asset event,
through a new engine each time) and writes a planned check's rows — one per partition of the run —
with the event serialised once. Same rows as Dagster's storage writes
(``test_platform_storage``). Replaying the 2,952 events of the demo graph's runs (load average
3.5): 5.5 s CPU one by one in the storage without these, 1.3 s; ``dagster_overhead.demo_graph``
went from 1.97x its floor to 1.26x (medians of 5 alternated rounds, load 1.2-5).

:class:`MaestroSqliteRunStorage` and :class:`MaestroSqliteScheduleStorage` are Dagster's SQLite run
and schedule storages (same files, schema and queries) whose connections wait as long for a lock
as the event log's do (Dagster's ``SQLITE_BUSY_TIMEOUT_SECONDS``, 30 s) instead of ``sqlite3``'s
default 5 s. Under ``make ui`` the webserver, the daemon and every run write ``runs.db`` and the
daemon's ticks write ``schedules.db``; a write that has to wait more than 5 s behind another —
measured by holding the lock for 7 s — failed with "database is locked" and lost what it wrote
(the run was not created; in a running run, the event was dropped).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager

import sqlalchemy as sa
from dagster import DagsterInstance
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME
from dagster._core.storage.runs import SqliteRunStorage
from dagster._core.storage.schedules import SqliteScheduleStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData, serialize_value
from dagster._utils import mkdir_p
from sqlalchemy.pool import NullPool, StaticPool

from .lib.sqlite_pragmas import on_connect

EVENT_BATCH_SIZE = 500  # events of one batch stored in one transaction (at most; Dagster flushes a batch at its end)
OPEN_RUN_SHARDS = 8  # run databases kept open besides the index (least recently used closed first)


def default_base_dir(*parts: str) -> str:
    """Where Dagster's default instance keeps a storage's files: ``$DAGSTER_HOME/<parts>``
    (``history/runs`` for run event logs, ``history`` for runs, ``schedules`` for ticks)."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        raise RuntimeError(f"DAGSTER_HOME is not set: the storage in {'/'.join(parts)} needs it or a base_dir")
    return os.path.join(home, *parts)


def _optional_base_dir() -> dict:
    from dagster import Field, StringSource

    return {"base_dir": Field(StringSource, is_required=False)}


# WAL as Dagster creates them (a no-op when it already is); NORMAL: see the module's docstring
_tune = on_connect("journal_mode=WAL", "synchronous=NORMAL")


class MaestroSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` with one open connection per database (see the module's docstring)."""

    def __init__(self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None):
        base_dir = base_dir or default_base_dir("history", "runs")
        mkdir_p(base_dir)
        self._engines: OrderedDict[str, sa.Engine] = OrderedDict()
        self._engines_pid = os.getpid()
        self._engines_lock = threading.Lock()
        self._open: dict[str, sa.Connection] = {}  # the batch's transactions (store_event_batch)
        self._superseded: set[int] = set()
        self._tables: set[str] = set()
        self._asset_key_index_cols = False
        super().__init__(base_dir, inst_data)
        # re-entrant: the storage calls of a batch run inside its transactions, under the same lock
        self._db_lock = threading.RLock()

    @classmethod
    def config_type(cls):
        return _optional_base_dir()

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> MaestroSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> sa.Engine:
        with self._engines_lock:
            if self._engines_pid != os.getpid():  # a forked child never shares its parent's connections
                self._engines.clear()
                self._engines_pid = os.getpid()
            engine = self._engines.get(shard)
            if engine is not None:
                self._engines.move_to_end(shard)
                return engine
            engine = sa.create_engine(
                self.conn_string_for_shard(shard),
                poolclass=StaticPool,  # one connection, used under the storage's _db_lock only
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            sa.event.listen(engine, "connect", _tune)
            self._engines[shard] = engine
            run_shards = [name for name in self._engines if name != INDEX_SHARD_NAME and name not in self._open]
            for name in run_shards[: max(0, len(run_shards) - OPEN_RUN_SHARDS)]:
                self._engines.pop(name).dispose()
            return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[sa.Connection]:
        with self._db_lock:
            conn = self._open.get(shard)
            if conn is not None:  # inside a batch (store_event_batch): its transaction on that database
                yield conn
                return
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    @contextmanager
    def _transaction(self, shard: str) -> Iterator[None]:
        """One transaction on ``shard`` that every storage call of this thread joins until it ends."""
        with self._connect(shard) as conn:
            if shard in self._open:
                yield
                return
            self._open[shard] = conn
            try:
                yield
            finally:
                del self._open[shard]

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """Dagster's own ``store_event`` for each event, in one transaction per database (the run's
        and the index) instead of one or more per event; an asset's row in the index is written once
        for the batch's last event of each kind (what writing it for every event leaves there)."""
        last = {(e.dagster_event.asset_key, e.dagster_event_type): id(e) for e in events if e.dagster_event}
        with ExitStack() as stack:
            # the index commits first: if that fails, the run's databases roll back too and Dagster
            # stores the events one by one (as it does when a batch fails), none twice
            for run_id in dict.fromkeys(e.run_id for e in events):
                stack.enter_context(self._transaction(run_id))
            stack.enter_context(self._transaction(INDEX_SHARD_NAME))
            self._superseded = {id(e) for e in events if e.dagster_event} - set(last.values())
            try:
                for event in events:
                    self.store_event(event)
            finally:
                self._superseded = set()

    def _store_asset_event(self, conn: sa.Connection, event: EventLogEntry, event_id: int) -> None:
        if id(event) not in self._superseded:
            super()._store_asset_event(conn, event, event_id)

    def _store_asset_check_evaluation_planned(self, event: EventLogEntry, event_id: int | None) -> None:
        # Dagster's rows (one per partition of the run), with the event serialised once instead of
        # once per partition and inserted as one prepared statement instead of a statement compiled
        # for that many rows (90 partitions: 90 serialisations and 720 bound values to compile)
        planned = event.get_dagster_event().event_specific_data
        partitions = planned.partitions_subset.get_partition_keys() if planned.partitions_subset else [None]
        row = {
            "asset_key": planned.asset_key.to_string(),
            "check_name": planned.check_name,
            "run_id": event.run_id,
            "execution_status": AssetCheckExecutionRecordStatus.PLANNED.value,
            "evaluation_event": serialize_value(event),
            "evaluation_event_timestamp": self._event_insert_timestamp(event),
            "evaluation_event_storage_id": event_id,
        }
        with self.index_connection() as conn:
            conn.execute(AssetCheckExecutionsTable.insert(), [{**row, "partition": p} for p in partitions])

    def has_table(self, table_name: str) -> bool:
        # asked before storing every asset event and check (a new engine and connection each time in
        # Dagster's): a table once there stays there, one not there yet is asked again
        if table_name not in self._tables:
            if not super().has_table(table_name):
                return False
            self._tables.add(table_name)
        return True

    def _has_asset_key_index_cols_on_connection(self, conn: sa.Connection) -> bool:
        # read from the schema before storing every asset event in Dagster's: as for has_table
        if not self._asset_key_index_cols:
            self._asset_key_index_cols = super()._has_asset_key_index_cols_on_connection(conn)
        return self._asset_key_index_cols

    def dispose(self) -> None:
        super().dispose()
        with self._engines_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()


class MaestroLocalInstance(DagsterInstance):
    """Dagster's instance, storing the events that Dagster emits as a batch — a run's planned
    materializations and checks, a partitioned step's materializations — through the event log's
    ``store_event_batch`` (Dagster does so when ``DAGSTER_EVENT_BATCH_SIZE`` is set; this instance
    does so by default, that variable still has the last word).

    Dagster holds a batch's events until its last one (or ``EVENT_BATCH_SIZE`` of them), which it
    emits in the same loop, after the step's code has returned: a process killed within that loop
    loses the batch's events, and its step never reports success either (the run is re-run).
    """

    @classmethod
    def config_schema(cls) -> dict:  # what a custom instance class adds to dagster.yaml: nothing
        return {}

    @classmethod
    def config_defaults(cls, base_dir: str) -> dict:
        from dagster._core.instance.ref import InstanceRef

        return InstanceRef.config_defaults(base_dir)

    def _get_event_batch_size(self) -> int:
        return int(os.getenv("DAGSTER_EVENT_BATCH_SIZE", str(EVENT_BATCH_SIZE)))


class _WaitingConnections:
    """What the run and schedule storages below change of Dagster's: ``connect`` is Dagster's, with
    the busy timeout; ``base_dir`` defaults to Dagster's place for the storage under DAGSTER_HOME."""

    DEFAULT_DIR: tuple[str, ...] = ()
    _conn_string: str

    @classmethod
    def config_type(cls):
        return _optional_base_dir()

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        base_dir = config_value.get("base_dir") or default_base_dir(*cls.DEFAULT_DIR)
        return cls.from_local(base_dir, inst_data=inst_data)  # Dagster's own names its base class here

    @contextmanager
    def connect(self) -> Iterator[sa.Connection]:
        engine = sa.create_engine(
            self._conn_string, poolclass=NullPool, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
        )
        with engine.connect() as conn, conn.begin():
            yield conn


class MaestroSqliteRunStorage(_WaitingConnections, SqliteRunStorage):
    """``SqliteRunStorage`` whose connections wait out a lock for 30 s (see the module's docstring)."""

    DEFAULT_DIR = ("history",)


class MaestroSqliteScheduleStorage(_WaitingConnections, SqliteScheduleStorage):
    """``SqliteScheduleStorage`` whose connections wait out a lock for 30 s (see the module's docstring)."""

    DEFAULT_DIR = ("schedules",)
