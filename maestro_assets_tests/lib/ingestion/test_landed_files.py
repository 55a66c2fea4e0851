"""Reading landed files (CSV, JSON lines, parquet): bad inputs fail with a FileFormatError naming
source, table, file (and line / byte), good ones are kept exactly as received; the landing day of
an object; and the bronze files asset through Dagster, which never deletes a landed object and
leaves the previous partition as it was when a file is bad."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, date, datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import AssetKey, materialize

from maestro_assets.defs.ingestion.assets import bronze_assets
from maestro_assets.lib.ingestion.files import FileFormatError, landing_day, read_landed
from maestro_assets.lib.ingestion.sources import TableSource
from maestro_assets.lib.lake import open_lake
from maestro_assets.resources import LakeResource

KEY = "landing/task_events/date=2026-09-01/part-7.csv"
BIG = 50 * 1024 * 1024


def spec(fmt: str = "csv", **extra) -> TableSource:
    return TableSource(
        source="landing",
        kind="files",
        table="task_events_csv",
        prefix="landing/task_events/",
        format=fmt,
        keys=("event_id",),
        **extra,
    )


def fails(payload: bytes, fmt: str = "csv", key: str = KEY) -> str:
    """The FileFormatError message; it always names the source, the table and the file."""
    with pytest.raises(FileFormatError) as caught:
        read_landed(payload, spec(fmt), key)
    message = str(caught.value)
    assert f"source 'landing', table 'task_events_csv', file '{key}'" in message, message
    return message


# -- empty, header-only, delimiter ----------------------------------------------------------
@pytest.mark.parametrize(
    "fmt, payload",
    [
        ("csv", b""),
        ("csv", b"\n"),
        ("csv", b"  \r\n\n"),
        ("parquet", b""),
    ],
)
def test_empty_file_is_an_error(fmt, payload):
    assert "empty" in fails(payload, fmt)


@pytest.mark.parametrize("payload", [b"", b"\n", b"  \r\n\n"])
def test_empty_jsonl_file_is_zero_records(payload):
    # decided in 8a015d0: an empty JSON-lines file is a valid file of no records
    table = read_landed(payload, spec("jsonl"), KEY)
    assert table.num_rows == 0 and table.column_names == ["_file"]


def test_header_only_csv_is_zero_rows_with_its_columns():
    table = read_landed(b"event_id,event_time,value\n", spec(), KEY)
    assert table.num_rows == 0
    assert table.column_names == ["event_id", "event_time", "value", "_file"]


def test_wrong_delimiter_names_both_delimiters():
    message = fails(b"event_id;event_time;value\n1;2026-09-01T10:00:00;5\n")
    assert "';'" in message and "','" in message
    assert "event_id;event_time;value" in message


def test_declared_delimiter_is_used():
    table = read_landed(b"event_id;value\n1;a,b\n", spec(delimiter=";"), KEY)
    assert table.to_pydict() == {"event_id": ["1"], "value": ["a,b"], "_file": [KEY]}


def test_utf8_bom_does_not_rename_the_first_column():
    table = read_landed("\ufeffevent_id,value\n1,x\n".encode(), spec(), KEY)
    assert table.column_names[0] == "event_id"


# -- values kept as received ------------------------------------------------------------------
def test_csv_mixed_types_are_kept_as_the_exact_text_received():
    values = ["10", "abc", "1.50", "007", "1e3", "NA", "null", "NaN", "True", "2026-09-01", " padded ", "-0"]
    payload = "event_id,value\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values)) + "99,\n"
    table = read_landed(payload.encode(), spec(), KEY)
    assert table.schema.field("value").type == pa.string()
    assert table.column("value").to_pylist() == values + [None]  # an empty field is the only null
    assert table.column("event_id").to_pylist() == [str(i) for i in range(len(values))] + ["99"]
    assert table.column("_file").to_pylist() == [KEY] * (len(values) + 1)


def test_jsonl_mixed_types_become_text_nothing_lost():
    lines = [
        {"event_id": 1, "value": 10},
        {"event_id": 2, "value": "abc"},
        {"event_id": 3, "value": 1.5},
        {"event_id": 4, "value": True},
        {"event_id": 5, "value": None},
        {"event_id": 6, "value": {"a": [1, 2]}},
        {"event_id": 7, "value": [1, "x"]},
        {"event_id": 8, "value": 123456789012345678901234567890},
    ]
    payload = "".join(json.dumps(line) + "\n" for line in lines).encode()
    table = read_landed(payload, spec("jsonl"), KEY)
    assert table.schema.field("value").type == pa.string()
    assert table.column("value").to_pylist() == [
        "10",
        "abc",
        "1.5",
        "true",
        None,
        '{"a": [1, 2]}',
        '[1, "x"]',
        "123456789012345678901234567890",
    ]
    assert table.column("event_id").to_pylist() == [str(i) for i in range(1, 9)]


def test_jsonl_numbers_are_kept_as_the_exact_text_received():
    payload = b'{"event_id": 1, "amount": 19.90}\n{"event_id": 2, "amount": 12345678901234567.89}\n'
    table = read_landed(payload, spec("jsonl"), KEY)
    assert table.column("amount").to_pylist() == ["19.90", "12345678901234567.89"]


def test_unexpected_extra_column_is_kept():
    csv = read_landed(b"event_id,value,surprise\n1,a,s1\n2,b,s2\n", spec(), KEY)
    assert csv.to_pydict() == {
        "event_id": ["1", "2"],
        "value": ["a", "b"],
        "surprise": ["s1", "s2"],
        "_file": [KEY, KEY],
    }
    jsonl = read_landed(
        b'{"event_id": "1", "value": "a"}\n{"event_id": "2", "value": "b", "surprise": "s"}\n', spec("jsonl"), KEY
    )
    assert jsonl.to_pydict() == {
        "event_id": ["1", "2"],
        "value": ["a", "b"],
        "surprise": [None, "s"],
        "_file": [KEY, KEY],
    }


def test_ragged_csv_line_is_an_error_naming_the_line():
    message = fails(b"event_id,value\n1,a\n2,b,extra\n")
    assert "line 3" in message


def test_extra_field_in_first_row_is_not_silently_dropped():
    try:
        table = read_landed(b"event_id,value\n1,a,extra\n2,b,extra\n", spec(), KEY)
    except FileFormatError as exc:
        assert "line 2" in str(exc)
    else:  # or kept: never shifted, never lost
        assert table.column("event_id").to_pylist() == ["1", "2"]


# -- encodings and broken JSON ------------------------------------------------------------------
def test_non_utf8_bytes_name_the_byte_offset_and_line():
    payload = b"event_id,value\n1,ok\n2,caf\xe9\n"
    offset = payload.index(b"\xe9")
    message = fails(payload)
    assert f"byte {offset}" in message and "line 3" in message
    assert "UTF-8" in message
    jsonl = b'{"event_id": "1"}\n{"event_id": "\xff"}\n'
    bad_at = jsonl.index(b"\xff")
    message = fails(jsonl, "jsonl")
    assert f"byte {bad_at}" in message and "line 2" in message


def test_invalid_json_line_names_the_line_number():
    payload = b'{"event_id": "1"}\n\n{"event_id": "2"}\n{"event_id": "3",\n{"event_id": "4"}\n'
    message = fails(payload, "jsonl")
    assert "line 4" in message and "not valid JSON" in message


@pytest.mark.parametrize(
    "line, kind", [(b"[1, 2]", "an array"), (b'"text"', "a string"), (b"42", "a number"), (b"null", "null")]
)
def test_json_line_that_is_not_an_object(line, kind):
    message = fails(b'{"event_id": "1"}\n' + line + b"\n", "jsonl")
    assert "line 2" in message and "expected a JSON object" in message and kind in message


# -- 50 MB on one line ----------------------------------------------------------------------------
def test_csv_with_a_50_mb_field_is_read_whole():
    blob = "x" * (BIG - 7) + "é-end"  # multi-byte text at the very end: nothing cut
    payload = f"event_id,blob,after\n1,{blob},tail\n2,small,tail2\n".encode()
    table = read_landed(payload, spec(), KEY)
    assert table.num_rows == 2
    got = table.column("blob")[0].as_py()
    assert len(got) == len(blob) and got == blob
    assert table.column("after").to_pylist() == ["tail", "tail2"]


def test_jsonl_with_a_50_mb_line_is_read_whole():
    blob = "y" * (BIG - 5) + "ü-end"
    payload = (json.dumps({"event_id": "1", "blob": blob}) + "\n" + json.dumps({"event_id": "2", "blob": "s"})).encode()
    assert len(payload) > BIG
    table = read_landed(payload, spec("jsonl"), KEY)
    assert table.column("blob").to_pylist() == [blob, "s"]
    assert table.column("event_id").to_pylist() == ["1", "2"]


# -- parquet ------------------------------------------------------------------------------------------
def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def test_parquet_keeps_its_own_types():
    source = pa.table({"event_id": pa.array([1, 2], pa.int64()), "value": pa.array([0.5, None])})
    table = read_landed(parquet_bytes(source), spec("parquet"), "landing/deployments/d.parquet")
    assert table.column_names == ["event_id", "value", "_file"]
    assert table.schema.field("event_id").type == pa.int64()
    assert table.column("value").to_pylist() == [0.5, None]


@pytest.mark.parametrize(
    "payload",
    [
        b"this is not parquet at all",
        b"PAR1garbagePAR1",
        parquet_bytes(pa.table({"event_id": list(range(1000))}))[:-40],  # a truncated upload
    ],
    ids=["text", "magic-only", "truncated"],
)
def test_garbage_parquet_is_an_error(payload):
    assert "not a readable parquet file" in fails(payload, "parquet", "landing/deployments/d.parquet")


# -- landing day ------------------------------------------------------------------------------------
MODIFIED = datetime(2026, 9, 7, 23, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "key, expected",
    [
        ("landing/task_events/date=2026-09-02/part-1.csv", date(2026, 9, 2)),
        ("landing/task_events/date=2026-09-02", date(2026, 9, 2)),
        ("landing/task_events/region=eu/date=2026-08-31/x.csv", date(2026, 8, 31)),
        ("landing/task_events/part-1.csv", MODIFIED.date()),  # no date= : upload day
        ("landing/task_events/mydate=2026-09-02/x.csv", MODIFIED.date()),  # not a date= segment
        ("landing/task_events/date=2026-13-45/x.csv", MODIFIED.date()),  # not a real day
    ],
)
def test_landing_day(key, expected):
    assert landing_day(key, MODIFIED) == expected


def test_landing_day_from_last_modified_is_the_utc_day():
    east = timezone(timedelta(hours=3))
    assert landing_day("landing/x/a.csv", datetime(2026, 9, 8, 1, 30, tzinfo=east)) == date(2026, 9, 7)
    assert landing_day("landing/x/a.csv", datetime(2026, 9, 8, 1, 30)) == date(2026, 9, 8)  # naive is UTC


# -- through Dagster: the bronze files asset --------------------------------------------------------
DAY = "2026-09-01"
BRONZE_KEY = AssetKey(["bronze", "landing", "task_events_csv"])


def test_bronze_files_partition_and_a_bad_file(maestro_home, tmp_path):
    root = tmp_path / "lake"
    lake = open_lake(str(root))
    (asset,) = [a for a in bronze_assets() if a.key == BRONZE_KEY]
    resources = {"lake": LakeResource(url=str(root))}
    one = f"landing/task_events/date={DAY}/part-1.csv"
    two = f"landing/task_events/date={DAY}/part-2.csv"
    other_day = "landing/task_events/date=2026-09-02/part-1.csv"
    lake.put(one, b"event_id,value\ne1,10\ne2,abc\n")
    lake.put(two, b"event_id,value,extra\ne3,1.50,x\n")
    lake.put(other_day, b"event_id,value\ne9,9\n")

    result = materialize([asset], partition_key=DAY, resources=resources)
    assert result.success
    part = lake.read_partition("bronze", "landing/task_events_csv", ("date", DAY)).to_pandas()
    rows = part.sort_values("event_id")
    assert rows["event_id"].tolist() == ["e1", "e2", "e3"]
    assert rows["value"].tolist() == ["10", "abc", "1.50"]
    assert rows["_file"].tolist() == [one, one, two]
    assert set(part["_source"]) == {"landing"}
    assert set(part["_batch_id"]) == {result.run_id}
    assert part["_ingested_at"].notna().all() and str(part["_ingested_at"].dt.tz) == "UTC"
    assert "extra" in part.columns  # the second file's extra column is kept
    assert lake.partitions("bronze", "landing/task_events_csv") == [DAY]  # only the run's day

    bad = f"landing/task_events/date={DAY}/part-3.csv"
    bad_payload = b"event_id,value\ne4,caf\xe9\n"
    bad_at = bad_payload.index(b"\xe9")
    lake.put(bad, bad_payload)
    # the demo's landing source reports bad files as a WARNING: the run goes through, the day's
    # good files land again, the bad one is set aside with its reason (ERROR is in test_bronze_files)
    warned = materialize([asset], partition_key=DAY, resources=resources, raise_on_error=False)
    assert warned.success
    (evaluation,) = [
        e.asset_check_evaluation_data for e in warned.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    assert not evaluation.passed and evaluation.severity.value == "WARN"
    message = evaluation.metadata["message"].value
    assert re.search(rf"file '{re.escape(bad)}'.*not UTF-8 at byte {bad_at} \(line 2\b", message), message
    assert lake.get(bad) == bad_payload  # nothing deleted from the landing area
    assert sorted(o.key for o in lake.list("landing/")) == sorted([one, two, bad, other_day])
    again = lake.read_partition("bronze", "landing/task_events_csv", ("date", DAY)).to_pandas()
    assert sorted(again["event_id"]) == ["e1", "e2", "e3"] and set(again["_batch_id"]) == {warned.run_id}
    (record,) = lake.list(f"quarantine/files/landing/task_events_csv/date={DAY}/")
    assert bad in lake.get(record.key).decode()


def test_jsonl_numbers_keep_their_literal_text_at_any_depth():
    """``1e5`` stays ``1e5`` (not ``1E+5`` or ``100000.0``), also inside objects and lists, where numbers stay
    numbers (never quoted into strings); ``1e400`` is not turned into ``inf``."""
    payload = (
        b'{"event_id": 1, "value": 1e5, "nested": {"a": 1e5, "b": [19.90, -0, 2E-3], "c": "1e5"}}\n'
        b'{"event_id": 2, "value": 1e400, "nested": [1.0, {"d": 12345678901234567890.10}]}\n'
    )
    table = read_landed(payload, spec("jsonl"), KEY)
    assert table.column("value").to_pylist() == ["1e5", "1e400"]
    assert table.column("nested").to_pylist() == [
        '{"a": 1e5, "b": [19.90, -0, 2E-3], "c": "1e5"}',
        '[1.0, {"d": 12345678901234567890.10}]',
    ]
    for text in table.column("nested").to_pylist():  # still JSON, the same values
        json.loads(text)
