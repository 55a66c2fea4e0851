"""deploy/compose.yaml as written, run as native processes: PostgreSQL (with a password), the S3
server, MLflow, the code server, the webserver and the daemon, each with its compose command and
environment (``maestro_assets/platform_topology.py``), driven through the webserver's GraphQL API
as a user or an operator would: seed the demo, backfill a week, a schedule and the landing sensor
fired by the daemon, and 20 runs submitted at once within the instance's concurrency limit."""

from __future__ import annotations

import sys
import urllib.request
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from maestro_assets.defs.demo.assets import CI_KEY, DEMO_TABLE_KEYS, GIT_KEY, LANDING_KEY
from maestro_assets.lib.compose import compose_services
from maestro_assets.platform_topology import BUCKET as BUCKET_NAME
from maestro_assets.platform_topology import COMPOSE_FILE, DEPLOY, Topology, most_at_once

ROOT = Path(__file__).resolve().parents[1]
EXTRA_LOCATION_FILE = Path(__file__).with_name("topology_extra_location.py")
EXTRA = "topology_extra"  # LOCATION_NAME of topology_extra_location.py
BACKFILL_DAYS = [(date(2026, 10, 1) + timedelta(days=n)).isoformat() for n in range(7)]
BRONZE = ["bronze", "demo_db", "task_events"]
SILVER = ["silver", "demo_db", "task_events"]
DEMO_KEYS = [key.path for key in (*DEMO_TABLE_KEYS.values(), LANDING_KEY, GIT_KEY, CI_KEY)]  # one multi-asset
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
        run_config={"ops": {"demo_source_system": {"config": {"scale": 0.01}}}},
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


def test_most_at_once_counts_overlaps():
    runs = [{"startTime": 0, "endTime": 2}, {"startTime": 1, "endTime": 3}, {"startTime": 2, "endTime": 4}]
    assert most_at_once(runs) == 2  # the first ends as the third starts
    assert most_at_once([{"startTime": 0, "endTime": None}, {"startTime": 5, "endTime": 6}]) == 2
