"""Incremental SQL extraction by a watermark, driven as the bronze asset drives it (``sql_batches``
into ``PartitionedBronzeWriter``), on real SQLite files, the session's PostgreSQL and a MariaDB
server: every source row lands in exactly its day, in one-day runs and in range runs, whatever
the type or text form of the watermark; bad values are MaestroErrors naming where they are."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa

from maestro_assets.lib.errors import MaestroError
from maestro_assets.lib.ingestion.bronze import PartitionedBronzeWriter, WatermarkError
from maestro_assets.lib.ingestion.sources import TableSource
from maestro_assets.lib.ingestion.sql import extraction_query, sql_batches
from maestro_assets.lib.lake import open_lake
from maestro_assets.lib.warehouse import Warehouse

DAY = date(2012, 1, 5)


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def extract(url: str, spec: TableSource, lake, first: date, last: date) -> dict[str, list[int]]:
    """One run over the days first..last, as ``extract_sql`` does it; the ids found in each day."""
    db = Warehouse(url)
    writer = PartitionedBronzeWriter(
        lake,
        spec.source,
        spec.table,
        spec.bronze_name(spec.watermark),
        first,
        last + timedelta(days=1),
        batch_id=uuid.uuid4().hex,
        timezone=spec.timezone,
    )
    for batch in sql_batches(db, spec, midnight(first), midnight(last + timedelta(days=1)), batch_rows=1000):
        writer.write(batch)
    stats = writer.close()
    found = {}
    for day in stats.partitions:
        part = lake.read_partition("bronze", f"{spec.source}/{spec.table}", ("date", day))
        found[day] = sorted(part.column("id").to_pylist()) if part.num_rows else []
    return found


def expected_ids(days_of_rows: dict[int, date], first: date, last: date) -> dict[str, list[int]]:
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return {d.isoformat(): sorted(i for i, day in days_of_rows.items() if day == d) for d in days}


def day_of(text: str, zone: str = "UTC") -> date:
    """The UTC day of a timestamp text, by Python's own ISO parser (independent of the code under test)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(UTC).date()


# -- SQLite: timestamps stored as text ---------------------------------------------------------------
@pytest.fixture
def daily_midnights(tmp_path) -> str:
    """4 years of one row per day at midnight, written by pandas through sqlite3 (TIMESTAMP column,
    values stored as TEXT 'YYYY-MM-DD HH:MM:SS')."""
    path = tmp_path / "daily.db"
    frame = pd.DataFrame({"id": range(1461), "ts": pd.date_range("2012-01-01", periods=1461, freq="D")})
    with sqlite3.connect(path) as conn:
        frame.to_sql("daily", conn, index=False)
        assert conn.execute("SELECT ts, typeof(ts) FROM daily WHERE id = 4").fetchone() == (
            "2012-01-05 00:00:00",
            "text",
        )
    return f"sqlite:///{path}"


def test_sqlite_midnight_rows_one_day_run(daily_midnights, tmp_path):
    spec = TableSource(source="shop", kind="sql", table="daily", watermark="ts")
    lake = open_lake(str(tmp_path / "lake"))
    assert extract(daily_midnights, spec, lake, DAY, DAY) == {"2012-01-05": [4]}


def test_sqlite_midnight_rows_range_run_keeps_every_day(daily_midnights, tmp_path):
    spec = TableSource(source="shop", kind="sql", table="daily", watermark="ts")
    lake = open_lake(str(tmp_path / "lake"))
    found = extract(daily_midnights, spec, lake, date(2012, 1, 1), date(2015, 12, 31))
    assert len(found) == 1461
    assert found == {(date(2012, 1, 1) + timedelta(days=i)).isoformat(): [i] for i in range(1461)}
    # bronze keeps the value as SQLite stored it; only the routing parsed it
    part = lake.read_partition("bronze", "shop/daily", ("date", "2012-01-05"))
    assert part.column("ts").to_pylist() == ["2012-01-05 00:00:00"]


# every text form SQLite's date functions read; each row is an instant near a day boundary
def _forms() -> dict[str, list[str]]:
    near = [
        datetime(2012, 1, 4, 23, 59, 59, 999_999),
        datetime(2012, 1, 5, 0, 0, 0),
        datetime(2012, 1, 5, 0, 0, 0, 1000),
        datetime(2012, 1, 5, 12, 34, 56, 789_012),
        datetime(2012, 1, 5, 23, 59, 59, 999_999),
        datetime(2012, 1, 6, 0, 0, 0),
        datetime(2012, 1, 6, 23, 59, 0),
    ]
    return {
        "date": ["2012-01-04", "2012-01-05", "2012-01-06", "2012-01-07"],
        "minutes": [m.strftime("%Y-%m-%d %H:%M") for m in near],
        "seconds": [m.strftime("%Y-%m-%d %H:%M:%S") for m in near],
        "T_separator": [m.strftime("%Y-%m-%dT%H:%M:%S") for m in near],
        "milliseconds": [m.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] for m in near],
        "microseconds": [m.strftime("%Y-%m-%d %H:%M:%S.%f") for m in near],
        "Z": [m.strftime("%Y-%m-%dT%H:%M:%S.%fZ") for m in near] + ["2012-01-05T00:00Z"],
        "offsets": [
            "2012-01-05 23:30:00-02:00",  # 2012-01-06 01:30 UTC
            "2012-01-06 01:00:00+02:00",  # 2012-01-05 23:00 UTC
            "2012-01-05 00:59:59.999999+01:00",  # 2012-01-04 23:59:59.999999 UTC
            "2012-01-05T05:29:59-05:30",  # 2012-01-05 10:59:59 UTC
            "2012-01-06T00:00:00.000+00:00",
            "2012-01-04 22:00:00-02:00",  # 2012-01-05 00:00 UTC
        ],
    }


FORMS = _forms()


@pytest.mark.parametrize("declared", ["TEXT", "TIMESTAMP", "DATETIME"])
@pytest.mark.parametrize("form", sorted(FORMS))
def test_sqlite_every_text_form_lands_in_its_day(form, declared, tmp_path):
    values = FORMS[form]
    path = tmp_path / "forms.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"CREATE TABLE events (id INTEGER PRIMARY KEY, ts {declared}, note TEXT)")
        conn.executemany("INSERT INTO events VALUES (?, ?, 'x')", list(enumerate(values)))
    spec = TableSource(source="shop", kind="sql", table="events", watermark="ts")
    days_of_rows = {i: day_of(v) for i, v in enumerate(values)}
    assert len(set(days_of_rows.values())) > 1, "the rows straddle day boundaries"
    url = f"sqlite:///{path}"
    for first, last in [(DAY, DAY), (DAY - timedelta(days=1), DAY + timedelta(days=2))]:
        lake = open_lake(str(tmp_path / f"lake-{first}-{last}"))
        assert extract(url, spec, lake, first, last) == expected_ids(days_of_rows, first, last), (first, last)
    # raw values stay as stored (text), in the day they belong to
    lake = open_lake(str(tmp_path / "lake-raw"))
    extract(url, spec, lake, DAY - timedelta(days=1), DAY + timedelta(days=2))
    stored = {}
    for day in lake.partitions("bronze", "shop/events"):
        rows = lake.read_partition("bronze", "shop/events", ("date", day)).to_pylist()
        stored.update({row["id"]: row["ts"] for row in rows})
    assert stored == {
        i: v for i, v in enumerate(values) if DAY - timedelta(days=1) <= days_of_rows[i] <= DAY + timedelta(days=2)
    }


def test_sqlite_unix_epoch_integers_and_julian_day_reals(tmp_path):
    """SQLite's numeric timestamps: INTEGER Unix seconds, REAL Julian day numbers (as ``julianday()`` makes them)."""
    path = tmp_path / "numbers.db"
    instants = [
        datetime(2012, 1, 4, 23, 59, 59, tzinfo=UTC),
        datetime(2012, 1, 5, tzinfo=UTC),
        datetime(2012, 1, 5, 18, 0, 1, tzinfo=UTC),
        datetime(2012, 1, 6, tzinfo=UTC),
    ]
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE epochs (id INTEGER PRIMARY KEY, ts INTEGER)")
        conn.executemany("INSERT INTO epochs VALUES (?, ?)", [(i, int(m.timestamp())) for i, m in enumerate(instants)])
        conn.execute("CREATE TABLE julians (id INTEGER PRIMARY KEY, ts REAL)")
        conn.executemany(
            "INSERT INTO julians VALUES (?, julianday(?))",
            [(i, m.strftime("%Y-%m-%d %H:%M:%S")) for i, m in enumerate(instants)],
        )
        assert conn.execute("SELECT typeof(ts) FROM julians").fetchone() == ("real",)
    days_of_rows = {i: m.date() for i, m in enumerate(instants)}
    for table in ("epochs", "julians"):
        spec = TableSource(source="shop", kind="sql", table=table, watermark="ts")
        for first, last in [(DAY, DAY), (DAY - timedelta(days=1), DAY + timedelta(days=1))]:
            lake = open_lake(str(tmp_path / f"lake-{table}-{first}-{last}"))
            found = extract(f"sqlite:///{path}", spec, lake, first, last)
            assert found == expected_ids(days_of_rows, first, last), (table, first, last)


@pytest.mark.parametrize(
    "bad",
    ["not a date", "2012-01-05 25:00:00", "05/01/2012", "2012-01-05 10:00:00+0200", b"\x00\x01"],
)
def test_sqlite_value_that_is_no_timestamp_is_bad_data_named_with_its_place(bad, tmp_path):
    path = tmp_path / "bad.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, ts TEXT)")
        conn.executemany("INSERT INTO events VALUES (?, ?)", [(1, "2012-01-05 10:00:00"), (2, bad)])
    spec = TableSource(source="shop", kind="sql", table="events", watermark="ts")
    with pytest.raises(MaestroError) as caught:
        extract(f"sqlite:///{path}", spec, open_lake(str(tmp_path / "lake")), DAY, DAY)
    assert isinstance(caught.value, WatermarkError)
    message = str(caught.value)
    assert "source 'shop', table 'events', column 'ts'" in message
    assert repr(bad) in message


@pytest.mark.parametrize(
    "values",
    [("2012-01-05 10:00:00", int(midnight(DAY).timestamp())), (int(midnight(DAY).timestamp()), 2455931.75)],
    ids=["text-and-integer", "integer-and-real"],
)
def test_sqlite_mixed_storage_classes_are_bad_data(values, tmp_path):
    """Unix seconds next to Julian days (or text) cannot be told apart once read: refused, named."""
    path = tmp_path / "mixed.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, ts)")
        conn.executemany("INSERT INTO events VALUES (?, ?)", list(enumerate(values)))
    spec = TableSource(source="shop", kind="sql", table="events", watermark="ts")
    with pytest.raises(WatermarkError, match=r"source 'shop', table 'events', column 'ts': .*mixed kinds") as caught:
        extract(f"sqlite:///{path}", spec, open_lake(str(tmp_path / "lake")), DAY, DAY)
    assert all(repr(v) in str(caught.value) for v in values)


def test_sqlite_naive_text_in_a_declared_zone_across_daylight_saving(tmp_path):
    """Naive text in Europe/Berlin: converted to UTC for its day, through both changes of the clock
    (2026-03-29 02:00 → 03:00 and 2026-10-25 03:00 → 02:00), with offsets in the text respected."""
    zone = "Europe/Berlin"
    values = []
    for first in (date(2026, 3, 28), date(2026, 10, 24)):
        start = datetime(first.year, first.month, first.day)
        values += [(start + timedelta(minutes=37 * i)).strftime("%Y-%m-%d %H:%M:%S") for i in range(3 * 24 * 60 // 37)]
    values += ["2026-03-29 00:30:00+00:00", "2026-03-28 23:30:00Z", "2026-10-26 00:59:59.5"]
    path = tmp_path / "berlin.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, ts TEXT)")
        conn.executemany("INSERT INTO events VALUES (?, ?)", list(enumerate(values)))
    spec = TableSource(source="shop", kind="sql", table="events", watermark="ts", timezone=zone)
    days_of_rows = {i: day_of(v, zone) for i, v in enumerate(values)}
    url = f"sqlite:///{path}"
    for first, last in [
        (date(2026, 3, 28), date(2026, 3, 28)),
        (date(2026, 3, 29), date(2026, 3, 29)),
        (date(2026, 10, 25), date(2026, 10, 25)),
        (date(2026, 3, 27), date(2026, 3, 31)),
        (date(2026, 10, 23), date(2026, 10, 27)),
    ]:
        lake = open_lake(str(tmp_path / f"lake-{first}-{last}"))
        assert extract(url, spec, lake, first, last) == expected_ids(days_of_rows, first, last), (first, last)


# -- the writer: a row outside the window -------------------------------------------------------------
def test_row_outside_the_window_is_bad_data_naming_its_day_and_the_window(tmp_path):
    """If a row changed between the query and the write, the writer refuses it (not retried)."""
    writer = PartitionedBronzeWriter(
        open_lake(str(tmp_path / "lake")), "shop", "events", "ts", DAY, DAY + timedelta(days=1), batch_id="b"
    )
    batch = pa.table({"id": [1, 2], "ts": ["2012-01-05 10:00:00", "2012-01-06 00:00:00"]})
    with pytest.raises(
        MaestroError, match=r"a row of 2012-01-06 .* outside the requested days 2012-01-05\.\.2012-01-05"
    ) as caught:
        writer.write(batch)
    assert not isinstance(caught.value, ValueError)
    assert "column 'ts'" in str(caught.value)


def test_unknown_declared_zone_is_named(tmp_path):
    with pytest.raises(MaestroError, match=r"column 'ts'.*timezone 'Mars/Olympus' is not an IANA time zone"):
        PartitionedBronzeWriter(
            open_lake(str(tmp_path / "lake")), "shop", "events", "ts", DAY, DAY, batch_id="b", timezone="Mars/Olympus"
        )


# -- PostgreSQL ---------------------------------------------------------------------------------------
PG_INSTANTS = [  # UTC instants near the day boundaries of 2012-01-05 (and a DST change in Berlin)
    datetime(2012, 1, 4, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(2012, 1, 5, tzinfo=UTC),
    datetime(2012, 1, 5, 0, 0, 0, 1, tzinfo=UTC),
    datetime(2012, 1, 5, 22, 30, tzinfo=UTC),
    datetime(2012, 1, 5, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(2012, 1, 6, tzinfo=UTC),
    datetime(2012, 1, 6, 23, 0, 0, tzinfo=UTC),
]


def _pg_table(url: str, kind: str, zone: str) -> dict[int, date]:
    """A table ``events`` with an indexed watermark ``ts`` of ``kind``; the UTC day of each row."""
    engine = sa.create_engine(url)
    zoneinfo = ZoneInfo(zone)
    rows, days_of_rows = [], {}
    for i, moment in enumerate(PG_INSTANTS):
        wall = moment.astimezone(zoneinfo).replace(tzinfo=None)
        if kind == "timestamptz":
            value, day = moment.isoformat(), moment.date()
        elif kind == "date":
            value = wall.date().isoformat()
            day = datetime.combine(wall.date(), datetime.min.time(), zoneinfo).astimezone(UTC).date()
        elif kind == "timestamp":
            value, day = wall.isoformat(sep=" "), moment.date()
        else:  # text: naive wall-clock text, and text with an offset
            value = wall.isoformat(sep=" ") if i % 2 else moment.astimezone(zoneinfo).isoformat(sep=" ")
            day = moment.date()
        rows.append({"id": i, "ts": value})
        days_of_rows[i] = day
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE events (id int PRIMARY KEY, ts {kind} NOT NULL, note text)")
        conn.exec_driver_sql("CREATE INDEX events_ts ON events (ts)")
        conn.execute(sa.text("INSERT INTO events (id, ts, note) VALUES (:id, CAST(:ts AS " + kind + "), 'x')"), rows)
    engine.dispose()
    return days_of_rows


@pytest.mark.postgres
@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/St_Johns"])
@pytest.mark.parametrize("kind", ["timestamp", "timestamptz", "date", "text"])
def test_postgres_watermark_types_land_in_their_day(kind, zone, postgres_url, tmp_path):
    days_of_rows = _pg_table(postgres_url, kind, zone)
    spec = TableSource(source="pg", kind="sql", table="events", watermark="ts", timezone=zone)
    for first, last in [(DAY, DAY), (DAY - timedelta(days=1), DAY + timedelta(days=1))]:
        lake = open_lake(str(tmp_path / f"lake-{first}-{last}"))
        assert extract(postgres_url, spec, lake, first, last) == expected_ids(days_of_rows, first, last), (first, last)
    if kind == "text":  # bronze keeps PostgreSQL's text as stored
        lake = open_lake(str(tmp_path / "lake-raw"))
        extract(postgres_url, spec, lake, DAY, DAY)
        assert pa.types.is_string(
            lake.read_partition("bronze", "pg/events", ("date", DAY.isoformat())).schema.field("ts").type
        )


@pytest.mark.postgres
@pytest.mark.parametrize("kind", ["timestamp", "timestamptz", "date"])
@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_postgres_bounds_leave_the_watermark_index_usable(kind, zone, postgres_url):
    """The column itself is compared (the bound is cast), so an index on the watermark serves the range."""
    _pg_table(postgres_url, kind, zone)
    db = Warehouse(postgres_url)
    spec = TableSource(source="pg", kind="sql", table="events", watermark="ts", timezone=zone)
    stmt = extraction_query(db, spec, midnight(DAY), midnight(DAY + timedelta(days=1)))
    sql = str(stmt.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}))
    with db.engine.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        plan = "\n".join(conn.exec_driver_sql(f"EXPLAIN {sql}").scalars())
    assert "events_ts" in plan, plan
    assert "Seq Scan" not in plan, plan


@pytest.mark.postgres
def test_postgres_text_that_is_no_timestamp_is_bad_data(postgres_url, tmp_path):
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE events (id int, ts text)")
        conn.exec_driver_sql("INSERT INTO events VALUES (1, '2026-01-03 23:59:59'), (2, 'next tuesday-ish')")
    engine.dispose()
    spec = TableSource(source="pg", kind="sql", table="events", watermark="ts")
    with pytest.raises(WatermarkError, match=r"source 'pg', table 'events', column 'ts'.*next tuesday-ish"):
        extract(postgres_url, spec, open_lake(str(tmp_path / "lake")), date(2026, 1, 3), date(2026, 1, 3))


@pytest.mark.postgres
def test_postgres_naive_text_is_read_as_utc_by_default(postgres_url, tmp_path):
    """The issue's table: ``CREATE TABLE t (id int, ts text)`` holding naive timestamps."""
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id int, ts text)")
        conn.exec_driver_sql(
            "INSERT INTO t VALUES (1, '2026-01-03 23:59:59'), (2, '2026-01-04 00:00:00'), (3, '2026-01-02 00:00:00')"
        )
    engine.dispose()
    spec = TableSource(source="pg", kind="sql", table="t", watermark="ts")
    lake = open_lake(str(tmp_path / "lake"))
    assert extract(postgres_url, spec, lake, date(2026, 1, 2), date(2026, 1, 4)) == {
        "2026-01-02": [3],
        "2026-01-03": [1],
        "2026-01-04": [2],
    }


# -- MySQL-style URLs (MariaDB) -----------------------------------------------------------------------
@pytest.mark.mysql
@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
@pytest.mark.parametrize("kind", ["DATETIME(6)", "DATETIME", "TIMESTAMP(6)", "DATE"])
def test_mysql_watermark_types_land_in_their_day(kind, zone, mysql_url, tmp_path):
    """The server runs in +03:00 (conftest): TIMESTAMP is an instant whatever the session zone;
    DATETIME and DATE are wall-clock values in the declared zone."""
    engine = sa.create_engine(mysql_url)
    zoneinfo = ZoneInfo(zone)
    rows, days_of_rows = [], {}
    instants = [m for m in PG_INSTANTS if kind.endswith("(6)") or m.microsecond == 0]
    for i, moment in enumerate(instants):
        wall = moment.astimezone(zoneinfo).replace(tzinfo=None)
        if kind.startswith("TIMESTAMP"):
            value, day = moment.astimezone(UTC).replace(tzinfo=None), moment.date()
        elif kind == "DATE":
            value = wall.date()
            day = datetime.combine(value, datetime.min.time(), zoneinfo).astimezone(UTC).date()
        else:
            value, day = wall, moment.date()
        rows.append({"id": i, "ts": value})
        days_of_rows[i] = day
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE events (id int PRIMARY KEY, ts {kind} NOT NULL, note text, KEY (ts))")
        if kind.startswith("TIMESTAMP"):
            conn.exec_driver_sql("SET time_zone = '+00:00'")  # the values above are UTC
        conn.execute(sa.text("INSERT INTO events (id, ts, note) VALUES (:id, :ts, 'x')"), rows)
    engine.dispose()
    spec = TableSource(source="my", kind="sql", table="events", watermark="ts", timezone=zone)
    for first, last in [(DAY, DAY), (DAY - timedelta(days=1), DAY + timedelta(days=1))]:
        lake = open_lake(str(tmp_path / f"lake-{first}-{last}"))
        assert extract(mysql_url, spec, lake, first, last) == expected_ids(days_of_rows, first, last), (first, last)


@pytest.mark.mysql
def test_mysql_text_watermark_is_refused_clearly(mysql_url, tmp_path):
    engine = sa.create_engine(mysql_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE events (id int, ts varchar(40))")
        conn.exec_driver_sql("INSERT INTO events VALUES (1, '2012-01-05 00:00:00')")
    engine.dispose()
    spec = TableSource(source="my", kind="sql", table="events", watermark="ts")
    with pytest.raises(WatermarkError, match=r"source 'my', table 'events', column 'ts'.*VARCHAR.*not a timestamp"):
        extract(mysql_url, spec, open_lake(str(tmp_path / "lake")), DAY, DAY)


# -- through the asset ------------------------------------------------------------------------------
def test_bronze_asset_reads_naive_watermarks_in_the_declared_zone(tmp_path, maestro_home, monkeypatch):
    """The declared ``timezone`` reaches both the bounds and the writer when Dagster runs the asset."""
    from dagster import DagsterInstance, materialize

    from maestro_assets.defs.ingestion.assets import build_bronze_asset
    from maestro_assets.defs.runs import partition_range_tags
    from maestro_assets.lib.ingestion.sources import parse_sources
    from maestro_assets.resources import LakeResource

    path = tmp_path / "shop.db"
    values = ["2026-09-01 01:30:00", "2026-09-02 01:30:00", "2026-09-02 02:00:00", "2026-09-02 23:59:59.999999"]
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, placed_at TEXT NOT NULL)")
        conn.executemany("INSERT INTO orders VALUES (?, ?)", list(enumerate(values)))
    monkeypatch.setenv("SHOP_DB_URL", f"sqlite:///{path}")
    config = parse_sources(
        {
            "start_date": "2026-08-03",
            "sources": [
                {
                    "name": "shop",
                    "kind": "sql",
                    "connection_env": "SHOP_DB_URL",
                    "tables": [
                        {"table": "orders", "keys": ["id"], "watermark": "placed_at", "timezone": "Europe/Berlin"}
                    ],
                }
            ],
        },
        tmp_path / "sources.yaml",
    )
    source = config.sources[0]
    asset = build_bronze_asset(source, source.tables[0])
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [asset],
            resources={"lake": LakeResource(url=str(maestro_home / "lake"))},
            instance=instance,
            tags=partition_range_tags("2026-09-01", "2026-09-02"),
        )
    metadata = result.asset_materializations_for_node(asset.op.name)[
        -1
    ].metadata  # the run-wide tables are on the last partition
    # Berlin is UTC+2 in September: 01:30 is 23:30 UTC of the day before, 02:00 is midnight UTC
    assert metadata["rows_per_partition"].value == {"2026-09-01": 1, "2026-09-02": 2}
