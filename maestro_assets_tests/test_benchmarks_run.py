"""Every benchmark still runs (at a tiny size) and ends with well-formed figure lines.

These are not timed tests: the figures themselves are checked in `make bench`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = {
    "git_metrics": ["--commits", "2000", "--repeat", "1"],
    "backfill_overhead": ["--days", "3", "--rows-per-day", "10", "--repeats", "1"],
    "drift": ["--rows", "20000", "--features", "6", "--repeat", "1"],
    "dagster_overhead": ["--steps", "3", "--demo-scale", "0.002", "--demo-days", "2", "--demo-rounds", "1"],
    "gold_features": ["--scale", "0.01", "--repeat", "1"],
    "feast_online": ["--entities", "200", "--repeat", "10", "--rounds", "1"],
    "feast_materialize": ["--rows", "1000,2000", "--entities", "1000", "--batch", "100"],
    "training_set": ["--labels", "2000", "--tasks", "500", "--days", "5", "--repeat", "1"],
    "validate": ["--rows", "2000", "--small-calls", "5"],
    "ingest_postgres": ["--rows", "20000", "--repeat", "1"],
    "read_landed": ["--mb", "0.2", "--repeats", "1"],
    "serving": ["--rows", "500", "--requests", "5", "--rounds", "1"],  # still starts the scoring server
    "automl_vs_flaml": ["--datasets", "breast_cancer,diabetes", "--budget", "8"],
    "automl_scaling": ["--rows", "2000,4000", "--budget", "6"],
    "mlflow_overhead": ["--trials", "4", "--rows", "300", "--rounds", "1"],
    "run_throughput": ["--runs", "4", "--seconds", "0.2"],  # still starts the whole topology
}
FIELDS = {"name", "value", "unit", "baseline", "baseline_value", "ratio", "target", "met", "params"}


def benchmark_names() -> list[str]:
    return sorted(
        p.stem for p in (ROOT / "benchmarks").glob("*.py") if p.stem not in ("__init__", "__main__", "harness")
    )


def test_every_benchmark_has_a_tiny_size():
    assert set(benchmark_names()) == set(TINY)


@pytest.mark.parametrize("name", sorted(TINY))
def test_benchmark_prints_figures(name, maestro_home):
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", name, *TINY[name]], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, done.stdout
    for line in lines:
        assert FIELDS <= set(line)
        assert line["name"].startswith(name)
        assert isinstance(line["met"], bool)
        assert line["value"] == line["value"]  # not NaN


def test_slot_to_start_counts_only_the_wait_for_a_free_slot():
    from benchmarks.run_throughput import slot_to_start

    runs = [  # limit 2: the third run could start when the first ended (at 5), and started at 6
        {"creationTime": 0, "startTime": 1, "endTime": 5},
        {"creationTime": 0, "startTime": 2, "endTime": 9},
        {"creationTime": 0, "startTime": 6, "endTime": 8},
        {"creationTime": 8.5, "startTime": 9, "endTime": 10},  # a slot free on arrival (the third ended)
    ]
    assert slot_to_start(runs, 2) == [1, 2, 1, 0.5]
    one_slot = [{"creationTime": 0, "startTime": 1, "endTime": 3}, {"creationTime": 0, "startTime": 4, "endTime": 5}]
    assert slot_to_start(one_slot, 1) == [1, 1]  # the second waited 3 s, of which 1 s for the queue
