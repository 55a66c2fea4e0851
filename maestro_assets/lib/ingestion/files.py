"""Reading landed files (CSV, JSON lines, parquet) into Arrow, keeping values as received.

CSV and JSON-lines values are kept as text exactly as they arrived (typing is silver's job, so a
column of mixed types never fails bronze and never loses a value); parquet keeps its own types.

CSV follows RFC 4180 as Python's :mod:`csv` module reads it: quoted fields may hold the
delimiter, doubled quotes and line breaks; lines end with CR, LF or CRLF (mixed too); blank lines
are skipped, before the header too; a UTF-8 byte-order mark is dropped. The file is decoded with
the table's ``encoding`` (default UTF-8), the header record is parsed by :mod:`csv` and Arrow's
CSV reader (told the column names, every column a string) reads the records after it — the fast
path; a property test holds it equal to :mod:`csv`. An empty unquoted field is a null, a quoted
empty string ``""`` stays an empty string. ``header: false`` names the columns ``column_1``,
``column_2`` … and reads the first line as data.

Every file-level problem — an empty CSV or parquet file, bytes the declared encoding cannot
decode (with what they look like: UTF-16, latin-1 …), a delimiter other than the declared one,
lines with too many or too few fields (the first few, with their line numbers and field counts),
a repeated header, invalid JSON — raises :class:`FileFormatError` naming the source, table, object
key and line; nothing else escapes for bad bytes. The file itself stays in the landing area untouched.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..errors import MaestroError
from . import json_text
from .sources import TableSource

DATE_IN_KEY = re.compile(r"(?:^|/)date=(\d{4}-\d{2}-\d{2})(?:/|$)")
OTHER_DELIMITERS = (",", ";", "\t", "|")
LINE_BREAK = re.compile(r"\r\n|\r|\n")
PHYSICAL_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
ONLY_LINE_BREAKS = re.compile(r"[\r\n]*\Z")
ONLY_WHITESPACE = re.compile(r"\s*\Z")
QUOTE = '"'
REPORTED_LINES = 5  # ragged lines listed in the error (the total count is given too)
BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "UTF-32 LE", "utf-32"),
    (codecs.BOM_UTF32_BE, "UTF-32 BE", "utf-32"),
    (codecs.BOM_UTF8, "UTF-8", "utf-8"),
    (codecs.BOM_UTF16_LE, "UTF-16 LE", "utf-16"),
    (codecs.BOM_UTF16_BE, "UTF-16 BE", "utf-16"),
)


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


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


# -- decoding ---------------------------------------------------------------------------------------
def _codec(spec: TableSource, key: str) -> str:
    try:
        info = codecs.lookup(spec.encoding)
        if not getattr(info, "_is_text_encoding", True):  # rot13, base64 … (str() refuses them)
            raise LookupError(spec.encoding)
        return info.name
    except LookupError:
        raise FileFormatError(
            f"{_where(spec, key)}: the table's encoding {spec.encoding!r} is not a known text codec "
            f"(set `encoding:` on table {spec.table!r} in the sources file to the name of a Python text codec such as "
            "utf-8, utf-16 or cp1252)"
        ) from None


def _nul_pattern(payload: bytes) -> tuple[str, str] | None:
    """UTF-16 without a byte-order mark: text whose every other byte is NUL (ASCII characters)."""
    sample = payload[:4096]
    half = len(sample) // 2
    if half < 2:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if odd >= 0.3 * half and even <= 0.05 * half:
        return "UTF-16 LE (a NUL byte after each character, no byte-order mark)", "utf-16-le"
    if even >= 0.3 * half and odd <= 0.05 * half:
        return "UTF-16 BE (a NUL byte before each character, no byte-order mark)", "utf-16-be"
    return None


def _looks_like(payload: bytes, at: int, codec: str) -> tuple[str, str] | None:
    """What undecodable bytes look like, and the ``encoding`` setting that would read them."""
    for bom, name, setting in BOMS:
        if payload.startswith(bom) and codecs.lookup(setting).name != codec:
            return f"{name} (the file starts with the byte-order mark {bom.hex(' ').upper()})", setting
    pattern = _nul_pattern(payload)
    if pattern and not codec.startswith("utf-16"):
        return pattern
    start = max(payload.rfind(b"\n", 0, at), payload.rfind(b"\r", 0, at)) + 1
    end = min((n for n in (payload.find(b"\n", at), payload.find(b"\r", at)) if n >= 0), default=len(payload))
    line = payload[start:end][:200]
    if codec != "utf-8":
        try:
            line.decode("utf-8")
            payload.decode("utf-8")
            return "UTF-8", "utf-8"
        except UnicodeDecodeError:
            pass
    if any(b >= 0x80 for b in payload[at : at + 1]):
        for setting in ("cp1252", "latin-1"):
            try:
                shown = line.decode(setting)
            except UnicodeDecodeError:
                continue
            return f"single-byte Western European text (latin-1 / cp1252: the line reads {shown[:120]!r})", setting
    return None


def _decode(payload: bytes, spec: TableSource, key: str) -> str:
    """The file as text in the table's encoding, without a byte-order mark."""
    codec = _codec(spec, key)
    skip = len(codecs.BOM_UTF8) if codec == "utf-8" and payload.startswith(codecs.BOM_UTF8) else 0
    try:
        text = str(memoryview(payload)[skip:], codec)
    except UnicodeDecodeError as exc:
        raise _decode_error(payload, spec, key, codec, exc.start + skip, exc.reason) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\x00" in text[:4096] and not codec.startswith(("utf-16", "utf-32")):
        pattern = _nul_pattern(payload)
        if pattern:
            raise _decode_error(payload, spec, key, codec, payload.index(0), "NUL bytes", pattern)
    return text


def _decode_error(payload, spec, key, codec, at, reason, looks=None) -> FileFormatError:
    before = LINE_BREAK.split(str(payload[:at], codec, "replace").lstrip("\ufeff"))
    label = "UTF-8" if codec == "utf-8" else repr(spec.encoding)
    message = (
        f"{_where(spec, key)}: bytes that are not {label} at byte {at} "
        f"(line {len(before)}, column {len(before[-1]) + 1}): {payload[at : at + 8]!r} ({reason})"
    )
    looks = looks or _looks_like(payload, at, codec)
    if looks:
        name, setting = looks
        message += (
            f"; they look like {name}: if that is the file's encoding, set `encoding: {setting}` "
            f"on table {spec.table!r} of source {spec.source!r} in the sources file"
        )
    else:
        message += f"; set `encoding:` on table {spec.table!r} in the sources file to the file's encoding"
    return FileFormatError(message)


# -- CSV --------------------------------------------------------------------------------------------
class _Lines:
    """The text's physical lines from ``start`` (each with its CR, LF or CRLF) for :func:`csv.reader`,
    read lazily without copying the text; ``consumed`` is where the record just read ends."""

    def __init__(self, text: str, start: int = 0):
        self._lines = PHYSICAL_LINE.finditer(text, start)
        self.consumed = start

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self._lines).group()
        self.consumed += len(line)
        return line


class _FieldLimit:
    """Lift :mod:`csv`'s 128 KiB field limit while reading one file (a landed field can be 50 MB)."""

    def __init__(self, size: int):
        self.size = size

    def __enter__(self):
        self.previous = csv.field_size_limit(max(self.size + 1, csv.field_size_limit()))

    def __exit__(self, *exc):
        csv.field_size_limit(self.previous)


def _first_record(text: str, spec: TableSource, key: str) -> tuple[list[str], int, int, int, int]:
    """The first non-blank record: its fields, start and end offsets in ``text``, and the physical
    lines before it and up to its end."""
    lines = _Lines(text)
    reader = csv.reader(lines, delimiter=spec.delimiter)
    start, lines_before = 0, 0
    try:
        with _FieldLimit(len(text)):  # without a header, the first record is data: a field can be 50 MB
            for fields in reader:
                if fields:
                    return fields, start, lines.consumed, lines_before, reader.line_num
                start, lines_before = lines.consumed, reader.line_num
    except csv.Error as exc:
        raise FileFormatError(f"{_where(spec, key)}, line {reader.line_num}: not valid CSV ({exc})") from None
    raise FileFormatError(f"{_where(spec, key)}: the file is empty (no header, no rows)")


def _check_header(header: list[str], raw: str, spec: TableSource, key: str, line: int) -> None:
    if len(header) == 1 and not raw.startswith(QUOTE):  # one unquoted field holding another delimiter
        for other in OTHER_DELIMITERS:
            if other != spec.delimiter and other in header[0]:
                raise FileFormatError(
                    f"{_where(spec, key)}, line {line}: the header {header[0][:80]!r} looks delimited by {other!r}, "
                    f"but the source declares {spec.delimiter!r}"
                )
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise FileFormatError(f"{_where(spec, key)}, line {line}: the header repeats column(s) {repeated}")


def _ragged(text: str, start: int, lines_before: int, width: int, spec: TableSource, key: str) -> str | None:
    """Python's csv over the records from ``start``: the lines whose field count is not ``width``."""
    lines = _Lines(text, start)
    reader = csv.reader(lines, delimiter=spec.delimiter)
    bad, count, last = [], 0, lines_before
    with _FieldLimit(len(text)):
        for fields in reader:
            first, last = last + 1, lines_before + reader.line_num
            if fields and len(fields) != width:
                count += 1
                if len(bad) < REPORTED_LINES:
                    where = f"line {first}" if first == last else f"lines {first}-{last}"
                    bad.append((where, len(fields), lines.consumed == len(text) and first != last))
    if not count:
        return None
    shown = ", ".join(
        f"{where} has {_plural(n, 'field')}" + (" (a quote opened there is never closed?)" if open_quote else "")
        for where, n, open_quote in bad
    )
    more = f" (the first {REPORTED_LINES} shown)" if count > REPORTED_LINES else ""
    first_line = "header" if spec.header else "first line"
    verb = "does" if count == 1 else "do"
    return (
        f"{_where(spec, key)}: {_plural(count, 'line')} {verb} not have the {first_line}'s {width} fields{more}: "
        f"{shown}"
    )


def _unclosed_quote(text: str, start: int, lines_before: int, last: str | None, spec: TableSource) -> int | None:
    """The line where a quoted field opens that the file never closes (RFC 4180 readers, Arrow's and
    Python's alike, read the rest of the file as that one value); None if every quote closes.

    Such a field is the last value read, and the file ends with its opening quote and its text:
    only then is the file read again, by Python's csv, to find the last record and read it strictly."""
    if last is None or not text.endswith(QUOTE + last.replace(QUOTE, QUOTE * 2)):
        return None
    lines = _Lines(text, start)
    reader = csv.reader(lines, delimiter=spec.delimiter)
    last_start, last_line = start, lines_before + 1
    with _FieldLimit(len(text)):
        for _ in reader:
            if lines.consumed < len(text):
                last_start, last_line = lines.consumed, lines_before + reader.line_num + 1
        try:
            for _ in csv.reader(_Lines(text, last_start), delimiter=spec.delimiter, strict=True):
                pass
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                return last_line
    return None


def _refuse_unclosed_quote(text: str, start: int, lines_before: int, last, spec: TableSource, key: str) -> None:
    line = _unclosed_quote(text, start, lines_before, last, spec)
    if line:
        raise FileFormatError(
            f"{_where(spec, key)}, line {line}: a quoted field opens here and is never closed "
            "(the rest of the file would be read as that one value)"
        )


def read_csv(payload: bytes, spec: TableSource, key: str) -> pa.Table:
    """Every value as text; lines with more or fewer fields than the header are an error."""
    text = _decode(payload, spec, key)
    if ONLY_WHITESPACE.match(text) and spec.delimiter not in text:  # only spaces and line breaks
        raise FileFormatError(f"{_where(spec, key)}: the file is empty (no header, no rows)")
    fields, start, end, lines_before, header_lines = _first_record(text, spec, key)
    if spec.header:
        names = fields
        _check_header(names, text[start:end], spec, key, lines_before + 1)
        data_start, data_lines_before = end, header_lines
    else:
        names = [f"column_{n}" for n in range(1, len(fields) + 1)]
        data_start, data_lines_before = start, lines_before
    if ONLY_LINE_BREAKS.match(text, data_start):  # header only: zero rows
        _refuse_unclosed_quote(text, start, lines_before, fields[-1], spec, key)
        return pa.table({name: pa.array([], pa.string()) for name in names})
    # Arrow reads the records after the header; the last line must end in a line break, or Arrow
    # reads an empty unquoted last field after a quoted field on that line as "" instead of null
    ends_in_break = text.endswith(("\n", "\r"))
    if _codec(spec, key) == "utf-8" and ends_in_break:  # the original bytes, not a copy
        skip = len(codecs.BOM_UTF8) if payload.startswith(codecs.BOM_UTF8) else 0
        body = pa.py_buffer(payload).slice(skip + len(text[:data_start].encode("utf-8")))
    else:
        body = pa.py_buffer((text[data_start:] + ("" if ends_in_break else "\n")).encode("utf-8"))
    internal = [f"c{n}" for n in range(len(names))]  # unique by construction, each one a string column
    try:
        table = pacsv.read_csv(
            pa.BufferReader(body),
            read_options=pacsv.ReadOptions(column_names=internal, block_size=max(body.size + 1, 1 << 20)),
            parse_options=pacsv.ParseOptions(delimiter=spec.delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(internal, pa.string()),
                strings_can_be_null=True,
                null_values=[""],
                quoted_strings_can_be_null=False,
                check_utf8=False,  # decoded above: the bytes are UTF-8
            ),
        )
    except pa.ArrowException as exc:
        problem = _ragged(text, data_start, data_lines_before, len(names), spec, key)
        raise FileFormatError(problem or f"{_where(spec, key)}: not valid CSV: {str(exc).strip()[:300]}") from None
    last = table.column(len(names) - 1)[-1].as_py() if table.num_rows else fields[-1]
    _refuse_unclosed_quote(text, start, lines_before, last, spec, key)
    return table.rename_columns(names)


# -- JSON lines -------------------------------------------------------------------------------------
def read_jsonl(payload: bytes, spec: TableSource, key: str) -> pa.Table:
    text = _decode(payload, spec, key)  # an empty JSON-lines file is a valid file of no records
    records = []
    # lines end at CR, LF or CRLF only: str.splitlines() would also split at U+2028, valid inside a JSON string
    for number, line in enumerate(LINE_BREAK.split(text), start=1):
        if not line.strip():
            continue
        try:
            record = json_text.loads(line)
        except json.JSONDecodeError as exc:
            raise FileFormatError(
                f"{_where(spec, key)}, line {number}: not valid JSON ({exc.msg} at column {exc.colno})"
            ) from None
        except RecursionError:
            raise FileFormatError(f"{_where(spec, key)}, line {number}: JSON nested too deeply to read") from None
        if not isinstance(record, dict):
            raise FileFormatError(
                f"{_where(spec, key)}, line {number}: expected a JSON object, got {json_text.kind(record)}"
            )
        records.append(record)
    try:
        return records_table(records)
    except (UnicodeError, ValueError, pa.ArrowException) as exc:  # e.g. "\ud800": a lone surrogate, not text
        raise FileFormatError(f"{_where(spec, key)}: JSON values that are not valid text ({exc})") from None


def records_table(records: list[dict]) -> pa.Table:
    """JSON records (decoded by :func:`json_text.loads`) as an Arrow table of text columns, values as received."""
    columns = list(dict.fromkeys(k for r in records for k in r))
    return pa.table({c: pa.array([json_text.as_text(r.get(c)) for r in records], pa.string()) for c in columns})


# -- parquet ----------------------------------------------------------------------------------------
def read_parquet(payload: bytes, spec: TableSource, key: str) -> pa.Table:
    if not payload:
        raise FileFormatError(f"{_where(spec, key)}: the file is empty")
    try:
        return pq.read_table(io.BytesIO(payload))
    except (pa.ArrowException, OSError) as exc:
        raise FileFormatError(f"{_where(spec, key)}: not a readable parquet file ({exc})") from None


READERS = {"csv": read_csv, "jsonl": read_jsonl, "parquet": read_parquet}


def read_landed(payload: bytes, spec: TableSource, key: str) -> pa.Table:
    """The file's rows with a ``_file`` column naming the object they came from."""
    table = READERS[spec.format](payload, spec, key)
    renamed = [spec.bronze_name(c) for c in table.column_names]
    table = table.rename_columns(renamed)
    return table.append_column("_file", pa.repeat(pa.scalar(key, pa.string()), table.num_rows))
