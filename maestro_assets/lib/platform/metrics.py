"""The platform's metrics for Prometheus: a collector that reads the state on every scrape.

``defs/alerts/platform_state.py`` reads the Dagster instance (and this module the lake's quarantine)
into a :class:`PlatformSnapshot` of plain values; :class:`PlatformCollector` turns a fresh snapshot
into metric families at each scrape, so nothing is cached and nothing runs between scrapes:

===============================================  ==========================================================
metric (labels)                                  what it is
===============================================  ==========================================================
``maestro_runs`` (status)                        runs in the Dagster instance with this status
``maestro_asset_last_materialization_age_seconds``  seconds since the asset's last materialization
  (asset)
``maestro_asset_max_age_seconds`` (asset)        the age the asset may reach (its FreshnessPolicy's fail
                                                 window, or its ``maestro/max_age_seconds`` metadata)
``maestro_asset_fresh`` (asset)                  1 if the age is within that, else 0 (only assets with one)
``maestro_asset_check_failing`` (asset, check,   1 if the check's latest evaluation failed, 0 if it passed
  severity)
``maestro_quarantine_rows`` (table)              rows set aside by validation (``quarantine/<table>/``)
``maestro_quarantine_files`` (table)             landed files that could not be read
                                                 (``quarantine/files/<table>/``)
``maestro_serving_latency_ms`` (model, request,  latency percentile of the latest ``serving_check_<model>``
  quantile)                                      load test; request ``one_row`` or ``hundred_rows``
``maestro_serving_throughput_rows_per_second``   rows per second of that load test
  (model, request)
``maestro_metrics_source_up`` (source)           1 if the source (dagster, lake) could be read this scrape
===============================================  ==========================================================
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from wsgiref.simple_server import WSGIServer

import pyarrow.parquet as pq
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ..ingestion.extract import BAD_FILES_PREFIX
from ..lake import PARTITION_FILE, Lake
from ..quality.silver import QUARANTINE_LAYER

SERVING_ASSET_PREFIX = "serving_check_"
SERVING_REQUESTS = ("one_row", "hundred_rows")
QUANTILES = {"p50_ms": "0.5", "p95_ms": "0.95", "p99_ms": "0.99"}
MAX_AGE_METADATA = "maestro/max_age_seconds"


@dataclass(frozen=True)
class AssetAge:
    asset: str
    age_seconds: float
    max_age_seconds: float | None = None  # declared by the asset; None: no freshness flag

    @property
    def fresh(self) -> bool | None:
        return None if self.max_age_seconds is None else self.age_seconds <= self.max_age_seconds


@dataclass(frozen=True)
class CheckState:
    asset: str
    check: str
    severity: str
    failed: bool


@dataclass(frozen=True)
class QuarantineCount:
    rows: int = 0
    files: int = 0


@dataclass(frozen=True)
class ServingFigures:
    model: str
    request: str  # "one_row" or "hundred_rows"
    latency_ms: Mapping[str, float]  # quantile ("0.5", "0.95", "0.99") -> milliseconds
    throughput_rows_per_s: float | None


@dataclass
class PlatformSnapshot:
    runs_by_status: dict[str, int] = field(default_factory=dict)
    assets: list[AssetAge] = field(default_factory=list)
    checks: list[CheckState] = field(default_factory=list)
    quarantine: dict[str, QuarantineCount] = field(default_factory=dict)
    serving: list[ServingFigures] = field(default_factory=list)
    sources_up: dict[str, bool] = field(default_factory=dict)


def quarantine_counts(lake: Lake) -> dict[str, QuarantineCount]:
    """Per table (``<source>/<table>``): the quarantined rows of every partition (from each parquet
    file's footer) and the records of landed files set aside."""
    rows: dict[str, int] = {}
    files: dict[str, int] = {}
    for obj in lake.list(f"{QUARANTINE_LAYER}/"):
        if obj.key.startswith(f"{BAD_FILES_PREFIX}/"):
            parts = obj.key[len(BAD_FILES_PREFIX) + 1 :].split("/")
            if len(parts) >= 3 and obj.key.endswith(".json"):
                table = "/".join(parts[:2])
                files[table] = files.get(table, 0) + 1
        elif obj.key.endswith(f"/{PARTITION_FILE}"):
            path = obj.key[len(QUARANTINE_LAYER) + 1 : -len(PARTITION_FILE) - 1].split("/")
            table = "/".join(part for part in path if "=" not in part)
            rows[table] = rows.get(table, 0) + pq.ParquetFile(io.BytesIO(lake.get(obj.key))).metadata.num_rows
    return {t: QuarantineCount(rows.get(t, 0), files.get(t, 0)) for t in sorted(set(rows) | set(files))}


def serving_model(asset_key: str) -> str | None:
    """The model a ``serving_check_<model>`` asset load-tests; None for any other asset."""
    name = asset_key.rsplit("/", 1)[-1]
    return name[len(SERVING_ASSET_PREFIX) :] if name.startswith(SERVING_ASSET_PREFIX) else None


def serving_figures(model: str, metadata: Mapping[str, float]) -> list[ServingFigures]:
    """The latency percentiles and throughput a serving check recorded (``one_row_p99_ms``, …)."""
    figures = []
    for request in SERVING_REQUESTS:
        latency = {q: float(metadata[f"{request}_{k}"]) for k, q in QUANTILES.items() if f"{request}_{k}" in metadata}
        throughput = metadata.get(f"{request}_throughput_rows_per_s")
        if latency or throughput is not None:
            figures.append(ServingFigures(model, request, latency, None if throughput is None else float(throughput)))
    return figures


_INVALID_LABEL = re.compile(r"[\x00-\x1f]")


def _label(value: str) -> str:
    return _INVALID_LABEL.sub(" ", value)


class PlatformCollector(Collector):
    """The Maestro metrics, from ``read()`` called at every scrape."""

    def __init__(self, read: Callable[[], PlatformSnapshot]):
        self.read = read

    def describe(self) -> list:  # registering must not read the platform
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        snapshot = self.read()
        runs = GaugeMetricFamily("maestro_runs", "Runs in the Dagster instance, by status.", labels=["status"])
        for status, count in sorted(snapshot.runs_by_status.items()):
            runs.add_metric([status], count)
        yield runs

        age = GaugeMetricFamily(
            "maestro_asset_last_materialization_age_seconds",
            "Seconds since the asset's last materialization.",
            labels=["asset"],
        )
        max_age = GaugeMetricFamily(
            "maestro_asset_max_age_seconds",
            "The age the asset may reach: its FreshnessPolicy fail window or its maestro/max_age_seconds.",
            labels=["asset"],
        )
        fresh = GaugeMetricFamily(
            "maestro_asset_fresh",
            "1 if the asset's last materialization is within its max age, 0 if it is overdue.",
            labels=["asset"],
        )
        for asset in snapshot.assets:
            age.add_metric([_label(asset.asset)], asset.age_seconds)
            if asset.max_age_seconds is not None:
                max_age.add_metric([_label(asset.asset)], asset.max_age_seconds)
                fresh.add_metric([_label(asset.asset)], 1.0 if asset.fresh else 0.0)
        yield from (age, max_age, fresh)

        checks = GaugeMetricFamily(
            "maestro_asset_check_failing",
            "1 if the asset check's latest evaluation failed, 0 if it passed.",
            labels=["asset", "check", "severity"],
        )
        for check in snapshot.checks:
            checks.add_metric([_label(check.asset), _label(check.check), check.severity], 1.0 if check.failed else 0.0)
        yield checks

        rows = GaugeMetricFamily(
            "maestro_quarantine_rows", "Rows set aside by validation in the lake's quarantine.", labels=["table"]
        )
        files = GaugeMetricFamily(
            "maestro_quarantine_files", "Landed files set aside because they could not be read.", labels=["table"]
        )
        for table, count in snapshot.quarantine.items():
            rows.add_metric([_label(table)], count.rows)
            files.add_metric([_label(table)], count.files)
        yield from (rows, files)

        latency = GaugeMetricFamily(
            "maestro_serving_latency_ms",
            "Latency percentile (ms) of the model's latest serving_check load test.",
            labels=["model", "request", "quantile"],
        )
        throughput = GaugeMetricFamily(
            "maestro_serving_throughput_rows_per_second",
            "Rows per second of the model's latest serving_check load test.",
            labels=["model", "request"],
        )
        for figures in snapshot.serving:
            for quantile, value in sorted(figures.latency_ms.items()):
                latency.add_metric([_label(figures.model), figures.request, quantile], value)
            if figures.throughput_rows_per_s is not None:
                throughput.add_metric([_label(figures.model), figures.request], figures.throughput_rows_per_s)
        yield from (latency, throughput)

        up = GaugeMetricFamily(
            "maestro_metrics_source_up", "1 if the source could be read at this scrape, else 0.", labels=["source"]
        )
        for source, ok in sorted(snapshot.sources_up.items()):
            up.add_metric([source], 1.0 if ok else 0.0)
        yield up


def serve_metrics(
    read: Callable[[], PlatformSnapshot], port: int, addr: str = "0.0.0.0"
) -> tuple[WSGIServer, threading.Thread]:
    """Serve ``/metrics`` on ``addr:port`` in a daemon thread; ``server.shutdown()`` stops it."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PlatformCollector(read))
    return start_http_server(port, addr=addr, registry=registry)
