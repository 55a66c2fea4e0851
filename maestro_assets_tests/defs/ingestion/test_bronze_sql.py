"""Bronze SQL ingestion through Dagster: a 30-day range backfill in one run, on SQLite + the local
lake and on PostgreSQL + S3; re-runs replace partitions; snapshots; bad names."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa
from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, materialize

from maestro_assets.defs.ingestion.assets import build_bronze_asset
from maestro_assets.defs.runs import partition_range_tags
from maestro_assets.lib import demo
from maestro_assets.lib.errors import UnknownIdentifierError
from maestro_assets.lib.ingestion.bronze import PartitionedBronzeWriter
from maestro_assets.lib.ingestion.sources import SourceConfigError, TableSource, parse_sources
from maestro_assets.lib.ingestion.sql import rows_without_watermark, sql_batches
from maestro_assets.lib.lake import open_lake
from maestro_assets.lib.warehouse import Warehouse
from maestro_assets.resources import LakeResource

ROOT = Path(__file__).resolve().parents[3]
SCALE = 0.01
FIRST, LAST = "2026-08-10", "2026-09-08"  # 30 daily partitions


@pytest.fixture(params=["sqlite+local", "postgres+s3"])
def platform_env(request, maestro_home):
    """Environment of a user's shell: where the source DB and the lake are, seeded with demo data."""
    env = {k: v for k, v in os.environ.items()}
    env.update(MAESTRO_HOME=str(maestro_home), DAGSTER_HOME=str(maestro_home / "dagster"))
    if request.param == "postgres+s3":
        server = request.getfixturevalue("s3_credentials")
        env.update(
            MAESTRO_DEMO_SOURCE_URL=request.getfixturevalue("postgres_url"),
            MAESTRO_LAKE_URL=request.getfixturevalue("s3_lake_url"),
            AWS_ENDPOINT_URL=server["endpoint_url"],
            AWS_ACCESS_KEY_ID=os.environ["AWS_ACCESS_KEY_ID"],
            AWS_SECRET_ACCESS_KEY=os.environ["AWS_SECRET_ACCESS_KEY"],
            AWS_REGION="us-east-1",
        )
        source_url = env["MAESTRO_DEMO_SOURCE_URL"]
    else:
        source_url = f"sqlite:///{maestro_home / 'demo_source.db'}"
    data = demo.generate(scale=SCALE, seed=3)
    source = Warehouse(source_url)
    for table in ("task_events", "users"):
        source.write_frame(table, data.tables()[table])
    env["_lake"] = env.get("MAESTRO_LAKE_URL") or str(maestro_home / "lake")
    return env, data


def dagster_materialize(env: dict, select: str, *partition_args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in env.items() if not k.startswith("_")}
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "dagster"),
            "asset",
            "materialize",
            "-m",
            "maestro_assets.definitions",
            "--select",
            select,
            *partition_args,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def expected_rows_per_day(events: pd.DataFrame) -> dict[str, int]:
    days = pd.to_datetime(events["event_time"], utc=True).dt.strftime("%Y-%m-%d")
    counts = days.value_counts().to_dict()
    return {d.strftime("%Y-%m-%d"): counts.get(d.strftime("%Y-%m-%d"), 0) for d in pd.date_range(FIRST, LAST, freq="D")}


def test_thirty_day_backfill_is_one_run_with_every_partition(platform_env, monkeypatch):
    env, data = platform_env
    done = dagster_materialize(env, "bronze/demo_db/task_events", "--partition-range", f"{FIRST}...{LAST}")
    assert done.returncode == 0, done.stderr[-3000:]

    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
        if name in env:
            monkeypatch.setenv(name, env[name])
    lake = open_lake(env["_lake"], endpoint_url=env.get("AWS_ENDPOINT_URL"))
    expected = expected_rows_per_day(data.task_events)
    assert lake.partitions("bronze", "demo_db/task_events") == sorted(expected)
    for day, rows in expected.items():
        part = lake.read_partition("bronze", "demo_db/task_events", ("date", day))
        assert part.num_rows == rows, day
    assert sum(expected.values()) > 1000

    monkeypatch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])
    key = AssetKey(["bronze", "demo_db", "task_events"])
    with DagsterInstance.get() as instance:
        assert instance.get_materialized_partitions(key) == set(expected)
        assert len(instance.get_run_records()) == 1  # one run for the whole range
        event = instance.get_latest_materialization_event(key)
        metadata = event.asset_materialization.metadata
        assert metadata["records_written"].value == sum(expected.values())
        assert metadata["records_read"].value == sum(expected.values())
        assert metadata["records_failed"].value == 0
        assert metadata["bytes"].value > 0
        assert {"_ingested_at", "_source", "_batch_id"} <= {
            c.name for c in metadata["dagster/column_schema"].schema.columns
        }
        # each partition's materialization carries that day's row count, not the run's total
        for day, rows in expected.items():
            (record,) = instance.fetch_materializations(
                AssetRecordsFilter(asset_key=key, asset_partitions=[day]), limit=1
            ).records
            assert record.asset_materialization.metadata["dagster/row_count"].value == rows, day

    # a re-run of one day replaces that partition: no duplicated rows
    again = dagster_materialize(env, "bronze/demo_db/task_events", "--partition", FIRST)
    assert again.returncode == 0, again.stderr[-3000:]
    part = lake.read_partition("bronze", "demo_db/task_events", ("date", FIRST)).to_pandas()
    assert len(part) == expected[FIRST]
    assert part["event_id"].is_unique
    assert part["_source"].unique().tolist() == ["demo_db"]
    assert part["_batch_id"].nunique() == 1


def test_snapshot_table_is_replaced_whole(platform_env, monkeypatch):
    env, data = platform_env
    for _ in range(2):
        done = dagster_materialize(env, "bronze/demo_db/users")
        assert done.returncode == 0, done.stderr[-3000:]
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
        if name in env:
            monkeypatch.setenv(name, env[name])
    lake = open_lake(env["_lake"], endpoint_url=env.get("AWS_ENDPOINT_URL"))
    users = lake.read_table("bronze", "demo_db/users")
    assert len(users) == len(data.users)
    assert users["user_id"].tolist() == data.users["user_id"].tolist()


def test_extraction_query_uses_only_catalog_names(tmp_path):
    source = Warehouse(f"sqlite:///{tmp_path / 'src.db'}")
    source.write_frame("events", pd.DataFrame({"id": [1, 2], "at": pd.to_datetime(["2026-01-01", "2026-01-02"])}))
    spec = TableSource(source="s", kind="sql", table="missing_table", keys=("id",))
    with pytest.raises(UnknownIdentifierError, match="source 's'.*'missing_table' does not exist"):
        list(sql_batches(source, spec))
    spec = TableSource(source="s", kind="sql", table="events", keys=("nope",))
    with pytest.raises(UnknownIdentifierError, match="source 's'.*column 'nope'"):
        list(sql_batches(source, spec))
    renamed = TableSource(source="s", kind="sql", table="events", keys=("id",), columns={"at": "event_at"})
    batches = list(sql_batches(source, renamed))
    assert batches[0].column_names == ["id", "event_at"]


@pytest.mark.parametrize("table", ["users; DROP TABLE users", "../etc", 'users"x', "a\\b"])
def test_hostile_declared_table_name_is_refused(table):
    raw = {"sources": [{"name": "db", "kind": "sql", "connection_env": "DB_URL", "tables": [{"table": table}]}]}
    with pytest.raises(SourceConfigError, match=r"sources.yaml, source 'db', table .*: table .* is not allowed"):
        parse_sources(raw, Path("sources.yaml"))


def test_mixed_case_and_schema_qualified_tables_come_from_the_live_catalog(tmp_path):
    """`public.SeattleWeather` on PostgreSQL-style names and `SeattleWeather` on SQLite: found in the
    catalog, quoted by the dialect; a name that only looks like one (`users--`) is not in the catalog."""
    db = Warehouse(f"sqlite:///{tmp_path / 'src.db'}")
    with db.engine.begin() as conn:
        conn.execute(sa.text('CREATE TABLE "SeattleWeather" ("Date" TEXT, "TempMax" REAL)'))
        conn.execute(sa.text("INSERT INTO \"SeattleWeather\" VALUES ('2012-01-01', 12.8), ('2012-01-02', 10.6)"))
    raw = {
        "sources": [
            {
                "name": "db",
                "kind": "sql",
                "connection_env": "DB_URL",
                "tables": [
                    {"table": "SeattleWeather"},
                    {"table": "main.SeattleWeather", "name": "weather_main"},
                    {"table": "users--"},
                ],
            }
        ]
    }
    plain, qualified, lookalike = parse_sources(raw, Path("sources.yaml")).tables()
    assert (plain.table, plain.source_table, plain.db_schema) == ("seattle_weather", "SeattleWeather", None)
    assert (qualified.table, qualified.source_table, qualified.db_schema) == ("weather_main", "SeattleWeather", "main")
    for spec in (plain, qualified):
        rows = pa.concat_tables(list(sql_batches(db, spec)))
        assert rows.column_names == ["Date", "TempMax"] and rows.num_rows == 2
    with pytest.raises(UnknownIdentifierError, match="users--"):
        list(sql_batches(db, lookalike))


def test_prefetch_keeps_order_bounds_memory_and_raises_errors():
    import threading

    from maestro_assets.lib.ingestion.sql import prefetched

    produced = []
    gate = threading.Event()

    def source():
        for i in range(10):
            produced.append(i)
            yield i
        raise RuntimeError("connection lost")

    stream = prefetched(source(), depth=2)
    assert next(stream) == 0
    gate.wait(0.3)
    assert len(produced) <= 4  # one handed out, at most `depth` waiting, one in the producer's hand
    rest = []
    with pytest.raises(RuntimeError, match="connection lost"):
        for item in stream:
            rest.append(item)
    assert rest == list(range(1, 10))


def test_postgres_numeric_arrives_as_its_exact_text_and_sub_second_rows_find_their_day(postgres_url, tmp_path):
    """NUMERIC has no Arrow type that holds every value: bronze keeps PostgreSQL's own exact text
    (no float rounding, NaN kept); a watermark with microseconds routes to its day."""
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE prices (id int PRIMARY KEY, at timestamptz NOT NULL, "
            "amount numeric(38, 10), ratio numeric, score double precision)"
        )
        conn.exec_driver_sql("""INSERT INTO prices VALUES
            (1, '2026-03-01 23:59:59.999999+00', 12345678901234567890.0123456789, 0.1, 0.1),
            (2, '2026-03-02 00:00:00.000001+00', -0.0000000001, 'NaN', 2.5),
            (3, '2026-03-02 12:00:00.5+00', NULL, 1e-30, NULL)""")
        expected = dict(conn.exec_driver_sql("SELECT id, amount::text FROM prices").all())
        expected_ratio = dict(conn.exec_driver_sql("SELECT id, ratio::text FROM prices").all())
    engine.dispose()
    source = Warehouse(postgres_url)
    spec = TableSource(source="db", kind="sql", table="prices", keys=("id",), watermark="at")
    start, end = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC)
    batches = list(sql_batches(source, spec, start, end))
    rows = {row["id"]: row for batch in batches for row in batch.to_pylist()}
    assert {i: rows[i]["amount"] for i in rows} == expected
    assert {i: rows[i]["ratio"] for i in rows} == expected_ratio
    assert rows[1]["amount"] == "12345678901234567890.0123456789" and rows[2]["ratio"] == "NaN"
    assert rows[1]["score"] == 0.1  # floating point columns stay numbers

    lake = open_lake(str(tmp_path / "lake"))
    writer = PartitionedBronzeWriter(lake, "db", "prices", "at", start.date(), end.date(), batch_id="b")
    for batch in batches:
        writer.write(batch)
    assert writer.close().partitions == {"2026-03-01": 1, "2026-03-02": 2}


def shop_orders_source(maestro_home):
    """A SQL source `shop` (URL in SHOP_DB_URL) with one table `orders`, incremental by `placed_at`."""
    raw = {
        "start_date": "2026-08-01",
        "sources": [
            {
                "name": "shop",
                "kind": "sql",
                "connection_env": "SHOP_DB_URL",
                "tables": [{"table": "orders", "keys": ["id"], "watermark": "placed_at"}],
            }
        ],
    }
    return parse_sources(raw, maestro_home / "sources.yaml").sources[0]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_rows_with_a_null_watermark_are_reported_not_lost_silently(database, maestro_home, monkeypatch, request):
    url = (
        request.getfixturevalue("postgres_url") if database == "postgresql" else f"sqlite:///{maestro_home / 'src.db'}"
    )
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE orders (id integer PRIMARY KEY, placed_at timestamp, created timestamp NOT NULL)"
        )
        conn.exec_driver_sql(
            "INSERT INTO orders VALUES (1, '2026-09-01 10:00:00', '2026-09-01 10:00:00'), "
            "(2, NULL, '2026-09-01 11:00:00'), (3, NULL, '2026-09-02 09:00:00'), "
            "(4, '2026-09-02 12:30:00.250', '2026-09-02 12:30:00')"
        )
    engine.dispose()
    monkeypatch.setenv("SHOP_DB_URL", url)
    source = shop_orders_source(maestro_home)
    spec = source.tables[0]
    db = Warehouse(url)
    assert rows_without_watermark(db, spec) == 2
    assert (
        rows_without_watermark(
            db, TableSource(source="shop", kind="sql", table="orders", keys=("id",), watermark="created")
        )
        == 0
    )  # NOT NULL: not even counted

    asset = build_bronze_asset(source, spec)
    lake = LakeResource(url=str(maestro_home / "lake"))
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [asset],
            resources={"lake": lake},
            instance=instance,
            tags=partition_range_tags("2026-09-01", "2026-09-02"),
        )
    first, last = result.asset_materializations_for_node(asset.op.name)
    metadata = last.metadata  # the run's summary is on its last partition (the latest materialization)
    assert metadata["rows_per_partition"].value == {"2026-09-01": 1, "2026-09-02": 1}
    assert "rows_per_partition" not in first.metadata and "preview" not in first.metadata
    assert first.metadata["records_written"].value == 2 and first.metadata["dagster/row_count"].value == 1
    assert "2 row(s) of 'orders' have no 'placed_at' (NULL): they belong to no daily partition" in (
        metadata["errors"].value
    )


def test_prefetch_of_several_streams_yields_every_item_and_raises_the_first_error():
    from maestro_assets.lib.ingestion.sql import prefetched

    def numbers(first, count, fail=False):
        yield from range(first, first + count)
        if fail:
            raise RuntimeError("stream broke")

    assert sorted(prefetched(numbers(0, 50), numbers(100, 30), depth=2)) == [*range(50), *range(100, 130)]
    with pytest.raises(RuntimeError, match="stream broke"):
        list(prefetched(numbers(0, 5), numbers(100, 5, fail=True), depth=1))


def test_postgres_large_table_is_read_by_two_page_range_streams_in_one_snapshot(postgres_url, monkeypatch):
    """Every row of the window exactly once over two connections, each on its own pages; the
    watermark bounds still apply; a table under the threshold is one stream."""
    from maestro_assets.lib.ingestion import sql

    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE wide_events (id int PRIMARY KEY, at timestamptz NOT NULL, pad text)")
        conn.exec_driver_sql(
            "INSERT INTO wide_events SELECT i, timestamptz '2026-03-01 00:00+00' + i * interval '1 minute', "
            "repeat('x', 200) FROM generate_series(0, 5999) AS i"
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE wide_events")
    engine.dispose()
    source = Warehouse(postgres_url)
    spec = TableSource(source="db", kind="sql", table="wide_events", keys=("id",), watermark="at")
    start, end = datetime(2026, 3, 1, 1, tzinfo=UTC), datetime(2026, 3, 4, 12, tzinfo=UTC)
    expected = set(range(60, 60 * 84))

    ranges = sql.page_ranges(source, sql.table_of(source, spec), 2)
    assert ranges == [(None, None)]  # ~170 pages: under the threshold, one stream
    monkeypatch.setattr(sql, "PARALLEL_MIN_PAGES", 10)
    ranges = sql.page_ranges(source, sql.table_of(source, spec), 2)
    assert len(ranges) == 2 and ranges[0][0] is None and ranges[1][1] is None and ranges[0][1] == ranges[1][0]

    opened = []
    real = sql._parallel_adbc_batches
    monkeypatch.setattr(sql, "_parallel_adbc_batches", lambda *a: opened.append(a[-1]) or real(*a))
    ids = [i for batch in sql_batches(source, spec, start, end) for i in batch.column("id").to_pylist()]
    assert opened == [ranges]
    assert len(ids) == len(expected) and set(ids) == expected

    with engine.begin() as conn:  # a selective window the watermark's index serves: one index scan
        conn.exec_driver_sql("CREATE INDEX ON wide_events (at)")
    engine.dispose()
    opened.clear()
    narrow = list(sql_batches(source, spec, start, datetime(2026, 3, 1, 1, 30, tzinfo=UTC)))
    assert opened == [] and sum(batch.num_rows for batch in narrow) == 30
