"""``automl_scaling``: wall time and peak memory of one Maestro AutoML search (``lib.automl.AutoML``,
``--budget`` seconds, ``n_jobs`` = the cores) as the data grows: ``--rows`` rows (default 10k, 100k
and 1M) x 30 mixed columns, synthetic and seeded — 20 numeric (every fourth with 5% missing), 6
low-cardinality text columns (3 to 8 levels), 4 high-cardinality ones (1,000 to 20,000 levels, one
with 5% missing) — and a binary target with signal in numbers and categories.

Each size runs in a fresh Python process, so its memory is its own: the peak of the summed resident
memory of that process and all its descendants (the engine's forkserver and fit workers), sampled
every 0.1 s with psutil (a dependency of the project's stack; without it the larger of the
process's own peak and its waited-for children's, from ``getrusage``). The sum counts pages the
forked processes share once per process: an upper bound on the memory the search holds. The data is generated and
the fit-process server warmed up before the clock starts (both in params).

Figures: ``automl_scaling.wall_time.<rows>`` — the search's seconds against its budget (target: at
most 1.1x); ``automl_scaling.peak_rss.<rows>`` for each size after the first — its peak memory
against the next smaller size's, the ratio being (memory ratio) / (rows ratio) (target: at most 1,
memory grows at most linearly with the rows).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd

from .harness import figure, note

NUMERIC, LOW_CARDINALITY, HIGH_CARDINALITY = 20, 6, 4
HIGH_LEVELS = (1_000, 5_000, 10_000, 20_000)
MISSING_SHARE = 0.05
SAMPLE_EVERY_S = 0.1
RESULT_PREFIX = "automl_scaling-result "


def synthetic(rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """``rows`` x 30 mixed columns and a binary target ``label`` (about a third positive)."""
    rng = np.random.default_rng(seed)
    columns: dict[str, np.ndarray] = {}
    numbers = rng.normal(size=(rows, NUMERIC))
    n = numbers
    logit = 1.2 * n[:, 0] - 0.8 * n[:, 1] + 0.5 * n[:, 2] * n[:, 3] + 0.6 * np.abs(n[:, 4])
    for i in range(NUMERIC):
        values = numbers[:, i]
        if i % 4 == 3:
            values = np.where(rng.random(rows) < MISSING_SHARE, np.nan, values)
        columns[f"num_{i:02d}"] = values
    for i in range(LOW_CARDINALITY):
        levels = 3 + i
        codes = rng.integers(0, levels, rows)
        if i < 2:  # two of them carry signal
            logit += rng.normal(scale=0.8, size=levels)[codes]
        columns[f"low_{i}"] = np.asarray([f"level_{j}" for j in range(levels)], dtype=object)[codes]
    for i, levels in enumerate(HIGH_LEVELS):
        codes = rng.zipf(1.3, rows) % levels  # a long tail, as ids and free text have
        if i == 0:
            logit += rng.normal(scale=0.7, size=levels)[codes]
        text = np.asarray([f"id_{j:05d}" for j in range(levels)], dtype=object)[codes]
        if i == 1:
            text = np.where(rng.random(rows) < MISSING_SHARE, None, text)
        columns[f"high_{i}"] = text
    X = pd.DataFrame(columns)
    probability = 1 / (1 + np.exp(-(logit - 1.0 + rng.normal(scale=0.5, size=rows))))
    y = pd.Series((rng.random(rows) < probability).astype(np.int64), name="label")
    return X, y


class TreeMemory:
    """The peak of the summed RSS of this process and all its descendants, sampled in a thread."""

    def __init__(self):
        import psutil

        self._psutil = psutil
        self._process = psutil.Process()
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> int:
        total = 0
        for process in [self._process, *self._process.children(recursive=True)]:
            try:
                total += process.memory_info().rss
            except (self._psutil.NoSuchProcess, self._psutil.AccessDenied):
                pass  # a worker killed between listing and reading
        self.peak_bytes = max(self.peak_bytes, total)
        return total

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY_S):
            self.sample()

    def __enter__(self):
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.sample()


def one_size(rows: int, budget: float, seed: int) -> dict:
    """One search on ``rows`` rows, in this process; what the parent reports."""
    from maestro_assets.lib.automl import AutoML
    from maestro_assets.lib.automl.budget import available_cores, warm_up

    started = time.perf_counter()
    X, y = synthetic(rows, seed)
    data_s = time.perf_counter() - started
    warm_up_s = warm_up()
    try:
        import psutil  # noqa: F401

        memory = TreeMemory()
    except ImportError:
        memory = None
    rss_before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    model = AutoML(time_budget_s=budget, n_jobs=available_cores(), random_state=seed)
    started = time.perf_counter()
    if memory is not None:
        with memory:
            model.fit(X, y)
    else:
        model.fit(X, y)
    wall = time.perf_counter() - started
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    meta = model.metadata_
    return {
        "rows": rows,
        "wall_s": wall,
        "peak_rss_mb": round(memory.peak_bytes / 2**20 if memory is not None else max(self_mb, children_mb), 1),
        "rss_measure": "psutil: summed RSS of the process tree, sampled every 0.1 s"
        if memory is not None
        else "getrusage: max(own peak, largest waited-for child's peak)",
        "self_peak_rss_mb": round(self_mb, 1),
        "children_peak_rss_mb": round(children_mb, 1),
        "rss_before_fit_mb": round(rss_before_mb, 1),
        "trials": meta["trials"],
        "search_s": meta["search_s"],
        "validation": meta["validation"],
        "final_model": meta["final_model"],
        "data_s": round(data_s, 2),
        "warm_up_s": round(warm_up_s, 2),
        "n_jobs": available_cores(),
    }


def parse_rows(text: str) -> list[int]:
    try:
        rows = [int(float(r)) for r in text.split(",") if r.strip()]
    except ValueError:
        raise SystemExit(f"--rows {text!r}: give a comma list of row counts, e.g. 10000,100000,1000000") from None
    if not rows or min(rows) < 100:
        raise SystemExit(f"--rows {text!r}: at least one size, each of 100 rows or more")
    return sorted(set(rows))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks automl_scaling", description=__doc__)
    parser.add_argument("--rows", default="10000,100000,1000000", help="comma list of data sizes (rows)")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds of the search at every size")
    parser.add_argument("--seed", type=int, default=0, help="the data's and the search's seed")
    parser.add_argument("--one-size", type=int, help=argparse.SUPPRESS)  # the child process of one size
    args = parser.parse_args(argv)
    if args.one_size is not None:
        print(RESULT_PREFIX + json.dumps(one_size(args.one_size, args.budget, args.seed)), flush=True)
        return 0

    results = []
    for rows in parse_rows(args.rows):
        note(f"automl_scaling: {rows} rows, {args.budget:g}s")
        load = [round(x, 2) for x in os.getloadavg()]
        command = [sys.executable, "-m", "benchmarks", "automl_scaling", "--one-size", str(rows)]
        done = subprocess.run(
            [*command, "--budget", str(args.budget), "--seed", str(args.seed)], capture_output=True, text=True
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
        if done.returncode != 0 or not lines:
            sys.stderr.write(done.stderr)
            raise SystemExit(f"automl_scaling: the search on {rows} rows failed (exit code {done.returncode})")
        result = json.loads(lines[-1][len(RESULT_PREFIX) :])
        result["load_average"] = load
        results.append(result)
        params = {k: v for k, v in result.items() if k not in ("wall_s",)}
        params["budget_s"] = args.budget
        figure(
            f"automl_scaling.wall_time.{rows}",
            result["wall_s"],
            "s",
            "budget",
            args.budget,
            "<= 1.1",
            params,
            target_of="ratio",
        )
    for smaller, larger in zip(results, results[1:]):
        rows_ratio = larger["rows"] / smaller["rows"]
        rss_ratio = larger["peak_rss_mb"] / smaller["peak_rss_mb"]
        figure(
            f"automl_scaling.peak_rss.{larger['rows']}",
            larger["peak_rss_mb"],
            "MiB",
            f"peak_rss_at_{smaller['rows']}_rows",
            smaller["peak_rss_mb"],
            "<= 1",
            {
                "rows": larger["rows"],
                "smaller_rows": smaller["rows"],
                "rows_ratio": round(rows_ratio, 3),
                "rss_ratio": round(rss_ratio, 3),
                "rss_before_fit_mb": [smaller["rss_before_fit_mb"], larger["rss_before_fit_mb"]],
                "rss_measure": larger["rss_measure"],
                "budget_s": args.budget,
            },
            ratio=rss_ratio / rows_ratio,
            target_of="ratio",
        )
    return 0
