"""A new user's own data through `maestro`: check every declared source, then materialize a
partition range through the instance in DAGSTER_HOME, where the UI sees the run."""

from __future__ import annotations

import os
import sqlite3

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
