"""What the metrics exporter reads at each scrape: the Dagster instance and the lake, as a
:class:`~maestro_assets.lib.platform.metrics.PlatformSnapshot` of plain values.

A source that cannot be read (the instance's database, the object store) leaves its metrics out of
that scrape and sets ``maestro_metrics_source_up{source=...}`` to 0; the rest are still served.
"""

import logging
import time

from dagster import AssetCheckEvaluation, AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph
from dagster._core.definitions.freshness import TimeWindowFreshnessPolicy
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from ...lib.lake import Lake
from ...lib.platform.metrics import (
    MAX_AGE_METADATA,
    AssetAge,
    CheckState,
    PlatformSnapshot,
    quarantine_counts,
    serving_figures,
    serving_model,
)
from ...lib.redact import scrub

LOG = logging.getLogger(__name__)


def max_age_seconds(asset_graph: BaseAssetGraph | None, key: AssetKey) -> float | None:
    """The age the asset may reach: its time-window FreshnessPolicy's fail window, a legacy
    policy's maximum lag, or the ``maestro/max_age_seconds`` of its metadata; None without one."""
    if asset_graph is None or not asset_graph.has(key):
        return None
    node = asset_graph.get(key)
    policy = node.freshness_policy
    if isinstance(policy, TimeWindowFreshnessPolicy):
        return policy.fail_window.to_timedelta().total_seconds()
    legacy = getattr(node, "legacy_freshness_policy", None)
    if legacy is not None:
        return float(legacy.maximum_lag_minutes) * 60
    declared = node.metadata.get(MAX_AGE_METADATA)
    return float(getattr(declared, "value", declared)) if declared is not None else None


def _numbers(metadata) -> dict[str, float]:
    values = {key: getattr(value, "value", value) for key, value in metadata.items()}
    return {k: float(v) for k, v in values.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def _read_dagster(snapshot: PlatformSnapshot, instance: DagsterInstance, asset_graph: BaseAssetGraph | None) -> None:
    for status in DagsterRunStatus:
        snapshot.runs_by_status[status.value] = instance.get_runs_count(RunsFilter(statuses=[status]))
    now = time.time()
    serving_keys = []
    for record in instance.get_asset_records():
        entry = record.asset_entry
        last = entry.last_materialization
        if last is None:
            continue
        name = entry.asset_key.to_user_string()
        snapshot.assets.append(
            AssetAge(name, max(0.0, now - last.timestamp), max_age_seconds(asset_graph, entry.asset_key))
        )
        if serving_model(name):
            serving_keys.append(entry.asset_key)
    for key, event in instance.get_latest_materialization_events(serving_keys).items():
        if event is not None and event.asset_materialization is not None:
            metadata = _numbers(event.asset_materialization.metadata)
            snapshot.serving.extend(serving_figures(serving_model(key.to_user_string()), metadata))
    check_keys = sorted(asset_graph.asset_check_keys, key=str) if asset_graph is not None else []
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(check_keys) if check_keys else {}
    for check_key, execution in sorted(latest.items(), key=lambda item: str(item[0])):
        if execution.status == AssetCheckExecutionRecordStatus.PLANNED:
            continue
        evaluation = execution.event.dagster_event.event_specific_data if execution.event else None
        if isinstance(evaluation, AssetCheckEvaluation):
            failed, severity = not evaluation.passed, evaluation.severity.value
        else:  # the check's step failed before evaluating
            failed, severity = execution.status == AssetCheckExecutionRecordStatus.FAILED, "ERROR"
        snapshot.checks.append(CheckState(check_key.asset_key.to_user_string(), check_key.name, severity, failed))


def read_platform_snapshot(
    instance: DagsterInstance, asset_graph: BaseAssetGraph | None, lake: Lake | None
) -> PlatformSnapshot:
    """The runs, asset ages, checks and serving figures of ``instance`` (checks and freshness from
    ``asset_graph``) and the quarantine counts of ``lake``."""
    snapshot = PlatformSnapshot()
    try:
        _read_dagster(snapshot, instance, asset_graph)
        snapshot.sources_up["dagster"] = True
    except Exception as exc:  # the scrape still serves the lake's figures
        LOG.warning(f"metrics: cannot read the Dagster instance: {type(exc).__name__}: {scrub(str(exc))}")
        snapshot = PlatformSnapshot(sources_up={"dagster": False})
    if lake is not None:
        try:
            snapshot.quarantine = quarantine_counts(lake)
            snapshot.sources_up["lake"] = True
        except Exception as exc:
            LOG.warning(f"metrics: cannot read the lake's quarantine: {type(exc).__name__}: {scrub(str(exc))}")
            snapshot.sources_up["lake"] = False
    return snapshot
