"""Small training-set snapshots written straight into a lake, in the layout of
lib/feature_store/training.py (manifest, raw and transformed rows), for the models' tests."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from maestro_assets.lib.feature_store.training import LABEL, ROOT, SPLIT
from maestro_assets.lib.features.catalog import EVENT_TIMESTAMP
from maestro_assets.lib.features.transforms import FeatureTransform, fit

FEATURES = ["task_features__priority", "task_features__estimated_hours", "user_features__events_7d", "noise__x"]


def synthetic_rows(rows: int, seed: int, task: str, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    priority = rng.integers(1, 5, rows).astype(float)
    hours = rng.gamma(2.0, 4.0, rows) + shift
    events = rng.poisson(5, rows).astype(float)
    noise = rng.normal(size=rows)
    signal = 0.8 * hours / 8 - 0.5 * priority + 0.2 * events + rng.normal(scale=0.8, size=rows)
    frame = pd.DataFrame(
        dict(zip(FEATURES, (priority, np.where(rng.random(rows) < 0.05, np.nan, hours), events, noise)))
    )
    frame[LABEL] = (signal > np.quantile(signal, 0.6)).astype("int64") if task == "classification" else signal
    return frame


def write_snapshot(lake, name: str, task: str, rows: int = 400, seed: int = 0, as_of: datetime | None = None) -> dict:
    as_of = as_of or datetime.now(UTC)
    frame = synthetic_rows(rows, seed, task)
    frame.insert(0, "task_id", np.arange(rows, dtype="int64"))
    frame.insert(1, EVENT_TIMESTAMP, pd.Timestamp(as_of) - pd.to_timedelta(np.arange(rows)[::-1], unit="h"))
    cutoff = frame[EVENT_TIMESTAMP].quantile(0.8)
    frame[SPLIT] = np.where(frame[EVENT_TIMESTAMP] < cutoff, "train", "holdout")
    transforms = fit(frame[frame[SPLIT] == "train"], {f: FeatureTransform("impute", "minmax") for f in FEATURES})
    snapshot = f"s{seed:04d}{int(as_of.timestamp())}"
    prefix = f"{ROOT}/{name}/{snapshot}"
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
    for key, table in ((manifest["raw_data"], frame), (manifest["data"], transforms.apply(frame))):
        sink = io.BytesIO()
        pq.write_table(pa.Table.from_pandas(table, preserve_index=False), sink)
        lake.put(key, sink.getvalue())
    lake.put(f"{prefix}/manifest.json", json.dumps(manifest).encode())
    return {**manifest, "manifest": f"{prefix}/manifest.json"}


def days_ago(days: int) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)
