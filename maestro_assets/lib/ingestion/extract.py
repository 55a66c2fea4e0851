"""Bronze extraction of one declared table: read the source, write bronze, return the statistics.

One function per source kind, free of Dagster (a notebook can call them): each takes the source,
the table, the lake, the UTC window of the run (``None`` for a whole-table snapshot) and the
run's id (``_batch_id``), and returns an :class:`Extraction`. Bad data raises a
:class:`~maestro_assets.lib.errors.MaestroError` naming the place; a landed file that cannot be
read does not stop the good files of its day — it is recorded under ``quarantine/files/`` with
its reason (the landing object stays where it is) and returned in ``bad_files``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.compute as pc

from ..dates import as_utc
from ..errors import MaestroError
from ..lake import Lake, ObjectInfo
from ..warehouse import SourceDatabase
from .bronze import PartitionedBronzeWriter, WriteStats, write_snapshot
from .files import FileFormatError, landing_day, read_landed, records_table
from .rest import FetchStats, RestSource, fetch_pages, watermark_stamps
from .sources import Source, TableSource
from .sql import rows_without_watermark, sql_batches

Window = tuple[datetime, datetime]
LOG = logging.getLogger(__name__)
BAD_FILES_PREFIX = "quarantine/files"


@dataclass(frozen=True)
class BadFile:
    """A landed file that could not be ingested, and why."""

    key: str
    day: str
    reason: str
    size: int
    etag: str

    def to_dict(self) -> dict:
        return {"file": self.key, "landing_day": self.day, "reason": self.reason, "size": self.size, "etag": self.etag}


@dataclass
class Extraction:
    """What one extraction wrote (the writer's statistics) and the landed files it set aside."""

    stats: WriteStats
    bad_files: list[BadFile] = field(default_factory=list)


def bad_files_prefix(spec: TableSource, day: str | None = None) -> str:
    prefix = f"{BAD_FILES_PREFIX}/{spec.source}/{spec.table}/"
    return prefix + (f"date={day}/" if day else "")


def extract(
    source: Source,
    spec: TableSource,
    lake: Lake,
    window: Window | None,
    batch_id: str,
    log: logging.Logger | None = None,
) -> Extraction:
    """Extract ``spec`` for ``window`` (partitioned tables) or as a snapshot (``window=None``)."""
    if spec.partitioned and window is None:
        raise MaestroError(f"bronze {spec.qualified_name}: a partitioned table needs the days to extract")
    return EXTRACTORS[spec.kind](source, spec, lake, window, batch_id, log or LOG)


def _writer(lake: Lake, spec: TableSource, watermark: str | None, window: Window, batch_id: str):
    start, end = (as_utc(moment).date() for moment in window)
    return PartitionedBronzeWriter(
        lake, spec.source, spec.table, watermark, start, end, batch_id=batch_id, timezone=spec.timezone
    )


def extract_sql(
    source: Source, spec: TableSource, lake: Lake, window: Window | None, batch_id: str, log: logging.Logger
) -> Extraction:
    db = SourceDatabase(source.connection(), setting=source.connection_env or "connection_env")
    if window is None:
        return Extraction(write_snapshot(lake, spec.source, spec.table, sql_batches(db, spec), batch_id))
    writer = _writer(lake, spec, spec.bronze_name(spec.watermark), window, batch_id)
    for batch in sql_batches(db, spec, as_utc(window[0]), as_utc(window[1])):
        writer.write(batch)
    stats = writer.close()
    orphans = rows_without_watermark(db, spec)
    if orphans:
        message = (
            f"{orphans} row(s) of {spec.source_table!r} have no {spec.watermark!r} (NULL): they belong to "
            "no daily partition and are not in bronze"
        )
        log.warning(message)
        stats.errors.append(message)
    return Extraction(stats)


def landed_objects_by_day(lake: Lake, spec: TableSource, window: Window) -> dict[date, list[ObjectInfo]]:
    """The objects under the table's prefix whose landing day is in the window, by day."""
    start, end = (as_utc(moment).date() for moment in window)
    by_day: dict[date, list[ObjectInfo]] = {}
    for obj in lake.list(spec.prefix):
        day = landing_day(obj.key, obj.last_modified)
        if start <= day < end:
            by_day.setdefault(day, []).append(obj)
    return by_day


def extract_files(
    source: Source, spec: TableSource, lake: Lake, window: Window | None, batch_id: str, log: logging.Logger
) -> Extraction:
    """Every object landed under the prefix for the days of the run, one partition per landing day.
    A file that cannot be read is set aside (recorded under ``quarantine/files/``); the rest land."""
    writer = _writer(lake, spec, None, window, batch_id)
    bad: list[BadFile] = []
    recorded = {o.key for o in lake.list(bad_files_prefix(spec))}  # records of earlier runs
    for day, objects in sorted(landed_objects_by_day(lake, spec, window).items()):
        tables, day_bad = [], []
        for obj in objects:
            try:
                tables.append((obj, read_landed(lake.get(obj.key), spec, obj.key)))
            except FileFormatError as exc:
                day_bad.append(BadFile(obj.key, day.isoformat(), str(exc), obj.size, obj.etag))
        tables, mismatched = _agreeing_schemas(tables, spec, day)
        day_bad += mismatched
        if tables:
            writer.write_day(day, pa.concat_tables([t for _, t in tables], promote_options="permissive"))
        for record in day_bad:
            log.warning(f"quarantined landed file {record.key}: {record.reason}")
        log.info(f"{spec.prefix} {day}: {len(tables)} file(s) landed, {len(day_bad)} set aside")
        bad += day_bad
    stats = writer.close()
    _replace_bad_file_records(lake, spec, list(stats.partitions), bad, recorded)
    return Extraction(stats, bad)


def _agreeing_schemas(tables: list[tuple[ObjectInfo, pa.Table]], spec: TableSource, day: date):
    """Files of one day whose column types agree with the first file's (parquet keeps its own
    types; CSV and JSON lines are all text and always agree); the others as bad files."""
    if len(tables) < 2:
        return tables, []
    first_obj, first = tables[0]
    kept, bad = [tables[0]], []
    for obj, table in tables[1:]:
        clash = [
            (f.name, f.type, first.schema.field(f.name).type)
            for f in table.schema
            if f.name in first.schema.names and not _compatible(f.type, first.schema.field(f.name).type)
        ]
        if clash:
            name, mine, theirs = clash[0]
            reason = (
                f"source {spec.source!r}, table {spec.table!r}, file {obj.key!r}: column {name!r} is {mine} "
                f"here but {theirs} in {first_obj.key!r}, the day's first file"
            )
            bad.append(BadFile(obj.key, day.isoformat(), reason, obj.size, obj.etag))
        else:
            kept.append((obj, table))
    return kept, bad


def _compatible(a: pa.DataType, b: pa.DataType) -> bool:
    if a == b or pa.types.is_null(a) or pa.types.is_null(b):
        return True
    try:
        pa.unify_schemas([pa.schema([("c", a)]), pa.schema([("c", b)])], promote_options="permissive")
        return True
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return False


def _replace_bad_file_records(
    lake: Lake, spec: TableSource, days: list[str], bad: list[BadFile], recorded: set[str]
) -> None:
    """Write the run's records of set-aside files; remove the records an earlier run left for
    these days (a file fixed or removed since then leaves none)."""
    written = set()
    for day in days:
        for number, record in enumerate(sorted((b for b in bad if b.day == day), key=lambda b: b.key)):
            key = f"{bad_files_prefix(spec, day)}{number:05d}.json"
            payload = {**record.to_dict(), "recorded_at": datetime.now(UTC).isoformat()}
            lake.put(key, json.dumps(payload, indent=1).encode())
            written.add(key)
    stale_prefixes = tuple(bad_files_prefix(spec, day) for day in days)
    for key in sorted(recorded - written):
        if key.startswith(stale_prefixes):
            lake.delete(key)


def extract_rest(
    source: Source, spec: TableSource, lake: Lake, window: Window | None, batch_id: str, log: logging.Logger
) -> Extraction:
    """Every page of the endpoint; with a watermark, the records of the run's days (sorted into them)."""
    fetch = FetchStats()
    options = dict(spec.options)
    start, end = (as_utc(window[0]), as_utc(window[1])) if window else (None, None)
    params = {
        k: str(v).format(start=start.isoformat(), end=end.isoformat()) if window else str(v)
        for k, v in (options.pop("params", None) or {}).items()
    }
    rest = RestSource(
        name=source.name,
        url=source.connection().rstrip("/") + spec.path,
        params=params,
        auth_env=source.auth_env,
        **options,
    )
    records = [record for page in fetch_pages(rest, stats=fetch) for record in page]
    where = f"source {source.name!r}, table {spec.table!r}"
    try:
        table = records_table(records)
    except (ValueError, pa.ArrowException) as exc:  # a lone surrogate, JSON nested too deeply to keep
        raise MaestroError(f"{where}: records that cannot be kept as text ({exc})") from None
    if spec.columns:
        table = table.rename_columns([spec.bronze_name(c) for c in table.column_names])
    log.info(f"{rest.url}: {fetch.pages} pages, {fetch.records} records, {fetch.retries} retries")
    if window is None:
        stats = write_snapshot(lake, spec.source, spec.table, [table], batch_id)
    else:
        watermark = spec.bronze_name(spec.watermark)
        if watermark not in table.column_names and table.num_rows:
            raise MaestroError(
                f"{where}: the records have no watermark field {watermark!r}; fields are {table.column_names}"
            )
        writer = _writer(lake, spec, watermark, window, batch_id)
        if table.num_rows:
            stamps = watermark_stamps(table, watermark, where)
            table = table.set_column(table.column_names.index(watermark), watermark, stamps)
            kind = pa.timestamp("us", tz="UTC")
            inside = pc.and_(pc.greater_equal(stamps, pa.scalar(start, kind)), pc.less(stamps, pa.scalar(end, kind)))
            outside = table.num_rows - pc.sum(inside).as_py()
            if outside:
                log.info(
                    f"{outside} record(s) outside {start.date()}..{end.date()} belong to other partitions "
                    "and are ingested with them"
                )
            writer.write(table.filter(inside).sort_by(watermark))
        stats = writer.close()
    stats.records_read = fetch.records
    if fetch.retries:
        stats.errors.append(f"retried {fetch.retries} request(s) (429/5xx/timeouts), all recovered")
    return Extraction(stats)


EXTRACTORS: dict[str, Callable[..., Extraction]] = {"sql": extract_sql, "files": extract_files, "rest": extract_rest}
