"""``landing_files()``: the files an ingestion pipeline finds under ``landing/`` in the lake.

For each of the last ``LANDING_DAYS`` days of the window there is one file per feed, holding
that day's rows: task events as CSV, CI runs as JSON lines, deployments as parquet. Keys are
Hive-style, ``landing/<table>/date=YYYY-MM-DD/<table>.<ext>``. The bytes depend only on the
data (no write times inside), so the same data gives the same files.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .generator import DemoData

LANDING_DAYS = 3
ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _iso_timestamps(frame: pd.DataFrame) -> pd.DataFrame:
    """Timestamp columns as ISO-8601 UTC strings (``2026-10-30T14:05:00Z``); missing stays missing."""
    frame = frame.copy()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].dt.strftime(ISO_FORMAT).astype(object)
    return frame


def _csv(frame: pd.DataFrame) -> bytes:
    return _iso_timestamps(frame).to_csv(index=False, lineterminator="\n").encode("utf-8")


def _jsonl(frame: pd.DataFrame) -> bytes:
    if frame.empty:
        return b""
    text = _iso_timestamps(frame).to_json(orient="records", lines=True, double_precision=15)
    return (text if text.endswith("\n") else text + "\n").encode("utf-8")


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer, compression="snappy")
    return buffer.getvalue()


# table -> (the column that dates a row, file extension, writer)
FEEDS = {
    "task_events": ("event_time", "csv", _csv),
    "ci_runs": ("created_at", "jsonl", _jsonl),
    "deployments": ("deployed_at", "parquet", _parquet),
}


def landing_key(table: str, day) -> str:
    return f"landing/{table}/date={day.isoformat()}/{table}.{FEEDS[table][1]}"


def landing_files(data: DemoData) -> dict[str, bytes]:
    """Key (relative to the lake root) -> file content, for every feed and each of the last days."""
    files: dict[str, bytes] = {}
    days = [data.end_date - timedelta(days=back) for back in range(LANDING_DAYS, 0, -1)]
    for table, (column, _, write) in FEEDS.items():
        frame = getattr(data, table)
        day_of_row = frame[column].dt.date
        for day in days:
            files[landing_key(table, day)] = write(frame[day_of_row == day].reset_index(drop=True))
    return files
