"""Gold partitions into Feast's online store, and online reads through a feature service."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from ..errors import LakeKeyError, MaestroError
from ..features.catalog import FeatureTable
from ..lake import Lake


class FeatureStoreError(MaestroError):
    """A Feast lookup or write that cannot work as asked: names the view, feature or service."""


def write_partition_online(store, lake: Lake, table: FeatureTable, day: date) -> int:
    """Write one day of a gold table to the online store (one window: never a whole range), in bulk
    (:mod:`.bulk`: the rows Feast's ``write_to_online_store`` would write, batched)."""
    try:
        frame = lake.read_partition("gold", table.name, ("date", day.isoformat())).to_pandas()
    except LakeKeyError:
        raise FeatureStoreError(
            f"feature view {table.name}: gold/{table.name} has no partition {day} to materialize; "
            f"materialize gold/{table.name} for {day} first"
        ) from None
    expected = set(table.columns)
    if missing := sorted(expected - set(frame.columns)):
        raise FeatureStoreError(
            f"feature view {table.name}: gold/{table.name} date={day} lacks {', '.join(missing)} — the source "
            "schema changed; re-materialize gold for that day, then apply the Feast repo (feast_registry)"
        )
    if len(frame):
        from .bulk import write_online  # imports Feast: not on the code location's load

        write_online(store, table.name, frame[table.columns])
    return len(frame)


def proto_value(value):
    """The Python value a Feast ``ValueProto`` holds (``None`` when it holds none: a null)."""
    kind = value.WhichOneof("val")
    return getattr(value, kind) if kind else None


class OnlineFeatures:
    """Online lookups of one feature service; its feature references, views and the online store's
    keys and fields are resolved once, here (:class:`.bulk.ServiceReader`), not on every lookup."""

    def __init__(self, store, service_name: str):
        self.store = store
        try:
            self.service = store.get_feature_service(service_name)
        except Exception as exc:
            known = sorted(s.name for s in store.list_feature_services())
            raise FeatureStoreError(
                f"unknown feature service {service_name!r} ({type(exc).__name__}); the registry has "
                f"{', '.join(known) or 'none'} — apply the Feast repo (feast_registry) if one is missing"
            ) from None
        self.keys = {}
        views = {}
        for projection in self.service.feature_view_projections:
            view = views[projection.name] = store.get_feature_view(projection.name)
            for column in view.entity_columns:
                self.keys[column.name] = column.dtype
        from .bulk import service_reader

        self.reader = service_reader(store, self.service, views)  # None: Feast's own lookups
        self.features = [f"{p.name}:{f.name}" for p in self.service.feature_view_projections for f in p.features]
        self.columns = [f"{p.name}__{f.name}" for p in self.service.feature_view_projections for f in p.features]

    def _check_rows(self, rows: list[dict]) -> None:
        for i, row in enumerate(rows):
            if missing := [k for k in self.keys if k not in row]:
                raise FeatureStoreError(
                    f"feature service {self.service.name}: entity row {i} lacks {', '.join(missing)}"
                )
            for key in self.keys:
                value = row[key]
                if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                    raise FeatureStoreError(
                        f"feature service {self.service.name}: entity key {key} must be an integer, "
                        f"row {i} has {value!r} ({type(value).__name__})"
                    )

    def get(self, rows: list[dict]) -> dict[str, list]:
        """Features of ``rows``: ``<view>__<feature>`` -> one value per row (views may share feature
        names), entity keys too; entities the online store does not hold come back as ``None``.

        On the SQLite and Redis stores the rows are read by the service's planned reader; otherwise
        through ``get_online_features``, the values read straight from Feast's response protobuf (its
        ``to_dict`` / ``to_df`` convert value by value through its type map and cost more than the lookup)."""
        self._check_rows(rows)
        if self.reader is not None:
            return self.reader.read(rows)
        response = self.store.get_online_features(features=self.service, entity_rows=rows, full_feature_names=True)
        proto = response.proto
        out = {}
        for name, vector in zip(proto.metadata.feature_names.val, proto.results, strict=True):
            out[name] = [proto_value(v) for v in vector.values]
        return out

    def frame(self, rows: list[dict]) -> pd.DataFrame:
        """:meth:`get` as a DataFrame (missing values as NaN / None)."""
        return pd.DataFrame(self.get(rows))


@dataclass(frozen=True)
class Latency:
    p50_ms: float
    p95_ms: float
    p99_ms: float


def measure_latency(online: OnlineFeatures, rows: list[dict], repeats: int = 50) -> Latency:
    online.get(rows)  # warm: the first call opens connections
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        online.get(rows)
        samples.append((time.perf_counter() - start) * 1000)
    p50, p95, p99 = np.percentile(samples, [50, 95, 99])
    return Latency(round(float(p50), 3), round(float(p95), 3), round(float(p99), 3))


def missing_entities(values: dict[str, list], feature_names: list[str]) -> int:
    """Rows whose every feature is null: entities the online store does not hold."""
    columns = [values[c] for c in feature_names if c in values]
    if not columns:
        return len(next(iter(values.values()), []))
    return sum(all(v is None for v in row) for row in zip(*columns, strict=True))


def newest_online_timestamp(store, table: FeatureTable, keys: list[int]) -> pd.Timestamp | None:
    """The newest event timestamp among ``keys``' rows of ``table`` in the online store."""
    result = store.get_online_features(
        features=[f"{table.name}:{table.features[0].name}"], entity_rows=[{table.key: k} for k in keys]
    )
    response = result.to_dict(include_event_timestamps=True)  # `<feature>__ts`: epoch seconds, 0 if absent
    stamps = [t for t in response.get(f"{table.features[0].name}__ts", []) if t]
    return pd.Timestamp(max(stamps), unit="s", tz="UTC") if stamps else None
