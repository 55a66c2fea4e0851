"""Extracting a declared SQL table: streamed batches, incremental by a watermark column.

Every name comes from the live catalog (an undeclared or hostile name never reaches SQL) and
the watermark bounds are parameters, escaped by the database driver. PostgreSQL goes through
ADBC, which streams the result set with the binary COPY protocol straight into Arrow record
batches; other databases stream through a SQLAlchemy server-side cursor. Rows come in no
particular order: the bronze writer routes them to their days.

A PostgreSQL table of ``PARALLEL_MIN_PAGES`` pages or more whose extraction PostgreSQL would run
as a sequential scan is read by ``SCAN_STREAMS`` ADBC connections at once, each over its own range
of heap pages (``ctid`` bounds: a TID range scan), all in one snapshot exported by the first (so
the streams together see exactly what one query would). The watermark terms are the same in every
stream. Each stream holds at most the prefetch depth of batches: memory is streams × depth batches.

ADBC only streams (COPY) a query without bind parameters — with parameters it prepares the
statement and returns the whole result as one batch — so the bounds are bound by psycopg2's
``mogrify`` (the driver's own escaping of parameters) into the SQL handed to ADBC.

Watermark bounds compare as timestamps in every dialect (a run selects exactly the rows whose
instant is in [start, end); naive values are wall-clock times in the table's ``timezone``):

* PostgreSQL ``timestamptz``: the column against a ``timestamptz`` bound. ``timestamp`` and
  ``date``: the column against a naive bound in the declared zone (``timestamp`` parameter), so a
  b-tree index on the column serves the range (``date``/``timestamp`` share an operator family);
  outside UTC, the naive range is widened by the zone's offsets and ``col AT TIME ZONE zone`` is
  compared exactly. ``text``: ``col::timestamptz`` with the session's ``TimeZone`` set to the
  declared zone (PostgreSQL reads naive text in it, offsets as written); a value PostgreSQL cannot
  read is a ``WatermarkError``. The session zone is set on every extraction (one statement).
* MySQL/MariaDB ``DATETIME``/``DATE``: the column against a naive bound in the declared zone
  (index-friendly); ``TIMESTAMP``: the session ``time_zone`` is ``+00:00`` for the extraction, so
  bounds and values are UTC (bronze gets it as a UTC timestamp). Outside UTC, ``DATETIME``/``DATE``
  are selected over a range widened by the zone's offsets and filtered exactly here (MySQL's zone
  tables are often not loaded, so ``CONVERT_TZ`` cannot be relied on). Text columns are refused.
* SQLite has no timestamp type: values are TEXT (``YYYY-MM-DD[ HH:MM[:SS[.f]]]``, ``T`` or space,
  optional ``Z``/``±HH:MM``), INTEGER Unix seconds or REAL Julian days, whatever the declared type.
  Text compared as text put midnight rows (``'… 00:00:00'`` < ``'… 00:00:00.000000'``) on the
  wrong side of a bound, so the column is compared as ``julianday()`` of a normalised form:
  ``julianday`` reads every form above (offsets converted to UTC) and numbers by ``typeof``
  (``'unixepoch'`` for integers), but rounds to milliseconds — ``'23:59:59.9999'`` would become the
  next day — so the fraction of a second is cut off first: bounds are whole seconds (days), and
  ``floor(t) >= bound`` is ``t >= bound`` for a whole-second bound (``strftime('%f')`` has the same
  millisecond rounding; comparing raw text cannot be right for both ``'…00:00'`` and ``'…Z'``). A
  plain index on the column cannot serve this (an expression index on the same expression could).
  A value ``julianday`` cannot read would be silently outside every window, and a column mixing
  integers, reals and text cannot be read back unambiguously: a check before the extraction
  raises a ``WatermarkError`` naming such a value. Outside UTC the range is widened and filtered
  exactly here.
  The watermark column is read as SQLite stores it (no SQLAlchemy type conversion), so bronze
  keeps the text or number as received.

The exact filter (where the SQL range is widened) and the bronze writer read the watermark with
the same parser (``bronze.watermark_instants``): the rows selected are the rows the writer routes
to the run's days.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.psycopg2 import dialect as psycopg2_dialect
from sqlalchemy.engine import make_url

from ..errors import UnknownIdentifierError
from ..warehouse import SourceDatabase
from .bronze import WatermarkError, check_timezone, watermark_instants
from .sources import TableSource

DEFAULT_BATCH_ROWS = 100_000
# PostgreSQL tables of at least this many pages (8 KiB each) are read by SCAN_STREAMS connections at
# once, each over its own range of pages (a TID range scan), all in one exported snapshot: the server
# reads and encodes rows, and the client decodes them, on as many cores as there are streams.
SCAN_STREAMS = 2
PARALLEL_MIN_PAGES = 2048


def is_exact_numeric(column: sa.Column) -> bool:
    """NUMERIC/DECIMAL (SQLAlchemy's Float types are Numeric subclasses, and are not exact)."""
    return isinstance(column.type, sa.Numeric) and not isinstance(column.type, sa.Float)


@dataclass(frozen=True)
class WatermarkPlan:
    """How the watermark of a table is compared in its database, and what is left to do here."""

    kind: str  # "instant" | "naive" | "date" | "text" | "sqlite"
    session_timezone: str | None = None  # the zone the session must be in (PostgreSQL TimeZone, MySQL time_zone)
    filter_here: bool = False  # the SQL range is widened: keep the rows of [start, end) after reading


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def zone_offsets(timezone: str, start: datetime, end: datetime) -> tuple[timedelta, timedelta]:
    """The least and greatest UTC offsets of ``timezone`` around [start, end) (a day either side,
    sampled every 30 minutes: zones change offset on the hour or half hour, and keep it for months)."""
    zone = check_timezone(timezone)
    moment, last = _as_utc(start) - timedelta(days=1), _as_utc(end) + timedelta(days=1)
    offsets = set()
    while moment <= last:
        offsets.add(moment.astimezone(zone).utcoffset())
        moment += timedelta(minutes=30)
    return min(offsets), max(offsets)


def watermark_plan(dialect: str, column: sa.Column, spec: TableSource, where: str) -> WatermarkPlan:
    kind = column.type
    zone = spec.timezone
    check_timezone(zone, where)
    utc = zone == "UTC"
    if dialect == "sqlite":
        return WatermarkPlan("sqlite", filter_here=not utc)
    if isinstance(kind, sa.DateTime) and (
        kind.timezone or kind.__class__.__name__ == "TIMESTAMP" and dialect == "mysql"
    ):
        return WatermarkPlan("instant", session_timezone="UTC")
    if isinstance(kind, sa.DateTime):
        return WatermarkPlan("naive", session_timezone="UTC", filter_here=dialect != "postgresql" and not utc)
    if isinstance(kind, sa.Date):
        return WatermarkPlan("date", session_timezone="UTC", filter_here=dialect != "postgresql" and not utc)
    if isinstance(kind, sa.String) and dialect == "postgresql":
        return WatermarkPlan("text", session_timezone=zone)
    raise WatermarkError(
        f"{where}: the watermark column is {kind} in {dialect}: not a timestamp. Supported are timestamp "
        "and date types (PostgreSQL also text holding timestamps; SQLite any column holding timestamp text, "
        "Unix seconds or Julian days)"
    )


def _sqlite_julian(column: sa.ColumnElement) -> sa.ColumnElement:
    """SQLite's Julian day of a stored watermark value, to the whole second (see the module notes):
    text loses its fraction of a second (keeping a ``Z``/``±HH:MM`` zone), integers are Unix seconds."""
    text = sa.type_coerce(column, sa.Text)
    dot = sa.func.instr(text, ".")
    zone = sa.case(
        (text.op("GLOB")("*Z"), "Z"),
        (text.op("GLOB")("*[+-][0-9][0-9]:[0-9][0-9]"), sa.func.substr(text, -6)),
        else_="",
    )
    whole_seconds = sa.case((dot > 0, sa.func.substr(text, 1, dot - 1).op("||")(zone)), else_=text)
    return sa.case(
        (sa.func.typeof(column) == "integer", sa.func.julianday(column, "unixepoch")),
        (sa.func.typeof(column) == "real", sa.func.julianday(column)),
        (sa.func.typeof(column) == "text", sa.func.julianday(whole_seconds)),
        else_=None,
    )


def _sqlite_bound(moment: datetime) -> sa.ColumnElement:
    return sa.func.julianday(moment.strftime("%Y-%m-%d %H:%M:%S"))


def _utc_bound(dialect: str, moment: datetime) -> sa.ColumnElement:
    """An instant: ``timestamptz`` in PostgreSQL, a naive UTC datetime in MySQL (+00:00 session)."""
    if dialect == "postgresql":
        return sa.cast(sa.bindparam(None, _as_utc(moment), sa.DateTime(timezone=True)), sa.TIMESTAMP(timezone=True))
    return sa.bindparam(None, _naive(moment), sa.DateTime())


def _wall_bound(dialect: str, wall_clock: datetime) -> sa.ColumnElement:
    """A naive wall-clock time (a ``timestamp`` parameter: the column itself stays index-usable)."""
    bound = sa.bindparam(None, wall_clock, sa.DateTime())
    return sa.cast(bound, sa.DateTime()) if dialect == "postgresql" else bound


def _range(value: sa.ColumnElement, low: sa.ColumnElement | None, high: sa.ColumnElement | None) -> list:
    return [
        term
        for term in (value >= low if low is not None else None, value < high if high is not None else None)
        if term is not None
    ]


def _watermark_condition(
    dialect: str,
    column: sa.Column,
    plan: WatermarkPlan,
    spec: TableSource,
    start: datetime | None,
    end: datetime | None,
) -> list[sa.ColumnElement]:
    """The WHERE terms selecting [start, end) of the watermark (a superset if ``plan.filter_here``)."""
    zone = spec.timezone
    if zone != "UTC" and plan.kind not in ("instant", "text"):
        # wall-clock values: every instant of [start, end) is on the clock within these offsets
        least, greatest = zone_offsets(zone, start or end, end or start)
        if plan.kind == "sqlite":  # text with an offset reads as UTC: the range covers both
            least, greatest = min(least, timedelta(0)), max(greatest, timedelta(0))
        wall_start = _naive(start) + least if start is not None else None
        wall_end = _naive(end) + greatest if end is not None else None
    else:
        wall_start = _naive(start) if start is not None else None
        wall_end = _naive(end) if end is not None else None
    if plan.kind == "sqlite":  # whole seconds; a fractional bound widens to the enclosing seconds
        low = _sqlite_bound(wall_start.replace(microsecond=0)) if wall_start is not None else None
        high = None
        if wall_end is not None:
            whole = wall_end.replace(microsecond=0) + timedelta(seconds=1 if wall_end.microsecond else 0)
            high = _sqlite_bound(whole)
        return _range(_sqlite_julian(column), low, high)
    if plan.kind == "instant":
        return _range(
            column,
            _utc_bound(dialect, start) if start is not None else None,
            _utc_bound(dialect, end) if end is not None else None,
        )
    if plan.kind == "text":  # PostgreSQL, in a session whose TimeZone is the declared zone
        return _range(
            sa.cast(column, sa.TIMESTAMP(timezone=True)),
            _utc_bound(dialect, start) if start is not None else None,
            _utc_bound(dialect, end) if end is not None else None,
        )
    # naive timestamps and dates: wall-clock times in the declared zone, compared on the column
    terms = _range(
        column,
        _wall_bound(dialect, wall_start) if wall_start is not None else None,
        _wall_bound(dialect, wall_end) if wall_end is not None else None,
    )
    if zone != "UTC" and dialect == "postgresql":  # then exactly, by PostgreSQL's own zone rules
        wall = sa.cast(column, sa.DateTime()) if plan.kind == "date" else column
        instant = sa.func.timezone(sa.bindparam(None, zone, sa.Text), wall)
        terms += _range(
            instant,
            _utc_bound(dialect, start) if start is not None else None,
            _utc_bound(dialect, end) if end is not None else None,
        )
    return terms


def _watermark(source_db: SourceDatabase, spec: TableSource, table: sa.Table) -> sa.Column:
    try:
        return source_db.column(table, spec.watermark)
    except UnknownIdentifierError as exc:
        raise UnknownIdentifierError(f"source {spec.source!r}, watermark: {exc}") from None


def where_of(spec: TableSource) -> str:
    return f"source {spec.source!r}, table {spec.table!r}, column {spec.watermark!r}"


def extraction_query(
    source_db: SourceDatabase,
    spec: TableSource,
    start: datetime | None = None,
    end: datetime | None = None,
    numeric_as_text: bool = False,
) -> sa.Select:
    """SELECT every column (renamed as declared) of the table, within [start, end) of the watermark.

    ``numeric_as_text`` has the server send NUMERIC columns as their exact decimal text — what
    ADBC would make of them on the client anyway (Arrow has no arbitrary-precision decimal), but
    formatted by the server process instead of the extracting one: ~0.3 s less client CPU per
    million rows of one NUMERIC column.
    """
    return _extraction(source_db, spec, start, end, numeric_as_text)[0]


def _extraction(
    source_db: SourceDatabase,
    spec: TableSource,
    start: datetime | None,
    end: datetime | None,
    numeric_as_text: bool = False,
) -> tuple[sa.Select, WatermarkPlan | None, sa.Table]:
    try:
        table = source_db.table(spec.source_table, spec.db_schema)
        for name in (*spec.keys, *spec.columns):
            source_db.column(table, name)
    except UnknownIdentifierError as exc:
        raise UnknownIdentifierError(f"source {spec.source!r}: {exc}") from None
    dialect = source_db.dialect
    watermark = _watermark(source_db, spec, table) if spec.watermark is not None else None
    windowed = watermark is not None and (start is not None or end is not None)
    plan = watermark_plan(dialect, watermark, spec, where_of(spec)) if windowed else None
    if plan is not None and plan.kind == "sqlite" and any(m is not None and m.microsecond for m in (start, end)):
        plan = replace(plan, filter_here=True)  # SQLite compares whole seconds: cut a fractional bound here

    def selected(column: sa.Column) -> sa.ColumnElement:
        if numeric_as_text and is_exact_numeric(column):
            return sa.cast(column, sa.Text)
        if plan is not None and plan.kind == "sqlite" and column is watermark:
            return sa.type_coerce(column, sa.types.NullType())  # as stored: text, integer or real
        return column

    stmt = sa.select(*(selected(column).label(spec.bronze_name(column.name)) for column in table.columns))
    if plan is not None:
        stmt = stmt.where(*_watermark_condition(dialect, watermark, plan, spec, start, end))
    return stmt, plan, table


def sql_batches(
    source_db: SourceDatabase,
    spec: TableSource,
    start: datetime | None = None,
    end: datetime | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> Iterator[pa.Table]:
    """The table's rows (within the watermark range) as Arrow tables of at most ``batch_rows`` rows."""
    if source_db.dialect == "postgresql":
        stmt, plan, _ = _extraction(source_db, spec, start, end, numeric_as_text=True)
        zone = plan.session_timezone if plan is not None else None
        where = where_of(spec) if plan else spec.table
        ranges = page_ranges(source_db, table_of(source_db, spec), SCAN_STREAMS)
        if len(ranges) < 2 or not _scans_whole_heap(source_db, stmt):
            yield from prefetched(_adbc_batches(source_db, stmt, zone, where))
            return
        yield from prefetched(*_parallel_adbc_batches(source_db, stmt, zone, where, ranges))
        return
    stmt, plan, table = _extraction(source_db, spec, start, end)
    if plan is not None and plan.kind == "sqlite":
        _check_sqlite_watermark(source_db, table, spec)
    name = spec.bronze_name(spec.watermark) if plan is not None else None
    for batch in _sqlalchemy_batches(source_db, stmt, batch_rows, plan, spec):
        if plan is not None and plan.kind == "instant" and pa.types.is_timestamp(batch.schema.field(name).type):
            # MySQL TIMESTAMP, read in a +00:00 session: UTC instants (the driver hands them over naive)
            index = batch.column_names.index(name)
            column = batch.column(index)
            batch = batch.set_column(index, name, pc.cast(column, pa.timestamp(column.type.unit, tz="UTC")))
        if plan is not None and plan.filter_here and batch.num_rows:
            batch = batch.filter(
                _inside(watermark_instants(batch.column(name), spec.timezone, where_of(spec)), start, end)
            )
        yield batch


def _inside(instants: pa.Array, start: datetime | None, end: datetime | None) -> pa.Array:
    """The mask of instants in [start, end)."""
    kind = pa.timestamp("us", tz="UTC")
    mask = pa.array(np.ones(len(instants), dtype=bool))
    if start is not None:
        mask = pc.and_(mask, pc.greater_equal(instants, pa.scalar(_as_utc(start), kind)))
    if end is not None:
        mask = pc.and_(mask, pc.less(instants, pa.scalar(_as_utc(end), kind)))
    return mask


def _check_sqlite_watermark(source_db: SourceDatabase, table: sa.Table, spec: TableSource) -> None:
    """Values no window would select are errors naming them, before anything is extracted: a value
    ``julianday()`` cannot read, or a column mixing storage classes (text, integer, real), whose
    numbers and texts would be read by different conventions."""
    column = table.c[spec.watermark]
    raw = sa.type_coerce(column, sa.types.NullType())
    unreadable = sa.select(raw, sa.func.typeof(column)).where(column.is_not(None), _sqlite_julian(column).is_(None))
    classes = (
        sa.select(sa.func.typeof(column), sa.func.min(raw)).where(column.is_not(None)).group_by(sa.func.typeof(column))
    )
    with source_db.engine.connect() as conn:
        found = conn.execute(unreadable.limit(1)).first()
        kinds = conn.execute(classes).all()
    if found is not None:
        raise WatermarkError(
            f"{where_of(spec)}: {found[0]!r} ({found[1]}) is not a timestamp SQLite can read; "
            "supported are text YYYY-MM-DD[( |T)HH:MM[:SS[.fraction]]][Z|±HH:MM], INTEGER Unix "
            "seconds and REAL Julian days. Such a row belongs to no day and would never be extracted"
        )
    if len(kinds) > 1:
        examples = ", ".join(f"{kind} such as {value!r}" for kind, value in kinds)
        raise WatermarkError(
            f"{where_of(spec)}: the watermark values are of mixed kinds ({examples}); store one kind in the column"
        )


def _sqlalchemy_batches(
    source_db: SourceDatabase, stmt: sa.Select, batch_rows: int, plan: WatermarkPlan | None, spec: TableSource
) -> Iterator[pa.Table]:
    """Stream through a server-side cursor; a MySQL session reads TIMESTAMP in UTC for the extraction."""
    mysql_utc = source_db.dialect == "mysql" and plan is not None
    with source_db.engine.connect().execution_options(stream_results=True, max_row_buffer=batch_rows) as conn:
        if mysql_utc:
            previous = conn.exec_driver_sql("SELECT @@session.time_zone").scalar_one()
            conn.exec_driver_sql("SET time_zone = '+00:00'")
        try:
            result = conn.execute(stmt)
            keys = list(result.keys())
            for rows in result.partitions(batch_rows):
                yield pa.Table.from_pandas(pd.DataFrame.from_records(rows, columns=keys), preserve_index=False)
        except BaseException:
            if mysql_utc:  # a half-read stream: drop the connection rather than hand it back in UTC
                conn.invalidate()
            raise
        if mysql_utc:
            conn.exec_driver_sql("SET time_zone = %s", (previous,))


def rows_without_watermark(source_db: SourceDatabase, spec: TableSource) -> int:
    """Rows whose watermark is NULL: they belong to no daily partition, so no run extracts them.
    Counted only when the catalog says the column may be NULL (no query for a NOT NULL column); an
    index on the watermark, which incremental extraction wants anyway, serves ``IS NULL`` too."""
    table = source_db.table(spec.source_table, spec.db_schema)
    watermark = source_db.column(table, spec.watermark)
    if not watermark.nullable:
        return 0
    with source_db.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(watermark.is_(None))).scalar_one())


def libpq_uri(sqlalchemy_url: str) -> str:
    """``postgresql+psycopg2://…`` → the plain ``postgresql://…`` URI libpq (and ADBC) take."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


def bound_sql(source_db: SourceDatabase, stmt: sa.Select) -> str:
    """The statement with its parameters bound by the PostgreSQL driver's own escaping."""
    compiled = stmt.compile(dialect=psycopg2_dialect())
    connection = source_db.engine.raw_connection()
    try:
        with connection.cursor() as cursor:
            return cursor.mogrify(str(compiled), compiled.params).decode()
    finally:
        connection.close()


def table_of(source_db: SourceDatabase, spec: TableSource) -> sa.Table:
    return source_db.table(spec.source_table, spec.db_schema)


def page_ranges(source_db: SourceDatabase, table: sa.Table, streams: int) -> list[tuple[int | None, int | None]]:
    """Split a plain table's heap into ``streams`` ranges of pages ``[first, last)`` (None: open).

    The page count is the catalog's estimate (``pg_class.relpages``, as of the last VACUUM/ANALYZE);
    the first range starts at the beginning and the last one is open-ended, so rows on pages the
    estimate does not know of are read all the same. Views, partitioned and small tables: one range."""
    if streams < 2:
        return [(None, None)]
    name = source_db.engine.dialect.identifier_preparer.format_table(table)
    query = sa.text("SELECT relkind, relpages FROM pg_class WHERE oid = to_regclass(:name)")
    with source_db.engine.connect() as conn:
        found = conn.execute(query, {"name": name}).first()
    if found is None or found[0] != "r" or found[1] < max(PARALLEL_MIN_PAGES, streams):
        return [(None, None)]
    pages = int(found[1])
    cuts = [pages * i // streams for i in range(1, streams)]
    return list(zip([None, *cuts], [*cuts, None]))


def _scans_whole_heap(source_db: SourceDatabase, stmt: sa.Select) -> bool:
    """Whether PostgreSQL would read the whole heap for ``stmt`` (a sequential scan): then splitting
    it into page ranges reads the same pages on several cores. A selective window served by the
    watermark's index stays one index scan (page ranges would read every page)."""
    connection = source_db.engine.raw_connection()
    try:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + bound_sql(source_db, stmt))
            plan = "\n".join(row[0] for row in cursor.fetchall())
    finally:
        connection.close()
    return "Seq Scan" in plan and "Index" not in plan


def _in_pages(stmt: sa.Select, first: int | None, last: int | None) -> sa.Select:
    """Only the rows on heap pages [first, last): a TID range scan reads just those pages."""
    ctid = sa.literal_column("ctid")
    if first is not None:
        stmt = stmt.where(ctid >= sa.literal_column(f"'({int(first)},0)'::tid"))
    if last is not None:
        stmt = stmt.where(ctid < sa.literal_column(f"'({int(last)},0)'::tid"))
    return stmt


def _parallel_adbc_batches(
    source_db: SourceDatabase,
    stmt: sa.Select,
    timezone: str | None,
    where: str,
    ranges: list[tuple[int | None, int | None]],
) -> list[Iterator[pa.Table]]:
    """One stream per page range, on its own connection; all read the first one's snapshot
    (``pg_export_snapshot``), so together they see the table exactly as one query would —
    a row updated meanwhile is neither read twice nor missed."""
    import adbc_driver_postgresql.dbapi as adbc

    uri = libpq_uri(source_db.url)
    connections = []
    try:
        for index in range(len(ranges)):
            conn = adbc.connect(uri, autocommit=True)  # the transactions are begun here, by hand
            connections.append(conn)
            with conn.cursor() as cursor:
                cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                if index == 0:
                    cursor.execute("SELECT pg_export_snapshot()")
                    snapshot = cursor.fetchone()[0]
                else:  # before any query of the transaction; the leader's stays open meanwhile
                    sql = bound_sql(source_db, sa.text("SET TRANSACTION SNAPSHOT :id").bindparams(id=snapshot))
                    cursor.execute(sql)
    except BaseException:
        for conn in connections:
            conn.close()
        raise
    return [
        _adbc_batches(source_db, _in_pages(stmt, first, last), timezone, where, conn=conn)
        for conn, (first, last) in zip(connections, ranges)
    ]


def _adbc_batches(
    source_db: SourceDatabase,
    stmt: sa.Select,
    timezone: str | None,
    where: str,
    conn=None,
) -> Iterator[pa.Table]:
    """Stream ``stmt`` through ADBC, on ``conn`` (an open connection, closed at the end) or a new one."""
    import adbc_driver_postgresql.dbapi as adbc

    if conn is None:
        conn = adbc.connect(libpq_uri(source_db.url))
    with conn, conn.cursor() as cursor:
        if timezone is not None:  # how the session reads naive text and compares timestamp with timestamptz
            cursor.execute(bound_sql(source_db, sa.select(sa.func.set_config("TimeZone", timezone, False))))
            cursor.fetchall()
        try:
            cursor.execute(bound_sql(source_db, stmt))
            for batch in cursor.fetch_record_batch():
                yield pa.Table.from_batches([batch])
        except (adbc.Error, OSError) as exc:  # the reader raises OSError, the cursor adbc errors
            if not UNREADABLE_TIMESTAMP.search(str(exc)):
                raise  # anything else (a lost connection…) may be transient
            raise WatermarkError(f"{where}: PostgreSQL cannot read a watermark value: {_pg_error(exc)}") from None


# PostgreSQL's messages (SQLSTATE class 22) for text a timestamp cast cannot read: bad data
UNREADABLE_TIMESTAMP = re.compile(
    r"invalid input syntax for type (timestamp|date)|date/time field value out of range|"
    r"timestamp out of range|time zone \"[^\"]*\" not recognized"
)


def _pg_error(exc: BaseException) -> str:
    """PostgreSQL's own message (which quotes the value), without libpq's prefix."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text.split("ERROR:", 1)[-1].strip()


def prefetched(*streams: Iterator[pa.Table], depth: int = 2) -> Iterator[pa.Table]:
    """Read the next batches in a thread per stream while the caller writes the current one (both
    release the GIL in Arrow/libpq), holding at most ``depth`` batches per stream in between: memory
    stays bounded. One stream keeps its order; several are interleaved as their batches come. The
    first error of any stream is raised to the caller, and the other streams are stopped."""
    import queue
    import threading

    slots: queue.Queue = queue.Queue(maxsize=depth * len(streams))
    done = object()
    stop = threading.Event()

    def produce(batches: Iterator[pa.Table]) -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        slots.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            slots.put(exc)
        finally:
            close = getattr(batches, "close", None)
            if close is not None:  # a generator stopped early closes its connection in this thread
                close()

    threads = [
        threading.Thread(target=produce, args=(batches,), name=f"maestro-prefetch-{i}", daemon=True)
        for i, batches in enumerate(streams)
    ]
    for thread in threads:
        thread.start()
    try:
        running = len(threads)
        while running:
            item = slots.get()
            if item is done:
                running -= 1
                continue
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        deadline = time.monotonic() + 5
        while any(thread.is_alive() for thread in threads) and time.monotonic() < deadline:
            try:  # unblock a producer waiting to hand over its last item
                slots.get(timeout=0.05)
            except queue.Empty:
                pass
