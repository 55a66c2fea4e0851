"""dagster_overhead — what running a step through Dagster costs over calling the function.

A chain of N trivial assets (default 30) is materialized through a real Dagster instance
(SQLite storage in a temporary DAGSTER_HOME) with the executor Maestro's ``Definitions`` sets
as its default — what a UI "Materialize all" uses — and, in the same run, the same asset
functions are invoked directly one after another in this process (the baseline).

Figure: seconds of overhead per step = (Dagster wall time − direct wall time) / N.
Target from the foundation issue: at most 0.5 s per step.
``--compare`` also measures the stock multiprocess executor, for reference.

``dagster_overhead.demo_graph`` — the whole demo graph at a small ``--demo-scale`` (default 0.01):
a fresh process with its own ``MAESTRO_HOME`` seeds the demo source system and materializes
every other asset in the stages ``maestro demo`` runs (``platform_runner.run_stages``, the
partitioned ones for the demo's 90 days in one run each) through a real ``DagsterInstance``;
timed is the seeding and the stages, not the interpreter start or the code location's import;
``--demo-rounds`` rounds (default 3), the contenders taking turns, medians.
The baseline, in this process with a ``MAESTRO_HOME`` of its own: the same ``lib`` calls
directly — ``demo.generate`` and the writes of the source system, ``extract`` for every declared
table (the same window), ``materialize_silver`` for every table with rules. Figure: the ratio of
the two (target at most 1.5, see the README). ``--demo-scale 0`` skips it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import date as date_
from datetime import timedelta
from pathlib import Path

from dagster import (
    AssetKey,
    DagsterInstance,
    Definitions,
    MaterializeResult,
    asset,
    define_asset_job,
    execute_job,
    multiprocess_executor,
    reconstructable,
)

from benchmarks.harness import figure, note, timed

STEPS_ENV = "MAESTRO_BENCH_CHAIN_STEPS"


def work(index: int) -> int:
    """What each step computes: trivial, so that the wall time is all orchestration."""
    return sum(range(index + 100))


def _step(index: int, upstream: AssetKey | None):
    @asset(name=f"step_{index:03d}", deps=[upstream] if upstream else [], group_name="bench")
    def step() -> MaterializeResult:
        return MaterializeResult(metadata={"value": work(index), "pid": os.getpid()})

    return step


def chain_assets(steps: int) -> list:
    assets, upstream = [], None
    for index in range(steps):
        step = _step(index, upstream)
        assets.append(step)
        upstream = step.key
    return assets


def maestro_default_executor():
    from maestro_assets.definitions import defs

    return defs.executor


def _chain_job(executor):
    job = define_asset_job("bench_chain")
    steps = int(os.environ[STEPS_ENV])
    return Definitions(assets=chain_assets(steps), jobs=[job], executor=executor).resolve_job_def("bench_chain")


def chain_job_maestro_default():
    """Reconstructable (module-level) job with Maestro's default executor."""
    return _chain_job(maestro_default_executor())


def chain_job_multiprocess():
    """The same job with Dagster's stock multiprocess executor, for reference."""
    return _chain_job(multiprocess_executor)


def run_direct(steps: int) -> None:
    for index in range(steps):
        work(index)


def run_through_dagster(steps: int, job_fn) -> None:
    os.environ[STEPS_ENV] = str(steps)
    with tempfile.TemporaryDirectory(prefix="maestro-bench-") as home:
        with DagsterInstance.local_temp(home) as instance:
            result = execute_job(reconstructable(job_fn), instance=instance)
            assert result.success, "benchmark run failed"
            assert len(result.get_asset_materialization_events()) == steps


# -- the whole demo graph ------------------------------------------------------------------------------

DEMO_SEED = 42
BRONZE_AND_SILVER = ["ingestion", "quality"]


def demo_window(days: int) -> tuple[str, str]:
    """The last ``days`` days of the demo's window (0: all of it), as ``maestro demo`` would run them."""
    from maestro_assets.cli import demo_partition_range

    first, last = demo_partition_range()
    if days:
        first = max(first, (date_.fromisoformat(last) - timedelta(days=days - 1)).isoformat())
    return first, last


def demo_graph_child(scale: float, days: int) -> int:
    """In a fresh process (MAESTRO_HOME set by the parent): what ``maestro demo`` runs, timed."""
    import time

    started = time.perf_counter()
    from maestro_assets.cli import DEMO_GROUP
    from maestro_assets.definitions import defs  # noqa: F401  (the code location, timed as import)
    from maestro_assets.platform_runner import ensure_dagster_home, keys_in_groups, materialize, run_stages

    ensure_dagster_home()
    imported = time.perf_counter() - started

    def run() -> dict:
        seeded = materialize(
            keys_in_groups([DEMO_GROUP]),
            run_config={"ops": {"demo_source_system": {"config": {"scale": scale, "seed": DEMO_SEED}}}},
        )
        window = demo_window(days)
        materialized, failed_steps, stages = set(seeded.materialized), list(seeded.failed_steps), 1
        # bronze and silver: what the floor computes (gold, Feast and training sets have benchmarks of their own)
        for keys, partitions_def in run_stages(keys_in_groups(BRONZE_AND_SILVER)):
            summary = materialize(keys, partition_range=window if partitions_def is not None else None)
            materialized |= set(summary.materialized)
            failed_steps += summary.failed_steps
            stages += 1
        return {"assets": len(materialized), "runs": stages, "failed_steps": failed_steps}

    seconds, report = timed(run)
    print(json.dumps({"seconds": seconds, "import_seconds": imported, **report}), flush=True)
    return 0


def demo_graph_through_dagster(scale: float, days: int, home: Path) -> dict:
    env = {**os.environ, "MAESTRO_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    for name in ("MAESTRO_LAKE_URL", "MAESTRO_WAREHOUSE_URL", "MAESTRO_DEMO_SOURCE_URL", "MAESTRO_SOURCES"):
        env.pop(name, None)  # the embedded defaults under this MAESTRO_HOME, the demo's own sources
    env.pop("MAESTRO_QUALITY_RULES", None)
    argv = [sys.executable, "-m", "benchmarks.dagster_overhead", "--demo-child", str(scale), str(days)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=Path(__file__).parents[1])
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the demo graph run failed: {done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def demo_graph_direct(scale: float, days: int, home: Path) -> dict:
    """The same lib calls as the demo graph's assets, in this process, under MAESTRO_HOME=home."""
    from maestro_assets.defs.demo.assets import CI_EXPORT_KEY
    from maestro_assets.lib import demo, settings
    from maestro_assets.lib.dates import days_between, start_of_day
    from maestro_assets.lib.ingestion.extract import extract
    from maestro_assets.lib.ingestion.sources import load_sources
    from maestro_assets.lib.lake import open_lake
    from maestro_assets.lib.quality import load_rules
    from maestro_assets.lib.quality.silver import materialize_silver
    from maestro_assets.lib.warehouse import Warehouse

    saved = {name: os.environ.get(name) for name in ("MAESTRO_HOME", "MAESTRO_LAKE_URL", "MAESTRO_DEMO_SOURCE_URL")}
    os.environ["MAESTRO_HOME"] = str(home)
    os.environ.pop("MAESTRO_LAKE_URL", None)
    os.environ.pop("MAESTRO_DEMO_SOURCE_URL", None)
    try:
        first, last = (date_.fromisoformat(d) for d in demo_window(days))
        window = (start_of_day(first), start_of_day(last + timedelta(days=1)))
        partitions = [d.isoformat() for d in days_between(first, last + timedelta(days=1))]

        def run() -> int:
            data = demo.generate(scale=scale, seed=DEMO_SEED)
            source_db = Warehouse(settings.demo_source_url())
            for table, frame in data.tables().items():
                source_db.write_frame(table, frame)
            lake = open_lake(settings.lake_url())
            for key, payload in demo.landing_files(data).items():
                lake.put(key, payload)
            demo.write_git_repository(data, settings.demo_git_path())
            lake.put(CI_EXPORT_KEY, json.dumps(demo.ci_runs_export(data)).encode())
            steps = 1
            sources = load_sources(settings.sources_file())
            for source in sources.sources:
                for spec in source.tables:
                    extract(source, spec, lake, window if spec.partitioned else None, "direct")
                    steps += 1
            rules = load_rules(settings.quality_rules_file())
            for spec in sources.tables():
                table_rules = rules.for_table(spec.source, spec.table)
                if table_rules is not None:
                    days_ = partitions if spec.partitioned else None
                    materialize_silver(lake, spec.qualified_name, table_rules, days_)
                    steps += 1
            return steps

        seconds, steps = timed(run)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return {"seconds": seconds, "steps": steps}


def measure_demo_graph(scale: float, days: int, rounds: int) -> None:
    """``rounds`` rounds, the two contenders taking turns (each in a fresh MAESTRO_HOME); the
    medians count."""
    direct_s, through_s, loads, through = [], [], [], None
    for round_ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="maestro-bench-demo-") as tmp:
            load = os.getloadavg()
            loads.append([round(x, 2) for x in load])
            order = ("direct", "dagster") if round_ % 2 == 0 else ("dagster", "direct")
            for contender in order:
                if contender == "direct":
                    direct_s.append(demo_graph_direct(scale, days, Path(tmp) / "direct")["seconds"])
                else:
                    through = demo_graph_through_dagster(scale, days, Path(tmp) / "dagster")
                    if through["failed_steps"]:
                        raise AssertionError(f"demo graph: steps failed through Dagster: {through['failed_steps']}")
                    through_s.append(through["seconds"])
        note(
            f"demo graph round {round_ + 1} (scale {scale}): direct {direct_s[-1]:.2f}s, through Dagster "
            f"{through_s[-1]:.2f}s ({through['assets']} assets in {through['runs']} runs); "
            f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
        )
    figure(
        "dagster_overhead.demo_graph",
        statistics.median(through_s),
        "s",
        "lib_calls_direct",
        statistics.median(direct_s),
        "<= 1.5",
        {
            "scale": scale,
            "days": days or 90,
            "rounds": rounds,
            "through_dagster_s": [round(v, 3) for v in through_s],
            "direct_s": [round(v, 3) for v in direct_s],
            "ratio_by_round": [round(t / d, 3) for t, d in zip(through_s, direct_s, strict=True)],
            "assets": through["assets"],
            "runs": through["runs"],
            "child_import_s": round(through["import_seconds"], 3),
            "loadavg_by_round": loads,
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        },
        target_of="ratio",
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="dagster_overhead", description=__doc__)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--compare", action="store_true", help="also measure the stock multiprocess executor")
    parser.add_argument("--demo-scale", type=float, default=0.01, help="scale of the demo graph variant; 0 skips it")
    parser.add_argument("--demo-days", type=int, default=0, help="the last N days of the demo's 90 (0: all)")
    parser.add_argument("--demo-rounds", type=int, default=3, help="alternated rounds of the demo graph (medians)")
    parser.add_argument("--demo-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.demo_child is not None:
        return demo_graph_child(float(args.demo_child[0]), int(args.demo_child[1]))

    executor_name = maestro_default_executor().name
    direct, _ = timed(lambda: run_direct(args.steps))
    through, _ = timed(lambda: run_through_dagster(args.steps, chain_job_maestro_default))
    note(f"direct {direct:.3f}s, through Dagster ({executor_name}) {through:.3f}s for {args.steps} steps")
    per_step = (through - direct) / args.steps
    figure(
        f"dagster_overhead.chain{args.steps}",
        per_step,
        "s/step",
        "direct_call",
        direct / args.steps,
        "<= 0.5",
        {"steps": args.steps, "executor": executor_name, "dagster_seconds": round(through, 3)},
    )
    if args.compare:
        multi, _ = timed(lambda: run_through_dagster(args.steps, chain_job_multiprocess))
        figure(
            f"dagster_overhead.chain{args.steps}.multiprocess",
            (multi - direct) / args.steps,
            "s/step",
            "direct_call",
            direct / args.steps,
            "<= 0.5",
            {"steps": args.steps, "executor": "multiprocess (stock)", "dagster_seconds": round(multi, 3)},
        )
    if args.demo_scale > 0:
        measure_demo_graph(args.demo_scale, args.demo_days, args.demo_rounds)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
