"""PartitionedBronzeWriter: rows in any order land in their day's partition exactly once, whatever
the timestamp unit; the memory it holds is bounded by its buffer, not by the size of the table."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from maestro_assets.lib.errors import MaestroError
from maestro_assets.lib.ingestion import bronze
from maestro_assets.lib.ingestion.bronze import PartitionedBronzeWriter, day_numbers
from maestro_assets.lib.lake import open_lake

START = date(2026, 3, 1)
DAYS = 10
EPOCH_SECONDS = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp())


def events(ids: np.ndarray, seconds: np.ndarray, unit: str = "us") -> pa.Table:
    scale = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    # a sub-second part on every row where the unit has one: a row at 23:59:59.999 is still that day
    ticks = (EPOCH_SECONDS + seconds) * scale + (scale - 1)
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "at": pa.array(ticks, pa.timestamp(unit, tz="UTC")),
            "payload": pa.array([f"row-{i}-" + "x" * (i % 50) for i in ids.tolist()]),
        }
    )


def expected_days(seconds: np.ndarray) -> np.ndarray:
    return seconds // 86_400


def write_all(lake, batches, **kwargs) -> bronze.WriteStats:
    writer = PartitionedBronzeWriter(
        lake, "src", "events", "at", START, START + timedelta(days=DAYS), batch_id=uuid.uuid4().hex, **kwargs
    )
    for batch in batches:
        writer.write(batch)
    stats = writer.close()
    assert writer._buffered_bytes == 0, "every buffered batch is released once written"
    return stats


def partition_ids(lake) -> dict[int, list[int]]:
    found = {}
    for offset in range(DAYS):
        day = (START + timedelta(days=offset)).isoformat()
        rows = lake.read_partition("bronze", "src/events", ("date", day))
        found[offset] = sorted(rows.column("id").to_pylist())
    return found


@pytest.mark.parametrize("order", ["ascending", "mostly_ascending", "shuffled", "descending"])
@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_each_row_lands_in_its_day_exactly_once(tmp_path, order, unit):
    rng = np.random.default_rng(7)
    n = 60_000
    seconds = np.sort(rng.integers(0, DAYS * 86_400, n))
    if order == "mostly_ascending":  # an append-only table: a few rows late by up to two hours
        late = rng.choice(n, n // 100, replace=False)
        seconds[late] = np.maximum(seconds[late] - rng.integers(0, 7_200, len(late)), 0)
    elif order == "shuffled":
        seconds = rng.permutation(seconds)
    elif order == "descending":
        seconds = seconds[::-1].copy()
    ids = np.arange(n)
    table = events(ids, seconds, unit)
    lake = open_lake(str(tmp_path / "lake"))
    stats = write_all(lake, table.to_batches(max_chunksize=7_000))

    days_of = expected_days(seconds)
    expected = {offset: sorted(ids[days_of == offset].tolist()) for offset in range(DAYS)}
    assert partition_ids(lake) == expected
    assert stats.records_read == stats.records_written == n
    assert stats.partitions == {(START + timedelta(days=o)).isoformat(): len(expected[o]) for o in range(DAYS)}


def test_rewriting_a_range_replaces_it(tmp_path):
    lake = open_lake(str(tmp_path / "lake"))
    seconds = np.arange(0, DAYS * 86_400, 300)
    write_all(lake, [events(np.arange(len(seconds)), seconds)])
    write_all(lake, [events(np.arange(len(seconds)), seconds)])
    assert sum(len(ids) for ids in partition_ids(lake).values()) == len(seconds)


def test_row_outside_the_range_is_refused_naming_its_day(tmp_path):
    lake = open_lake(str(tmp_path / "lake"))
    seconds = np.array([0, DAYS * 86_400 + 5])
    with pytest.raises(
        bronze.WatermarkError, match=r"a row of 2026-03-11 .* is outside the requested days 2026-03-01\.\.2026-03-10"
    ) as caught:
        write_all(lake, [events(np.arange(2), seconds)])
    assert isinstance(caught.value, MaestroError)  # bad data: the asset fails without retries


def test_day_numbers_of_timestamps_and_dates():
    moments = [
        datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2026, 3, 1, 23, 59, 59, 999_999, tzinfo=UTC),
    ]
    assert day_numbers(pa.array(moments, pa.timestamp("us", tz="UTC"))).tolist() == [-1, 0, 20513]
    assert day_numbers(pa.array([date(2026, 3, 1)], pa.date32())).tolist() == [20513]


def arrow_memory_while_writing(tmp_path, rows: int, batch_rows: int, shuffled: bool) -> int:
    """The most Arrow memory held while ``rows`` rows stream through the writer, batch by batch."""
    rng = np.random.default_rng(1)
    lake = open_lake(str(tmp_path / f"lake-{rows}"))
    writer = PartitionedBronzeWriter(lake, "src", "events", "at", START, START + timedelta(days=DAYS), batch_id="b")
    base = pa.total_allocated_bytes()
    peak = 0
    for first in range(0, rows, batch_rows):
        ids = np.arange(first, min(first + batch_rows, rows))
        seconds = ids * (DAYS * 86_400 // rows)  # the table's order follows time
        if shuffled:
            seconds = rng.permutation(seconds)
        writer.write(events(ids, seconds))
        peak = max(peak, pa.total_allocated_bytes() - base)
    writer.close()
    return peak


@pytest.mark.parametrize("shuffled", [False, True])
def test_memory_is_bounded_by_the_buffer_not_the_table(tmp_path, monkeypatch, shuffled):
    """What the writer holds is its buffer (with the batches its slices pin), the batch in hand and
    what each day's open parquet writer keeps between row groups — not the rows of the table.
    Row groups are made large here, so only the buffer bound makes the writer flush."""
    monkeypatch.setattr(bronze, "BUFFER_BYTES", 4 * 2**20)
    monkeypatch.setattr(bronze, "ROW_GROUP_ROWS", 10_000_000)
    small = arrow_memory_while_writing(tmp_path, 200_000, 5_000, shuffled)  # ~11 MB of rows
    large = arrow_memory_while_writing(tmp_path, 800_000, 5_000, shuffled)  # ~45 MB of rows
    assert large <= bronze.BUFFER_BYTES * 1.5, (small, large)
    assert large <= small * 1.2, (small, large)  # 4x the rows, about the same memory


def test_parquet_files_are_zstd_without_dictionaries(tmp_path):
    lake = open_lake(str(tmp_path / "lake"))
    seconds = np.arange(0, DAYS * 86_400, 600)
    write_all(lake, [events(np.arange(len(seconds)), seconds)])
    path = next((tmp_path / "lake" / "bronze" / "src" / "events").rglob("*.parquet"))
    column = pq.ParquetFile(path).metadata.row_group(0).column(0)
    assert column.compression == "ZSTD"
    assert not column.has_dictionary_page
