"""The landed-file reader on real-world-style files (BOMs, quoted newlines in the header, no header,
blank lines, CR-only line endings, UTF-16, latin-1, ragged lines): each fixture is written to a
temporary folder as the bytes a partner would upload, and read back through ``read_landed``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pytest

from maestro_assets.lib.ingestion.files import FileFormatError, read_landed
from maestro_assets.lib.ingestion.sources import TableSource

KEY = "landing/orders/date=2026-09-01/orders.csv"
WHERE = f"source 'partner', table 'orders', file '{KEY}'"


def spec(fmt: str = "csv", **settings) -> TableSource:
    return TableSource(source="partner", kind="files", table="orders", prefix="landing/orders/", format=fmt, **settings)


def landed(tmp_path: Path, payload: bytes, name: str = "orders.csv") -> bytes:
    """The fixture as a real file on disk, read back as the bytes the lake would return."""
    path = tmp_path / name
    path.write_bytes(payload)
    return path.read_bytes()


def read(tmp_path: Path, payload: bytes, fmt: str = "csv", **settings) -> pa.Table:
    return read_landed(landed(tmp_path, payload), spec(fmt, **settings), KEY)


def fails(tmp_path: Path, payload: bytes, fmt: str = "csv", **settings) -> str:
    with pytest.raises(FileFormatError) as caught:
        read(tmp_path, payload, fmt, **settings)
    message = str(caught.value)
    assert WHERE in message, message
    return message


def rows(table: pa.Table) -> list[dict]:
    return table.drop_columns(["_file"]).to_pylist()


def assert_all_text(table: pa.Table) -> None:
    assert all(field.type == pa.string() for field in table.schema), table.schema


# -- byte-order mark, header, blank lines, line endings ---------------------------------------------
def test_utf8_bom_keeps_the_first_column_named_and_as_text(tmp_path):
    table = read(tmp_path, b"\xef\xbb\xbfcode,name\r\n0123,Lyon\r\n0042,Nice\r\n")
    assert table.column_names == ["code", "name", "_file"]
    assert_all_text(table)
    assert table.column("code").to_pylist() == ["0123", "0042"]  # leading zeros kept


def test_quoted_newline_in_the_header_keeps_every_column_as_text(tmp_path):
    payload = b'id,"long\nname",insee\r\n1,"x",001001\r\n2,y,002002\r\n'
    table = read(tmp_path, payload)
    assert table.column_names == ["id", "long\nname", "insee", "_file"]
    assert_all_text(table)
    assert table.column("insee").to_pylist() == ["001001", "002002"]
    assert table.column("long\nname").to_pylist() == ["x", "y"]


def test_blank_lines_before_the_header_are_skipped(tmp_path):
    table = read(tmp_path, b"\n\r\n\n\rid,value\n\n1,007\n\r\n2,b\n\n")
    assert rows(table) == [{"id": "1", "value": "007"}, {"id": "2", "value": "b"}]


@pytest.mark.parametrize(
    "payload",
    [b"id,value\r1,007\r2,\r", b"id,value\r\n1,007\n2,\r", b"id,value\r1,007\r\n2,\n"],
    ids=["cr-only", "mixed", "mixed-2"],
)
def test_cr_only_and_mixed_line_endings(tmp_path, payload):
    assert rows(read(tmp_path, payload)) == [{"id": "1", "value": "007"}, {"id": "2", "value": None}]


def test_line_breaks_inside_quoted_values_are_kept_exactly(tmp_path):
    payload = b'id,note\r1,"one\rtwo\r\nthree\nfour"\r2,"say ""hi"", twice"\r'
    assert rows(read(tmp_path, payload)) == [
        {"id": "1", "note": "one\rtwo\r\nthree\nfour"},
        {"id": "2", "note": 'say "hi", twice'},
    ]


def test_quoted_empty_string_is_text_and_unquoted_empty_is_null(tmp_path):
    assert rows(read(tmp_path, b'id,a,b\n1,"",\n2,,""\n')) == [
        {"id": "1", "a": "", "b": None},
        {"id": "2", "a": None, "b": ""},
    ]


def test_quoted_header_with_tabs_and_newlines_is_not_a_wrong_delimiter(tmp_path):
    table = read(tmp_path, b'"label\twith tab\nand newline"\nx\n"y\ty"\n')
    assert table.column_names == ["label\twith tab\nand newline", "_file"]
    assert table.column(0).to_pylist() == ["x", "y\ty"]


def test_unquoted_one_field_header_with_another_delimiter_is_still_refused(tmp_path):
    message = fails(tmp_path, b"\n\nid\tvalue\n1\t2\n")
    assert "line 3" in message and "looks delimited by '\\t'" in message and "declares ','" in message


def test_repeated_header_is_refused_naming_the_line(tmp_path):
    message = fails(tmp_path, b"\r\nid,value,id\r\n1,2,3\r\n")
    assert "line 2" in message and "repeats column(s) ['id']" in message


def test_headerless_file_names_columns_and_reads_the_first_line_as_data(tmp_path):
    table = read(tmp_path, b'\xef\xbb\xbf\n0001,Lyon,\n0002,"Nice, FR",x\n', header=False)
    assert table.column_names == ["column_1", "column_2", "column_3", "_file"]
    assert_all_text(table)
    assert rows(table) == [
        {"column_1": "0001", "column_2": "Lyon", "column_3": None},
        {"column_1": "0002", "column_2": "Nice, FR", "column_3": "x"},
    ]


def test_headerless_ragged_line_is_measured_against_the_first_line(tmp_path):
    message = fails(tmp_path, b"1,a\n2,b,c\n", header=False)
    assert "line 2 has 3 fields" in message and "first line's 2 fields" in message


def test_renames_apply_to_the_parsed_header(tmp_path):
    table = read(tmp_path, b'\xef\xbb\xbf"OrderRef",amount\n0012,1.50\n', columns={"OrderRef": "order_id"})
    assert rows(table) == [{"order_id": "0012", "amount": "1.50"}]
    assert table.column("_file").to_pylist() == [KEY]


# -- ragged lines -----------------------------------------------------------------------------------
def test_seven_ragged_lines_report_the_count_and_the_first_five_with_field_counts(tmp_path):
    lines = ["id,name,city"]
    for n in range(2, 20):
        lines.append(f"{n},a,b,EXTRA" if n in (3, 5, 6, 9, 12, 15, 18) and n != 9 else f"{n},a,b")
    lines[8 - 1] = "8,only"  # line 8 has too few fields
    payload = ("\r\n".join(lines) + "\r\n").encode()
    message = fails(tmp_path, payload)
    assert "7 lines do not have the header's 3 fields (the first 5 shown)" in message, message
    shown = re.findall(r"line (\d+) has (\d+) fields", message)
    assert shown == [("3", "4"), ("5", "4"), ("6", "4"), ("8", "2"), ("12", "4")]
    assert "line 15" not in message and "line 18" not in message


def test_ragged_line_numbers_count_cr_only_endings_and_quoted_newlines(tmp_path):
    payload = b'id,note\r1,"a\rb"\r2,"c\rd",extra\r3,e\r'
    message = fails(tmp_path, payload)
    assert "1 line does not have the header's 2 fields: lines 4-5 has 3 fields" in message


def test_unclosed_quote_is_reported_not_swallowed(tmp_path):
    # Arrow and Python's csv both read the rest of the file as one value: refused, naming the line
    message = fails(tmp_path, b'id,note\n1,5" screen\n2,"never closed\n3,x\n4,y\n')
    assert "line 3: a quoted field opens here and is never closed" in message
    header = fails(tmp_path, b'\nid,"note\n1,2\n')
    assert "line 2: a quoted field opens here and is never closed" in header
    ragged = fails(tmp_path, b'id,note,n\n1,a,b\n2,"never closed\n3,x,y\n')
    assert "lines 3-4 has 2 fields (a quote opened there is never closed?)" in ragged


def test_odd_number_of_quotes_in_unquoted_fields_is_fine(tmp_path):
    table = read(tmp_path, b'id,size\n1,5" screen\n2,"12"" panel"\n3,a""b\n')
    assert table.column("size").to_pylist() == ['5" screen', '12" panel', 'a""b']


# -- encodings --------------------------------------------------------------------------------------
def test_utf16_le_with_bom_says_what_it_looks_like_and_reads_when_declared(tmp_path):
    payload = "id,ville\r\n1,Orléans\r\n".encode("utf-16")  # BOM FF FE, then little-endian
    assert payload[:2] == b"\xff\xfe"
    message = fails(tmp_path, payload)
    assert "not UTF-8 at byte 0 (line 1, column 1)" in message
    assert "UTF-16 LE (the file starts with the byte-order mark FF FE)" in message
    assert "`encoding: utf-16`" in message and "sources file" in message
    assert rows(read(tmp_path, payload, encoding="utf-16")) == [{"id": "1", "ville": "Orléans"}]


def test_utf16_le_without_bom_is_recognised_by_its_nul_bytes(tmp_path):
    payload = "id,code\r\n1,0123\r\n".encode("utf-16-le")  # valid UTF-8 bytes, but NUL after every character
    message = fails(tmp_path, payload)
    assert "UTF-16 LE (a NUL byte after each character" in message and "`encoding: utf-16-le`" in message
    assert rows(read(tmp_path, payload, encoding="utf-16-le")) == [{"id": "1", "code": "0123"}]


def test_utf16_be_with_bom_is_named(tmp_path):
    message = fails(tmp_path, b"\xfe\xff" + "id\n1\n".encode("utf-16-be"))
    assert "UTF-16 BE (the file starts with the byte-order mark FE FF)" in message


def test_latin1_bytes_name_byte_line_column_and_the_setting(tmp_path):
    payload = b"id,name\r\n1,Dupont\r\n2,M\xfcller\r\n3,caf\xe9\r\n"
    at = payload.index(b"\xfc")
    message = fails(tmp_path, payload)
    assert f"not UTF-8 at byte {at} (line 3, column 4)" in message, message
    assert "latin-1 / cp1252" in message and "'2,Müller'" in message and "`encoding: cp1252`" in message
    table = read(tmp_path, payload, encoding="latin-1")
    assert table.column("name").to_pylist() == ["Dupont", "Müller", "café"]


def test_decoding_error_line_counts_cr_only_endings(tmp_path):
    message = fails(tmp_path, b"id\r1\r2\r\xe9\r")
    assert "(line 4, column 1)" in message


# an unknown codec name is refused when the sources file is loaded; these are known codecs, not text ones
@pytest.mark.parametrize("encoding", ["rot13", "base64"])
def test_unknown_or_non_text_encoding_names_the_setting(tmp_path, encoding):
    message = fails(tmp_path, b"id\n1\n", encoding=encoding)
    assert f"{encoding!r} is not a known text codec" in message and "`encoding:`" in message


def test_headerless_file_with_a_large_first_field(tmp_path):
    big = "x" * 300_000  # beyond Python csv's default 128 KiB field limit
    table = read(tmp_path, f"1,{big}\n2,y\n".encode(), header=False)
    assert table.column("column_2").to_pylist() == [big, "y"]
    header = read(tmp_path, f'"{big}"\nv\n'.encode())
    assert header.column_names == [big, "_file"]


def test_jsonl_is_decoded_with_the_table_encoding(tmp_path):
    payload = '{"id": "0123", "ville": "Orléans"}\r\n{"id": 7}\r\n'.encode("utf-16")
    assert "UTF-16 LE" in fails(tmp_path, payload, "jsonl")
    table = read(tmp_path, payload, "jsonl", encoding="utf-16")
    assert rows(table) == [{"id": "0123", "ville": "Orléans"}, {"id": "7", "ville": None}]
    bom = read(tmp_path, b'\xef\xbb\xbf{"id": "1"}\n', "jsonl")
    assert rows(bom) == [{"id": "1"}]


def test_jsonl_line_separator_inside_a_string_is_not_a_line_break(tmp_path):
    payload = (json.dumps({"id": "1", "note": "a\u2028b\u0085c"}, ensure_ascii=False) + "\n").encode()
    table = read(tmp_path, payload, "jsonl")
    assert rows(table) == [{"id": "1", "note": "a\u2028b\u0085c"}]


def test_jsonl_lone_surrogate_is_a_file_format_error(tmp_path):
    assert "not valid text" in fails(tmp_path, b'{"id": "\\ud800"}\n', "jsonl")


def test_jsonl_huge_integer_and_deep_nesting_are_handled(tmp_path):
    digits = "9" * 5000
    table = read(tmp_path, ('{"id": ' + digits + "}\n").encode(), "jsonl")
    assert table.column("id").to_pylist() == [digits]
    message = fails(tmp_path, b'{"id": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n", "jsonl")
    assert "line 1" in message
