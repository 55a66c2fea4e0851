"""backfill_overhead — a single-run backfill of a year of daily partitions through Dagster vs the lib calls.

A small SQL source (SQLite, one table of ``--rows-per-day`` rows a day with a watermark column,
``--days`` days) is declared in a sources file and given silver rules in a rules file, both
written by the benchmark. Each round then does the same backfill two ways, taking turns:

* **Dagster**: a fresh Python process with ``MAESTRO_SOURCES`` / ``MAESTRO_QUALITY_RULES`` pointing
  at those files loads the real code location (``maestro_assets.definitions``) and materializes
  ``bronze/bench_db/events`` and ``silver/bench_db/events`` for the whole range in one run (the
  partition-range tags of a single-run backfill) through a real ``DagsterInstance`` (SQLite storage
  in a fresh ``DAGSTER_HOME`` seeded with the project's dagster.yaml), as ``maestro materialize``
  does. Timed: the run itself (``platform_runner.materialize``), not the interpreter start or the
  code location's import (reported in ``params``).
* **the floor**: in this process, the same ``lib`` calls for the same partitions:
  ``lib.ingestion.extract.extract`` for the window, then ``lib.quality.silver.materialize_silver``
  for its days, into a lake of their own.

Both must write the same rows per partition (checked). ``--repeats`` rounds (default 3); the
medians count, min and max are in ``params`` with the load average of each round.
Figures: ``backfill_overhead.per_partition_s`` — Dagster seconds per partition, bronze+silver
(target at most 0.1 s); ``backfill_overhead.vs_floor`` — the ratio to the floor (target at most 2).
``--profile FILE`` writes a cProfile of the last Dagster run to FILE.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from benchmarks.harness import figure, note, timed

SOURCE = "bench_db"
TABLE = "events"
QUALIFIED = f"{SOURCE}/{TABLE}"
SOURCE_ENV = "MAESTRO_BENCH_SOURCE_URL"
EVENT_TYPES = ["created", "assigned", "started", "commented", "completed"]
RULES = {
    "tables": {
        QUALIFIED: {
            "keys": ["event_id"],
            "columns": {
                "event_id": {"dtype": "int64", "nullable": False},
                "task_id": {"dtype": "int64", "nullable": False},
                "user_id": {"dtype": "int64", "nullable": True},
                "event_type": {"dtype": "string", "nullable": False},
                "event_time": {"dtype": "datetime64[ns, UTC]", "nullable": False},
                "hours_logged": {"dtype": "float64", "nullable": True, "missing": "zero"},
            },
            "checks": [
                {"kind": "uniqueness", "columns": ["event_id"], "severity": "ERROR"},
                {"kind": "range", "column": "hours_logged", "min": 0, "max": 60, "severity": "ERROR"},
                {"kind": "categorical", "column": "event_type", "allowed": EVENT_TYPES, "severity": "ERROR"},
                {"kind": "completeness", "column": "user_id", "max_null_fraction": 0.05, "severity": "WARNING"},
                {"kind": "freshness", "column": "event_time", "max_age_hours": 36, "severity": "WARNING"},
                {"kind": "distribution", "column": "hours_logged", "max_ks": 0.5, "severity": "WARNING"},
            ],
        }
    }
}


def events(first: date, days: int, rows_per_day: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = days * rows_per_day
    day = np.repeat(np.arange(days), rows_per_day)
    seconds = rng.integers(0, 86_400, n)
    start = pd.Timestamp(first, tz="UTC")
    return pd.DataFrame(
        {
            "event_id": np.arange(1, n + 1, dtype=np.int64),
            "task_id": rng.integers(1, 500, n),
            "user_id": rng.integers(1, 100, n),
            "event_type": np.asarray(EVENT_TYPES, dtype=object)[rng.integers(0, len(EVENT_TYPES), n)],
            "event_time": start + pd.to_timedelta(day * 86_400 + seconds, unit="s"),
            "hours_logged": np.round(rng.exponential(1.0, n), 2),
        }
    )


def prepare(work: Path, first: date, days: int, rows_per_day: int) -> dict:
    """The source database, the sources file and the rules file; the environment that names them."""
    from maestro_assets.lib.warehouse import Warehouse

    url = f"sqlite:///{work / 'source.db'}"
    Warehouse(url).write_frame(TABLE, events(first, days, rows_per_day))
    sources = {
        "start_date": first.isoformat(),
        "sources": [
            {
                "name": SOURCE,
                "kind": "sql",
                "connection_env": SOURCE_ENV,
                "owner": "team:bench",
                "tables": [{"table": TABLE, "keys": ["event_id"], "watermark": "event_time"}],
            }
        ],
    }
    (work / "sources.yaml").write_text(yaml.safe_dump(sources))
    (work / "rules.yaml").write_text(yaml.safe_dump(RULES))
    return {
        SOURCE_ENV: url,
        "MAESTRO_SOURCES": str(work / "sources.yaml"),
        "MAESTRO_QUALITY_RULES": str(work / "rules.yaml"),
    }


# -- the Dagster side (a child process: the definitions are built at import time) ----------------------


def child(first: str, last: str, profile: str | None) -> int:
    """Run in the child: load the code location, materialize bronze+silver for first..last, report."""
    started = time.perf_counter()
    from dagster import AssetKey, DagsterInstance

    from maestro_assets.definitions import defs  # noqa: F401  (the code location, timed as import)
    from maestro_assets.platform_runner import ensure_dagster_home, materialize

    ensure_dagster_home()
    imported = time.perf_counter() - started
    keys = [AssetKey(["bronze", SOURCE, TABLE]), AssetKey(["silver", SOURCE, TABLE])]
    cpu = time.process_time()
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        seconds, summary = timed(lambda: profiler.runcall(materialize, keys, partition_range=(first, last)))
        profiler.dump_stats(profile)
    else:
        seconds, summary = timed(lambda: materialize(keys, partition_range=(first, last)))
    cpu = time.process_time() - cpu
    if not summary.success:
        print(json.dumps({"error": summary.errors}), flush=True)
        return 1
    with DagsterInstance.get() as instance:
        partitions = {str(k): len(instance.get_materialized_partitions(k)) for k in keys}
        events = Counter(
            record.event_log_entry.dagster_event_type.value if record.event_log_entry.is_dagster_event else "LOG"
            for record in instance.get_records_for_run(summary.run_id, limit=1_000_000).records
        )
        event_ms = _event_write_ms(instance)
    report = {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "import_seconds": imported,
        "partitions": partitions,
        "events": dict(events.most_common()),
        "event_write_ms": event_ms,
    }
    print(json.dumps(report), flush=True)
    return 0


def _event_write_ms(instance, count: int = 50) -> float:
    """Dagster's own cost of storing one partition's materialization event in this instance:
    ``count`` runless materializations of a throwaway asset, milliseconds each."""
    from dagster import AssetKey, AssetMaterialization

    key = AssetKey(["bench_event_probe"])
    started = time.perf_counter()
    for number in range(count):
        instance.report_runless_asset_event(AssetMaterialization(key, partition=f"p{number}", metadata={"rows": 100}))
    return (time.perf_counter() - started) / count * 1000


def through_dagster(env: dict, work: Path, first: date, last: date, profile: str | None) -> dict:
    home = Path(tempfile.mkdtemp(prefix="home-", dir=work))
    child_env = {
        **os.environ,
        **env,
        "MAESTRO_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "MAESTRO_LAKE_URL": str(home / "lake"),
    }
    argv = [sys.executable, "-m", "benchmarks.backfill_overhead", "--child", first.isoformat(), last.isoformat()]
    if profile:
        argv += ["--profile", profile]
    total, done = timed(
        lambda: subprocess.run(argv, env=child_env, capture_output=True, text=True, cwd=Path(__file__).parents[1])
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the Dagster run failed: {done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    report = json.loads(lines[-1])
    report["process_seconds"] = total
    report["lake"] = str(home / "lake")
    return report


# -- the floor ----------------------------------------------------------------------------------------


def floor(env: dict, work: Path, first: date, last: date) -> tuple[float, float, str]:
    """The same lib calls in this process: extract the window, then silver for its days.
    Returns wall seconds, CPU seconds of this process and the lake's folder."""
    from maestro_assets.lib.dates import days_between, start_of_day
    from maestro_assets.lib.ingestion.extract import extract
    from maestro_assets.lib.ingestion.sources import load_sources
    from maestro_assets.lib.lake import open_lake
    from maestro_assets.lib.quality import load_rules
    from maestro_assets.lib.quality.silver import materialize_silver

    os.environ.update(env)
    sources = load_sources(env["MAESTRO_SOURCES"])
    (source,) = sources.sources
    (spec,) = source.tables
    rules = load_rules(env["MAESTRO_QUALITY_RULES"]).for_table(SOURCE, TABLE)
    lake_dir = tempfile.mkdtemp(prefix="floor-lake-", dir=work)
    lake = open_lake(lake_dir)
    end = last + timedelta(days=1)
    window = (start_of_day(first), start_of_day(end))
    days = [d.isoformat() for d in days_between(first, end)]

    def run() -> None:
        extraction = extract(source, spec, lake, window, batch_id="floor")
        assert len(extraction.stats.partitions) == len(days)
        materialize_silver(lake, QUALIFIED, rules, days)

    cpu = time.process_time()
    seconds, _ = timed(run)
    return seconds, time.process_time() - cpu, lake_dir


def same_rows(floor_lake: str, dagster_lake: str, days: list[str]) -> None:
    from maestro_assets.lib.lake import open_lake

    a, b = open_lake(floor_lake), open_lake(dagster_lake)
    for layer in ("bronze", "silver"):
        for day in (days[0], days[len(days) // 2], days[-1]):
            rows = [lake.read_partition(layer, QUALIFIED, ("date", day)).num_rows for lake in (a, b)]
            if rows[0] != rows[1]:
                raise AssertionError(f"{layer} {day}: the floor wrote {rows[0]} rows, Dagster {rows[1]}")
        if a.partitions(layer, QUALIFIED) != b.partitions(layer, QUALIFIED):
            raise AssertionError(f"{layer}: the floor and Dagster wrote different partitions")


def _summary(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="backfill_overhead", description=__doc__)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rows-per-day", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3, help="rounds, the two sides taking turns; medians count")
    parser.add_argument("--first-day", default="2025-01-01")
    parser.add_argument("--profile", help="write a cProfile of the (last) Dagster run here")
    parser.add_argument("--child", nargs=2, metavar=("FIRST", "LAST"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(*args.child, args.profile)

    first = date.fromisoformat(args.first_day)
    last = first + timedelta(days=args.days - 1)
    days = [(first + timedelta(days=i)).isoformat() for i in range(args.days)]
    rounds = []
    with tempfile.TemporaryDirectory(prefix="maestro-bench-backfill-") as tmp:
        work = Path(tmp)
        env = prepare(work, first, args.days, args.rows_per_day)
        for number in range(args.repeats):
            load = os.getloadavg()
            # alternate which side goes first, so a slow spell of the machine hits both alike
            if number % 2 == 0:
                floor_s, floor_cpu, floor_lake = floor(env, work, first, last)
                dag = through_dagster(env, work, first, last, args.profile)
            else:
                dag = through_dagster(env, work, first, last, args.profile)
                floor_s, floor_cpu, floor_lake = floor(env, work, first, last)
            if number == 0:
                same_rows(floor_lake, dag["lake"], days)
            if any(count != args.days for count in dag["partitions"].values()):
                raise AssertionError(f"Dagster materialized {dag['partitions']} partitions, expected {args.days}")
            rounds.append(
                {
                    "dagster_s": round(dag["seconds"], 3),
                    "floor_s": round(floor_s, 3),
                    "dagster_cpu_s": round(dag["cpu_seconds"], 3),
                    "floor_cpu_s": round(floor_cpu, 3),
                    "child_process_s": round(dag["process_seconds"], 3),
                    "child_import_s": round(dag["import_seconds"], 3),
                    "dagster_events": dag["events"],
                    "dagster_event_write_ms": round(dag["event_write_ms"], 1),
                    "loadavg": [round(x, 2) for x in load],
                    "loadavg_after": [round(x, 2) for x in os.getloadavg()],
                }
            )
            note(
                f"round {number + 1}: Dagster {dag['seconds']:.2f}s (CPU {dag['cpu_seconds']:.2f}s), "
                f"floor {floor_s:.2f}s (CPU {floor_cpu:.2f}s) for {args.days} days "
                f"(child process {dag['process_seconds']:.1f}s; {sum(dag['events'].values())} events, "
                f"{dag['event_write_ms']:.0f} ms to store one); load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
            )
    dagster_s = [r["dagster_s"] for r in rounds]
    floor_s = [r["floor_s"] for r in rounds]
    ratios = [r["dagster_s"] / r["floor_s"] for r in rounds]
    params = {
        "days": args.days,
        "rows_per_day": args.rows_per_day,
        "repeats": args.repeats,
        "dagster_s": _summary(dagster_s),
        "floor_s": _summary(floor_s),
        "ratio": _summary(ratios),
        "dagster_cpu_s": _summary([r["dagster_cpu_s"] for r in rounds]),
        "floor_cpu_s": _summary([r["floor_cpu_s"] for r in rounds]),
        "dagster_env": {k: v for k, v in os.environ.items() if k.startswith("DAGSTER_") and k != "DAGSTER_HOME"},
        "rounds": rounds,
    }
    median_dagster, median_floor = statistics.median(dagster_s), statistics.median(floor_s)
    figure(
        "backfill_overhead.per_partition_s",
        median_dagster / args.days,
        "s/partition",
        "floor_per_partition",
        median_floor / args.days,
        "<= 0.1",
        params,
    )
    figure(
        "backfill_overhead.vs_floor",
        median_dagster,
        "s",
        "lib_calls_direct",
        median_floor,
        "<= 2.0",
        params,
        ratio=statistics.median(ratios),
        target_of="ratio",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
