"""Model assets, one chain per model declared in models.yaml (``MAESTRO_MODELS``):

    training_set_<ts> -> model_<name> -> serving_check_<name> -> model_promotion_<name>
                                                      gold day -> batch_predictions_<name> (daily)

``model_<name>`` trains the challenger (AutoML, tracked in MLflow) with two blocking checks: the
model's requirements, and beating the champion on the same holdout; ``serving_check_<name>``
load-tests it through MLflow's scoring server (blocking check on latency and throughput);
``model_promotion_<name>`` moves ``champion`` to it only when every gate passed (audited).
``batch_predictions_<name>`` predicts each day with the champion, with drift checks of the day's
features and predictions against the reference profiles stored with the model.
"""

import io

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AutomationCondition,
    BackfillPolicy,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from ...lib.dates import days_of_window
from ...lib.feature_store.services import FEATURE_SERVICES
from ...lib.feature_store.training import TRAINING_SETS
from ...lib.models.lifecycle import (
    Champion,
    leaderboard_markdown,
    load_test_challenger,
    predict_day,
    promote_challenger,
    train_challenger,
    training_set_name,
)
from ...lib.models.plots import markdown_image
from ...lib.models.requirements import ModelRequirements, requirements_markdown
from ...lib.models.training import TAG_ASSET, TAG_DAGSTER_RUN, TAG_PARTITION, SearchSettings
from ...lib.monitoring.drift import DriftThresholds
from ...resources import LakeResource, MlflowResource, WarehouseResource
from ..config import DAILY, MODELS
from ..failures import RETRY, bad_input_fails_fast
from ..features.assets import INPUTS, gold_key

GROUP = "models"
OWNERS = ["team:ml-platform"]
REQUIREMENTS_CHECK = "meets_requirements"
CHAMPION_CHECK = "challenger_beats_champion"
SERVING_CHECK = "serving_requirements"
FEATURE_DRIFT_CHECK = "feature_drift"
PREDICTION_DRIFT_CHECK = "prediction_drift"
GATE_CHECKS = (REQUIREMENTS_CHECK, CHAMPION_CHECK, SERVING_CHECK)  # blocking: a failed one holds the promotion


def model_key(name: str) -> AssetKey:
    return AssetKey(f"model_{name}")


def serving_key(name: str) -> AssetKey:
    return AssetKey(f"serving_check_{name}")


def promotion_key(name: str) -> AssetKey:
    return AssetKey(f"model_promotion_{name}")


def predictions_key(name: str) -> AssetKey:
    return AssetKey(f"batch_predictions_{name}")


class TrainingConfig(Config):
    """The AutoML search of one training (the launchpad's run config)."""

    time_budget_s: float | None = Field(default=60.0, description="seconds for the whole search and refit")
    max_trials: int | None = Field(default=None, description="at most this many trials (None: as time allows)")
    families: list[str] | None = Field(default=None, description="model families to search (None: all that fit)")
    cv: int = Field(default=5, description="cross-validation folds")
    seed: int = Field(default=0, description="random_state of folds, samplers and models")


def _settings(config: TrainingConfig) -> SearchSettings:
    return SearchSettings(
        time_budget_s=config.time_budget_s,
        max_trials=config.max_trials,
        families=config.families,
        cv=config.cv,
        random_state=config.seed,
    )


def _requirements_table(results) -> dict:
    return {r.name: MetadataValue.text(r.detail) for r in results}


def build_training_asset(req: ModelRequirements) -> AssetsDefinition:
    key = model_key(req.name)

    @asset(
        key=key,
        description=f"{req.description} Trains the challenger of MLflow model `{req.name}` with the AutoML engine "
        f"on the newest `{req.training_set}` snapshot (a parent MLflow run, a child run per trial, the Optuna "
        "studies in the warehouse) and registers it as `challenger`. Its checks are the model's requirements "
        "and beating the champion on the same holdout; both gate the promotion.",
        group_name=GROUP,
        owners=OWNERS,
        kinds={"mlflow", "optuna", "scikit-learn"},
        deps=[AssetKey(req.training_set)],
        check_specs=[
            AssetCheckSpec(REQUIREMENTS_CHECK, asset=key, blocking=True, description="models.yaml requirements"),
            AssetCheckSpec(CHAMPION_CHECK, asset=key, blocking=True, description="better than the champion"),
        ],
        op_tags={"maestro/kind": "training"},
        retry_policy=RETRY,
    )
    @bad_input_fails_fast
    def train(
        context: AssetExecutionContext,
        config: TrainingConfig,
        lake: LakeResource,
        mlflow: MlflowResource,
        warehouse: WarehouseResource,
    ):
        tracking = mlflow.client()
        done = []

        def progress(p) -> None:
            done.append(p.trials_done)
            if p.trials_done % 10 == 0 or p.trials_done == 1:
                best = f"{p.metric.natural(p.best.score):.4f}" if p.best else "—"
                left = f", {p.remaining_s:.0f}s left" if p.remaining_s is not None else ""
                context.log.info(f"{p.trials_done} trials, best {p.metric.display_name} {best}{left}")

        outcome = train_challenger(
            req,
            lake.client(),
            tracking,
            warehouse.client(),
            _settings(config),
            list(key.path),
            {TAG_DAGSTER_RUN: context.run.run_id, TAG_ASSET: key.to_user_string(), TAG_PARTITION: ""},
            dagster_run_id=context.run.run_id,
            callbacks=[progress],
        )
        run_url = mlflow_run_url(tracking, outcome.experiment_id, outcome.run_id)
        metric = req.primary_metric
        metadata = {
            "model_version": outcome.version,
            "mlflow_run": MetadataValue.url(run_url) if run_url else MetadataValue.text(outcome.run_id),
            "leaderboard": MetadataValue.md(leaderboard_markdown(outcome.leaderboard)),
            f"cv_{outcome.metric}": MetadataValue.text(f"{outcome.cv_score:.4f} ± {outcome.cv_score_std:.4f}"),
            **{f"holdout_{k}": float(v) for k, v in outcome.holdout.items() if v == v},
            "trials": len(outcome.leaderboard),
            "training_seconds": round(outcome.training_seconds, 1),
            "training_set_snapshot": outcome.snapshot,
            "training_set_manifest": MetadataValue.path(outcome.manifest),
            "plots": MetadataValue.md("\n\n".join(markdown_image(png, name) for name, png in outcome.plots.items())),
        }
        if outcome.threshold is not None:
            metadata["decision_threshold"] = float(outcome.threshold)
        yield MaterializeResult(
            metadata=metadata,
            data_version=None,
            check_results=[
                AssetCheckResult(
                    check_name=REQUIREMENTS_CHECK,
                    passed=outcome.meets_requirements,
                    metadata={
                        "requirements": MetadataValue.md(requirements_markdown(outcome.requirements)),
                        "failed": len([r for r in outcome.requirements if not r.passed]),
                    },
                    description="; ".join(r.detail for r in outcome.requirements if not r.passed) or None,
                ),
                AssetCheckResult(
                    check_name=CHAMPION_CHECK,
                    passed=outcome.beats_champion,
                    metadata={
                        f"challenger_{metric}": float(outcome.challenger_score),
                        f"champion_{metric}": (
                            float(outcome.champion_score) if outcome.champion_score is not None else "no champion"
                        ),
                        "champion_version": outcome.champion_version or "none",
                        "challenger_version": outcome.version,
                    },
                ),
            ],
        )

    return train


def mlflow_run_url(tracking, experiment_id: str, run_id: str) -> str | None:
    """The run's page in the MLflow UI: the tracking server's, or the local `mlflow ui` of `make ui`."""
    from ...lib.settings import mlflow_ui_url

    base = tracking.tracking_uri if tracking.scheme in ("http", "https") else mlflow_ui_url()
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}" if base else None


def build_serving_asset(req: ModelRequirements) -> AssetsDefinition:
    key = serving_key(req.name)

    @asset(
        key=key,
        description=f"Load test of the `{req.name}` challenger through MLflow's scoring server "
        f"(`mlflow models serve`, 127.0.0.1): p50/p95/p99 latency of 1-row requests and throughput of 100-row "
        f"requests, against models.yaml (p99 ≤ {req.serving.p99_ms} ms, ≥ {req.serving.min_throughput_per_s}/s).",
        group_name=GROUP,
        owners=OWNERS,
        kinds={"mlflow"},
        deps=[model_key(req.name)],
        check_specs=[AssetCheckSpec(SERVING_CHECK, asset=key, blocking=True, description="latency and throughput")],
        retry_policy=RETRY,
    )
    @bad_input_fails_fast
    def serving_check(lake: LakeResource, mlflow: MlflowResource, warehouse: WarehouseResource):
        outcome = load_test_challenger(req, lake.client(), mlflow.client(), warehouse.client())
        yield MaterializeResult(
            metadata={
                "model_version": outcome.version,
                **{f"one_row_{k}": v for k, v in outcome.one_row.items()},
                **{f"hundred_rows_{k}": v for k, v in outcome.hundred_rows.items()},
            },
            check_results=[
                AssetCheckResult(
                    check_name=SERVING_CHECK,
                    passed=outcome.passed,
                    metadata={"requirements": MetadataValue.md(requirements_markdown(outcome.results))},
                )
            ],
        )

    return serving_check


def build_promotion_asset(req: ModelRequirements) -> AssetsDefinition:
    @asset(
        key=promotion_key(req.name),
        description=f"Moves the `champion` alias of `{req.name}` to the challenger when every gate on its version "
        "passed (requirements, beats the champion, serving); every alias change is audited in the warehouse "
        "(`maestro models history`), and `maestro models rollback` moves it back one step.",
        group_name=GROUP,
        owners=OWNERS,
        kinds={"mlflow"},
        deps=[serving_key(req.name)],
        retry_policy=RETRY,
    )
    @bad_input_fails_fast
    def model_promotion(context: AssetExecutionContext, mlflow: MlflowResource, warehouse: WarehouseResource):
        outcome = promote_challenger(req, mlflow.client(), warehouse.client(), context.run.run_id)
        context.log.info(outcome.reason)
        return MaterializeResult(
            metadata={
                "promoted": outcome.promoted,
                "champion": outcome.challenger if outcome.promoted else (outcome.previous_champion or "none"),
                "previous_champion": outcome.previous_champion or "none",
                "challenger": outcome.challenger,
                "reason": outcome.reason,
                "gates": MetadataValue.json(outcome.gates),
            }
        )

    return model_promotion


class PredictionConfig(Config):
    drift_p_value: float = Field(default=0.01, description="a feature drifts below this p-value ...")
    drift_min_ks_statistic: float = Field(default=0.1, description="... and at or above this KS statistic")
    drift_min_psi: float = Field(default=0.2, description="categorical: ... and at or above this PSI")
    drift_min_rows: int = Field(default=100, description="fewer rows in a day: not judged")


def build_predictions_asset(req: ModelRequirements) -> AssetsDefinition:
    key = predictions_key(req.name)
    service = TRAINING_SETS[training_set_name(req)].service

    @asset(
        key=key,
        description=f"Daily batch predictions of `models:/{req.name}@champion` over the day's gold features "
        f"(feature service `{service}`), written to the lake (predictions/{req.name}/) and the warehouse "
        f"(predictions_{req.name}); the day's features and predictions are checked for drift against the "
        "reference profiles stored with the model.",
        group_name=GROUP,
        owners=OWNERS,
        kinds={"mlflow", "parquet"},
        partitions_def=DAILY,
        backfill_policy=BackfillPolicy.single_run(),
        deps=[promotion_key(req.name), *(gold_key(e) for e in FEATURE_SERVICES[service])],
        automation_condition=AutomationCondition.eager(),
        check_specs=[
            AssetCheckSpec(FEATURE_DRIFT_CHECK, asset=key, description="the day's features vs the training set"),
            AssetCheckSpec(PREDICTION_DRIFT_CHECK, asset=key, description="the day's predictions vs the holdout's"),
        ],
        retry_policy=RETRY,
    )
    @bad_input_fails_fast
    def batch_predictions(
        context: AssetExecutionContext,
        config: PredictionConfig,
        lake: LakeResource,
        mlflow: MlflowResource,
        warehouse: WarehouseResource,
    ):
        thresholds = DriftThresholds(
            p_value=config.drift_p_value,
            min_ks_statistic=config.drift_min_ks_statistic,
            min_psi=config.drift_min_psi,
            min_rows=config.drift_min_rows,
        )
        days = days_of_window(*context.partition_time_window)
        drifted = {FEATURE_DRIFT_CHECK: {}, PREDICTION_DRIFT_CHECK: {}}
        judged = {FEATURE_DRIFT_CHECK: 0, PREDICTION_DRIFT_CHECK: 0}
        last_tables, total, version = {}, 0, None
        champion = Champion.load(req, mlflow.client(), warehouse.client())  # once per run, not per day
        for day in days:
            done = predict_day(req, champion, lake.client(), warehouse.client(), INPUTS, day, thresholds)
            total, version = total + done.rows, done.version
            metadata = {"dagster/row_count": done.rows, "model_version": done.version, "path": done.key}
            if "probability" in done.frame and done.rows:
                metadata["mean_probability"] = float(done.frame["probability"].mean())
            for name, report in (
                (FEATURE_DRIFT_CHECK, done.feature_drift),
                (PREDICTION_DRIFT_CHECK, done.prediction_drift),
            ):
                if report is None:
                    continue
                judged[name] += 1
                metadata[f"{name}_share"] = float(report.share_drifted)
                if report.drifted:
                    drifted[name][str(day)] = report.drifted_features
                last_tables[name] = report
            context.add_asset_metadata(metadata, asset_key=key, partition_key=day.isoformat())
        checks = []
        for name, report in last_tables.items():
            days_drifted = drifted[name]
            checks.append(
                AssetCheckResult(
                    check_name=name,
                    passed=not days_drifted,
                    severity=AssetCheckSeverity.WARN,
                    metadata={
                        "days_checked": judged[name],
                        "days_drifted": len(days_drifted),
                        "drifted": MetadataValue.json(days_drifted),
                        f"table_of_{days[-1]}": MetadataValue.md(report.markdown()),
                        f"plot_of_{days[-1]}": MetadataValue.md(markdown_image(_png(report), name)),
                    },
                    description=(
                        f"drift on {len(days_drifted)} of {judged[name]} day(s): "
                        + "; ".join(f"{d}: {', '.join(f) or 'predictions'}" for d, f in list(days_drifted.items())[:5])
                    )
                    if days_drifted
                    else None,
                )
            )
        yield MaterializeResult(
            asset_key=key,
            metadata={"rows_written": total, "days": len(days), "model_version": version or "none"},
            check_results=checks,
        )

    return batch_predictions


def _png(report) -> bytes:
    buffer = io.BytesIO()
    report.plot_png(buffer)
    return buffer.getvalue()


MODEL_ASSETS = [
    build(req)
    for req in MODELS.values()
    for build in (build_training_asset, build_serving_asset, build_promotion_asset, build_predictions_asset)
]
