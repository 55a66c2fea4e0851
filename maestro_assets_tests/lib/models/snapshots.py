"""A small, seeded world for the models' tests, in the lake's real layouts: training-set snapshots
(manifest, raw and transformed rows, as lib/feature_store/training.py writes them) whose features
are the task_lateness service's (task and user gold features), and gold days of the same features
with silver's task -> assignee pairs, so batch predictions and drift run on them."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from maestro_assets.lib.feature_store.training import LABEL, ROOT, SPLIT
from maestro_assets.lib.features.catalog import CREATED_TIMESTAMP, EVENT_TIMESTAMP, TASK, USER
from maestro_assets.lib.features.transforms import FeatureTransform, fit

FEATURES = [f"{t.name}__{f}" for t in (TASK, USER) for f in t.feature_names]
SIGNAL = ("task_features__estimated_hours", "task_features__priority", "user_features__current_workload_hours")


def feature_values(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Every task and user feature; ``shift`` moves estimated_hours and workload (drift)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.normal(size=rows) for name in FEATURES})
    frame["task_features__priority"] = rng.integers(1, 5, rows).astype(float)
    frame["task_features__estimated_hours"] = rng.gamma(2.0, 4.0, rows) + shift
    frame["user_features__current_workload_hours"] = rng.gamma(3.0, 5.0, rows) + 3 * shift
    frame.loc[rng.random(rows) < 0.05, "task_features__estimated_hours"] = np.nan
    return frame


def labels(frame: pd.DataFrame, seed: int, task: str) -> np.ndarray:
    rng = np.random.default_rng(seed + 1000)
    hours, priority, load = (frame[c].fillna(frame[c].median()).to_numpy() for c in SIGNAL)
    signal = hours / 8 - 0.5 * priority + load / 15 + rng.normal(scale=0.6, size=len(frame))
    return (signal > np.quantile(signal, 0.6)).astype("int64") if task == "classification" else signal


def _put(lake, key: str, table: pd.DataFrame) -> None:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False), sink)
    lake.put(key, sink.getvalue())


def write_snapshot(
    lake,
    name: str = "task_lateness",
    task: str = "classification",
    rows: int = 400,
    seed: int = 0,
    as_of: datetime | None = None,
    label_noise: bool = False,
) -> dict:
    """A snapshot of training set ``name``; ``label_noise``: labels unrelated to the features."""
    as_of = as_of or datetime.now(UTC)
    frame = feature_values(rows, seed)
    frame.insert(0, "task_id", np.arange(rows, dtype="int64"))
    frame.insert(1, "user_id", np.arange(rows, dtype="int64") % 50)
    frame.insert(2, EVENT_TIMESTAMP, pd.Timestamp(as_of) - pd.to_timedelta(np.arange(rows)[::-1], unit="h"))
    values = labels(frame, seed, task)
    frame[LABEL] = np.random.default_rng(seed).permutation(values) if label_noise else values
    cutoff = frame[EVENT_TIMESTAMP].quantile(0.8)
    frame[SPLIT] = np.where(frame[EVENT_TIMESTAMP] < cutoff, "train", "holdout")
    transforms = fit(frame[frame[SPLIT] == "train"], {f: FeatureTransform("impute", "minmax") for f in FEATURES})
    prefix = f"{ROOT}/{name}/s{seed:04d}-{int(as_of.timestamp())}"
    manifest = {
        "training_set": name,
        "as_of": pd.Timestamp(as_of).isoformat(),
        "holdout_from": pd.Timestamp(cutoff).isoformat(),
        "data": f"{prefix}/data.parquet",
        "raw_data": f"{prefix}/raw.parquet",
        "entity_frame": f"{prefix}/entities.parquet",
        "transforms": transforms.to_json(),
        "feature_references": [f.replace("__", ":") for f in FEATURES],
        "gold_versions": {},
        "rows": rows,
        "rows_train": int((frame[SPLIT] == "train").sum()),
    }
    _put(lake, manifest["raw_data"], frame)
    _put(lake, manifest["data"], transforms.apply(frame))
    lake.put(f"{prefix}/manifest.json", json.dumps(manifest).encode())
    return {**manifest, "manifest": f"{prefix}/manifest.json"}


def write_gold_day(lake, day: date, rows: int = 300, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    """Gold task and user features of ``day`` (one user per task) and silver's task -> assignee pairs."""
    values = feature_values(rows, seed, shift)
    stamp = pd.Timestamp(day, tz="UTC") + timedelta(days=1)
    ids = np.arange(rows, dtype="int64")
    for table in (TASK, USER):
        part = pd.DataFrame({table.key: ids, EVENT_TIMESTAMP: stamp, CREATED_TIMESTAMP: stamp})
        for feature in table.feature_names:
            part[feature] = values[f"{table.name}__{feature}"].to_numpy()
        lake.write_partition("gold", table.name, ("date", str(day)), part)
    lake.write_partition("silver", "demo_db/tasks", None, pd.DataFrame({"task_id": ids, "assignee_id": ids}))
    return values


def days_ago(days: int) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)
