"""Reading landed files (CSV, JSON lines, parquet) into Arrow, keeping values as received.

CSV and JSON-lines values are kept as text exactly as they arrived (typing is silver's job, so a
column of mixed types never fails bronze and never loses a value); parquet keeps its own types.
Every file-level problem — an empty CSV or parquet file, bytes that are not UTF-8, a delimiter
other than the declared one, a line with too many or too few fields, a repeated header, invalid
JSON — raises :class:`FileFormatError` naming the source,
table, object key and line; the file itself stays in the landing area untouched.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..errors import MaestroError
from .sources import TableSource

DATE_IN_KEY = re.compile(r"(?:^|/)date=(\d{4}-\d{2}-\d{2})(?:/|$)")
OTHER_DELIMITERS = (",", ";", "\t", "|")


class FileFormatError(MaestroError):
    """A landed file cannot be read; the message names source, table, object and where."""


def landing_day(key: str, last_modified: datetime) -> date:
    """The partition a landed object belongs to: ``date=YYYY-MM-DD`` in its key, else its upload day (UTC)."""
    found = DATE_IN_KEY.search(key)
    if found:
        try:
            return date.fromisoformat(found.group(1))
        except ValueError:
            pass
    if last_modified.tzinfo is None:
        last_modified = last_modified.replace(tzinfo=UTC)
    return last_modified.astimezone(UTC).date()


def _where(spec: TableSource, key: str) -> str:
    return f"source {spec.source!r}, table {spec.table!r}, file {key!r}"


def _decode(payload: bytes, spec: TableSource, key: str) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = payload[: exc.start].count(b"\n") + 1
        raise FileFormatError(
            f"{_where(spec, key)}: bytes that are not UTF-8 at byte {exc.start} (line {line}): "
            f"{payload[exc.start : exc.start + 8]!r}"
        ) from None


def read_csv(payload: bytes, spec: TableSource, key: str) -> pa.Table:
    """Every value as text; a line with more or fewer fields than the header is an error."""
    text = _decode(payload, spec, key)
    if not text.strip():
        raise FileFormatError(f"{_where(spec, key)}: the file is empty (no header, no rows)")
    header = next(csv.reader(io.StringIO(text.split("\n", 1)[0]), delimiter=spec.delimiter))
    if len(header) == 1:
        for other in OTHER_DELIMITERS:
            if other != spec.delimiter and other in header[0]:
                raise FileFormatError(
                    f"{_where(spec, key)}: the header {header[0][:80]!r} looks delimited by {other!r}, "
                    f"but the source declares {spec.delimiter!r}"
                )
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise FileFormatError(f"{_where(spec, key)}: the header repeats column(s) {repeated}")
    try:
        return pacsv.read_csv(
            io.BytesIO(payload),
            read_options=pacsv.ReadOptions(block_size=max(len(payload) + 1, 1 << 20)),
            parse_options=pacsv.ParseOptions(delimiter=spec.delimiter),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=True,
                null_values=[""],
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        message = str(exc).strip()
        row = message.rsplit(": ", 1)[-1]  # Arrow ends the message with the offending row's text
        line = next((n for n, text_line in enumerate(text.splitlines(), start=1) if text_line == row), None)
        where = f", line {line}" if line else ""
        raise FileFormatError(f"{_where(spec, key)}{where}: not valid CSV: {message}") from None


def _as_text(value):
    """A JSON value as the text it was received as (numbers keep their digits; objects and lists stay JSON)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list, bool)):
        return json.dumps(value, default=str)
    return str(value)  # int, or Decimal holding the number's exact text


def read_jsonl(payload: bytes, spec: TableSource, key: str) -> pa.Table:
    text = _decode(payload, spec, key)  # an empty JSON-lines file is a valid file of no records
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise FileFormatError(
                f"{_where(spec, key)}, line {number}: not valid JSON ({exc.msg} at column {exc.colno})"
            ) from None
        if not isinstance(record, dict):
            raise FileFormatError(
                f"{_where(spec, key)}, line {number}: expected a JSON object, got {type(record).__name__}"
            )
        records.append(record)
    return records_table(records)


def records_table(records: list[dict]) -> pa.Table:
    """JSON records as an Arrow table of text columns (values as received; the union of keys)."""
    columns = list(dict.fromkeys(k for r in records for k in r))
    return pa.table({c: pa.array([_as_text(r.get(c)) for r in records], pa.string()) for c in columns})


def read_parquet(payload: bytes, spec: TableSource, key: str) -> pa.Table:
    if not payload:
        raise FileFormatError(f"{_where(spec, key)}: the file is empty")
    try:
        return pq.read_table(io.BytesIO(payload))
    except (pa.ArrowInvalid, OSError) as exc:
        raise FileFormatError(f"{_where(spec, key)}: not a readable parquet file ({exc})") from None


READERS = {"csv": read_csv, "jsonl": read_jsonl, "parquet": read_parquet}


def read_landed(payload: bytes, spec: TableSource, key: str) -> pa.Table:
    """The file's rows with a ``_file`` column naming the object they came from."""
    table = READERS[spec.format](payload, spec, key)
    renamed = [spec.bronze_name(c) for c in table.column_names]
    table = table.rename_columns(renamed)
    return table.append_column("_file", pa.array([key] * table.num_rows, pa.string()))
