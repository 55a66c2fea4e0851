"""run_throughput — how fast the production topology gets short runs through its queue.

The production topology of ``deploy/compose.yaml`` (``maestro_assets/platform_topology.py``:
PostgreSQL with a password, the S3 server, MLflow, the code server, the webserver, the daemon —
native processes on this machine) with the instance of ``deploy/dagster.yaml`` (runs queued,
``max_concurrent_runs`` at once) and the test-only code location
``maestro_assets_tests/topology_extra_location.py``: N runs of its ``short_job`` (one op sleeping
``--seconds``) are submitted at once through the webserver's GraphQL ``launchRun``; timed from
the first submission to the last run's end. The floor, in this process: the same job executed
in process (``execute_in_process``, an ephemeral instance) N times one after another.

Figures: runs per minute of each and their ratio (the topology over the floor; target at least
0.5 on 2 cores: every run is a new process), and the queue latency — a run's creation to its
start, GraphQL creationTime → startTime — p95 (target at most 5 s) and p50, in seconds. With N runs
submitted at once and a limit of L, the last runs must wait for ⌈N/L⌉ − 1 runs before them, so that
p95 is at least (⌈N/L⌉ − 1) × a run's duration whatever the queue does (``params.lower_bound_s``).
What the queue itself adds is ``run_throughput.slot_to_start_p95_s``: from the moment a run could
take a slot (its creation, or the end of the run whose slot it took) to its start — the daemon's
dequeue interval, the launch through the code server and the run process's start.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks.harness import figure, note

ROOT = Path(__file__).resolve().parents[1]
EXTRA_LOCATION_FILE = ROOT / "maestro_assets_tests" / "topology_extra_location.py"


def _extra_location():
    spec = importlib.util.spec_from_file_location("topology_extra_location", EXTRA_LOCATION_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def slot_to_start(runs: list[dict], limit: int) -> list[float]:
    """Per run, its start minus the moment it could take one of ``limit`` slots: its creation if a
    slot was free then, else the end of the run that freed the slot it got (runs taken in start order)."""
    waits, started = [], []
    for run in sorted(runs, key=lambda r: r["startTime"]):
        busy = sorted(r["endTime"] for r in started if r["endTime"] > run["creationTime"])
        could_start = run["creationTime"] if len(busy) < limit else busy[len(busy) - limit]
        waits.append(run["startTime"] - could_start)
        started.append(run)
    return waits


def floor(runs: int, seconds: float) -> float:
    """Seconds for ``runs`` in-process executions of the short job, one after another."""
    from dagster import DagsterInstance

    extra = _extra_location()
    config = {"ops": {"sleep_briefly": {"config": {"seconds": seconds}}}}
    with DagsterInstance.ephemeral() as instance:
        started = time.perf_counter()
        for _ in range(runs):
            assert extra.short_job.execute_in_process(run_config=config, instance=instance).success
        return time.perf_counter() - started


def through_topology(runs: int, seconds: float, work: Path) -> dict:
    from maestro_assets.platform_topology import Topology, local_postgres, most_at_once

    extra = _extra_location()
    location = {
        "python_file": {
            "relative_path": str(EXTRA_LOCATION_FILE),
            "location_name": extra.LOCATION_NAME,
            "working_directory": str(ROOT),
        }
    }
    with local_postgres(work / "postgres") as postgres, Topology(work / "topology", postgres, [location]) as topo:
        config = {"ops": {"sleep_briefly": {"config": {"seconds": seconds}}}}
        submitted_at = time.time()
        ids = [topo.launch_run(extra.SHORT_JOB, location=extra.LOCATION_NAME, run_config=config) for _ in range(runs)]
        done = topo.wait_for_runs({"runIds": ids}, runs, timeout=120 + runs * 30)
    failed = [r["runId"] for r in done if r["status"] != "SUCCESS"]
    if failed or len(done) != runs:
        raise AssertionError(f"{len(done)} of {runs} runs came back, failed: {failed}")
    return {
        "seconds": max(r["endTime"] for r in done) - submitted_at,
        "queue_latency_s": [r["startTime"] - r["creationTime"] for r in done],
        "run_s": [r["endTime"] - r["startTime"] for r in done],
        "runs": done,
        "most_at_once": most_at_once(done),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="run_throughput", description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=1.0, help="what each run sleeps")
    args = parser.parse_args(argv)
    limit = yaml.safe_load((ROOT / "deploy" / "dagster.yaml").read_text())["concurrency"]["runs"]["max_concurrent_runs"]

    load = os.getloadavg()
    floor_s = floor(args.runs, args.seconds)
    with tempfile.TemporaryDirectory(prefix="maestro-bench-throughput-") as tmp:
        Path(tmp).chmod(0o755)  # PostgreSQL runs as its own user when this is root: it must reach its folder
        topo = through_topology(args.runs, args.seconds, Path(tmp))
    latency = topo["queue_latency_s"]
    note(
        f"topology {topo['seconds']:.1f}s for {args.runs} runs "
        f"(at most {topo['most_at_once']} at once, limit {limit}); "
        f"in process one after another {floor_s:.1f}s; load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    params = {
        "runs": args.runs,
        "seconds_per_run": args.seconds,
        "max_concurrent_runs": limit,
        "most_at_once": topo["most_at_once"],
        "topology_s": round(topo["seconds"], 3),
        "floor_s": round(floor_s, 3),
        "loadavg": [round(x, 2) for x in load],
    }
    figure(
        "run_throughput.runs_per_minute",
        args.runs / topo["seconds"] * 60,
        "runs/min",
        "in_process_one_after_another",
        args.runs / floor_s * 60,
        ">= 0.5",
        params,
        target_of="ratio",
    )
    p50, p95 = statistics.median(latency), _percentile(latency, 0.95)
    waves_before = -(-args.runs // limit) - 1
    figure(
        "run_throughput.queue_latency_p95_s",
        p95,
        "s",
        "queue_latency_p50_s",
        p50,
        "<= 5",
        {
            **params,
            "queue_latency_s": [round(x, 2) for x in sorted(latency)],
            "lower_bound_s": round(waves_before * min(topo["run_s"]), 2),
            "run_s_median": round(statistics.median(topo["run_s"]), 2),
        },
    )
    waits = slot_to_start(topo["runs"], limit)
    figure(
        "run_throughput.slot_to_start_p95_s",
        _percentile(waits, 0.95),
        "s",
        "slot_to_start_p50_s",
        statistics.median(waits),
        "<= 5",
        {**params, "slot_to_start_s": [round(x, 2) for x in sorted(waits)]},
    )
    return 0
