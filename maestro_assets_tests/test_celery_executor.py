"""Distributed execution: a real Maestro job (the demo source system and two bronze tables of the
code location) run once with Maestro's executor set to Celery — steps on two workers started with
the command and environment of deploy/compose.yaml's celery-worker service (``celery -A
dagster_celery.app … worker -c 1``; x-maestro-env) over a Redis broker, events in the PostgreSQL
instance of deploy/dagster.yaml, the lake on the S3 server — and once with the default executor
into another lake prefix: both runs write the same tables, row for row."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from dagster import (
    DagsterEventType,
    DagsterInstance,
    Definitions,
    define_asset_job,
    execute_job,
    reconstructable,
)

from maestro_assets.defs.demo.assets import demo_source_system
from maestro_assets.defs.ingestion.assets import bronze_assets
from maestro_assets.defs.platform import executor as platform_executor
from maestro_assets.lib.compose import ComposeService, compose_services
from maestro_assets.lib.ingestion.bronze import META_COLUMNS
from maestro_assets.platform_topology import COMPOSE_FILE, DEPLOY
from maestro_assets.resources import LakeResource, build_resources
from maestro_assets_tests.conftest import S3_ACCESS_KEY, S3_SECRET_KEY, stop_process

ROOT = Path(__file__).resolve().parents[1]
BRONZE_TABLES = ("users", "teams")
WORKERS = ("maestro-w1", "maestro-w2")
ENV_BROKER, ENV_BACKEND = platform_executor.ENV_CELERY_BROKER, platform_executor.ENV_CELERY_BACKEND


def demo_to_bronze_job():
    """The code location's own assets, resources and executor, for a job of the demo source system and
    bronze tables (a module-level function: Celery workers rebuild the job from this module; the
    whole code location would cost every worker and the test the import of every domain)."""
    bronze = [a for a in bronze_assets() if a.key.path[1:] in (["demo_db", t] for t in BRONZE_TABLES)]
    assert len(bronze) == len(BRONZE_TABLES)
    defs = Definitions(
        assets=[demo_source_system, *bronze],
        jobs=[define_asset_job("demo_to_bronze")],
        resources=build_resources(),
        executor=platform_executor.maestro_executor,
    )
    return defs.resolve_job_def("demo_to_bronze")


def celery_worker_service(variables: dict[str, str]) -> ComposeService:
    """deploy/compose.yaml's celery-worker service with the test's servers as compose's variables."""
    return compose_services(COMPOSE_FILE, variables)["celery-worker"]


def worker_argv(worker: ComposeService, name: str) -> list[str]:
    """The compose command as it is (broker, backend, -c 1, prefetch 1), with three changes for the test:
    the venv's ``celery``; ``-I`` this module (as pytest imported it: the name the job's pointer has)
    instead of the whole code location, which every worker would import for seconds; a name per worker."""
    argv = list(worker.argv)
    assert argv[0] == "celery" and argv[argv.index("-I") + 1] == "maestro_assets.definitions"
    argv[0] = str(Path(sys.executable).parent / "celery")
    argv[argv.index("-I") + 1] = __name__
    return [*argv, "-n", f"{name}@%h", "--loglevel", "INFO"]


@pytest.fixture
def celery_platform(maestro_home, password_postgres, redis_server, s3_credentials, s3_bucket, monkeypatch):
    """Two Celery workers started as compose's celery-worker service: its command and its environment
    (x-maestro-env) with the test's servers given through compose's variables — the instance of
    deploy/dagster.yaml (DAGSTER_PG_*) on a PostgreSQL with a password, the demo source database
    there too, S3 and Redis. The test process gets the same environment."""
    for database in ("dagster", "warehouse", "demo_source"):  # dagster and warehouse: compose's names
        password_postgres.create_database(database)
    dagster_home = maestro_home / "dagster"
    shutil.copyfile(DEPLOY / "dagster.yaml", dagster_home / "dagster.yaml")  # as the Dockerfile does
    endpoint = urllib.parse.urlsplit(s3_credentials["endpoint_url"])
    redis_host, redis_port = redis_server.rsplit(":", 1)
    service = celery_worker_service(
        {
            "POSTGRES_HOST": password_postgres.host,
            "POSTGRES_PORT": str(password_postgres.port),
            "POSTGRES_USER": password_postgres.user,
            "POSTGRES_PASSWORD": password_postgres.password,
            "S3_HOST": endpoint.hostname,
            "S3_PORT": str(endpoint.port),
            "S3_ACCESS_KEY": S3_ACCESS_KEY,
            "S3_SECRET_KEY": S3_SECRET_KEY,
            "MAESTRO_BUCKET": s3_bucket,
            "REDIS_HOST": redis_host,
            "REDIS_PORT": redis_port,
            "DAGSTER_HOME": str(dagster_home),
            "MAESTRO_HOME": str(maestro_home),
            "MAESTRO_DEMO_SOURCE_URL": password_postgres.url("demo_source"),
        }
    )
    for name, value in service.environment.items():
        monkeypatch.setenv(name, value)
    broker, backend = service.environment[ENV_BROKER], service.environment[ENV_BACKEND]
    # the image's PATH (the venv first) and WORKDIR-relative imports; -I's test module needs its folder
    env = {
        **os.environ,
        **service.environment,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "/usr/bin:/bin")]),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(Path(__file__).parent)]),
    }
    logs = [open(maestro_home / f"{name}.log", "w") for name in WORKERS]  # noqa: SIM115 - closed below
    workers = [
        subprocess.Popen(worker_argv(service, name), env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        for name, log in zip(WORKERS, logs, strict=True)
    ]
    try:
        yield {
            "broker": broker,
            "backend": backend,
            "endpoint_url": s3_credentials["endpoint_url"],
            "bucket": s3_bucket,
            "home": maestro_home,
        }
    finally:
        for worker in workers:  # idle by now: a cold shutdown (SIGQUIT) ends them at once
            worker.send_signal(signal.SIGQUIT)
        for worker in workers:
            stop_process(worker)
        for log in logs:
            log.close()


def _run_config(lake_url: str, endpoint_url: str, execution: dict | None) -> dict:
    config = {
        "ops": {"demo_source_system": {"config": {"scale": 0.005, "seed": 11}}},
        "resources": {"lake": {"config": {"url": lake_url, "endpoint_url": endpoint_url}}},
    }
    return {**config, "execution": {"config": execution}} if execution else config


def _bronze(lake_url: str, endpoint_url: str) -> dict[str, list[dict]]:
    lake = LakeResource(url=lake_url, endpoint_url=endpoint_url).client()
    tables = {}
    for table in BRONZE_TABLES:
        keys = [o.key for o in lake.list(f"bronze/demo_db/{table}/") if o.key.endswith(".parquet")]
        assert keys, f"no bronze file for {table} under {lake_url}"
        frame = pq.read_table(io.BytesIO(lake.get(keys[0]))).to_pandas().drop(columns=list(META_COLUMNS))
        tables[table] = frame.sort_values(list(frame.columns[:1])).astype(str).to_dict("records")
    return tables


def test_a_job_on_celery_workers_writes_what_the_default_executor_writes(celery_platform):
    job = reconstructable(demo_to_bronze_job)
    endpoint, bucket = celery_platform["endpoint_url"], celery_platform["bucket"]
    celery_lake, default_lake = f"s3://{bucket}/celery", f"s3://{bucket}/default"
    celery_execution = {"celery": {"broker": celery_platform["broker"], "backend": celery_platform["backend"]}}

    with DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        with execute_job(job, instance, run_config=_run_config(celery_lake, endpoint, celery_execution)) as distributed:
            assert distributed.success, [e.message for e in distributed.all_events if e.is_failure]
            run_id = distributed.run_id
        with execute_job(job, instance, run_config=_run_config(default_lake, endpoint, None)) as local:
            assert local.success
            local_id = local.run_id

        # every step of the Celery run ran in a worker: the worker's own engine event names it
        delegated = {
            e.step_key: e.dagster_event.event_specific_data.metadata["Celery worker"].value
            for e in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT)
            if e.step_key and "Celery worker" in e.dagster_event.event_specific_data.metadata
        }
        steps = {e.step_key for e in instance.all_logs(run_id, of_type=DagsterEventType.STEP_SUCCESS)}
        assert steps == {"demo_source_system", *(f"bronze__demo_db__{t}" for t in BRONZE_TABLES)}
        assert set(delegated) == steps
        assert {host.split("@")[0] for host in delegated.values()} <= set(WORKERS)
        started = instance.all_logs(run_id, of_type=DagsterEventType.STEP_START)
        assert os.getpid() not in {e.dagster_event.pid for e in started}
        assert {e.dagster_event.pid for e in instance.all_logs(local_id, of_type=DagsterEventType.STEP_START)} == {
            os.getpid()
        }

    landed = [
        sorted(o.key for o in LakeResource(url=url, endpoint_url=endpoint).client().list("landing/"))
        for url in (celery_lake, default_lake)
    ]
    assert landed[0] == landed[1] and landed[0]  # the demo's landing files, written by a worker
    distributed_tables = _bronze(celery_lake, endpoint)
    assert distributed_tables == _bronze(default_lake, endpoint)
    assert all(len(rows) > 0 for rows in distributed_tables.values())


def test_the_environment_makes_celery_the_default_executor(monkeypatch):
    """How a deployment selects Celery for every run: MAESTRO_EXECUTOR=celery and the broker's URL."""
    from dagster._config import process_config

    from maestro_assets.lib.errors import ConfigurationError

    for name in (
        platform_executor.ENV_EXECUTOR,
        platform_executor.ENV_CELERY_BROKER,
        platform_executor.ENV_CELERY_BACKEND,
    ):
        monkeypatch.delenv(name, raising=False)
    assert platform_executor.default_executor_config() == platform_executor.IN_PROCESS  # unchanged default

    monkeypatch.setenv(platform_executor.ENV_EXECUTOR, "celery")
    with pytest.raises(ConfigurationError, match=platform_executor.ENV_CELERY_BROKER):
        platform_executor.default_executor_config()
    monkeypatch.setenv(platform_executor.ENV_CELERY_BROKER, "redis://broker.maestro.svc:6379/0")
    monkeypatch.setenv(platform_executor.ENV_CELERY_BACKEND, "redis://broker.maestro.svc:6379/1")
    resolved = process_config(platform_executor.EXECUTOR_CONFIG, platform_executor.default_executor_config())
    assert resolved.success, resolved.errors
    assert resolved.value["celery"]["broker"] == "redis://broker.maestro.svc:6379/0"
    assert resolved.value["celery"]["backend"] == "redis://broker.maestro.svc:6379/1"

    monkeypatch.setenv(platform_executor.ENV_EXECUTOR, "kubernetes")
    with pytest.raises(ConfigurationError, match="in_process, multiprocess, celery"):
        platform_executor.default_executor_config()
