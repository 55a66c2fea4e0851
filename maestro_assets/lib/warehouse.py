"""Databases through SQLAlchemy: one pooled engine per URL, parameterized queries, checked identifiers.

Two pieces: :class:`SourceDatabase` reads a database — a source system's or the warehouse —
through its live catalog (connection check, tables and columns, streamed SELECTs);
:class:`Warehouse` is the database Maestro writes to (SQLite under ``MAESTRO_HOME`` by default,
PostgreSQL or MySQL/MariaDB by URL) and adds loading tables. Every schema, table and column name
that reaches SQL is either looked up in the live catalog (reads) or matched against a strict
allow-list pattern (names of tables Maestro creates), and then quoted by the dialect. Values
always travel as bound parameters. Errors name the setting that holds the URL
(``MAESTRO_WAREHOUSE_URL``, or a source's ``connection_env``) and never show a password.
"""

from __future__ import annotations

import csv
import io
import re
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from .errors import ConfigurationError, UnknownIdentifierError
from .redact import redact_url, scrub, url_password
from .settings import ENV_WAREHOUSE_URL
from .sqlite_pragmas import on_connect

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def check_identifier(name: str, what: str = "identifier") -> str:
    """Allow-list check for a name Maestro is about to create (a new table or column)."""
    if not isinstance(name, str) or not IDENTIFIER.fullmatch(name):
        raise UnknownIdentifierError(
            f"invalid {what} {name!r}: names must match {IDENTIFIER.pattern} "
            "(letters, digits and underscores, not starting with a digit)"
        )
    return name


def get_engine(url: str, pool_size: int = 5, setting: str = ENV_WAREHOUSE_URL) -> Engine:
    """One engine per URL for the whole process (engines own the connection pool); a bad URL is
    a :class:`ConfigurationError` naming ``setting``, the variable that holds it."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _create_engine(url, pool_size, setting)
            _engines[url] = engine
        return engine


def dispose_engines() -> None:
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def _create_engine(url: str, pool_size: int, setting: str) -> Engine:
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigurationError(
            setting,
            f"{redact_url(url)!r} is not a database URL ({type(exc).__name__})",
            "use e.g. sqlite:///path/warehouse.db or postgresql+psycopg2://user@host:5432/db",
        ) from None
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except Exception as exc:
        raise ConfigurationError(
            setting,
            f"cannot use {redact_url(url)!r}: {scrub(_first_line(exc), url_password(url))}",
            "is the driver installed (psycopg2 for postgresql, pymysql for mysql)?",
        ) from None
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


_sqlite_pragmas = on_connect("journal_mode=WAL", "busy_timeout=30000")


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class SourceDatabase:
    """Reads a database at ``url`` through its live catalog; ``setting`` names the variable holding the URL."""

    def __init__(self, url: str, pool_size: int = 5, setting: str = ENV_WAREHOUSE_URL):
        self.url = url
        self.setting = setting
        self.engine = get_engine(url, pool_size, setting)

    # -- introspection ---------------------------------------------------------------------
    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def display_url(self) -> str:
        return redact_url(self.url)

    creates_database = False  # a source is read, never created: a SQLite file that is not there is an error

    def check(self) -> None:
        """Connect once; a failure names the setting to fix and never shows a password."""
        database = self.engine.url.database or ""
        if (
            self.dialect == "sqlite"
            and not self.creates_database
            and database not in ("", ":memory:")
            and not database.startswith("file:")
            and not Path(database).expanduser().exists()
        ):
            raise ConfigurationError(self.setting, f"the SQLite database {database} does not exist")
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.select(1))
        except Exception as exc:
            raise ConfigurationError(
                self.setting,
                f"cannot connect to {self.display_url}: {scrub(_first_line(exc), url_password(self.url))}",
                "check host, port, database name and credentials",
            ) from None

    def schema_names(self) -> list[str]:
        return sa.inspect(self.engine).get_schema_names()

    def table_names(self, schema: str | None = None) -> list[str]:
        self._check_schema(schema)
        return sa.inspect(self.engine).get_table_names(schema=schema)

    def has_table(self, name: str, schema: str | None = None) -> bool:
        return name in self.table_names(schema)

    def _check_schema(self, schema: str | None) -> None:
        if schema is not None and schema not in self.schema_names():
            raise UnknownIdentifierError(f"schema {schema!r} does not exist in {self.display_url}")

    def table(self, name: str, schema: str | None = None) -> sa.Table:
        """The table as it is in the live catalog; an unknown name is an error, never SQL."""
        if name not in self.table_names(schema):
            where = f"{schema}." if schema else ""
            raise UnknownIdentifierError(f"table {where}{name!r} does not exist in {self.display_url}")
        return sa.Table(name, sa.MetaData(), schema=schema, autoload_with=self.engine)

    def columns(self, table: str, schema: str | None = None) -> list[str]:
        return [c.name for c in self.table(table, schema).columns]

    @staticmethod
    def column(table: sa.Table, name: str) -> sa.Column:
        if name not in table.c:
            raise UnknownIdentifierError(
                f"column {name!r} does not exist in table {table.fullname!r}; columns are {list(table.c.keys())}"
            )
        return table.c[name]

    def row_count(self, table: str, schema: str | None = None) -> int:
        t = self.table(table, schema)
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())

    # -- reads -------------------------------------------------------------------------------
    def select(
        self,
        table: str,
        columns: Sequence[str] | None = None,
        where: Mapping[str, Any] | None = None,
        order_by: Sequence[str] | None = None,
        limit: int | None = None,
        schema: str | None = None,
    ) -> sa.Select:
        """A SELECT built from catalog-checked names; ``where`` values are bound parameters."""
        t = self.table(table, schema)
        cols = [self.column(t, c) for c in columns] if columns else list(t.columns)
        stmt = sa.select(*cols)
        for name, value in (where or {}).items():
            stmt = stmt.where(self.column(t, name) == value)
        if order_by:
            stmt = stmt.order_by(*(self.column(t, c) for c in order_by))
        if limit is not None:
            stmt = stmt.limit(limit)
        return stmt

    def read_frame(self, table: str, **select_kwargs: Any) -> pd.DataFrame:
        with self.engine.connect() as conn:
            return pd.read_sql(self.select(table, **select_kwargs), conn)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run a fixed SQL text written in code; anything variable goes in ``params``."""
        with self.engine.connect() as conn:
            return pd.read_sql(sa.text(sql), conn, params=dict(params or {}))

    def iter_batches(self, stmt: sa.Select, batch_size: int = 50_000) -> Iterator[pd.DataFrame]:
        """Stream a SELECT in batches through a server-side cursor: memory stays bounded."""
        with self.engine.connect().execution_options(stream_results=True, max_row_buffer=batch_size) as conn:
            result = conn.execute(stmt)
            keys = list(result.keys())
            for rows in result.partitions(batch_size):
                yield pd.DataFrame.from_records(rows, columns=keys)


class Warehouse(SourceDatabase):
    """The database Maestro writes to: reads as any database, plus statements and table loads."""

    creates_database = True

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> int:
        with self.engine.begin() as conn:
            return conn.execute(sa.text(sql), dict(params or {})).rowcount

    def write_frame(
        self,
        name: str,
        frame: pd.DataFrame,
        if_exists: str = "replace",
        schema: str | None = None,
    ) -> int:
        """Write ``frame`` to table ``name``.

        ``replace`` loads into a fresh table and swaps it in one transaction, so readers see
        the old table or the new one, never a half-loaded one. ``append`` adds rows.
        """
        if if_exists not in ("replace", "append"):
            raise ValueError(f"if_exists must be 'replace' or 'append', not {if_exists!r}")
        check_identifier(name, "table name")
        for column in frame.columns:
            check_identifier(str(column), f"column name (table {name!r})")
        self._check_schema(schema)
        if if_exists == "append" and self.has_table(name, schema):
            with self.engine.begin() as conn:
                self._load(conn, name, frame, schema, create=False)
            return len(frame)
        staging = check_identifier(f"_stg_{name[:40]}_{uuid.uuid4().hex[:8]}")
        with self.engine.begin() as conn:
            self._load(conn, staging, frame, schema, create=True)
            if self.dialect == "mysql" and self.has_table(name, schema):
                old = f"_old_{name[:40]}_{uuid.uuid4().hex[:8]}"
                conn.execute(
                    sa.text(
                        f"RENAME TABLE {self._q(name, schema)} TO {self._q(old, schema)}, "
                        f"{self._q(staging, schema)} TO {self._q(name, schema)}"
                    )
                )
                conn.execute(sa.text(f"DROP TABLE {self._q(old, schema)}"))
            else:
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {self._q(name, schema)}"))
                conn.execute(sa.text(f"ALTER TABLE {self._q(staging, schema)} RENAME TO {self._quote(name)}"))
        return len(frame)

    def _quote(self, name: str) -> str:
        return self.engine.dialect.identifier_preparer.quote(check_identifier(name))

    def _q(self, name: str, schema: str | None) -> str:
        return f"{self._quote(schema)}.{self._quote(name)}" if schema else self._quote(name)

    def _load(self, conn, name: str, frame: pd.DataFrame, schema: str | None, create: bool) -> None:
        if create:
            frame.head(0).to_sql(name, conn, schema=schema, index=False, if_exists="fail")
        if frame.empty:
            return
        if self.dialect == "postgresql":
            self._copy_postgres(conn, name, frame, schema)
        else:
            frame.to_sql(
                name,
                conn,
                schema=schema,
                index=False,
                if_exists="append",
                chunksize=20_000,
                method="multi" if self.dialect == "mysql" else None,
            )

    def _copy_postgres(self, conn, name: str, frame: pd.DataFrame, schema: str | None) -> None:
        """PostgreSQL bulk load through ``COPY … FROM STDIN`` (orders of magnitude over INSERTs)."""
        columns = ", ".join(self._quote(str(c)) for c in frame.columns)
        statement = f"COPY {self._q(name, schema)} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            for start in range(0, len(frame), 200_000):
                chunk = frame.iloc[start : start + 200_000]
                buffer = io.StringIO()
                chunk.to_csv(
                    buffer,
                    index=False,
                    header=False,
                    na_rep="\\N",
                    quoting=csv.QUOTE_MINIMAL,
                    date_format="%Y-%m-%d %H:%M:%S.%f%z",
                )
                buffer.seek(0)
                cursor.copy_expert(statement, buffer)
        finally:
            cursor.close()
