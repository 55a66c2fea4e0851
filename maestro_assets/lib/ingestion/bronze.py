"""Writing bronze: raw rows as received plus ``_ingested_at``, ``_source``, ``_batch_id``,
one parquet object per daily partition, streamed batch by batch so memory stays bounded.

Batches must arrive ordered by partition day (extractors order by the watermark); each day is
written to a local temporary parquet file row group by row group and swapped into the lake
when the day is complete, so re-running a partition replaces it and never duplicates rows.
Days of the requested range that received no rows are written as empty partitions, so a
partition that really had no data is visibly materialized and stale rows of an earlier run
are replaced.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..lake import Lake

PARTITION_COLUMN = "date"
META_COLUMNS = ("_ingested_at", "_source", "_batch_id")
EPOCH = date(1970, 1, 1)


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


def days(start: date, end: date) -> list[date]:
    """The days of the half-open range [start, end)."""
    return [start + timedelta(days=i) for i in range((end - start).days)]


def with_meta(batch: pa.RecordBatch | pa.Table, source: str, batch_id: str, ingested_at: datetime) -> pa.Table:
    table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
    n = table.num_rows
    table = table.append_column("_ingested_at", pa.array([ingested_at] * n, pa.timestamp("us", tz="UTC")))
    table = table.append_column("_source", pa.array([source] * n, pa.string()))
    return table.append_column("_batch_id", pa.array([batch_id] * n, pa.string()))


class PartitionedBronzeWriter:
    """Routes ordered batches to daily partitions of ``bronze/<source>/<table>``."""

    def __init__(self, lake: Lake, source: str, table: str, watermark: str | None, start: date, end: date,
                 batch_id: str, ingested_at: datetime | None = None):
        self.lake, self.source, self.table, self.watermark = lake, source, table, watermark
        self.pending = days(start, end)  # days not yet published, in order
        self.batch_id = batch_id
        self.ingested_at = ingested_at or datetime.now(timezone.utc)
        self.stats = WriteStats()
        self._tmp = tempfile.TemporaryDirectory(prefix="maestro-bronze-")
        self._day: date | None = None
        self._writer: pq.ParquetWriter | None = None
        self._rows = 0

    @property
    def layer_table(self) -> str:
        return f"{self.source}/{self.table}"

    def write(self, batch: pa.RecordBatch | pa.Table) -> None:
        table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
        if table.num_rows == 0:
            return
        self.stats.records_read += table.num_rows
        stamps = table.column(self.watermark)
        if not pa.types.is_timestamp(stamps.type):
            stamps = pc.cast(stamps, pa.timestamp("us", tz="UTC"))
        seconds = pc.cast(pc.cast(stamps, pa.timestamp("s", tz="UTC")), pa.int64()).to_numpy(zero_copy_only=False)
        day_numbers = seconds // 86_400
        cuts = [0, *(np.flatnonzero(np.diff(day_numbers)) + 1).tolist(), len(day_numbers)]
        for lo, hi in zip(cuts, cuts[1:]):  # runs of one day each (batches come ordered by the watermark)
            self._write_day(EPOCH + timedelta(days=int(day_numbers[lo])), table.slice(lo, hi - lo))

    def write_day(self, day: date, batch: pa.RecordBatch | pa.Table) -> None:
        """Append rows to the partition of ``day`` (days must come in order)."""
        table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
        self.stats.records_read += table.num_rows
        self._write_day(day, table)

    def _write_day(self, day: date, table: pa.Table) -> None:
        self._switch_to(day)
        if table.num_rows:
            self._append(table)

    def _switch_to(self, day: date) -> None:
        if day == self._day:
            return
        if day not in self.pending:
            raise ValueError(
                f"bronze {self.layer_table}: a row of {day} is outside the days still to write "
                f"({self.pending[0] if self.pending else '-'}..{self.pending[-1] if self.pending else '-'}); "
                f"rows must be ordered by {self.watermark} and inside the requested range"
            )
        self._finish_day()
        while self.pending[0] < day:  # days with no rows before this one
            self._publish_empty(self.pending[0])
        self._day = day

    def _append(self, table: pa.Table) -> None:
        table = with_meta(table, self.source, self.batch_id, self.ingested_at)
        if self.stats.schema is None:
            self.stats.schema = table.schema
        if self._writer is None:  # each day keeps the schema its data arrived with
            self._writer = pq.ParquetWriter(self._path(self._day), table.schema, compression="zstd")
        self._writer.write_table(table.cast(self._writer.schema))
        self._rows += table.num_rows

    def _path(self, day: date) -> Path:
        return Path(self._tmp.name) / f"{day}.parquet"

    def _publish(self, day: date, rows: int) -> None:
        path = self._path(day)
        info = self.lake.replace_partition_file("bronze", self.layer_table, (PARTITION_COLUMN, day.isoformat()), path)
        self.stats.records_written += rows
        self.stats.bytes_written += info.size
        self.stats.partitions[day.isoformat()] = rows
        self.pending.remove(day)
        path.unlink(missing_ok=True)

    def _finish_day(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._publish(self._day, self._rows)
        self._writer, self._day, self._rows = None, None, 0

    def _publish_empty(self, day: date) -> None:
        schema = self.stats.schema or pa.schema([(c, pa.string()) for c in META_COLUMNS])
        pq.write_table(schema.empty_table(), self._path(day), compression="zstd")
        self._publish(day, 0)

    def close(self) -> WriteStats:
        """Publish the last day, and empty partitions for the requested days that had no rows."""
        self._finish_day()
        while self.pending:
            self._publish_empty(self.pending[0])
        self._tmp.cleanup()
        self.stats.finished = time.monotonic()
        return self.stats


def write_snapshot(lake: Lake, source: str, table: str, batches: Iterable[pa.RecordBatch | pa.Table],
                   batch_id: str, ingested_at: datetime | None = None) -> WriteStats:
    """A whole-table snapshot (no watermark): one object, replaced atomically."""
    ingested_at = ingested_at or datetime.now(timezone.utc)
    stats = WriteStats()
    with tempfile.TemporaryDirectory(prefix="maestro-bronze-") as tmp:
        path = Path(tmp) / "snapshot.parquet"
        writer = None
        for batch in batches:
            part = with_meta(batch, source, batch_id, ingested_at)
            if writer is None:
                stats.schema = part.schema
                writer = pq.ParquetWriter(path, part.schema, compression="zstd")
            writer.write_table(part.cast(stats.schema))
            stats.records_read += part.num_rows
            stats.records_written += part.num_rows
        if writer is None:
            stats.schema = pa.schema([(c, pa.string()) for c in META_COLUMNS])
            pq.write_table(stats.schema.empty_table(), path)
        else:
            writer.close()
        info = lake.replace_partition_file("bronze", f"{source}/{table}", None, path)
        stats.bytes_written = info.size
    stats.finished = time.monotonic()
    return stats
