"""The local Dagster instance's event log: Dagster's SQLite storage, with its connections kept open.

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
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME
from dagster._core.storage.runs import SqliteRunStorage
from dagster._core.storage.schedules import SqliteScheduleStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from dagster._utils import mkdir_p
from sqlalchemy.pool import NullPool, StaticPool

from .lib.sqlite_pragmas import on_connect

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
        super().__init__(base_dir, inst_data)

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
            run_shards = [name for name in self._engines if name != INDEX_SHARD_NAME]
            for name in run_shards[: max(0, len(run_shards) - OPEN_RUN_SHARDS)]:
                self._engines.pop(name).dispose()
            return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[sa.Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def dispose(self) -> None:
        super().dispose()
        with self._engines_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()


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
