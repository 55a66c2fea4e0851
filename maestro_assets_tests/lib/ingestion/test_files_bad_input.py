"""Landed files with bad input: a clear error naming source, table and file (and where in it),
or the values kept exactly as received — never a silent drop."""

import io
import json
from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from maestro_assets.lib.ingestion.files import FileFormatError, landing_day, read_landed
from maestro_assets_tests.lib.ingestion.test_landed_files import spec

KEY = "landing/task_events/date=2026-09-01/drop.csv"


def names_where(message: str) -> bool:
    return "source 'landing'" in message and "table 'task_events_csv'" in message and KEY in message


def test_good_csv_keeps_text_and_names_its_file():
    table = read_landed(b"event_id,hours\n1,2.5\n2,\n", spec(), KEY)
    assert table.column("event_id").to_pylist() == ["1", "2"]
    assert table.column("hours").to_pylist() == ["2.5", None]  # an empty field is a null
    assert table.column("_file").to_pylist() == [KEY, KEY]


def test_empty_file_is_an_error():
    with pytest.raises(FileFormatError, match="the file is empty") as info:
        read_landed(b"", spec(), KEY)
    assert names_where(str(info.value))


def test_header_only_file_is_zero_rows_with_its_columns():
    table = read_landed(b"event_id,hours\n", spec(), KEY)
    assert table.num_rows == 0 and table.column_names == ["event_id", "hours", "_file"]


def test_wrong_delimiter_names_both():
    with pytest.raises(FileFormatError, match=r"looks delimited by ';'.*declares ','") as info:
        read_landed(b"event_id;hours\n1;2\n", spec(), KEY)
    assert names_where(str(info.value))


def test_mixed_types_are_kept_exactly_as_received():
    table = read_landed(b"event_id,hours\n1,2.5\nabc,twelve\n3,1e3\n", spec(), KEY)
    assert table.column("event_id").to_pylist() == ["1", "abc", "3"]
    assert table.column("hours").to_pylist() == ["2.5", "twelve", "1e3"]


def test_non_utf8_bytes_name_the_byte_and_line():
    with pytest.raises(FileFormatError, match=r"not UTF-8 at byte 20 \(line 3, column 3\)") as info:
        read_landed(b"event_id,name\n1,a\n2,\xff\xfe\n", spec(), KEY)
    assert names_where(str(info.value))


def test_ragged_line_names_the_line():
    with pytest.raises(
        FileFormatError, match=r"1 line does not have the header's 2 fields: line 3 has 4 fields"
    ) as info:
        read_landed(b"a,b\n1,2\n1,2,3,4\n", spec(), KEY)
    assert names_where(str(info.value))


def test_fifty_megabyte_single_line_is_read_whole():
    big = "x" * (50 * 1024 * 1024)
    table = read_landed(f"event_id,payload\n1,{big}\n".encode(), spec(), KEY)
    assert len(table.column("payload")[0].as_py()) == len(big)
    line = json.dumps({"event_id": 2, "payload": big}).encode()
    table = read_landed(line + b"\n", spec("jsonl"), KEY)
    assert len(table.column("payload")[0].as_py()) == len(big)


def test_jsonl_values_are_text_as_received_and_keys_unioned():
    payload = b'{"event_id": 1, "ok": true, "tags": ["a"]}\n\n{"event_id": "2", "extra": null}\n'
    table = read_landed(payload, spec("jsonl"), KEY)
    assert table.column("event_id").to_pylist() == ["1", "2"]
    assert table.column("ok").to_pylist() == ["true", None]
    assert table.column("tags").to_pylist() == ['["a"]', None]
    assert "extra" in table.column_names  # an unexpected column is kept (silver reports it)


@pytest.mark.parametrize(
    "payload, expected",
    [
        (b'{"event_id": 1}\n{"event_id": 2\n', r"line 2: not valid JSON"),
        (b'{"event_id": 1}\n[1, 2]\n', r"line 2: expected a JSON object, got an array"),
    ],
)
def test_bad_jsonl_names_the_line(payload, expected):
    with pytest.raises(FileFormatError, match=expected) as info:
        read_landed(payload, spec("jsonl"), KEY)
    assert names_where(str(info.value))


def test_empty_jsonl_is_zero_records():
    assert read_landed(b"", spec("jsonl"), KEY).num_rows == 0


def test_parquet_keeps_types_and_garbage_is_an_error():
    buffer = io.BytesIO()
    pq.write_table(pa.table({"event_id": [1, 2], "at": pd.to_datetime(["2026-09-01", "2026-09-02"], utc=True)}), buffer)
    table = read_landed(buffer.getvalue(), spec("parquet"), KEY)
    assert table.column("event_id").to_pylist() == [1, 2]
    with pytest.raises(FileFormatError, match="not a readable parquet file") as info:
        read_landed(b"PAR1 this is not parquet", spec("parquet"), KEY)
    assert names_where(str(info.value))


def test_landing_day_from_key_or_upload_time():
    moment = datetime(2026, 9, 7, 23, 30, tzinfo=UTC)
    assert landing_day("landing/x/date=2026-09-01/a.csv", moment).isoformat() == "2026-09-01"
    assert landing_day("landing/x/a.csv", moment).isoformat() == "2026-09-07"
    assert landing_day("landing/x/date=2026-13-45/a.csv", moment).isoformat() == "2026-09-07"
