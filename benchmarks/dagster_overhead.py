"""dagster_overhead — what running a step through Dagster costs over calling the function.

A chain of N trivial assets (default 30) is materialized through a real Dagster instance
(SQLite storage in a temporary DAGSTER_HOME) with the executor Maestro's ``Definitions`` sets
as its default — what a UI "Materialize all" uses — and, in the same run, the same asset
functions are invoked directly one after another in this process (the baseline).

Figure: seconds of overhead per step = (Dagster wall time − direct wall time) / N.
Target from the foundation issue: at most 0.5 s per step.
``--compare`` also measures the stock multiprocess executor, for reference.
"""

from __future__ import annotations

import argparse
import os
import tempfile

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


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="dagster_overhead", description=__doc__)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--compare", action="store_true", help="also measure the stock multiprocess executor")
    args = parser.parse_args(argv)

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
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
