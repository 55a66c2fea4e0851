"""Point-in-time training sets: labels from silver, features from Feast's offline store as they
were at each label's timestamp, transforms fitted on the earlier (training) rows only, written to
the lake as a snapshot with a manifest from which the same rows can be rebuilt."""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import MaestroError
from ..features.catalog import EVENT_TIMESTAMP, TABLES
from ..features.gold import FeatureInputs
from ..features.transforms import FeatureTransform, FittedTransforms, fit
from ..lake import Lake
from .offline import prepare_offline_store
from .services import FEATURE_SERVICES, FEATURE_TTL

LABEL = "label"
SPLIT = "split"
ROOT = "training_sets"


@dataclass(frozen=True)
class TrainingSetSpec:
    name: str
    service: str
    description: str
    holdout_fraction: float = 0.2
    transform: FeatureTransform = field(default_factory=lambda: FeatureTransform("impute", "minmax"))

    @property
    def keys(self) -> list[str]:
        return [TABLES[e].key for e in FEATURE_SERVICES[self.service]]


TASK_LATENESS = TrainingSetSpec(
    "task_lateness",
    "task_lateness",
    "Will a task finish after its deadline? One row per completed task, as of the moment it started "
    "(task and assignee features of that moment).",
)
PROJECT_SUCCESS = TrainingSetSpec(
    "project_success",
    "project_success",
    "A project's success score, as of 30 days after its start (project and team features of that moment).",
)
TRAINING_SETS = {s.name: s for s in (TASK_LATENESS, PROJECT_SUCCESS)}
PROJECT_PREDICTION_DELAY = timedelta(days=30)


def _utc(values: pd.Series) -> pd.Series:
    series = pd.to_datetime(values)
    return series.dt.tz_localize("UTC") if series.dt.tz is None else series.dt.tz_convert("UTC")


def label_frame(spec: TrainingSetSpec, lake: Lake, inputs: FeatureInputs) -> pd.DataFrame:
    """Entity keys, ``event_timestamp`` (when the prediction is made) and ``label``, from silver."""
    if spec.name == "task_lateness":
        tasks = lake.read_table("silver", inputs.tasks)
        done = tasks[tasks["is_late"].notna() & tasks["started_at"].notna() & tasks["assignee_id"].notna()]
        return pd.DataFrame(
            {
                "task_id": done["task_id"].astype("int64"),
                "user_id": done["assignee_id"].astype("int64"),
                EVENT_TIMESTAMP: _utc(done["started_at"]),
                LABEL: done["is_late"].astype("int64"),
            }
        ).reset_index(drop=True)
    if spec.name == "project_success":
        projects = lake.read_table("silver", inputs.projects)
        scored = projects[projects["success_score"].notna()]
        return pd.DataFrame(
            {
                "project_id": scored["project_id"].astype("int64"),
                "team_id": scored["team_id"].astype("int64"),
                EVENT_TIMESTAMP: _utc(scored["start_date"]) + PROJECT_PREDICTION_DELAY,
                LABEL: scored["success_score"].astype(float),
            }
        ).reset_index(drop=True)
    raise MaestroError(f"unknown training set {spec.name!r}; known: {', '.join(TRAINING_SETS)}")


def gold_versions(lake: Lake, spec: TrainingSetSpec) -> dict[str, dict[str, str]]:
    """Per gold table the service reads, each partition's version (the object's ETag)."""
    versions = {}
    for entity in FEATURE_SERVICES[spec.service]:
        name = TABLES[entity].name
        versions[name] = {
            obj.key.split("/")[-2].split("=", 1)[1]: obj.etag for obj in lake.list(f"gold/{name}/") if "=" in obj.key
        }
    return versions


def covered(labels: pd.DataFrame, versions: dict[str, dict[str, str]]) -> pd.DataFrame:
    """Labels whose timestamp lies where every table has gold rows (within the TTL of the last day)."""
    first, last = [], []
    for days in versions.values():
        if not days:
            return labels.iloc[0:0]
        first.append(pd.Timestamp(min(days), tz="UTC") + timedelta(days=1))
        last.append(pd.Timestamp(max(days), tz="UTC") + timedelta(days=1) + FEATURE_TTL)
    start, end = max(first), min(last)
    return labels[(labels[EVENT_TIMESTAMP] >= start) & (labels[EVENT_TIMESTAMP] < end)].reset_index(drop=True)


def historical_features(store, entity_frame: pd.DataFrame, service: str) -> pd.DataFrame:
    """Feast's point-in-time join of the service's features onto ``entity_frame``: every entity row,
    in its order. Feast's offline stores leave out rows with no feature value within the TTL;
    they come back here with nulls, so no label is lost."""
    prepare_offline_store(store)
    frame = entity_frame.reset_index(drop=True).assign(_row=lambda f: range(len(f)))
    with warnings.catch_warnings():  # pandas FutureWarnings from inside Feast's join
        warnings.simplefilter("ignore", FutureWarning)
        job = store.get_historical_features(
            entity_df=frame, features=store.get_feature_service(service), full_feature_names=True
        )
        found = job.to_df()
    features = [c for c in found.columns if c not in frame.columns]
    return frame.merge(found[["_row", *features]], on="_row", how="left").drop(columns="_row")


@dataclass
class TrainingSet:
    frame: pd.DataFrame
    manifest: dict


def _parquet(frame: pd.DataFrame) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink, compression="zstd")
    return sink.getvalue()


def _read_parquet(lake: Lake, key: str) -> pd.DataFrame:
    return pq.read_table(io.BytesIO(lake.get(key))).to_pandas()


def _finish(joined: pd.DataFrame, transforms: FittedTransforms, cutoff) -> pd.DataFrame:
    out = transforms.apply(joined)
    out[SPLIT] = (out[EVENT_TIMESTAMP] < cutoff).map({True: "train", False: "holdout"})
    return out


def build_training_set(store, lake: Lake, spec: TrainingSetSpec, inputs: FeatureInputs, as_of: datetime) -> TrainingSet:
    """Labels up to ``as_of``, their point-in-time features, transforms fitted on the train split."""
    versions = gold_versions(lake, spec)
    labels = covered(label_frame(spec, lake, inputs), versions)
    labels = labels[labels[EVENT_TIMESTAMP] <= pd.Timestamp(as_of)].sort_values([EVENT_TIMESTAMP, *spec.keys])
    labels = labels.reset_index(drop=True)
    if labels.empty:
        raise MaestroError(
            f"training set {spec.name}: no label falls inside the gold days materialized "
            f"({ {t: (min(d), max(d)) if d else None for t, d in versions.items()} }); materialize gold first"
        )
    joined = historical_features(store, labels, spec.service)
    features = [c for c in joined.columns if "__" in c]
    cutoff = labels[EVENT_TIMESTAMP].quantile(1 - spec.holdout_fraction)
    train = joined[joined[EVENT_TIMESTAMP] < cutoff]  # fitted on rows before the holdout, never after
    transforms = fit(train, {name: spec.transform for name in features})
    frame = _finish(joined, transforms, cutoff)
    snapshot = hashlib.sha256(
        json.dumps({"as_of": str(as_of), "versions": versions}, sort_keys=True).encode()
    ).hexdigest()[:12]
    prefix = f"{ROOT}/{spec.name}/{snapshot}"
    manifest = {
        "training_set": spec.name,
        "feature_service": spec.service,
        "feature_references": [
            f"{p.name}:{f.name}"
            for p in store.get_feature_service(spec.service).feature_view_projections
            for f in p.features
        ],
        "as_of": pd.Timestamp(as_of).isoformat(),
        "holdout_from": pd.Timestamp(cutoff).isoformat(),
        "entity_frame": f"{prefix}/entities.parquet",
        "data": f"{prefix}/data.parquet",
        "raw_data": f"{prefix}/raw.parquet",  # the features before the transforms: what a model is given
        "gold_versions": versions,
        "transforms": transforms.to_json(),
        "rows": len(frame),
        "rows_train": int((frame[SPLIT] == "train").sum()),
    }
    lake.put(manifest["entity_frame"], _parquet(labels))
    lake.put(manifest["data"], _parquet(frame))
    split = (joined[EVENT_TIMESTAMP] < cutoff).map({True: "train", False: "holdout"})
    lake.put(manifest["raw_data"], _parquet(joined.assign(**{SPLIT: split})))
    lake.put(f"{prefix}/manifest.json", json.dumps(manifest, indent=2).encode())
    return TrainingSet(frame, {**manifest, "manifest": f"{prefix}/manifest.json"})


def latest_manifest(lake: Lake, name: str) -> dict:
    """The newest snapshot's manifest of training set ``name`` (by its as-of time), with its key."""
    keys = [o.key for o in lake.list(f"{ROOT}/{name}/") if o.key.endswith("/manifest.json")]
    if not keys:
        raise MaestroError(
            f"training set {name}: no snapshot in the lake under {ROOT}/{name}/; "
            f"materialize the asset training_set_{name} first"
        )
    manifests = [{**json.loads(lake.get(key)), "manifest": key} for key in keys]
    return max(manifests, key=lambda m: (m["as_of"], m["manifest"]))


def read_snapshot(lake: Lake, manifest: dict, raw: bool = True) -> pd.DataFrame:
    """A snapshot's rows: the raw features (what a model is given) or the transformed ones."""
    key = manifest.get("raw_data") if raw else manifest["data"]
    if key is None:
        raise MaestroError(
            f"training set {manifest['training_set']}: the snapshot {manifest['manifest']} predates raw "
            "features in training sets; materialize the training set again"
        )
    return _read_parquet(lake, key)


def rebuild_training_set(store, lake: Lake, manifest_key: str) -> pd.DataFrame:
    """The rows of a snapshot again, from its manifest: same entities, features, transforms."""
    manifest = json.loads(lake.get(manifest_key))
    spec = TRAINING_SETS[manifest["training_set"]]
    now = gold_versions(lake, spec)
    if now != manifest["gold_versions"]:
        changed = sorted(t for t in now if now[t] != manifest["gold_versions"].get(t))
        raise MaestroError(
            f"training set {spec.name}: gold changed since the snapshot {manifest_key} "
            f"({', '.join(changed)}); the rebuild would not be the same rows"
        )
    labels = _read_parquet(lake, manifest["entity_frame"])
    joined = historical_features(store, labels, manifest["feature_service"])
    transforms = FittedTransforms.from_json(manifest["transforms"])
    return _finish(joined, transforms, pd.Timestamp(manifest["holdout_from"]))
