"""Property tests of the landed-file reader: on generated CSV files ``read_landed`` returns exactly
what Python's csv module reads (the reference for correctness; Arrow is the reader's fast path),
and on any bytes at all it either reads them or raises FileFormatError — nothing else."""

from __future__ import annotations

import csv
import re

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from maestro_assets.lib.ingestion.files import FileFormatError, read_landed
from maestro_assets.lib.ingestion.sources import TableSource

KEY = "landing/orders/date=2026-09-01/orders.csv"
DELIMITERS = (",", ";", "\t", "|")
LINE_ENDINGS = ("\n", "\r\n", "\r")
ENCODINGS = ("utf-8", "utf-16", "cp1252")
# every character that matters to CSV, plus text that is not ASCII (all of it encodable in cp1252)
CHARACTERS = st.sampled_from(list('ab Z09-.,;\t|"\r\n') + ["é", "€", "ß"])
VALUES = st.text(CHARACTERS, max_size=8)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def spec(delimiter: str, encoding: str, header: bool) -> TableSource:
    return TableSource(
        source="partner",
        kind="files",
        table="orders",
        prefix="landing/orders/",
        format="csv",
        delimiter=delimiter,
        encoding=encoding,
        header=header,
    )


def must_quote(value: str, delimiter: str) -> bool:
    """Quotes inside an unquoted field are text (``5" screen``), as csv and Arrow both read them;
    a field that starts with one, or holds the delimiter or a line break, must be quoted."""
    return value == "" or value.startswith('"') or any(c in value for c in (delimiter, "\r", "\n"))


@st.composite
def csv_files(draw, ragged: bool = False):
    """(file bytes, table settings, for each record its fields as (value or None, quoted)).

    ``ragged``: a header, and data records of 1 to width + 2 fields, at least one of them not width."""
    delimiter = draw(st.sampled_from(DELIMITERS))
    encoding = draw(st.sampled_from(ENCODINGS))
    header = ragged or draw(st.booleans())
    width = draw(st.integers(1, 5))
    if header:
        names = draw(st.lists(VALUES, min_size=width, max_size=width, unique=True))
        records = [[(name, None) for name in names]]  # quoting drawn below
    else:
        records = []
    for _ in range(draw(st.integers(1 if ragged or not header else 0, 8 if ragged else 6))):
        size = draw(st.integers(1, width + 2)) if ragged else width
        # None: an empty unquoted field (a null); a one-field record of it would be a blank line, skipped
        value = VALUES if size == 1 else st.one_of(st.none(), VALUES)
        records.append([(draw(value), None) for _ in range(size)])
    if ragged:
        assume(any(len(record) != width for record in records[1:]))

    text, fields = [], []
    if encoding == "utf-8" and draw(st.booleans()):
        text.append("\ufeff")
    for number, record in enumerate(records):
        for _ in range(draw(st.integers(0, 2))):  # blank lines, before the header too
            text.append(draw(st.sampled_from(LINE_ENDINGS)))
        written = []
        for value, _ in record:
            if value is None:
                written.append((None, False))
                continue
            quoted = must_quote(value, delimiter) or draw(st.booleans())
            if header and number == 0 and width == 1 and any(d in value for d in DELIMITERS):
                quoted = True  # an unquoted one-field header holding a delimiter is refused as the wrong one
            written.append((value, quoted))
        fields.append(written)
        text.append(
            delimiter.join(
                "" if v is None else ('"' + v.replace('"', '""') + '"' if quoted else v) for v, quoted in written
            )
        )
        if number < len(records) - 1 or draw(st.booleans()):
            text.append(draw(st.sampled_from(LINE_ENDINGS)))
    for _ in range(draw(st.integers(0, 2))):
        text.append(draw(st.sampled_from(LINE_ENDINGS)))
    text = "".join(text)
    assume(text.replace("\ufeff", "").strip() or delimiter in text)  # only spaces and line breaks: an empty file
    return text.encode(encoding), spec(delimiter, encoding, header), fields


def python_csv(path, table: TableSource) -> list[list[str]]:
    """The reference: the file opened as Python documents it for csv, blank lines skipped."""
    encoding = "utf-8-sig" if table.encoding == "utf-8" else table.encoding
    with open(path, encoding=encoding, newline="") as handle:
        return [row for row in csv.reader(handle, delimiter=table.delimiter) if row]


@SETTINGS
@given(csv_files())
def test_read_landed_returns_what_pythons_csv_reads(tmp_path_factory, generated):
    payload, table_spec, fields = generated
    path = tmp_path_factory.mktemp("landed") / "orders.csv"
    path.write_bytes(payload)
    reference = python_csv(path, table_spec)
    # the generator wrote what it meant (csv reads an empty unquoted field as "")
    assert reference == [["" if v is None else v for v, _ in record] for record in fields]

    table = read_landed(path.read_bytes(), table_spec, KEY)

    if table_spec.header:
        names, records, fields = reference[0], reference[1:], fields[1:]
    else:
        names, records = [f"column_{n}" for n in range(1, len(reference[0]) + 1)], reference
    assert table.column_names == [*names, "_file"]
    assert all(field.type == pa.string() for field in table.schema)
    expected = [
        [None if value == "" and not quoted else value for value, (_, quoted) in zip(record, written)]
        for record, written in zip(records, fields)
    ]
    got = [list(row) for row in zip(*(table.column(n).to_pylist() for n in range(len(names))))]
    assert got == expected
    assert table.column("_file").to_pylist() == [KEY] * len(expected)


@SETTINGS
@given(
    payload=st.one_of(
        st.binary(max_size=200),
        st.lists(
            st.sampled_from([b",", b";", b'"', b"\r", b"\n", b"a", b"\xef\xbb\xbf", b"\xff\xfe", b"\x00", b"\xe9"])
        ).map(b"".join),
    ),
    fmt=st.sampled_from(["csv", "jsonl"]),
    header=st.booleans(),
)
def test_any_bytes_are_read_or_refused_with_a_file_format_error(payload, fmt, header):
    table_spec = TableSource(
        source="partner", kind="files", table="orders", prefix="landing/orders/", format=fmt, header=header
    )
    try:
        table = read_landed(payload, table_spec, KEY)
    except FileFormatError as exc:
        assert f"file '{KEY}'" in str(exc)
    else:
        assert table.column_names[-1] == "_file"
        if fmt == "csv":
            assert all(field.type == pa.string() for field in table.schema)


def ragged_reference(path, table: TableSource) -> tuple[int, list[tuple[str, int]]]:
    """Python csv's account of the records whose field count is not the header's: how many, and
    the first five as ("line N" or "lines N-M", field count) with csv's physical line numbers."""
    encoding = "utf-8-sig" if table.encoding == "utf-8" else table.encoding
    with open(path, encoding=encoding, newline="") as handle:
        reader = csv.reader(handle, delimiter=table.delimiter)
        width, bad, count, last = None, [], 0, 0
        for row in reader:
            first, last = last + 1, reader.line_num
            if not row:
                continue
            if width is None:
                width = len(row)
            elif len(row) != width:
                count += 1
                bad.append((f"line {first}" if first == last else f"lines {first}-{last}", len(row)))
    return count, bad[:5]


@SETTINGS
@given(csv_files(ragged=True))
def test_ragged_lines_are_counted_and_the_first_five_named_as_csv_numbers_them(tmp_path_factory, generated):
    payload, table_spec, _ = generated
    path = tmp_path_factory.mktemp("landed") / "orders.csv"
    path.write_bytes(payload)
    count, first_five = ragged_reference(path, table_spec)
    with pytest.raises(FileFormatError) as caught:
        read_landed(path.read_bytes(), table_spec, KEY)
    message = str(caught.value)
    assert f"file '{KEY}'" in message
    assert f"{count} line{'' if count == 1 else 's'} do" in message, message
    shown = re.findall(r"(lines? \d+(?:-\d+)?) has (\d+) fields?", message)
    assert [(where, int(n)) for where, n in shown] == first_five, message
