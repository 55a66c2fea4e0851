"""``training_set``: point-in-time retrieval of ``--labels`` task labels x 30 features through Feast's
offline store, with Maestro's ``lib.feature_store.training.historical_features`` (Feast's
``get_historical_features`` over a feature service, every entity row kept), against one DuckDB
``ASOF LEFT JOIN`` of the same rows (the floor), the contenders taking turns over ``--repeat`` rounds.

Setup (not timed): a throwaway Feast repo in a temp dir — entity ``task`` (``task_id`` int64), one
feature view of 30 Float64 features (TTL 2 days) over a ``FileSource`` on a Hive-style directory of
daily parquet files (``date=YYYY-MM-DD/part-0.parquet``: ``task_id``, ``event_timestamp`` at the
day's end UTC, ``created_timestamp``, ``f00``..``f29``), gold-like: ``--tasks`` tasks x ``--days``
days, about 5% of the task-days missing (so some labels fall outside the TTL). Labels: random
tasks at random times inside the period (and a day before it, so some find no feature row at all).

The floor's output is checked against Maestro's after the first round (by row id, all 30 columns,
NaN equal to NaN): ``params.outputs_equal`` and ``params.mismatching_cells``.
Figure: ``training_set.vs_duckdb_asof`` — Maestro median seconds against the floor's (target: a
ratio of at most 3).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .harness import feature_store, figure, note, peak_rss_mb

N_FEATURES = 30
FEATURES = [f"f{i:02d}" for i in range(N_FEATURES)]
PROJECT = "maestro_bench"
VIEW = "bench_tasks"
SERVICE = "bench_service"
TTL = timedelta(days=2)
FIRST_DAY = datetime(2026, 1, 1, tzinfo=UTC)

FLOOR_SQL = """
SELECT e._row, {columns}
FROM entities AS e
ASOF LEFT JOIN read_parquet('{gold}/*/*.parquet', hive_partitioning = true) AS f
    ON e.task_id = f.task_id AND e.event_timestamp >= f.event_timestamp
ORDER BY e._row
"""


def write_gold(root: Path, tasks: int, days: int) -> int:
    rng = np.random.default_rng(0)
    created = pd.Timestamp(datetime.now(UTC))
    total = 0
    for day in range(days):
        ids = np.arange(1, tasks + 1, dtype=np.int64)
        ids = ids[rng.random(tasks) >= 0.05]
        frame = pd.DataFrame(rng.random((len(ids), N_FEATURES)), columns=FEATURES)
        frame.insert(0, "task_id", ids)
        frame.insert(1, "event_timestamp", pd.Timestamp(FIRST_DAY + timedelta(days=day + 1)))
        frame.insert(2, "created_timestamp", created)
        folder = root / f"date={(FIRST_DAY + timedelta(days=day)).date().isoformat()}"
        folder.mkdir(parents=True)
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / "part-0.parquet")
        total += len(frame)
    return total


def entity_frame(labels: int, tasks: int, days: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    start = pd.Timestamp(FIRST_DAY)  # a day before the first feature row: some labels find none
    span_us = (days + 1) * 86_400_000_000
    offsets = pd.to_timedelta(rng.integers(0, span_us, labels), unit="us")
    return pd.DataFrame(
        {
            "task_id": rng.integers(1, tasks + 1, labels).astype(np.int64),
            "event_timestamp": start + offsets,
            "label": rng.integers(0, 2, labels).astype(np.int64),
        }
    )


def make_store(root: Path, gold: Path):
    return feature_store(
        root,
        PROJECT,
        f"online_store:\n  type: sqlite\n  path: {root}/online.db",
        VIEW,
        "task",
        "task_id",
        FEATURES,
        source_path=gold,
        service=SERVICE,
        ttl=TTL,
    )


def run_floor(con, entities: pd.DataFrame, gold: Path) -> pd.DataFrame:
    ttl_s = int(TTL.total_seconds())
    columns = ", ".join(
        f"CASE WHEN f.event_timestamp >= e.event_timestamp - INTERVAL {ttl_s} SECOND THEN f.{c} END AS {c}"
        for c in FEATURES
    )
    con.register("entities", entities.assign(_row=np.arange(len(entities), dtype=np.int64)))
    try:
        return con.execute(FLOOR_SQL.format(columns=columns, gold=gold)).df()
    finally:
        con.unregister("entities")


def compare(maestro: pd.DataFrame, floor: pd.DataFrame) -> tuple[bool, int, dict]:
    """Same rows in the same order (Maestro keeps the entity order; the floor sorts by row id)."""
    if len(maestro) != len(floor):
        return False, -1, {"rows": [len(maestro), len(floor)]}
    bad, per_column = 0, {}
    for c in FEATURES:
        a = maestro[f"{VIEW}__{c}"].to_numpy(np.float64)
        b = floor[c].to_numpy(np.float64)
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        if n := int((~same).sum()):
            per_column[c] = n
        bad += n
    return bad == 0, bad, per_column


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks training_set", description=__doc__)
    parser.add_argument("--labels", type=int, default=60_000, help="entity rows (task labels)")
    parser.add_argument("--tasks", type=int, default=20_000, help="tasks in the gold table")
    parser.add_argument("--days", type=int, default=30, help="daily partitions of the gold table")
    parser.add_argument("--repeat", type=int, default=3, help="alternated rounds (medians)")
    args = parser.parse_args(argv)

    import duckdb

    from maestro_assets.lib.feature_store.training import historical_features

    tmp = Path(tempfile.mkdtemp(prefix="maestro-bench-training-"))
    try:
        started = time.perf_counter()
        gold = tmp / "gold"
        gold_rows = write_gold(gold, args.tasks, args.days)
        store = make_store(tmp / "repo", gold)
        entities = entity_frame(args.labels, args.tasks, args.days)
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        setup_s = time.perf_counter() - started
        times = {"maestro": [], "duckdb": []}
        load = []
        equal, mismatches, per_column, nulls = None, None, None, None
        for i in range(args.repeat):
            load.append([round(x, 2) for x in os.getloadavg()])
            order = ("maestro", "duckdb") if i % 2 == 0 else ("duckdb", "maestro")
            outputs = {}
            for who in order:
                start = time.perf_counter()
                if who == "maestro":
                    outputs[who] = historical_features(store, entities, SERVICE)
                else:
                    outputs[who] = run_floor(con, entities, gold)
                times[who].append(round(time.perf_counter() - start, 4))
            if i == 0:
                equal, mismatches, per_column = compare(outputs["maestro"], outputs["duckdb"])
                nulls = int(outputs["maestro"][f"{VIEW}__{FEATURES[0]}"].isna().sum())
            note(f"training_set: round {i + 1}/{args.repeat}: {times['maestro'][-1]}s vs {times['duckdb'][-1]}s")
        mine, floor = statistics.median(times["maestro"]), statistics.median(times["duckdb"])
        params = {
            "labels": args.labels,
            "tasks": args.tasks,
            "days": args.days,
            "features": N_FEATURES,
            "gold_rows": gold_rows,
            "ttl_days": TTL.days,
            "repeats": args.repeat,
            "maestro_s": times["maestro"],
            "duckdb_s": times["duckdb"],
            "maestro_path": "lib.feature_store.training.historical_features(store, entities, service)",
            "floor": "DuckDB ASOF LEFT JOIN over read_parquet(hive_partitioning), TTL applied with CASE",
            "outputs_equal": bool(equal),
            "mismatching_cells": mismatches,
            "mismatches_by_column": per_column,
            "labels_without_features": nulls,
            "load_average_by_round": load,
            "duckdb_version": duckdb.__version__,
            "cpus": os.cpu_count(),
            "setup_s": round(setup_s, 2),
            "peak_rss_mb": round(peak_rss_mb(), 1),
        }
        figure("training_set.vs_duckdb_asof", mine, "s", "duckdb_asof_join", floor, "<= 3", params, target_of="ratio")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0
