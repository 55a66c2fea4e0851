"""`make ui`'s local stack under concurrent writers: ``dagster dev`` on the project's dagster.yaml and
workspace.yaml (SQLite run, schedule and event storage under DAGSTER_HOME, the queued run coordinator)
while a dozen runs write events as fast as they can, the webserver answers a stream of GraphQL
reads and the daemon ticks a sensor every second and a schedule every minute — every run succeeds,
none is lost, the run limit holds, and no process or run logs a SQLite lock."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from maestro_assets.platform_topology import LocalStack, most_at_once

ROOT = Path(__file__).resolve().parents[1]
EXTRA_LOCATION_FILE = Path(__file__).with_name("topology_extra_location.py")
EXTRA = "topology_extra"  # LOCATION_NAME of topology_extra_location.py
CHATTY_JOB, BUSY_SENSOR, EVERY_MINUTE_SCHEDULE = "chatty_job", "every_second_sensor", "every_minute_tick"
CHATTY_ASSET = ["local_stack", "chatty_0"]
RUNS = 12
MATERIALIZATIONS = 300  # per run, spread over 4 assets, with 3 log lines each: ~1,200 events
WRITE_SECONDS = 6  # the least time a run writes them in: longer than the daemon takes to launch the next run
LOCK_ERRORS = ("database is locked", "OperationalError")
MAX_CONCURRENT_RUNS = yaml.safe_load((ROOT / "dagster.yaml").read_text())["run_coordinator"]["config"][
    "max_concurrent_runs"
]
EXTRA_LOCATIONS = [
    {"python_file": {"relative_path": str(EXTRA_LOCATION_FILE), "location_name": EXTRA, "working_directory": str(ROOT)}}
]

RUN_EVENTS = (
    "query($id: ID!, $c: String) { logsForRun(runId: $id, afterCursor: $c, limit: 1000) { __typename"
    " ... on EventConnection { cursor hasMore events { __typename ... on MessageEvent { message }"
    " ... on ErrorEvent { error { message stack } } } } ... on PythonError { message } } }"
)
TICKS = (
    "query($s: SensorSelector!) { sensorOrError(sensorSelector: $s) { ... on Sensor {"
    " sensorState { ticks(limit: 10000) { status error { message } } } } } }"
)
SCHEDULE_TICKS = (
    "query($s: ScheduleSelector!) { scheduleOrError(scheduleSelector: $s) { ... on Schedule {"
    " scheduleState { ticks(limit: 1000) { status error { message } } } } } }"
)
LATEST = (
    "query($k: AssetKeyInput!) { assetOrError(assetKey: $k) { ... on Asset {"
    " assetMaterializations(limit: 5) { runId timestamp } } } }"
)


def run_events(stack: LocalStack, run_id: str) -> list[dict]:
    """Every event of the run's event log, through the webserver (paged)."""
    events, cursor = [], None
    while True:
        page = stack.graphql(RUN_EVENTS, {"id": run_id, "c": cursor})["logsForRun"]
        assert page["__typename"] == "EventConnection", page
        events += page["events"]
        cursor = page["cursor"]
        if not page["hasMore"]:
            return events


@dataclass
class Reads:
    """The UI's side of the load: GraphQL reads, back to back, from another thread."""

    stack: LocalStack
    done: threading.Event = field(default_factory=threading.Event)
    count: int = 0
    errors: list[str] = field(default_factory=list)

    def loop(self) -> None:
        while not self.done.is_set():
            try:
                runs = self.stack.runs(limit=50)
                started = [r for r in runs if r["status"] in ("STARTED", "SUCCESS")]
                if started:
                    self.stack.graphql(RUN_EVENTS, {"id": started[0]["runId"], "c": None})
                self.stack.graphql(LATEST, {"k": {"path": CHATTY_ASSET}})
                self.stack.graphql("{ instance { daemonHealth { allDaemonStatuses { daemonType healthy } } } }")
                self.count += 4 if started else 3
            except Exception as exc:  # noqa: BLE001 - every failed read is reported by the test
                self.errors.append(repr(exc)[:500])


@dataclass
class Load:
    submitted: list[str]
    runs: list[dict]
    reads: Reads
    seconds: float


def concurrent_load(stack: LocalStack, runs: int = RUNS, timeout: float = 420) -> Load:
    """Switch the sensor and the schedule on, submit ``runs`` chatty runs at once (one GraphQL
    request each, in parallel) while reading through GraphQL, and wait for every run to finish."""
    assert stack.switch("sensor", BUSY_SENSOR, EXTRA, on=True) == "RUNNING"
    assert stack.switch("schedule", EVERY_MINUTE_SCHEDULE, EXTRA, on=True) == "RUNNING"
    reads = Reads(stack)
    reader = threading.Thread(target=reads.loop, daemon=True)
    reader.start()
    started = time.monotonic()
    config = {"ops": {"write_events": {"config": {"materializations": MATERIALIZATIONS, "seconds": WRITE_SECONDS}}}}
    try:
        with ThreadPoolExecutor(runs) as pool:
            submitted = list(pool.map(lambda _: stack.launch_run(CHATTY_JOB, EXTRA, run_config=config), range(runs)))
        finished = stack.wait_for_runs({"runIds": submitted}, runs, timeout=timeout)
    finally:
        reads.done.set()
        reader.join(60)
        stack.switch("sensor", BUSY_SENSOR, EXTRA, on=False)
        stack.switch("schedule", EVERY_MINUTE_SCHEDULE, EXTRA, on=False)
    return Load(submitted, finished, reads, time.monotonic() - started)


def lock_errors(stack: LocalStack, events: dict[str, list[dict]]) -> list[str]:
    """Where a SQLite lock error shows: a process's log, a run's captured output, a run's event log
    (``events``: run id -> its events)."""
    found = [
        f"{path.name}: {line.strip()[:300]}"
        for path in stack.log_files()
        for line in path.read_text(errors="replace").splitlines()
        if any(text in line for text in LOCK_ERRORS)
    ]
    for run_id, run in events.items():
        for event in run:
            text = f"{event.get('message', '')} {event.get('error') or ''}"
            if any(error in text for error in LOCK_ERRORS):
                found.append(f"run {run_id}: {text[:300]}")
    return found


@pytest.fixture
def local_stack(maestro_home, request):
    """`make ui`'s stack with the test location beside Maestro's; its log tails on failure."""
    failed = request.session.testsfailed
    with LocalStack(maestro_home.parent, EXTRA_LOCATIONS) as stack:
        yield stack
        if request.session.testsfailed > failed:
            print(stack.log_tails(80))


def test_runs_reads_and_ticks_at_once_never_lock_sqlite(local_stack):
    stack = local_stack
    assert (stack.dagster_home / "dagster.yaml").read_text() == (ROOT / "dagster.yaml").read_text()
    load = concurrent_load(stack)

    assert len(set(load.submitted)) == RUNS
    assert sorted(r["runId"] for r in load.runs) == sorted(load.submitted)  # none lost
    assert Counter(r["status"] for r in load.runs) == {"SUCCESS": RUNS}
    everything = stack.runs()  # the limit is the instance's: scheduled runs count too
    peak = most_at_once(everything)
    assert 1 < peak <= MAX_CONCURRENT_RUNS, peak
    events = {run["runId"]: run_events(stack, run["runId"]) for run in everything}
    for run_id in load.submitted:  # every event a run wrote is in its event log
        kinds = Counter(event["__typename"] for event in events[run_id])
        assert kinds["MaterializationEvent"] == MATERIALIZATIONS, (run_id, kinds)
    latest = stack.graphql(LATEST, {"k": {"path": CHATTY_ASSET}})["assetOrError"]["assetMaterializations"]
    assert latest and latest[0]["runId"] in load.submitted

    selector = {"repositoryLocationName": EXTRA, "repositoryName": "__repository__"}
    ticks = stack.graphql(TICKS, {"s": {**selector, "sensorName": BUSY_SENSOR}})["sensorOrError"]
    statuses = Counter(t["status"] for t in ticks["sensorState"]["ticks"])
    # the daemon kept ticking while the runs wrote (every ~5 s here: its sensor loop, not the 1 s interval)
    assert statuses["SKIPPED"] >= max(3, load.seconds / 15), statuses
    assert set(statuses) == {"SKIPPED"}, [t["error"] for t in ticks["sensorState"]["ticks"] if t["error"]]
    schedule = stack.graphql(SCHEDULE_TICKS, {"s": {**selector, "scheduleName": EVERY_MINUTE_SCHEDULE}})
    assert not [t for t in schedule["scheduleOrError"]["scheduleState"]["ticks"] if t["status"] == "FAILURE"]

    assert load.reads.errors == []
    assert load.reads.count > RUNS, load.reads.count
    assert lock_errors(stack, events) == []
    print(f"{RUNS} runs in {load.seconds:.1f}s, peak {peak} at once, {load.reads.count} reads, sensor ticks {statuses}")
