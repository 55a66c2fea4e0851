"""validate — the silver validation of one table against hand-written numpy checks of the same rules.

A synthetic ``task_events`` frame (seeded, so every run sees the same data) arrives the way a
bronze parquet file delivers it: ids as int64, the int columns that may hold nulls as float64,
the event type as Python strings, tz-aware event times. About 1% of its rows carry one injected
fault each: a null or fractional task id, an unknown event type, a duplicate event id, a
timestamp two days in the future, hours outside [0, 24].

In the same run the same rules (``RULES``) are applied two ways to the same frame:

* ``maestro_assets.lib.quality.validate`` — typed valid rows, quarantine with reasons, results;
* the floor: the same row masks written directly in numpy (pandas' hash table for the string
  membership test, where ``np.isin`` is 6x slower), the same table-level figures (null share,
  newest timestamp, KS statistic) and the same split into valid and quarantined rows — no
  reasons, no report, numpy's own dtypes.

Both must quarantine the same rows and find the same KS statistic (checked). Each size runs
``--repeats`` rounds, the two sides taking turns; the best time of each counts.
Figures: ``validate.1m`` / ``validate.10m`` — the time ratio to the floor (target at most 3);
``validate.small_frame_ms`` — ms per call on
1,000-row frames (target at most 5; baseline: the floor per call).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from benchmarks.harness import figure, note, peak_rss_mb, timed
from maestro_assets.lib.quality import load_rules, validate
from maestro_assets.lib.quality.stats import ks_statistic

NOW = pd.Timestamp("2025-06-01 12:00", tz="UTC")
EVENT_TYPES = (
    "created",
    "assigned",
    "started",
    "commented",
    "blocked",
    "unblocked",
    "review_requested",
    "completed",
    "reopened",
)
HOURS = (0.0, 24.0)
MAX_AGE_HOURS = 48
REFERENCE_ROWS = 10_000  # the sample the distribution check compares against
FUTURE_TOLERANCE = pd.Timedelta(minutes=5)
RULES = load_rules(
    {
        "tables": {
            "demo_db/task_events": {
                "keys": ["event_id"],
                "columns": {
                    "event_id": {"dtype": "int64", "nullable": False},
                    "task_id": {"dtype": "int64", "nullable": False},
                    "user_id": {"dtype": "int64", "nullable": True, "missing": "zero"},
                    "event_type": {"dtype": "string", "nullable": False},
                    "event_time": {"dtype": "datetime64[ns, UTC]", "nullable": False},
                    "hours_logged": {"dtype": "float64", "nullable": True, "missing": "zero"},
                },
                "checks": [
                    {"kind": "completeness", "column": "user_id", "max_null_fraction": 0.05, "severity": "WARNING"},
                    {"kind": "uniqueness", "columns": ["event_id"], "severity": "ERROR"},
                    {"kind": "range", "column": "hours_logged", "min": HOURS[0], "max": HOURS[1], "severity": "ERROR"},
                    {"kind": "categorical", "column": "event_type", "allowed": list(EVENT_TYPES), "severity": "ERROR"},
                    {
                        "kind": "freshness",
                        "column": "event_time",
                        "max_age_hours": MAX_AGE_HOURS,
                        "severity": "WARNING",
                    },
                    {"kind": "distribution", "column": "hours_logged", "max_ks": 0.2, "severity": "WARNING"},
                ],
            }
        }
    }
).for_table("demo_db", "task_events")


def task_events(rows: int, seed: int = 0, bad_share: float = 0.01) -> pd.DataFrame:
    """``rows`` synthetic events, ``bad_share`` of them with one injected fault each."""
    rng = np.random.default_rng(seed)
    event_id = np.arange(1, rows + 1, dtype=np.int64)
    task_id = rng.integers(1, max(2, rows // 20), rows).astype(np.float64)
    user_id = rng.integers(1, 500, rows).astype(np.float64)
    user_id[rng.random(rows) < 0.02] = np.nan  # nullable: missing users are not faults
    event_type = np.asarray(EVENT_TYPES, dtype=object)[rng.integers(0, len(EVENT_TYPES), rows)]
    seconds = np.sort(rng.integers(0, 24 * 3600, rows))  # the last day, oldest first
    event_time = (NOW - pd.Timedelta(days=1)).value + seconds * 1_000_000_000
    hours = np.where(rng.random(rows) < 0.3, np.round(rng.exponential(2.0, rows), 2), 0.0).clip(0, 24)
    faults = np.flatnonzero(rng.random(rows) < bad_share)
    faults = faults[faults > 0]
    kind = rng.integers(0, 6, len(faults))
    task_id[faults[kind == 0]] = np.nan
    task_id[faults[kind == 1]] += 0.5
    event_type[faults[kind == 2]] = "exploded"
    event_id[faults[kind == 3]] = event_id[faults[kind == 3] - 1]  # ids stay sorted: the rows before are unique
    event_time[faults[kind == 4]] = (NOW + pd.Timedelta(days=2)).value
    hours[faults[kind == 5]] = np.where(rng.random(np.count_nonzero(kind == 5)) < 0.5, 31.5, -1.0)
    return pd.DataFrame(
        {
            "event_id": event_id,
            "task_id": task_id,
            "user_id": user_id,
            "event_type": event_type,
            "event_time": pd.to_datetime(event_time, utc=True),
            "hours_logged": hours,
        }
    )


def numpy_floor(frame: pd.DataFrame, reference: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """``RULES`` by hand: row masks, table-level figures, the split."""
    ids = frame["event_id"].to_numpy()
    task, user, hours = (frame[name].to_numpy() for name in ("task_id", "user_id", "hours_logged"))
    types = frame["event_type"].to_numpy()
    times = frame["event_time"].array.asi8
    with np.errstate(invalid="ignore"):
        fractional_user = ~np.isnan(user) & (user != np.trunc(user))
        bad = np.isnan(task) | (task != np.trunc(task)) | fractional_user | pd.isna(types)
    bad |= ~pd.Series(types).isin(EVENT_TYPES).to_numpy() | (times == np.iinfo(np.int64).min)
    bad |= times > (NOW + FUTURE_TOLERANCE).value
    bad |= (hours < HOURS[0]) | (hours > HOURS[1])
    order = np.argsort(ids, kind="stable")
    ordered = ids[order]
    repeated = np.zeros(len(ids), dtype=bool)
    repeated[order[1:]] = ordered[1:] == ordered[:-1]
    bad |= repeated
    keep = ~bad
    valid = pd.DataFrame(
        {
            "event_id": ids[keep],
            "task_id": task[keep].astype(np.int64),
            "user_id": user[keep],
            "event_type": types[keep],
            "event_time": frame["event_time"].array[keep],
            "hours_logged": hours[keep],
        },
        index=frame.index[keep],
        copy=False,
    )
    quarantine = frame.iloc[np.flatnonzero(bad)]
    kept_hours = hours[keep]
    figures = {
        "user_null_fraction": float(np.isnan(user).mean()) if len(user) else 0.0,
        "newest": times[keep].max() if keep.any() else None,
        "ks": ks_statistic(kept_hours[~np.isnan(kept_hours)], reference["hours_logged"].dropna().to_numpy()),
    }
    return valid, quarantine, figures


def _best_of(repeats: int, *funcs) -> list[tuple[float, object]]:
    """Best time (and last value) of each function over ``repeats`` rounds, run in turns so
    that a slow spell of the machine hits both sides alike."""
    best: list[tuple[float, object]] = [(float("inf"), None)] * len(funcs)
    for _ in range(repeats):
        for index, func in enumerate(funcs):
            seconds, value = timed(func)
            best[index] = (min(seconds, best[index][0]), value)
    return best


def measure_rows(rows: int, reference: pd.DataFrame, repeats: int) -> dict:
    frame = task_events(rows)
    (engine_seconds, result), (floor_seconds, (_, quarantine, floor_figures)) = _best_of(
        repeats, lambda: validate(frame, RULES, now=NOW, reference=reference), lambda: numpy_floor(frame, reference)
    )
    if result.rows_quarantined != len(quarantine):
        raise AssertionError(f"validate() quarantined {result.rows_quarantined} rows, the floor {len(quarantine)}")
    engine_ks = result.check("distribution:hours_logged").details["ks_statistic"]
    if not np.isclose(engine_ks, floor_figures["ks"], equal_nan=True):
        raise AssertionError(f"KS statistic {engine_ks} vs the floor's {floor_figures['ks']}")
    note(
        f"{rows:,} rows: validate {engine_seconds:.3f}s, numpy floor {floor_seconds:.3f}s (best of {repeats}), "
        f"{result.rows_quarantined:,} quarantined"
    )
    return {"rows": rows, "engine": engine_seconds, "floor": floor_seconds, "quarantined": result.rows_quarantined}


def measure_small(calls: int, reference: pd.DataFrame, repeats: int) -> tuple[float, float]:
    """Seconds per call of validate() and of the floor on 1,000-row frames."""
    frames = [task_events(1000, seed=seed) for seed in range(min(calls, 20))]
    validate(frames[0], RULES, now=NOW, reference=reference)  # warm caches and imports

    def calling(func):
        return lambda: [func(frames[call % len(frames)]) for call in range(calls)]

    (engine, _), (floor, _) = _best_of(
        repeats,
        calling(lambda frame: validate(frame, RULES, now=NOW, reference=reference)),
        calling(lambda frame: numpy_floor(frame, reference)),
    )
    return engine / calls, floor / calls


def _label(rows: int) -> str:
    return f"{rows // 1_000_000}m" if rows % 1_000_000 == 0 else f"{rows // 1000}k" if rows % 1000 == 0 else str(rows)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="validate", description=__doc__)
    parser.add_argument("--rows", default="1000000,10000000", help="comma-separated frame sizes")
    parser.add_argument("--small-calls", type=int, default=200, help="validate() calls on 1,000-row frames")
    parser.add_argument("--repeats", type=int, default=3, help="rounds per size; the best time counts")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.rows.split(",") if size.strip()]
    reference = task_events(REFERENCE_ROWS, seed=99, bad_share=0.0)

    engine, floor = measure_small(args.small_calls, reference, args.repeats)
    figure(
        "validate.small_frame_ms",
        engine * 1000,
        "ms/call",
        "numpy_floor",
        floor * 1000,
        "<= 5",
        {"rows": 1000, "calls": args.small_calls, "repeats": args.repeats, "reference_rows": REFERENCE_ROWS},
    )
    for rows in sizes:
        run = measure_rows(rows, reference, args.repeats)
        figure(
            f"validate.{_label(rows)}",
            run["engine"],
            "s",
            "numpy_floor",
            run["floor"],
            "<= 3",
            {
                "rows": rows,
                "quarantined": run["quarantined"],
                "repeats": args.repeats,
                "peak_rss_mb": round(peak_rss_mb()),
            },
            target_of="ratio",
        )
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
