"""A new user's own data through `maestro`: check every declared source, then materialize a
partition range through the instance in DAGSTER_HOME, where the UI sees the run."""

from __future__ import annotations

import os
import sqlite3
import subprocess

import pytest
import yaml
from dagster import AssetKey, DagsterInstance

from maestro_assets_tests.test_cli import run_maestro

DAYS = ["2012-01-01", "2012-01-02", "2012-01-03", "2012-01-04"]


@pytest.fixture
def own_data(maestro_home, tmp_path):
    """A SQLite database the way `pandas.to_sql` writes one (text timestamps), and a sources file."""
    database = tmp_path / "weather.db"
    with sqlite3.connect(database) as conn:
        conn.execute('CREATE TABLE "SeattleWeather" ("date" TEXT, "precipitation" REAL, "weather" TEXT)')
        conn.executemany(
            'INSERT INTO "SeattleWeather" VALUES (?, ?, ?)',
            [(f"{day} 00:00:00", 0.5 * n, "rain") for n, day in enumerate(DAYS)],
        )
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        yaml.safe_dump(
            {
                "start_date": DAYS[0],
                "sources": [
                    {
                        "name": "weather_db",
                        "kind": "sql",
                        "connection_env": "WEATHER_DB_URL",
                        "tables": [{"table": "SeattleWeather", "keys": ["date"], "watermark": "date"}],
                    },
                    {
                        "name": "drops",
                        "kind": "files",
                        "tables": [{"table": "readings", "prefix": "landing/readings/", "format": "csv"}],
                    },
                ],
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env.update(MAESTRO_HOME=str(maestro_home), MAESTRO_SOURCES=str(sources), WEATHER_DB_URL=f"sqlite:///{database}")
    return env, database


def test_check_names_every_declared_source_and_what_is_wrong(own_data, tmp_path):
    env, database = own_data
    done = run_maestro("check", env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "weather_db/seattle_weather" in done.stdout and "table 'SeattleWeather'" in done.stdout
    assert "drops/readings" in done.stdout and "no objects yet" in done.stdout

    unset = run_maestro("check", env={k: v for k, v in env.items() if k != "WEATHER_DB_URL"}, timeout=300)
    assert unset.returncode == 1 and "environment variable WEATHER_DB_URL is not set" in unset.stderr

    missing_file = run_maestro("check", env=dict(env, WEATHER_DB_URL=f"sqlite:///{tmp_path / 'typo.db'}"), timeout=300)
    assert missing_file.returncode == 2
    assert "WEATHER_DB_URL: the SQLite database" in missing_file.stderr and "does not exist" in missing_file.stderr
    assert not (tmp_path / "typo.db").exists()  # checking a source never creates it

    with sqlite3.connect(database) as conn:
        conn.execute('ALTER TABLE "SeattleWeather" RENAME TO "weather_2012"')
    gone = run_maestro("check", env=env, timeout=300)
    assert gone.returncode == 1
    assert "source 'weather_db' (WEATHER_DB_URL)" in gone.stderr and "SeattleWeather" in gone.stderr
    assert "Traceback" not in gone.stdout + gone.stderr


def test_materialize_a_range_through_the_instance_the_ui_reads(own_data, maestro_home):
    env, _ = own_data
    done = run_maestro(
        "materialize",
        "--select",
        "key:bronze/weather_db/seattle_weather",
        "--from",
        DAYS[0],
        "--to",
        DAYS[-1],
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "succeeded" in done.stdout and f"for {DAYS[0]}..{DAYS[-1]}" in done.stdout
    os.environ["DAGSTER_HOME"] = str(maestro_home / "dagster")
    try:
        with DagsterInstance.get() as instance:
            key = AssetKey(["bronze", "weather_db", "seattle_weather"])
            assert instance.get_materialized_partitions(key) == set(DAYS)
            assert len(instance.get_run_records()) == 1  # the range in one run, in the UI's instance
    finally:
        os.environ.pop("DAGSTER_HOME")

    for args, message in [
        (("--select", "key:bronze/weather_db/seattle_weather"), "is partitioned: give --partition D"),
        (("--select", "key:nope/nothing", "--partition", DAYS[0]), "selects no asset"),
        (("--select", "key:bronze/weather_db/seattle_weather", "--from", DAYS[1], "--to", DAYS[0]), "is before"),
        (("--select", "key:bronze/weather_db/seattle_weather", "--partition", "2012-02-30"), "is not a day"),
    ]:
        bad = run_maestro("materialize", *args, env=env, timeout=300)
        assert bad.returncode == 1 and message in bad.stderr, bad.stderr


def test_an_unwritable_home_names_the_variable(own_data, tmp_path):
    env, _ = own_data
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    done = run_maestro("check", env=dict(env, MAESTRO_HOME=str(blocker / "home")), timeout=300)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "MAESTRO_HOME: cannot write to" in done.stderr
    assert "Traceback" not in done.stderr


def test_postgres_and_s3_sources_from_check_to_silver(maestro_home, tmp_path, postgres_url, s3_bucket, s3_credentials):
    """The README's five steps with production stores: a PostgreSQL table named `public.Orders` and CSV
    files landing in an S3 lake, checked by `maestro check`, then bronze and silver by `maestro materialize`."""
    import boto3
    import sqlalchemy as sa

    from maestro_assets.lib.lake import open_lake

    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text('CREATE TABLE public."Orders" (order_id int, placed_at timestamptz, amount numeric(8,2))'))
        conn.execute(
            sa.text('INSERT INTO public."Orders" VALUES (:id, :at, :amount)'),
            [
                {"id": n, "at": f"{DAYS[n % 2]} {n:02d}:30:00+00", "amount": -5 if n == 3 else 10.25 * n}
                for n in range(1, 7)
            ],
        )
    engine.dispose()
    endpoint = s3_credentials["endpoint_url"]
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    for day, body in [(DAYS[0], "return_id,reason\n1,damaged\n2,late\n"), (DAYS[1], "return_id,reason\n3,late\n")]:
        s3.put_object(Bucket=s3_bucket, Key=f"lake/landing/returns/date={day}/returns.csv", Body=body.encode())

    sources, rules = tmp_path / "sources.yaml", tmp_path / "rules.yaml"
    sources.write_text(
        yaml.safe_dump(
            {
                "start_date": DAYS[0],
                "end_date": DAYS[2],
                "sources": [
                    {
                        "name": "shop",
                        "kind": "sql",
                        "connection_env": "SHOP_DB_URL",
                        "tables": [{"table": "public.Orders", "keys": ["order_id"], "watermark": "placed_at"}],
                    },
                    {
                        "name": "drops",
                        "kind": "files",
                        "tables": [{"table": "returns", "prefix": "landing/returns/", "format": "csv"}],
                    },
                ],
            }
        )
    )
    rules.write_text(
        yaml.safe_dump(
            {
                "tables": {
                    "shop/orders": {
                        "keys": ["order_id"],
                        "columns": {
                            "order_id": {"dtype": "int64", "nullable": False},
                            "placed_at": {"dtype": "datetime64[ns, UTC]", "nullable": False},
                            "amount": {"dtype": "float64", "nullable": True},
                        },
                        "checks": [{"kind": "range", "column": "amount", "min": 0, "severity": "ERROR"}],
                    },
                    "drops/returns": {
                        "keys": ["return_id"],
                        "columns": {
                            "return_id": {"dtype": "int64", "nullable": False},
                            "reason": {"dtype": "string", "nullable": False},
                        },
                        "checks": [
                            {
                                "kind": "categorical",
                                "column": "reason",
                                "allowed": ["damaged", "late"],
                                "severity": "ERROR",
                            }
                        ],
                    },
                }
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env.update(
        MAESTRO_HOME=str(maestro_home),
        MAESTRO_SOURCES=str(sources),
        MAESTRO_QUALITY_RULES=str(rules),
        MAESTRO_LAKE_URL=f"s3://{s3_bucket}/lake",
        AWS_ENDPOINT_URL=endpoint,
        SHOP_DB_URL=postgres_url,
    )

    check = run_maestro("check", env=env, timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "shop/orders" in check.stdout and "table 'public.Orders'" in check.stdout, check.stdout
    assert f"s3://{s3_bucket}/lake/landing/returns/ (csv, 2 object(s))" in check.stdout, check.stdout
    password = sa.engine.make_url(postgres_url).password
    assert not password or password not in check.stdout + check.stderr

    def materialize(selection: str) -> subprocess.CompletedProcess:
        return run_maestro(
            "materialize", "--select", selection, "--from", DAYS[0], "--to", DAYS[1], env=env, timeout=600
        )

    orders_run = materialize("key:bronze/shop/orders+")  # order 3's amount of -5 fails the blocking range check
    assert orders_run.returncode == 1, orders_run.stdout + orders_run.stderr
    assert "range__amount" in orders_run.stderr and "Traceback" not in orders_run.stderr, orders_run.stderr
    returns_run = materialize("key:bronze/drops/returns+")
    assert returns_run.returncode == 0, returns_run.stdout + returns_run.stderr

    lake = open_lake(f"s3://{s3_bucket}/lake", endpoint_url=endpoint)
    orders = lake.read_table("silver", "shop/orders", "date", DAYS[:2]).sort_values("order_id")
    assert orders["order_id"].tolist() == [1, 2, 4, 5, 6]  # order 3 (amount -5) fails the range check
    assert orders["amount"].tolist() == [10.25, 20.5, 41.0, 51.25, 61.5]
    quarantined = lake.read_table("quarantine", "shop/orders", "date", [DAYS[1]])
    assert quarantined["order_id"].astype(str).tolist() == ["3"]
    returns = lake.read_table("silver", "drops/returns", "date", DAYS[:2]).sort_values("return_id")
    assert returns.to_dict("list")["reason"] == ["damaged", "late", "late"]
