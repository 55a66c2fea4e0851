"""lib/compose.py reads a compose file as docker compose does (deploy/compose.yaml the example)."""

from __future__ import annotations

import shlex

import pytest

from maestro_assets.lib.compose import compose_services, interpolate
from maestro_assets.lib.errors import ConfigurationError
from maestro_assets.platform_topology import COMPOSE_FILE

REQUIRED = {"POSTGRES_PASSWORD": "pw", "S3_ACCESS_KEY": "ak", "S3_SECRET_KEY": "sk"}


def test_interpolation_follows_compose_rules():
    env = {"SET": "x", "EMPTY": ""}
    assert interpolate("${SET:-d} ${UNSET:-d} ${EMPTY:-d} ${EMPTY-d} ${UNSET-d}", env) == "x d d  d"
    assert interpolate("$SET/${SET}/${UNSET}/$$SET/${UNSET:-${SET}}", env) == "x/x//$SET/x"
    assert interpolate("${SET:?needed}", env) == "x"
    with pytest.raises(ConfigurationError, match=r"EMPTY: set me"):
        interpolate("${EMPTY:?set me}", env)
    assert interpolate("${EMPTY?set me}", env) == ""  # without the colon only unset is an error


def test_deploy_compose_file_resolves_anchor_and_commands():
    services = compose_services(COMPOSE_FILE, {**REQUIRED, "POSTGRES_HOST": "db", "BIND_HOST": "127.0.0.1"})
    assert set(services) == {
        "postgres",
        "s3",
        "redis",
        "mlflow",
        "code-server",
        "webserver",
        "daemon",
        "metrics-exporter",
        "celery-worker",
    }
    assert {name for name, service in services.items() if service.profiles} == {"celery-worker"}
    assert services["celery-worker"].profiles == ["celery"]  # opt-in: `docker compose --profile celery up`
    daemon, code = services["daemon"].environment, services["code-server"].environment
    assert daemon == code == services["mlflow"].environment  # one x-maestro-env for all of them
    assert daemon["DAGSTER_PG_HOST"] == "db" and daemon["DAGSTER_PG_PASSWORD"] == "pw"
    assert daemon["MAESTRO_WAREHOUSE_URL"] == "postgresql+psycopg2://maestro:pw@db:5432/warehouse"
    assert services["daemon"].argv == ["dagster-daemon", "run", "-w", "deploy/workspace.yaml"]
    assert services["code-server"].argv[:5] == ["dagster", "code-server", "start", "-h", "127.0.0.1"]
    # `sh -c` gets the whole script as one argument (a split string would run `mkdir` alone)
    sh, flag, script = services["s3"].argv
    assert (sh, flag) == ("/bin/sh", "-c")
    assert "exec rclone serve s3" in script and "--auth-key ak,sk" in script
    assert shlex.split(script)[shlex.split(script).index("--vfs-cache-mode") + 1] == "off"
    # every long-running service comes back after a crash, as platform_topology's supervisor does
    assert {name: s.restart for name, s in services.items()} == dict.fromkeys(services, "unless-stopped")


def test_a_missing_password_is_named():
    with pytest.raises(ConfigurationError, match="POSTGRES_PASSWORD: set POSTGRES_PASSWORD"):
        compose_services(COMPOSE_FILE, {"S3_ACCESS_KEY": "ak", "S3_SECRET_KEY": "sk"})


def test_redis_serves_feast_and_celery_and_the_default_executor_stays_in_process():
    services = compose_services(COMPOSE_FILE, {**REQUIRED, "REDIS_HOST": "cache", "REDIS_PORT": "6390"})
    assert services["redis"].argv[:5] == ["redis-server", "--bind", "0.0.0.0", "--port", "6390"]
    code = services["code-server"].environment
    assert code["MAESTRO_FEAST_REDIS"] == "cache:6390"  # deploy/feature_store.yaml's online store
    assert code["MAESTRO_FEAST_REGISTRY_URL"] == "postgresql+psycopg://maestro:pw@postgres:5432/feast"
    assert "CREATE DATABASE feast;" in (COMPOSE_FILE.parent / "postgres-init.sql").read_text()
    assert code["MAESTRO_EXECUTOR"] == "in_process"
    assert code["MAESTRO_CELERY_BROKER_URL"] == "redis://cache:6390/1"
    assert code["MAESTRO_CELERY_BACKEND_URL"] == "redis://cache:6390/2"
    opted_in = compose_services(COMPOSE_FILE, {**REQUIRED, "MAESTRO_EXECUTOR": "celery"})
    assert opted_in["code-server"].environment["MAESTRO_EXECUTOR"] == "celery"


def test_the_celery_worker_runs_the_readme_command_with_the_code_servers_environment():
    """The worker command of README.md ("Distributed execution"), with the URLs the code server has."""
    services = compose_services(COMPOSE_FILE, REQUIRED)
    worker, code = services["celery-worker"], services["code-server"]
    assert worker.environment == code.environment
    readme = (COMPOSE_FILE.parents[1] / "README.md").read_text()
    start = readme.index("celery -A dagster_celery.app")
    command = readme[start : readme.index("\n\n", start)].replace("\\\n", " ")
    expected = [interpolate(word, worker.environment) for word in shlex.split(command)]
    assert worker.argv == expected
