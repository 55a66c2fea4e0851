"""A model's life, step by step, with no Dagster: train and register a challenger, load-test it,
promote it when every gate passed, predict a day, watch the day's drift.

Each gate's verdict is written on the model version as a tag (``maestro.gate.<name>`` = ``pass`` /
``fail``, with the evidence beside it), so promotion — whenever and however it runs — moves
``champion`` only to a version whose every gate passed, and a failed step never moves an alias.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from ..errors import MaestroError
from ..feature_store.training import TRAINING_SETS
from ..features.gold import FeatureInputs
from ..lake import Lake
from ..monitoring.drift import DriftReport, DriftThresholds, ReferenceProfile, check_drift, prediction_drift
from ..tracking import Tracking
from ..warehouse import Warehouse
from . import plots
from .batch import prediction_features, write_predictions
from .prediction import PREDICTION, PROBABILITY, predict_frame
from .registry import CHALLENGER, CHAMPION, MissingChampion, ModelRegistry, UnknownModel
from .requirements import (
    ModelRequirements,
    RequirementResult,
    choose_threshold,
    classification_metrics,
    evaluate_serving,
    evaluate_training,
    regression_metrics,
)
from .training import TAG_SNAPSHOT, ModelTraining, SearchSettings, TrainingData, TrainingDataError, prediction_columns

GATE_REQUIREMENTS = "requirements"  # baselines, training time, rows, positive ratio, feature count
GATE_CHAMPION = "beats_champion"  # better than the champion on the same holdout
GATE_SERVING = "serving"  # p99 latency and throughput through the scoring server
GATES = (GATE_REQUIREMENTS, GATE_CHAMPION, GATE_SERVING)
REFERENCE_PROFILE = "reference_profile.json"
PREDICTION_PROFILE = "prediction_profile.json"
DRIFT_TABLE = "model_drift"


def gate_tag(gate: str) -> str:
    return f"maestro.gate.{gate}"


def training_set_name(req: ModelRequirements) -> str:
    name = req.training_set.removeprefix("training_set_")
    if name not in TRAINING_SETS:
        raise MaestroError(
            f"{req.where('training_set')}: {req.training_set!r} is not a training set; "
            f"known: {', '.join('training_set_' + n for n in TRAINING_SETS)}"
        )
    return name


def model_uri(name: str, alias_or_version: str) -> str:
    return (
        f"models:/{name}@{alias_or_version}" if not alias_or_version.isdigit() else f"models:/{name}/{alias_or_version}"
    )


def load_model(name: str, alias_or_version: str, tracking: Tracking):
    import mlflow

    mlflow.set_tracking_uri(tracking.tracking_uri)
    return mlflow.pyfunc.load_model(model_uri(name, alias_or_version))


@dataclass
class TrainingOutcome:
    model: str
    version: str
    run_id: str
    experiment_id: str
    snapshot: str
    manifest: str
    leaderboard: pd.DataFrame
    metric: str  # the search's metric
    cv_score: float
    cv_score_std: float
    holdout: dict[str, float]
    threshold: float | None
    requirements: list[RequirementResult]
    challenger_score: float
    champion_version: str | None
    champion_score: float | None
    training_seconds: float
    plots: dict[str, bytes] = field(default_factory=dict)

    @property
    def meets_requirements(self) -> bool:
        return all(r.passed for r in self.requirements)

    @property
    def beats_champion(self) -> bool:
        return self.champion_score is None or self.champion_score_delta >= 0

    @property
    def champion_score_delta(self) -> float:
        """How much better the challenger is (positive: better), in the primary metric's direction."""
        return 0.0 if self.champion_score is None else self._sign * (self.challenger_score - self.champion_score)

    _sign: float = 1.0


def holdout_metrics(req: ModelRequirements, y: pd.Series, predicted: pd.DataFrame, threshold) -> dict[str, float]:
    if req.task == "classification":
        return classification_metrics(y.to_numpy(), predicted[PROBABILITY].to_numpy(), threshold)
    return regression_metrics(y.to_numpy(), predicted[PREDICTION].to_numpy())


def train_challenger(
    req: ModelRequirements,
    lake: Lake,
    tracking: Tracking,
    warehouse: Warehouse,
    settings: SearchSettings,
    experiment: str | list[str],
    tags: dict[str, str],
    dagster_run_id: str | None = None,
    callbacks=None,
) -> TrainingOutcome:
    """Train on the newest snapshot, evaluate on its holdout, register the version as challenger
    with the gates it passed; the champion (if any) is scored on the same holdout rows."""
    data = TrainingData.latest(lake, training_set_name(req))
    rows = int((data.frame["split"] == "train").sum())
    if rows < req.data.min_training_rows:
        raise TrainingDataError(
            f"model {req.name}: training set {data.name} ({data.manifest['manifest']}) has {rows} training rows, "
            f"fewer than the {req.data.min_training_rows} that {req.where('data.min_training_rows')} requires; "
            "materialize more days of data (or a larger demo: maestro seed --scale …), or lower the requirement"
        )
    registry = ModelRegistry(tracking, warehouse)
    started = time.perf_counter()
    with ModelTraining(tracking, req.name, data, experiment, tags) as training:
        automl = training.fit(settings, req.task, study_storage=warehouse.url, callbacks=callbacks)
        X_holdout, y_holdout = data.part("holdout")
        threshold = None
        if req.task == "classification":
            proba = training.holdout_predictions(automl, 0.5).predictions[PROBABILITY].to_numpy()
            threshold = 0.5
            if req.costs is not None:
                choice = choose_threshold(
                    y_holdout.to_numpy(), proba, req.costs.false_negative, req.costs.false_positive
                )
                threshold = choice.threshold
                training.log_metrics(
                    {"expected_cost_per_row": choice.expected_cost_per_row, "cost_at_0_5": choice.cost_at_0_5}, ""
                )
        evaluation = training.holdout_predictions(automl, threshold)
        metrics = holdout_metrics(req, y_holdout, evaluation.predictions, threshold)
        training.log_metrics({**metrics, **({"threshold": threshold} if threshold is not None else {})})
        champion_version = current_alias(registry, req.name, CHAMPION)
        champion_score = None
        if champion_version is not None:
            champion = load_model(req.name, champion_version, tracking)
            champion_metrics = holdout_metrics(req, y_holdout, champion.predict(X_holdout), _threshold_of(champion))
            champion_score = champion_metrics[req.primary_metric]
        X_train, y_train = data.part("train")
        positive_ratio = float(np.mean(y_train == 1)) if req.task == "classification" else None
        rows_train = len(X_train)
        leaderboard = automl.leaderboard()
        figures = _plots(req, automl, leaderboard, data, training, evaluation, y_holdout, threshold)
        training.log_artifacts(figures, "plots")
        board = leaderboard.drop(columns=["params"]).to_csv(index=False).encode()
        training.log_artifacts({"leaderboard.csv": board, "leaderboard.md": leaderboard_markdown(leaderboard).encode()})
        profile = ReferenceProfile.from_frame(X_train, metadata={"model": req.name, "snapshot": data.snapshot})
        prediction_column = PROBABILITY if req.task == "classification" else PREDICTION
        extra = {
            REFERENCE_PROFILE: json.dumps(profile.to_dict()).encode(),
            PREDICTION_PROFILE: json.dumps(
                ReferenceProfile.from_frame(evaluation.predictions[[prediction_column]]).to_dict()
            ).encode(),
        }
        uri = training.log_model(automl, threshold, extra)
        seconds = time.perf_counter() - started
        results = evaluate_training(req, metrics, seconds, rows_train, positive_ratio, len(data.features))
        metric = automl.metric_.display_name
        outcome = TrainingOutcome(
            model=req.name,
            version="",
            run_id=training.run_id,
            experiment_id=training.experiment_id,
            snapshot=data.snapshot,
            manifest=data.manifest["manifest"],
            leaderboard=leaderboard,
            metric=metric,
            cv_score=float(leaderboard.iloc[0][metric]),
            cv_score_std=float(leaderboard.iloc[0][f"{metric}_std"]),
            holdout=metrics,
            threshold=threshold,
            requirements=results,
            challenger_score=metrics[req.primary_metric],
            champion_version=champion_version,
            champion_score=champion_score,
            training_seconds=seconds,
            plots=figures,
            _sign=1.0 if req.greater_is_better else -1.0,
        )
        version_tags = {
            TAG_SNAPSHOT: data.snapshot,
            gate_tag(GATE_REQUIREMENTS): "pass" if outcome.meets_requirements else "fail",
            gate_tag(GATE_CHAMPION): "pass" if outcome.beats_champion else "fail",
            f"maestro.holdout.{req.primary_metric}": f"{outcome.challenger_score:.6g}",
            "maestro.champion_compared": champion_version or "none",
        }
        if champion_score is not None:
            version_tags[f"maestro.champion.{req.primary_metric}"] = f"{champion_score:.6g}"
        outcome.version = registry.register(
            req.name,
            uri,
            training.run_id,
            tags=version_tags,
            description=req.description,
            reason=f"trained on {data.name} snapshot {data.snapshot}; holdout {req.primary_metric} "
            f"{outcome.challenger_score:.4f}",
            dagster_run_id=dagster_run_id,
        )
    return outcome


def current_alias(registry: ModelRegistry, name: str, alias: str) -> str | None:
    """The version holding ``alias``; None also when the model was never registered."""
    try:
        return registry.alias_version(name, alias)
    except UnknownModel:
        return None


def _threshold_of(pyfunc_model) -> float | None:
    python_model = pyfunc_model.unwrap_python_model()
    return python_model.config.threshold


def leaderboard_markdown(leaderboard: pd.DataFrame, rows: int = 15) -> str:
    """The top of the leaderboard as markdown, each trial's params cut to a readable length."""
    shown = leaderboard.head(rows).copy()
    shown["params"] = shown["params"].map(lambda p: json.dumps(p, default=str)[:160])
    return shown.to_markdown(index=False, floatfmt=".4f")


def _plots(req, automl, leaderboard, data, training, evaluation, y_holdout, threshold) -> dict[str, bytes]:
    metric = automl.metric_.display_name
    figures = {"leaderboard.png": plots.leaderboard_chart(leaderboard, metric)}
    predicted = evaluation.predictions
    if req.task == "classification":
        classes = list(automl.classes_)
        figures["confusion_matrix.png"] = plots.confusion_matrix_plot(y_holdout, predicted[PREDICTION], classes)
        figures["calibration.png"] = plots.calibration_plot(y_holdout, predicted[PROBABILITY], classes[-1])
    else:
        figures["residuals.png"] = plots.residuals_plot(y_holdout, predicted[PREDICTION])
    X_holdout, _ = data.part("holdout")

    def score(frame: pd.DataFrame) -> float:
        values = predict_frame(automl, data.transforms, training.config(automl, threshold), frame)
        m = holdout_metrics(req, y_holdout.iloc[: len(frame)], values, threshold)
        return m[req.primary_metric] * (1 if req.greater_is_better else -1)

    sample = X_holdout.iloc[:2000]  # score() pairs these rows with the first labels
    importance = plots.permutation_importance(score, sample, repeats=2, rows=len(sample))
    figures["feature_importance.png"] = plots.importance_plot(importance)
    return figures


# -- serving ---------------------------------------------------------------------------------------
@dataclass
class ServingOutcome:
    version: str
    one_row: dict[str, float]
    hundred_rows: dict[str, float]
    results: list[RequirementResult]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)


def load_test_challenger(
    req: ModelRequirements, lake: Lake, tracking: Tracking, warehouse: Warehouse, max_seconds: float = 10.0
) -> ServingOutcome:
    """Serve ``models:/<name>@challenger`` through MLflow's scoring server on 127.0.0.1, measure 1-row
    latency and 100-row throughput on holdout rows, record the verdict on the version."""
    from .serving import ScoringServer, load_test

    registry = ModelRegistry(tracking, warehouse)
    version = current_alias(registry, req.name, CHALLENGER)
    if version is None:
        raise MaestroError(f"model {req.name}: no version holds the alias challenger; materialize its training asset")
    data = TrainingData.latest(lake, training_set_name(req))
    X, _ = data.part("holdout")
    rows = pd.concat([X] * (100 // max(1, len(X)) + 1), ignore_index=True) if len(X) < 100 else X
    singles = [rows.iloc[[i]] for i in range(min(50, len(rows)))]
    batches = [rows.iloc[i : i + 100] for i in range(0, max(1, len(rows) - 99), 100)][:10]
    with ScoringServer(model_uri(req.name, version), tracking.tracking_uri) as server:
        one = load_test(server.predict, singles, max_requests=500, max_seconds=max_seconds)
        hundred = load_test(server.predict, batches, max_requests=200, max_seconds=max_seconds)
    results = evaluate_serving(req, one.p99_ms, hundred.throughput_rows_per_s)
    passed = all(r.passed for r in results)
    client = tracking.client
    client.set_model_version_tag(req.name, version, gate_tag(GATE_SERVING), "pass" if passed else "fail")
    client.set_model_version_tag(req.name, version, "maestro.serving.p99_ms", f"{one.p99_ms:.2f}")
    client.set_model_version_tag(
        req.name, version, "maestro.serving.throughput_per_s", f"{hundred.throughput_rows_per_s:.0f}"
    )
    return ServingOutcome(version, one.as_metadata(), hundred.as_metadata(), results)


# -- promotion -------------------------------------------------------------------------------------
@dataclass
class PromotionOutcome:
    model: str
    challenger: str
    previous_champion: str | None
    promoted: bool
    gates: dict[str, str]
    reason: str


def promote_challenger(
    req: ModelRequirements, tracking: Tracking, warehouse: Warehouse, dagster_run_id: str | None = None
) -> PromotionOutcome:
    """Move ``champion`` to the challenger when every gate on the version passed; else leave it."""
    registry = ModelRegistry(tracking, warehouse)
    version = current_alias(registry, req.name, CHALLENGER)
    if version is None:
        raise MaestroError(f"model {req.name}: no challenger to promote; materialize its training asset first")
    champion = current_alias(registry, req.name, CHAMPION)
    tags = tracking.client.get_model_version(req.name, version).tags
    gates = {gate: tags.get(gate_tag(gate), "not run") for gate in GATES}
    if champion == version:
        return PromotionOutcome(req.name, version, champion, False, gates, f"version {version} is already champion")
    failed = [g for g, verdict in gates.items() if verdict != "pass"]
    if failed:
        reason = f"version {version} not promoted: gate(s) {', '.join(f'{g}={gates[g]}' for g in failed)}"
        return PromotionOutcome(req.name, version, champion, False, gates, reason)
    metric = req.primary_metric
    reason = (
        f"every gate passed; holdout {metric} {tags.get(f'maestro.holdout.{metric}')} vs champion "
        f"{tags.get(f'maestro.champion.{metric}', 'none')} (version {champion or 'none'})"
    )
    registry.promote(req.name, version, reason, dagster_run_id)
    return PromotionOutcome(req.name, version, champion, True, gates, reason)


# -- batch predictions and drift ---------------------------------------------------------------------
@dataclass
class DayPredictions:
    version: str
    key: str
    rows: int
    frame: pd.DataFrame
    feature_drift: DriftReport | None
    prediction_drift: DriftReport | None


@dataclass
class Champion:
    """The champion as loaded once for a run of batch predictions: version, model, reference profiles."""

    version: str
    model: object  # the mlflow.pyfunc model
    profiles: dict[str, ReferenceProfile]

    @classmethod
    def load(cls, req: ModelRequirements, tracking: Tracking, warehouse: Warehouse) -> Champion:
        version = current_alias(ModelRegistry(tracking, warehouse), req.name, CHAMPION)
        if version is None:
            raise MissingChampion(
                f"model {req.name}: no version holds the alias champion, so there is nothing to predict with; "
                f"train it (model_{req.name}) and promote it (model_promotion_{req.name}) first"
            )
        run_id = tracking.client.get_model_version(req.name, version).run_id
        return cls(version, load_model(req.name, version, tracking), _profiles(tracking, run_id))


def predict_day(
    req: ModelRequirements,
    champion: Champion,
    lake: Lake,
    warehouse: Warehouse,
    inputs: FeatureInputs,
    day: date,
    thresholds: DriftThresholds | None = None,
) -> DayPredictions:
    """The champion over day ``day``'s features; written to the lake and the warehouse; the day's
    features and predictions checked for drift against the model's reference profiles."""
    model, version, profiles = champion.model, champion.version, champion.profiles
    spec = TRAINING_SETS[training_set_name(req)]
    features = prediction_features(lake, spec.service, inputs, day)
    keys = [c for c in features.columns if "__" not in c]
    config = model.unwrap_python_model().config
    if len(features):
        predicted = model.predict(features[config.features].astype(float))
    else:  # a day without entities: the same columns, no rows
        predicted = pd.DataFrame({c: pd.Series(dtype=float) for c in prediction_columns(req.task)})
    frame = features[keys].reset_index(drop=True)
    for column in predicted.columns:
        frame[column] = predicted[column].to_numpy()
    frame["model_version"] = version
    key, rows = write_predictions(lake, warehouse, req.name, day, frame)
    feature_report = prediction_report = None
    if profiles and len(features):
        feature_report = check_drift(profiles[REFERENCE_PROFILE], features[config.features], thresholds)
        column = PROBABILITY if req.task == "classification" else PREDICTION
        prediction_report = prediction_drift(profiles[PREDICTION_PROFILE], frame[column], thresholds, name=column)
        record_drift(warehouse, req.name, version, day, feature_report, prediction_report)
    return DayPredictions(version, key, rows, frame, feature_report, prediction_report)


def _profiles(tracking: Tracking, run_id: str) -> dict[str, ReferenceProfile]:
    """The reference profiles logged with the model (empty when the model predates them)."""
    import mlflow

    mlflow.set_tracking_uri(tracking.tracking_uri)
    found = {}
    for name in (REFERENCE_PROFILE, PREDICTION_PROFILE):
        matches = [a.path for a in tracking.client.list_artifacts(run_id, "model/artifacts") if a.path.endswith(name)]
        if matches:
            path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=matches[0])
            found[name] = ReferenceProfile.load(path)
    return found if len(found) == 2 else {}


def record_drift(
    warehouse: Warehouse, model: str, version: str, day: date, features: DriftReport, predictions: DriftReport
) -> None:
    """One row per model and day in ``model_drift`` (replaced on a re-run): what the sensor reads."""
    from datetime import UTC, datetime

    row = pd.DataFrame(
        {
            "model": [model],
            "version": [version],
            "partition_date": [str(day)],
            "drifted": [bool(features.drifted or predictions.drifted)],
            "share_drifted": [float(features.share_drifted)],
            "drifted_features": [",".join(features.drifted_features)],
            "prediction_drifted": [bool(predictions.drifted)],
            "checked_at": [datetime.now(UTC)],
        }
    )
    if warehouse.has_table(DRIFT_TABLE):
        warehouse.execute(
            f"DELETE FROM {warehouse._quote(DRIFT_TABLE)} WHERE model = :model AND partition_date = :day",
            {"model": model, "day": str(day)},
        )
    warehouse.write_frame(DRIFT_TABLE, row, if_exists="append")


def drift_history(warehouse: Warehouse, model: str) -> pd.DataFrame:
    if not warehouse.has_table(DRIFT_TABLE):
        return pd.DataFrame(columns=["model", "version", "partition_date", "drifted"])
    frame = warehouse.query(
        f"SELECT * FROM {warehouse._quote(DRIFT_TABLE)} WHERE model = :model ORDER BY partition_date", {"model": model}
    )
    frame["drifted"] = frame["drifted"].astype(bool)
    return frame


def persistent_drift(history: pd.DataFrame, consecutive: int) -> list[str] | None:
    """The last ``consecutive`` partition dates when every one of them drifted, else None."""
    if len(history) < consecutive:
        return None
    last = history.sort_values("partition_date").tail(consecutive)
    return list(last["partition_date"]) if last["drifted"].all() else None
