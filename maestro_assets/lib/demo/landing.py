"""``landing_files()``: the files an ingestion pipeline finds under ``landing/`` in the lake.

For each of the last ``LANDING_DAYS`` days of the window there is one file per feed, holding
that day's rows: task events as CSV, CI runs as JSON lines, deployments as parquet. Keys are
Hive-style, ``landing/<table>/date=YYYY-MM-DD/<table>.<ext>``. The bytes depend only on the
data (no write times inside), so the same data gives the same files.

Two problems are planted on the last day, as real deliveries have them, so that the UI has a
quarantine and a set-aside file to show while the demo runs through: the task-events CSV carries
``PLANTED_BAD_ROWS`` rows of an event type the rules do not allow (quarantined by silver, a
WARNING), and a second export of that day arrives in UTF-16 (``PLANTED_BAD_FILE``: set aside by
bronze under ``quarantine/files/``, a WARNING on that source).
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


PLANTED_BAD_ROWS = 3
PLANTED_EVENT_TYPE = "escalated"  # not one of the task-event types the rules allow


def landing_key(table: str, day) -> str:
    return f"landing/{table}/date={day.isoformat()}/{table}.{FEEDS[table][1]}"


def planted_bad_file(day) -> str:
    return f"landing/task_events/date={day.isoformat()}/task_events_spreadsheet_export.csv"


def _with_planted_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The day's events plus a few of an unknown type (copies of its first rows, new ids)."""
    if frame.empty:
        return frame
    planted = frame.head(PLANTED_BAD_ROWS).copy()
    planted["event_type"] = PLANTED_EVENT_TYPE
    planted["event_id"] = frame["event_id"].max() + 1 + pd.RangeIndex(len(planted))
    return pd.concat([frame, planted], ignore_index=True)


def landing_files(data: DemoData) -> dict[str, bytes]:
    """Key (relative to the lake root) -> file content, for every feed and each of the last days."""
    files: dict[str, bytes] = {}
    days = [data.end_date - timedelta(days=back) for back in range(LANDING_DAYS, 0, -1)]
    for table, (column, _, write) in FEEDS.items():
        frame = getattr(data, table)
        day_of_row = frame[column].dt.date
        for day in days:
            rows = frame[day_of_row == day].reset_index(drop=True)
            files[landing_key(table, day)] = write(
                _with_planted_rows(rows) if table == "task_events" and day == days[-1] else rows
            )
    spreadsheet = _iso_timestamps(data.task_events[data.task_events["event_time"].dt.date == days[-1]].head(20))
    files[planted_bad_file(days[-1])] = spreadsheet.to_csv(index=False, lineterminator="\r\n").encode("utf-16")
    return files
