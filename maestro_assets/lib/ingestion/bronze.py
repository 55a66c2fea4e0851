"""Writing bronze: raw rows as received plus ``_ingested_at``, ``_source``, ``_batch_id``,
one parquet object per daily partition, streamed batch by batch so memory stays bounded.

Batches may arrive in any order: each batch's rows are routed by day to that day's local
temporary parquet file (one row group per batch and day), and every day is swapped into the lake
when the extraction is complete, so re-running a partition replaces it and never duplicates rows
(and a failed extraction replaces nothing).
Days of the requested range that received no rows are written as empty partitions, so a
partition that really had no data is visibly materialized and stale rows of an earlier run
are replaced.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..dates import days_between
from ..errors import MaestroError
from ..lake import Lake

PARTITION_COLUMN = "date"
META_COLUMNS = ("_ingested_at", "_source", "_batch_id")
FILE_COLUMN = "_file"  # landed files: the object a row came from
BRONZE_COLUMNS = (*META_COLUMNS, FILE_COLUMN)  # what bronze adds to the rows as received
EPOCH = date(1970, 1, 1)
# zstd, without dictionary encoding: on mixed raw tables Arrow's per-row-group dictionaries (built
# then abandoned for high-cardinality columns) cost ~40% of the write time and made files *larger*
# than zstd alone (1M x 16 benchmark rows: 0.86 s / 90 MB with dictionaries, 0.49 s / 76 MB without).
PARQUET_OPTIONS = {"compression": "zstd", "use_dictionary": False}
ROW_GROUP_ROWS = 128 * 1024  # rows of one day written together as a parquet row group
BUFFER_BYTES = 64 * 1024 * 1024  # rows waiting across all days (with the batches they pin), at most
CLOSE_THREADS = min(4, os.cpu_count() or 1)  # days written at once when the extraction is complete
MIN_SLICE_ROWS = 1024  # a run of rows of one day at least this long is buffered as a slice, not copied


@dataclass
class WriteStats:
    records_read: int = 0
    records_written: int = 0
    records_failed: int = 0
    bytes_written: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    partitions: dict[str, int] = field(default_factory=dict)
    schema: pa.Schema | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def duration_seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def error_rate(self) -> float:
        return self.records_failed / self.records_read if self.records_read else 0.0


@dataclass
class _Held:
    """Memory a batch holds while any of its rows (``slices``) wait in the day buffers."""

    nbytes: int
    slices: int = 0


_UNITS_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_US = pa.timestamp("us")
# The text forms of a timestamp the writer reads (SQLite's own forms, ISO 8601, PostgreSQL's text
# output): a date, optionally a time to the minute or second with any fraction of a second, then
# optionally a zone: Z or an offset ±HH, ±HHMM, ±HH:MM (SQLite itself reads only Z and ±HH:MM).
TEXT_TIMESTAMP = (
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<hm>\d{2}:\d{2})(?::(?P<sec>\d{2})(?:\.(?P<frac>\d+))?)?)?"
    r"\s?(?P<zone>Z|[+-]\d{2}(?::?\d{2})?)?$"
)
TEXT_FORMS = "YYYY-MM-DD[( |T)HH:MM[:SS[.fraction]]][Z|±HH[:MM]]"
UNIX_EPOCH_JULIAN_DAY = 2_440_587.5


class WatermarkError(MaestroError):
    """A watermark value that is not a timestamp, or a row outside the requested days: bad data
    (or data that changed under the extraction), which a retry cannot fix."""


def check_timezone(timezone: str, where: str = "") -> ZoneInfo:
    """The IANA zone ``timezone`` names; an unknown name is a MaestroError naming the setting."""
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise WatermarkError(
            f"{where + ': ' if where else ''}timezone {timezone!r} is not an IANA time zone name "
            "(such as 'UTC' or 'Europe/Berlin')"
        ) from None


def day_numbers(stamps: pa.ChunkedArray | pa.Array, timezone: str = "UTC", where: str = "the watermark") -> np.ndarray:
    """Days since 1970-01-01 (UTC) of watermark values: timestamps (any unit, sub-second parts
    allowed; naive ones are wall-clock times in ``timezone``), dates (midnight in ``timezone``),
    timestamp text (``TEXT_FORMS``), and SQLite's numbers (see ``watermark_instants``)."""
    if pa.types.is_date(stamps.type) and timezone == "UTC":
        stamps = pc.cast(stamps, pa.timestamp("s"))
    if (
        pa.types.is_timestamp(stamps.type)
        and (stamps.type.tz is not None or timezone == "UTC")
        and not stamps.null_count
    ):
        # the fast path (what ADBC hands over): ticks since the epoch, floor-divided by a day
        ticks = pc.cast(stamps, pa.int64()).to_numpy(zero_copy_only=False)
        return ticks // (86_400 * _UNITS_PER_SECOND[stamps.type.unit])
    ticks = pc.cast(watermark_instants(stamps, timezone, where), pa.int64()).to_numpy(zero_copy_only=False)
    return ticks // (86_400 * _UNITS_PER_SECOND["us"])


def watermark_instants(
    values: pa.ChunkedArray | pa.Array, timezone: str = "UTC", where: str = "the watermark"
) -> pa.Array:
    """Watermark values as UTC instants (``timestamp[us, tz=UTC]``) — the parsed copy used to route
    rows to days; the values themselves are written to bronze as received.

    * timestamps with a zone: as they are; naive timestamps and dates (midnight): wall-clock time
      in ``timezone``, converted as ``zoneinfo`` does (``fold=0``) and as PostgreSQL's
      ``AT TIME ZONE`` does: a time repeated when clocks go back is its first occurrence, a time
      skipped when they go forward takes the offset in force before the change;
    * text in ``TEXT_FORMS``: with a zone suffix it is that instant, without one a wall-clock time
      in ``timezone``;
    * integers: Unix epoch seconds, floats: Julian day numbers read at millisecond precision —
      SQLite's conventions (``unixepoch``, ``julianday``), the only numbers a watermark can be
      (the SQL extractor refuses numeric watermark columns of other databases).

    A NULL, a text in another form, or any other type is a ``WatermarkError`` naming ``where``
    (source, table, column) and an example value: such a row belongs to no day.
    """
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    kind = values.type
    if values.null_count:
        raise WatermarkError(f"{where}: {values.null_count} row(s) have no watermark (NULL) and belong to no day")
    if pa.types.is_timestamp(kind):
        if kind.tz is not None:
            return pc.cast(values, pa.timestamp("us", tz="UTC"), safe=False)
        return _from_wall_clock(pc.cast(values, _US, safe=False), timezone, where)
    if pa.types.is_date(kind):
        return _from_wall_clock(pc.cast(pc.cast(values, pa.timestamp("s")), _US), timezone, where)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _parse_text(values, timezone, where)
    if pa.types.is_integer(kind):
        return pc.cast(pc.multiply(pc.cast(values, pa.int64()), 1_000_000), pa.timestamp("us", tz="UTC"))
    if pa.types.is_floating(kind):
        days_ = values.to_numpy(zero_copy_only=False).astype(np.float64)
        millis = np.round((days_ - UNIX_EPOCH_JULIAN_DAY) * 86_400_000.0)
        if not np.isfinite(millis).all():
            bad = values[int(np.flatnonzero(~np.isfinite(millis))[0])].as_py()
            raise WatermarkError(f"{where}: {bad!r} is not a Julian day number")
        return pa.array(millis.astype(np.int64) * 1000, pa.timestamp("us", tz="UTC"))
    example = values[0].as_py() if len(values) else None
    raise WatermarkError(
        f"{where}: values of type {kind} (such as {example!r}) are not timestamps; a watermark is a "
        f"timestamp, a date, text of the form {TEXT_FORMS}, or in SQLite Unix epoch seconds (INTEGER) "
        "or a Julian day number (REAL)"
    )


def _from_wall_clock(naive: pa.Array, timezone: str, where: str) -> pa.Array:
    """Naive ``timestamp[us]`` wall-clock times in ``timezone`` as UTC instants (``fold=0``)."""
    if timezone == "UTC":
        return pc.cast(naive, pa.timestamp("us", tz="UTC"))
    check_timezone(timezone, where)
    # Arrow's "earliest" instant of each wall-clock time is zoneinfo's fold=0 except in a gap
    # (a skipped time), where it is the instant just before the change; the wall-clock time minus
    # the offset of that instant (in force before the change) is fold=0 everywhere.
    first = pc.assume_timezone(naive, timezone, ambiguous="earliest", nonexistent="earliest")
    offsets = pc.subtract(pc.cast(pc.local_timestamp(first), pa.int64()), pc.cast(first, pa.int64()))
    return pc.cast(pc.subtract(pc.cast(naive, pa.int64()), offsets), pa.timestamp("us", tz="UTC"))


def _parse_text(values: pa.Array, timezone: str, where: str) -> pa.Array:
    values = pc.utf8_trim_whitespace(values)
    matched = pc.match_substring_regex(values, TEXT_TIMESTAMP)
    if not pc.all(matched).as_py():
        bad = values[pc.index(matched, False).as_py()].as_py()
        raise WatermarkError(f"{where}: {bad!r} is not a timestamp (expected text of the form {TEXT_FORMS})")
    parts = pc.extract_regex(values, TEXT_TIMESTAMP)
    field_ = parts.field
    hm, sec, frac, zone = field_("hm"), field_("sec"), field_("frac"), field_("zone")
    time_ = pc.binary_join_element_wise(
        pc.if_else(pc.equal(hm, ""), "00:00", hm),
        pc.if_else(pc.equal(sec, ""), "00", sec),
        ":",
    )
    wall = pc.binary_join_element_wise(field_("date"), time_, " ")
    fraction = pc.utf8_slice_codeunits(frac, 0, 6)  # microseconds: the finest unit a row keeps
    wall = pc.if_else(pc.equal(fraction, ""), wall, pc.binary_join_element_wise(wall, fraction, "."))
    try:
        naive = pc.cast(wall, _US)
    except pa.ArrowInvalid:
        for index, text in enumerate(wall.to_pylist()):
            try:
                pc.cast(pa.array([text]), _US)
            except pa.ArrowInvalid:
                raise WatermarkError(
                    f"{where}: {values[index].as_py()!r} is not a timestamp (a field is out of range)"
                ) from None
        raise
    zoned = pc.not_equal(zone, "")
    if not pc.any(zoned).as_py():
        return _from_wall_clock(naive, timezone, where)
    # an offset ±HH[[:]MM] (Z is +00:00): seconds east of UTC
    digits = pc.replace_substring(pc.if_else(pc.equal(zone, "Z"), "+00:00", zone), ":", "")
    hours = pc.cast(pc.if_else(zoned, pc.utf8_slice_codeunits(digits, 1, 3), "0"), pa.int64())
    minutes_text = pc.utf8_slice_codeunits(digits, 3, 5)
    minutes = pc.cast(pc.if_else(pc.equal(minutes_text, ""), "0", minutes_text), pa.int64())
    sign = pc.if_else(pc.starts_with(digits, "-"), -1, 1)
    offset_us = pc.multiply(pc.multiply(sign, pc.add(pc.multiply(hours, 3600), pc.multiply(minutes, 60))), 1_000_000)
    explicit = pc.subtract(pc.cast(naive, pa.int64()), offset_us)
    if pc.all(zoned).as_py():
        return pc.cast(explicit, pa.timestamp("us", tz="UTC"))
    implied = pc.cast(_from_wall_clock(naive, timezone, where), pa.int64())
    return pc.cast(pc.if_else(zoned, explicit, implied), pa.timestamp("us", tz="UTC"))


def _libc_malloc_trim():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


_MALLOC_TRIM = _libc_malloc_trim()


def _release_freed_memory() -> None:
    """Hand memory freed by written batches back to the OS. Database drivers (ADBC) allocate
    batches with malloc, not Arrow's pool, and glibc keeps freed heap pages for reuse; trimming
    after each flush keeps RSS closer to what is held (measured: 10-15 MB less at peak on the
    1M and 10M benchmark tables)."""
    pa.default_memory_pool().release_unused()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _constant(value, n: int, kind: pa.DataType) -> pa.Array:
    """``n`` copies of ``value`` built in Arrow, not as a Python list."""
    return pc.cast(pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([value], kind)), kind)


def with_meta(batch: pa.RecordBatch | pa.Table, source: str, batch_id: str, ingested_at: datetime) -> pa.Table:
    table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
    n = table.num_rows
    table = table.append_column("_ingested_at", _constant(ingested_at, n, pa.timestamp("us", tz="UTC")))
    table = table.append_column("_source", _constant(source, n, pa.string()))
    return table.append_column("_batch_id", _constant(batch_id, n, pa.string()))


class PartitionedBronzeWriter:
    """Routes batches to the daily partitions of ``bronze/<source>/<table>`` in [start, end)."""

    def __init__(
        self,
        lake: Lake,
        source: str,
        table: str,
        watermark: str | None,
        start: date,
        end: date,
        batch_id: str,
        ingested_at: datetime | None = None,
        timezone: str = "UTC",
    ):
        """``timezone``: the IANA zone of naive watermark values (timestamps without a zone, dates,
        text without an offset), converted to UTC to find their day."""
        self.lake, self.source, self.table, self.watermark = lake, source, table, watermark
        self.timezone = timezone
        if watermark is not None:
            check_timezone(timezone, self.where)
        self.days = days_between(start, end)
        self.first_day_number = (start - EPOCH).days
        self.batch_id = batch_id
        self.ingested_at = ingested_at or datetime.now(UTC)
        self.stats = WriteStats()
        self._tmp = tempfile.TemporaryDirectory(prefix="maestro-bronze-")
        self._writers: dict[date, pq.ParquetWriter] = {}
        self._rows: dict[date, int] = {}
        self._buffers: dict[date, list[pa.Table]] = {}  # rows of a day not yet written, for big row groups
        self._buffered_bytes = 0

    @property
    def layer_table(self) -> str:
        return f"{self.source}/{self.table}"

    @property
    def where(self) -> str:
        """Where a watermark value comes from, for messages: source, table and column."""
        return f"source {self.source!r}, table {self.table!r}, column {self.watermark!r}"

    def write(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Rows of any days of the range, in any order: each goes to the partition of its watermark day."""
        table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
        if table.num_rows == 0:
            return
        self.stats.records_read += table.num_rows
        offsets = day_numbers(table.column(self.watermark), self.timezone, self.where) - self.first_day_number
        outside = (offsets < 0) | (offsets >= len(self.days))
        if outside.any():
            # the query selects the days of the run only: rows changed between the query and here,
            # or the database compares the watermark otherwise than it is read. Not retried.
            index = int(np.flatnonzero(outside)[0])
            bad = int(offsets[index]) + self.first_day_number
            raise WatermarkError(
                f"bronze {self.layer_table}: {self.where}: a row of {EPOCH + timedelta(days=bad)} "
                f"({self.watermark}={table.column(self.watermark)[index].as_py()!r}) is outside the "
                f"requested days {self.days[0]}..{self.days[-1]}; nothing was published"
            )
        table = with_meta(table, self.source, self.batch_id, self.ingested_at)
        if self.stats.schema is None:
            self.stats.schema = table.schema
        # Long runs of rows of one day (a table read in about the order it was appended) are
        # zero-copy slices, and their batch stays in memory until its last slice is written; the
        # rows of short runs (days interleaved) are gathered by day into one compact copy.
        cuts = np.concatenate(([0], np.flatnonzero(np.diff(offsets)) + 1, [len(offsets)]))
        lengths = np.diff(cuts)
        long_runs = np.flatnonzero(lengths >= MIN_SLICE_ROWS)
        if len(long_runs):
            shared = _Held(table.nbytes)
            for run in long_runs.tolist():
                lo, hi = int(cuts[run]), int(cuts[run + 1])
                self._append(self.days[int(offsets[lo])], table.slice(lo, hi - lo), shared)
        if len(long_runs) == len(lengths):
            return
        rest = np.flatnonzero(np.repeat(lengths < MIN_SLICE_ROWS, lengths))
        rest = rest[np.argsort(offsets[rest], kind="stable")]
        rest_offsets = offsets[rest]
        gathered = table.take(pa.array(rest))
        held = _Held(gathered.nbytes)
        day_cuts = [0, *(np.flatnonzero(np.diff(rest_offsets)) + 1).tolist(), len(rest)]
        for lo, hi in zip(day_cuts, day_cuts[1:]):
            self._append(self.days[int(rest_offsets[lo])], gathered.slice(lo, hi - lo), held)

    def write_day(self, day: date, batch: pa.RecordBatch | pa.Table) -> None:
        """Append rows to the partition of ``day`` (landed files: partitioned by landing day)."""
        table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
        if day not in self.days:
            raise ValueError(f"bronze {self.layer_table}: {day} is outside {self.days[0]}..{self.days[-1]}")
        self.stats.records_read += table.num_rows
        if table.num_rows:
            table = with_meta(table, self.source, self.batch_id, self.ingested_at)
            self.stats.schema = self.stats.schema or table.schema
            self._append(day, table, _Held(table.nbytes))

    def _append(self, day: date, table: pa.Table, held: _Held) -> None:
        """Buffer a day's rows; write a row group when the day has enough, or the buffers are full."""
        self._buffers.setdefault(day, []).append((table, held))
        if held.slices == 0:
            self._buffered_bytes += held.nbytes
        held.slices += 1
        self._rows[day] = self._rows.get(day, 0) + table.num_rows
        if sum(t.num_rows for t, _ in self._buffers[day]) >= ROW_GROUP_ROWS:
            self._flush_days([day])
        while self._buffered_bytes > BUFFER_BYTES:
            self._flush_days([max(self._buffers, key=lambda d: sum(t.nbytes for t, _ in self._buffers[d]))])

    def _flush_days(self, days_: list[date], threads: int = 1) -> None:
        """Write the buffered rows of these days, then give the memory they held back."""
        self._write_buffered(days_, threads)
        _release_freed_memory()  # after _write_buffered returned: its references to the rows are gone

    def _write_buffered(self, days_: list[date], threads: int) -> None:
        """Write the buffered rows of these days as row groups, ``threads`` days at a time (Arrow
        encodes and compresses without the GIL), and stop counting the batches they held."""
        jobs = []
        for day in days_:
            buffered = self._buffers.pop(day, [])
            if not buffered:
                continue
            writer = self._writers.get(day)
            if writer is None:  # each day keeps the schema its data arrived with
                writer = self._writers[day] = pq.ParquetWriter(
                    self._path(day), buffered[0][0].schema, **PARQUET_OPTIONS
                )
            rows = pa.concat_tables([t if t.schema == writer.schema else t.cast(writer.schema) for t, _ in buffered])
            jobs.append((writer, rows, buffered))
        if threads > 1 and len(jobs) > 1:
            with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="maestro-bronze") as pool:
                list(pool.map(lambda job: job[0].write_table(job[1]), jobs))
        else:
            for writer, rows, _ in jobs:
                writer.write_table(rows)
        for _, _, buffered in jobs:
            for _, held in buffered:
                held.slices -= 1
                if held.slices == 0:
                    self._buffered_bytes -= held.nbytes

    def _path(self, day: date) -> Path:
        return Path(self._tmp.name) / f"{day}.parquet"

    def close(self) -> WriteStats:
        """Publish every day of the range: the rows it received, or an empty partition."""
        empty_schema = self.stats.schema or pa.schema([(c, pa.string()) for c in META_COLUMNS])
        self._flush_days(list(self._buffers), threads=CLOSE_THREADS)  # the extraction is over: all cores
        for day in self.days:
            writer = self._writers.pop(day, None)
            if writer is not None:
                writer.close()
            else:
                pq.write_table(empty_schema.empty_table(), self._path(day), **PARQUET_OPTIONS)
            info = self.lake.replace_partition_file(
                "bronze", self.layer_table, (PARTITION_COLUMN, day.isoformat()), self._path(day)
            )
            rows = self._rows.get(day, 0)
            self.stats.records_written += rows
            self.stats.bytes_written += info.size
            self.stats.partitions[day.isoformat()] = rows
            self._path(day).unlink(missing_ok=True)
        self._tmp.cleanup()
        self.stats.finished = time.monotonic()
        return self.stats


def write_snapshot(
    lake: Lake,
    source: str,
    table: str,
    batches: Iterable[pa.RecordBatch | pa.Table],
    batch_id: str,
    ingested_at: datetime | None = None,
) -> WriteStats:
    """A whole-table snapshot (no watermark): one object, replaced atomically."""
    ingested_at = ingested_at or datetime.now(UTC)
    stats = WriteStats()
    with tempfile.TemporaryDirectory(prefix="maestro-bronze-") as tmp:
        path = Path(tmp) / "snapshot.parquet"
        writer = None
        for batch in batches:
            part = with_meta(batch, source, batch_id, ingested_at)
            if writer is None:
                stats.schema = part.schema
                writer = pq.ParquetWriter(path, part.schema, **PARQUET_OPTIONS)
            writer.write_table(part.cast(stats.schema))
            stats.records_read += part.num_rows
            stats.records_written += part.num_rows
        if writer is None:
            stats.schema = pa.schema([(c, pa.string()) for c in META_COLUMNS])
            pq.write_table(stats.schema.empty_table(), path, **PARQUET_OPTIONS)
        else:
            writer.close()
        info = lake.replace_partition_file("bronze", f"{source}/{table}", None, path)
        stats.bytes_written = info.size
    stats.finished = time.monotonic()
    return stats
