"""Retraining on persistent drift: when a model's drift checks flagged N consecutive daily
partitions, the sensor requests a run of its training asset, the evidence in the run's tags."""

import json

from dagster import RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from ...lib.models.lifecycle import drift_history, persistent_drift
from ...resources import WarehouseResource
from ..config import MODELS
from .assets import model_key

CONSECUTIVE_DRIFTED_DAYS = 3


@sensor(
    name="model_retraining_on_drift",
    description=f"Requests a training run of a model when its batch predictions' drift checks flagged "
    f"{CONSECUTIVE_DRIFTED_DAYS} consecutive days (the warehouse table model_drift); tags carry the evidence.",
    asset_selection=[model_key(name) for name in MODELS],
    minimum_interval_seconds=300,
)
def model_retraining_on_drift(context: SensorEvaluationContext, warehouse: WarehouseResource):
    cursor = json.loads(context.cursor) if context.cursor else {}
    requests, skipped = [], []
    for name in MODELS:
        history = drift_history(warehouse.client(), name)
        days = persistent_drift(history, CONSECUTIVE_DRIFTED_DAYS)
        if days is None:
            skipped.append(f"{name}: no {CONSECUTIVE_DRIFTED_DAYS} consecutive drifted days")
            continue
        if cursor.get(name) == days[-1]:
            skipped.append(f"{name}: retraining already requested for drift up to {days[-1]}")
            continue
        last = history[history["partition_date"].isin(days)]
        features = sorted({f for value in last["drifted_features"].fillna("") for f in value.split(",") if f})
        requests.append(
            RunRequest(
                run_key=f"retrain-{name}-{days[-1]}",
                asset_selection=[model_key(name)],
                tags={
                    "maestro/reason": "drift",
                    "maestro/drift_days": ",".join(days),
                    "maestro/drift_features": ",".join(features)[:200] or "predictions",
                    "maestro/drift_model_version": str(last["version"].iloc[-1]),
                },
            )
        )
        cursor[name] = days[-1]
    if not requests:
        return SkipReason("; ".join(skipped) or "no model declared")
    for line in skipped:
        context.log.info(line)
    return SensorResult(run_requests=requests, cursor=json.dumps(cursor, sort_keys=True))
