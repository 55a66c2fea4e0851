"""deploy/compose.yaml as written, run as native processes: PostgreSQL (with a password), the S3
server, MLflow, the code server, the webserver and the daemon, each with its compose command and
environment (``maestro_assets/platform_topology.py``), driven through the webserver's GraphQL API
as a user or an operator would: seed the demo, backfill a week, a schedule and the landing sensor
fired by the daemon, and 20 runs submitted at once within the instance's concurrency limit."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import sys
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
import yaml

from maestro_assets.defs.demo.assets import CI_KEY, DEMO_TABLE_KEYS, GIT_KEY, LANDING_KEY
from maestro_assets.defs.failures import RETRY
from maestro_assets.lib.compose import compose_services
from maestro_assets.lib.lake import PARTITION_FILE, partition_prefix
from maestro_assets.lib.quality.silver import QUARANTINE_LAYER
from maestro_assets.platform_topology import BUCKET as BUCKET_NAME
from maestro_assets.platform_topology import (
    COMPOSE_FILE,
    DEPLOY,
    MAESTRO_LOCATION,
    S3_SECRET_KEY,
    Topology,
    TopologyError,
    most_at_once,
)

ROOT = Path(__file__).resolve().parents[1]
EXTRA_LOCATION_FILE = Path(__file__).with_name("topology_extra_location.py")
EXTRA = "topology_extra"  # LOCATION_NAME of topology_extra_location.py
BACKFILL_DAYS = [(date(2026, 10, 1) + timedelta(days=n)).isoformat() for n in range(7)]
BRONZE = ["bronze", "demo_db", "task_events"]
SILVER = ["silver", "demo_db", "task_events"]
DEMO_KEYS = [key.path for key in (*DEMO_TABLE_KEYS.values(), LANDING_KEY, GIT_KEY, CI_KEY)]  # one multi-asset
DEMO_SEED_CONFIG = {"demo_source_system": {"config": {"scale": 0.01}}}
LANDING_PREFIXES = ("lake/landing/task_events/", "lake/landing/ci_runs/", "lake/landing/deployments/")
MAX_CONCURRENT_RUNS = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())["concurrency"]["runs"][
    "max_concurrent_runs"
]


@pytest.fixture(scope="module")
def topology(password_postgres, tmp_path_factory):
    extra = {
        "python_file": {
            "relative_path": str(EXTRA_LOCATION_FILE),
            "location_name": EXTRA,
            "working_directory": str(ROOT),
        }
    }
    with Topology(tmp_path_factory.mktemp("topology"), password_postgres, [extra]) as running:
        yield running


@pytest.fixture
def topo(topology, request):
    """The module's topology; on a failed test, the end of every process's log is printed."""
    failed = request.session.testsfailed
    yield topology
    if request.session.testsfailed > failed:
        print(topology.log_tails(60))


def s3_client(topo):
    import boto3

    env = topo.aws_environment()
    return boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_REGION"],
    )


def test_each_service_runs_its_compose_command_and_environment(topo, password_postgres):
    services = compose_services(COMPOSE_FILE, topo.variables())
    for name, process in topo.processes.items():
        assert process.poll() is None, f"{name} exited"
        assert process.args == services[name].argv
        if name == "redis":  # redis-server writes its process title over its environment block (no environment:)
            continue
        environ = dict(
            item.split("=", 1) for item in Path(f"/proc/{process.pid}/environ").read_text().split("\0") if "=" in item
        )
        assert services[name].environment.items() <= environ.items(), name
        assert environ["PATH"].split(":")[0] == str(Path(sys.executable).parent)  # the venv first
    daemon_env = topo.services["daemon"].environment
    assert daemon_env["DAGSTER_PG_PASSWORD"] == password_postgres.password  # x-maestro-env's anchor resolved
    assert daemon_env["MAESTRO_WAREHOUSE_URL"] == password_postgres.url("warehouse")
    assert (topo.dagster_home / "dagster.yaml").read_text() == (DEPLOY / "dagster.yaml").read_text()
    # MLflow's server answers, its tracking store in the `mlflow` database postgres-init.sql creates
    with urllib.request.urlopen(f"http://127.0.0.1:{topo.ports['mlflow']}/health", timeout=30) as response:
        assert response.read() == b"OK"
    engine = sa.create_engine(password_postgres.url("mlflow"))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM experiments")).scalar_one() >= 1  # MLflow's Default
    engine.dispose()
    # the S3 service's `sh -c` script ran whole: the bucket folder made by `mkdir -p` is served
    assert BUCKET_NAME in {b["Name"] for b in s3_client(topo).list_buckets()["Buckets"]}


def test_seed_backfill_schedule_and_sensor_through_the_daemon(topo, password_postgres):
    # the every-minute schedule first: its tick comes while the rest runs
    assert topo.switch("schedule", "every_minute_tick", EXTRA, on=True) == "RUNNING"

    seed = topo.launch_run(
        "__ASSET_JOB",
        asset_selection=DEMO_KEYS,
        run_config={"ops": DEMO_SEED_CONFIG},
    )
    [seeded] = topo.wait_for_runs({"runIds": [seed]}, 1, timeout=120)
    assert seeded["status"] == "SUCCESS"

    # the seed's own landing files go, so that the sensor's run is the one for the file dropped below
    s3 = s3_client(topo)
    landed = [
        o["Key"] for p in LANDING_PREFIXES for o in s3.list_objects_v2(Bucket=BUCKET_NAME, Prefix=p).get("Contents", [])
    ]
    dropped_key = sorted(k for k in landed if k.endswith("/task_events.csv"))[0]
    dropped_csv = s3.get_object(Bucket=BUCKET_NAME, Key=dropped_key)["Body"].read()
    for key in landed:
        s3.delete_object(Bucket=BUCKET_NAME, Key=key)
    assert topo.switch("sensor", "landing_files_sensor", "maestro", on=True) == "RUNNING"
    s3.put_object(Bucket=BUCKET_NAME, Key=dropped_key, Body=dropped_csv)
    dropped_day = dropped_key.split("date=")[1].split("/")[0]

    backfill = topo.graphql(
        "mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) { __typename"
        " ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }",
        {"p": {"partitionNames": BACKFILL_DAYS, "assetSelection": [{"path": BRONZE}, {"path": SILVER}]}},
    )["launchPartitionBackfill"]
    assert backfill["__typename"] == "LaunchBackfillSuccess", backfill
    backfill_runs = topo.wait_for_runs(
        {"tags": [{"key": "dagster/backfill", "value": backfill["backfillId"]}]}, 1, timeout=150
    )
    assert [r["status"] for r in backfill_runs] == ["SUCCESS"] * len(backfill_runs)
    for key in (BRONZE, SILVER):
        node = topo.graphql(
            "query($k: AssetKeyInput!) { assetNodeOrError(assetKey: $k) { ... on AssetNode {"
            " partitionStats { numMaterialized } } } }",
            {"k": {"path": key}},
        )["assetNodeOrError"]
        assert node["partitionStats"]["numMaterialized"] == 7, key
        events = topo.graphql(
            "query($k: AssetKeyInput!, $p: [String!]) { assetOrError(assetKey: $k) { ... on Asset {"
            " assetMaterializations(partitions: $p) { partition } } } }",
            {"k": {"path": key}, "p": BACKFILL_DAYS},
        )["assetOrError"]["assetMaterializations"]
        assert {e["partition"] for e in events} == set(BACKFILL_DAYS), key

    [scheduled] = topo.wait_for_runs(
        {"tags": [{"key": "dagster/schedule_name", "value": "every_minute_tick"}]}, 1, timeout=90
    )[-1:]
    assert scheduled["status"] == "SUCCESS" and scheduled["jobName"] == "tick_job"
    assert topo.switch("schedule", "every_minute_tick", EXTRA, on=False) == "STOPPED"

    sensed = topo.wait_for_runs({"tags": [{"key": "dagster/sensor_name", "value": "landing_files_sensor"}]}, 1, 90)
    assert topo.switch("sensor", "landing_files_sensor", "maestro", on=False) == "STOPPED"
    assert [(r["tags"]["dagster/partition"], r["status"]) for r in sensed] == [(dropped_day, "SUCCESS")]

    # runs, their events and the daemon's ticks are in PostgreSQL (the dagster database)
    engine = sa.create_engine(password_postgres.url("dagster"))
    with engine.connect() as conn:
        run_ids = set(conn.execute(sa.text("SELECT run_id FROM runs")).scalars())
        assert {seed, scheduled["runId"], sensed[0]["runId"], *(r["runId"] for r in backfill_runs)} <= run_ids
        events = conn.execute(
            sa.text(
                "SELECT count(*) FROM event_logs WHERE run_id = :r AND dagster_event_type = 'ASSET_MATERIALIZATION'"
            ),
            {"r": backfill_runs[0]["runId"]},
        ).scalar_one()
        assert events == 14  # 7 days x (bronze, silver)
        ticks = dict(conn.execute(sa.text("SELECT type, count(*) FROM job_ticks GROUP BY type")).all())
        assert ticks.get("SCHEDULE", 0) >= 1 and ticks.get("SENSOR", 0) >= 1, ticks
    engine.dispose()


def test_twenty_runs_at_once_never_more_than_the_limit(topo):
    submitted = [
        topo.launch_run(
            "short_job", location=EXTRA, run_config={"ops": {"sleep_briefly": {"config": {"seconds": 1.0}}}}
        )
        for _ in range(20)
    ]
    assert len(set(submitted)) == 20
    runs = topo.wait_for_runs({"runIds": submitted}, 20, timeout=300)
    assert sorted(r["runId"] for r in runs) == sorted(submitted)  # none lost
    assert [r["status"] for r in runs] == ["SUCCESS"] * 20
    assert all(r["startTime"] >= r["creationTime"] for r in runs)
    everything = topo.runs()  # the limit is the instance's: every run of the module counts
    peak = most_at_once(everything)
    assert 1 < peak <= MAX_CONCURRENT_RUNS, peak
    locked = [p.name for p in topo.log_files() if "database is locked" in p.read_text(errors="replace")]
    assert locked == []


# -- faults: a run process killed, S3 down, PostgreSQL restarted, the code server killed -------
FAULT_DAYS = {"sigkill": "2026-10-10", "s3": "2026-10-11", "postgres": "2026-10-12", "code-server": "2026-10-13"}
TABLE = "task_events"
LAKE_TABLE = f"demo_db/{TABLE}"  # bronze/, silver/ and quarantine/ alike


@pytest.fixture(scope="module")
def events_db(password_postgres):
    """The dagster database (runs, event_logs, ticks) as SQL, a fresh connection each time (it restarts)."""
    engine = sa.create_engine(password_postgres.url("dagster"), poolclass=sa.pool.NullPool)
    yield engine
    engine.dispose()


@pytest.fixture
def seeded(topo):
    """The demo source system: seeded by test_seed_backfill_schedule_and_sensor_through_the_daemon, or here."""
    if not (topo.maestro_home / "demo_source.db").exists():
        run = topo.launch_run("__ASSET_JOB", asset_selection=DEMO_KEYS, run_config={"ops": DEMO_SEED_CONFIG})
        assert topo.wait_for_runs({"runIds": [run]}, 1, timeout=180)[0]["status"] == "SUCCESS"
    return topo


def ingest(topo, day: str) -> str:
    """One run of bronze + silver of the demo's task events for ``day``, as the UI's materialize does."""
    return topo.launch_run("__ASSET_JOB", asset_selection=[BRONZE, SILVER], tags={"dagster/partition": day})


def events(engine, run_id: str, event_type: str | None = None) -> list:
    """The run's event log entries (dagster's own records), oldest first."""
    from dagster._serdes import deserialize_value

    query = "SELECT event FROM event_logs WHERE run_id = :r" + (" AND dagster_event_type = :t" if event_type else "")
    with engine.connect() as conn:
        rows = conn.execute(sa.text(query + " ORDER BY id"), {"r": run_id, "t": event_type}).scalars().all()
    return [deserialize_value(row) for row in rows]


def wait_until(what: str, value, timeout: float, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = value()
        except sa.exc.OperationalError:  # PostgreSQL restarting
            found = None
        if found:
            return found
        time.sleep(interval)
    raise AssertionError(f"{what}: not after {timeout:g}s")


def run_pid_once_a_step_started(engine, run_id: str) -> int | None:
    """The pid of the run's process (in process executor: the steps run in it) once its first step began."""
    started = events(engine, run_id, "STEP_START")
    return started[0].dagster_event.pid if started else None


def lake_frame(topo, layer: str, table: str, day: str):
    key = f"lake/{partition_prefix(layer, table, ('date', day))}/{PARTITION_FILE}"
    try:
        body = s3_client(topo).get_object(Bucket=BUCKET_NAME, Key=key)["Body"].read()
    except s3_client(topo).exceptions.NoSuchKey:
        return None
    return pq.read_table(io.BytesIO(body)).to_pandas()


def assert_nothing_lost(topo, day: str) -> int:
    """Bronze and silver (+ quarantine) of ``day`` hold every source row of the day exactly once."""
    with sqlite3.connect(topo.maestro_home / "demo_source.db") as conn:
        source = pd.read_sql(f"SELECT event_id, event_time FROM {TABLE}", conn)
    times = pd.to_datetime(source["event_time"], utc=True)
    start = pd.Timestamp(day, tz="UTC")
    expected = set(source.loc[(times >= start) & (times < start + pd.Timedelta(days=1)), "event_id"])
    assert expected, f"the demo has no {TABLE} on {day}"
    bronze = lake_frame(topo, "bronze", LAKE_TABLE, day)
    assert len(bronze) == len(expected) and set(bronze["event_id"]) == expected  # no row twice, none missing
    kept = [
        f for f in (lake_frame(topo, layer, LAKE_TABLE, day) for layer in ("silver", QUARANTINE_LAYER)) if f is not None
    ]
    ids = [str(i) for f in kept for i in f["event_id"]]
    assert len(ids) == len(expected) and set(ids) == {str(i) for i in expected}
    return len(expected)


def test_a_run_process_killed_mid_materialization_fails_and_its_retry_writes_each_row_once(seeded, events_db):
    topo, day = seeded, FAULT_DAYS["sigkill"]
    run_id = ingest(topo, day)
    pid = wait_until("a step of the run started", lambda: run_pid_once_a_step_started(events_db, run_id), 120, 0.05)
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    [killed] = topo.wait_for_runs({"runIds": [run_id]}, 1, timeout=60)
    marked_after = time.monotonic() - killed_at
    assert killed["status"] == "FAILURE"
    explained = [e.dagster_event.message for e in events(events_db, run_id, "ENGINE_EVENT")]
    crash = f"[DagsterApiServer] Run execution process for {run_id} was terminated by signal 9 (SIGKILL)."
    assert any(message.startswith(crash) for message in explained), explained  # the code server noticed
    done = {tuple(e.dagster_event.asset_key.path) for e in events(events_db, run_id, "ASSET_MATERIALIZATION")}
    assert tuple(SILVER) not in done  # killed mid-way: the run had not finished
    # run_retries (deploy/dagster.yaml, max_retries 1) re-executes it from the failure
    [retry] = topo.wait_for_runs({"tags": [{"key": "dagster/parent_run_id", "value": run_id}]}, 1, timeout=120)
    assert retry["status"] == "SUCCESS" and retry["tags"]["dagster/retry_number"] == "1", retry
    rows = assert_nothing_lost(topo, day)
    done_after = time.monotonic() - killed_at
    print(f"SIGKILL: failed {marked_after:.1f}s after the kill, retry done {done_after:.1f}s after, {rows} rows")


def test_s3_down_is_retried_then_fails_clearly_and_a_later_run_succeeds(seeded, events_db):
    topo, day = seeded, FAULT_DAYS["s3"]
    endpoint = topo.aws_environment()["AWS_ENDPOINT_URL"]
    topo.stop_service("s3")
    try:
        run_id = ingest(topo, day)
        [failed] = topo.wait_for_runs({"runIds": [run_id]}, 1, timeout=150)
    finally:
        topo.start_service("s3")
    assert failed["status"] == "FAILURE"
    retried = events(events_db, run_id, "STEP_UP_FOR_RETRY")
    assert len(retried) == RETRY.max_retries, [e.user_message for e in retried]
    [failure] = events(events_db, run_id, "STEP_FAILURE")
    error = failure.dagster_event.step_failure_data.error
    text = error.to_string()
    assert endpoint in text and "S3" in error.message, error.message
    assert S3_SECRET_KEY not in text
    print(f"S3 down: {len(retried)} retries, then: {error.message.strip()[:160]}")
    rerun = ingest(topo, day)
    assert topo.wait_for_runs({"runIds": [rerun]}, 1, timeout=120)[0]["status"] == "SUCCESS"
    assert_nothing_lost(topo, day)


def test_postgres_restarted_mid_run_is_survived(seeded, events_db, password_postgres):
    topo, day = seeded, FAULT_DAYS["postgres"]
    run_id = ingest(topo, day)
    wait_until("a step of the run started", lambda: events(events_db, run_id, "STEP_START"), 120, 0.05)
    password_postgres.restart()
    # dagster-webserver holds pooled connections (one pool per storage engine) without a pre-ping: the
    # first request on each engine after the restart fails ("server closed the connection"), SQLAlchemy
    # then recycles that pool and the next request reconnects — in the UI, a reload of the page
    failed, good = [], []

    def answers() -> bool:
        try:
            topo.runs({"runIds": [run_id]})
            topo.graphql("{ assetsOrError { __typename ... on PythonError { message } } }")
            topo._daemons_healthy()
        except TopologyError as exc:
            failed.append(str(exc)[:300])
            good.clear()
            return False
        good.append(True)
        return len(good) >= 3  # three rounds in a row: every engine reconnected

    wait_until("the webserver answered again", answers, 30, 0.2)
    assert len(failed) <= 6 and all("connection" in f for f in failed), failed
    [first] = topo.wait_for_runs({"runIds": [run_id]}, 1, timeout=120)
    how = "the run itself"
    if first["status"] != "SUCCESS":
        # the restart hit Dagster's own database reads around the step (not the asset's code, whose
        # transient errors the step's RetryPolicy retries): the step fails with the driver's error, and
        # the instance re-runs the run from the failure (run_retries, retry_on_asset_or_op_failure:
        # true; nothing tagged it not to be: no bad data)
        [failure] = events(events_db, run_id, "STEP_FAILURE")
        error = failure.dagster_event.step_failure_data.error
        assert error.cls_name == "OperationalError" and "connection" in error.message, error.to_string()
        [retry] = topo.wait_for_runs({"tags": [{"key": "dagster/parent_run_id", "value": run_id}]}, 1, timeout=120)
        assert retry["status"] == "SUCCESS" and retry["tags"].get("dagster/retry_number") == "1", retry
        how = f"the instance's re-run from the failure (the step failed: {error.message.strip()[:100]})"
    print(f"PostgreSQL restart: done by {how}; {len(failed)} webserver requests failed")
    assert_nothing_lost(topo, day)
    # the webserver and the daemon carry on: a following run is queued, started and succeeds
    after = topo.launch_run(
        "short_job", location=EXTRA, run_config={"ops": {"sleep_briefly": {"config": {"seconds": 0.1}}}}
    )
    assert topo.wait_for_runs({"runIds": [after]}, 1, timeout=90)[0]["status"] == "SUCCESS"
    assert topo._daemons_healthy()


def location_status(topo) -> str:
    entries = topo.graphql(
        "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus"
        " locationOrLoadError { __typename } } } } }"
    )["workspaceOrError"]["locationEntries"]
    [entry] = [e for e in entries if e["name"] == MAESTRO_LOCATION]
    return f"{entry['loadStatus']}/{(entry['locationOrLoadError'] or {}).get('__typename')}"


def test_the_code_server_killed_is_restarted_and_the_ui_recovers_by_itself(seeded):
    topo, day = seeded, FAULT_DAYS["code-server"]
    killed = topo.processes["code-server"]
    restarts = topo.restarts["code-server"]
    os.killpg(killed.pid, signal.SIGKILL)  # the container dying: the server and whatever it spawned
    killed_at = time.monotonic()
    wait_until("the supervisor restarted the code server", lambda: topo.restarts["code-server"] > restarts, 30)
    assert topo.processes["code-server"].pid != killed.pid
    topo.wait_ready("code-server", timeout=120)
    # no reloadRepositoryLocation: the webserver's watch thread sees the new server id and refreshes
    seen = []
    wait_until(
        "the maestro location LOADED again",
        lambda: seen.append(location_status(topo)) or seen[-1] == "LOADED/RepositoryLocation",
        120,
        1,
    )
    print(f"code server: LOADED again {time.monotonic() - killed_at:.1f}s after the kill; seen {sorted(set(seen))}")
    run_id = ingest(topo, day)
    assert topo.wait_for_runs({"runIds": [run_id]}, 1, timeout=120)[0]["status"] == "SUCCESS"
    assert_nothing_lost(topo, day)


def where_secrets_appear(topo, postgres, secrets: dict[str, str]) -> list[str]:
    """Every place one of ``secrets`` (by name) is written, as ``<place>: <name>``: each process's
    log (S3, MLflow, the code server, webserver, daemon), the runs' captured step output,
    PostgreSQL's log, and every row of the ``dagster`` database (runs and their config and tags,
    event logs with messages, metadata and errors, schedule and sensor ticks with their errors,
    the daemon's heartbeats with theirs) and
    of the ``mlflow`` database (experiments, runs, params, tags)."""
    found = []
    for path in [*topo.log_files(), postgres.log]:
        text = path.read_text(errors="replace")
        found += [f"{path.name}: {name}" for name, secret in secrets.items() if secret in text]
    for database in ("dagster", "mlflow"):
        engine = sa.create_engine(postgres.url(database), poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            for table in sa.inspect(conn).get_table_names():
                for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                    text = " ".join(v.decode(errors="replace") if isinstance(v, bytes) else str(v) for v in row)
                    found += [f"{database}.{table}: {name}" for name, secret in secrets.items() if secret in text]
        engine.dispose()
    return found


def test_no_password_in_any_log_event_or_error(topo, password_postgres):
    """Last of the module: after the faults above, which wrote errors of every service."""
    secrets = {"the PostgreSQL password": password_postgres.password, "the S3 secret key": S3_SECRET_KEY}
    # the search finds what is there: a log line and a database row planted, then removed
    plant = topo.log_dir / "planted.log"
    plant.write_text(f"connecting with {password_postgres.password}\n")
    engine = sa.create_engine(password_postgres.url("dagster"), poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE planted (line text)"))
        conn.execute(sa.text("INSERT INTO planted VALUES (:s)"), {"s": f"key={S3_SECRET_KEY}"})
    try:
        planted = where_secrets_appear(topo, password_postgres, secrets)
    finally:
        plant.unlink()
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE planted"))
        engine.dispose()
    assert {"planted.log: the PostgreSQL password", "dagster.planted: the S3 secret key"} <= set(planted), planted
    assert where_secrets_appear(topo, password_postgres, secrets) == []


def test_most_at_once_counts_overlaps():
    runs = [{"startTime": 0, "endTime": 2}, {"startTime": 1, "endTime": 3}, {"startTime": 2, "endTime": 4}]
    assert most_at_once(runs) == 2  # the first ends as the third starts
    assert most_at_once([{"startTime": 0, "endTime": None}, {"startTime": 5, "endTime": 6}]) == 2
