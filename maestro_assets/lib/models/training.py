"""Training a model on a training-set snapshot with the AutoML engine, tracked in MLflow.

    data = TrainingData.latest(lake, "task_lateness")
    with ModelTraining(tracking, "task_lateness", data, tags) as training:
        model = training.fit(SearchSettings(time_budget_s=120), study_storage=warehouse_url)
        ...
        training.log_model(model, threshold)

One parent run per training in the experiment of the training asset; every trial is a child run
created through :class:`MlflowClient` with the parent's id and logged with one ``log_batch`` —
from a background thread, so logging overlaps the search instead of adding to it. The parent
holds the search settings, the leaderboard, the holdout metrics, the plots, the preprocessing
and the model (an ``mlflow.pyfunc`` model with signature and input example, :mod:`.pyfunc`).
"""

from __future__ import annotations

import json
import queue
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import MaestroError
from ..feature_store.training import LABEL, SPLIT, latest_manifest, read_snapshot
from ..features.transforms import FittedTransforms
from ..lake import Lake
from ..tracking import Tracking
from .prediction import (
    AUTOML_ARTIFACT,
    CONFIG_ARTIFACT,
    PREDICTION,
    PROBABILITY,
    TRANSFORMS_ARTIFACT,
    ModelConfig,
    predict_frame,
)

MODEL_ARTIFACT = "model"
STALE_AFTER = timedelta(days=7)
# tags on every run of a training, so a run is found from Dagster and Dagster from a run
TAG_DAGSTER_RUN, TAG_ASSET, TAG_PARTITION = "dagster.run_id", "dagster.asset_key", "dagster.partition"
TAG_TRAINING_SET, TAG_SNAPSHOT, TAG_MODEL = "maestro.training_set", "maestro.training_set_snapshot", "maestro.model"


class TrainingDataError(MaestroError):
    """A training set that cannot be trained on (empty, stale, no label variety): bad input, not retried."""


@dataclass
class TrainingData:
    """A training-set snapshot: raw features, label and split, and the transforms fitted on its train rows."""

    name: str
    manifest: dict
    frame: pd.DataFrame
    transforms: FittedTransforms
    features: list[str]

    @classmethod
    def latest(cls, lake: Lake, name: str, now: datetime | None = None, stale_after: timedelta = STALE_AFTER):
        manifest = latest_manifest(lake, name)
        as_of = pd.Timestamp(manifest["as_of"])
        age = pd.Timestamp(now or datetime.now(UTC)) - as_of
        if age > stale_after:
            raise TrainingDataError(
                f"training set {name}: the newest snapshot ({manifest['manifest']}) is as of {as_of:%Y-%m-%d %H:%M}, "
                f"{age.days} days old (more than {stale_after.days}); materialize training_set_{name} again"
            )
        frame = read_snapshot(lake, manifest)
        features = [c for c in frame.columns if "__" in c]
        data = cls(name, manifest, frame, FittedTransforms.from_json(manifest["transforms"]), features)
        data.check()
        return data

    @property
    def snapshot(self) -> str:
        return self.manifest["manifest"].split("/")[-2]

    def part(self, split: str) -> tuple[pd.DataFrame, pd.Series]:
        rows = self.frame[self.frame[SPLIT] == split]
        return rows[self.features].reset_index(drop=True), rows[LABEL].reset_index(drop=True)

    def check(self) -> None:
        counts = self.frame[SPLIT].value_counts()
        where = f"training set {self.name} ({self.manifest['manifest']})"
        for split in ("train", "holdout"):
            if counts.get(split, 0) == 0:
                raise TrainingDataError(
                    f"{where}: no {split} rows ({len(self.frame)} rows in all); materialize more gold days "
                    f"and training_set_{self.name} again"
                )
        if not self.features:
            raise TrainingDataError(f"{where}: no feature columns (<view>__<feature>)")
        if self.frame[LABEL].isna().all():
            raise TrainingDataError(f"{where}: every label is missing")


@dataclass
class SearchSettings:
    """The AutoML run configuration a training asset exposes."""

    time_budget_s: float | None = 120.0
    max_trials: int | None = None
    families: list[str] | None = None
    cv: int = 5
    random_state: int = 0
    n_jobs: int = -1
    metric: str | None = None

    def engine_params(self) -> dict:
        return asdict(self)


LOG_WAIT_S = 0.2  # at most this long a trial's logging waits for the search to be waiting


class TrialLogger:
    """An AutoML callback that logs each finished trial as a child run, from one background thread."""

    def __init__(self, tracking: Tracking, experiment: str, parent_run_id: str, tags: dict[str, str]):
        self.tracking, self.experiment, self.parent_run_id, self.tags = tracking, experiment, parent_run_id, tags
        self.experiment_id = tracking.experiment_id(experiment)  # once, not once per trial
        self._queue: queue.Queue = queue.Queue()
        self._errors: list[BaseException] = []
        self.logged = 0
        self._thread = threading.Thread(target=self._work, name="mlflow-trial-logger", daemon=True)
        self._thread.start()

    def __call__(self, progress) -> None:
        self._queue.put(progress)

    def _work(self) -> None:
        from ..automl.budget import FIT_IN_FLIGHT

        while (progress := self._queue.get()) is not None:
            # A trial has just ended and the search is choosing the next one (Optuna's sampler, in
            # the search's thread): log once the worker fits again, when that thread only waits —
            # else the two take turns holding the interpreter and the search waits (measured).
            FIT_IN_FLIGHT.wait(timeout=LOG_WAIT_S)
            try:
                self._log(progress)
            except BaseException as exc:  # reported by close(), in the training's thread
                self._errors.append(exc)

    def _log(self, progress) -> None:
        trial, metric = progress.trial, progress.metric
        metrics = {"fit_time_s": trial.seconds, "folds": len(trial.fold_scores)}
        if trial.fold_scores:
            metrics[metric.display_name] = metric.natural(trial.score)
            metrics[f"{metric.display_name}_std"] = trial.score_std
            for i, score in enumerate(trial.fold_scores):
                metrics[f"fold_{i}"] = metric.natural(score)
        tags = {**self.tags, "maestro.family": trial.family, "maestro.trial_state": trial.state}
        if trial.error:
            tags["maestro.trial_error"] = trial.error[:500]
        status = "FINISHED" if trial.state == "complete" else "KILLED"
        run = self.tracking.client.create_run(
            self.experiment_id,
            run_name=f"trial-{trial.number:03d}-{trial.family}",
            tags={**tags, "mlflow.parentRunId": self.parent_run_id},
        )
        params = {"family": trial.family, **{k: _param(v) for k, v in trial.params.items()}}
        self.tracking.log_batch(run.info.run_id, params=params, metrics=metrics)
        self.tracking.client.set_terminated(run.info.run_id, status=status)
        self.logged += 1

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._errors:
            raise self._errors[0]


def _param(value) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text[:6000]  # MLflow's limit for a param value


@dataclass
class Evaluation:
    """The model on the holdout rows: what it predicted, and the metrics."""

    predictions: pd.DataFrame
    y_true: pd.Series
    metrics: dict[str, float] = field(default_factory=dict)


class ModelTraining:
    """One training of model ``model`` on ``data``: the parent MLflow run, open while it lasts."""

    def __init__(self, tracking: Tracking, model: str, data: TrainingData, experiment: str, tags: dict[str, str]):
        self.tracking, self.model, self.data, self.experiment = tracking, model, data, experiment
        self.tags = {
            **{k: str(v) for k, v in tags.items() if v is not None},
            TAG_MODEL: model,
            TAG_TRAINING_SET: data.name,
            TAG_SNAPSHOT: data.snapshot,
        }
        self.run_id: str | None = None
        self.fit_seconds = 0.0
        self._context = None

    def __enter__(self) -> ModelTraining:
        self._context = self.tracking.run(self.experiment, run_name=f"train-{self.model}", tags=self.tags)
        run = self._context.__enter__()
        self.run_id = run.info.run_id
        return self

    def __exit__(self, *exc) -> None:
        self._context.__exit__(*exc)

    @property
    def experiment_id(self) -> str:
        return self.tracking.experiment_id(self.experiment)

    def fit(
        self,
        settings: SearchSettings,
        task: str,
        study_storage: str | None = None,
        callbacks: list[Callable] | None = None,
    ):
        from ..automl import AutoML

        X, y = self.data.part("train")
        X = self.data.transforms.apply(X)
        logger = TrialLogger(self.tracking, self.experiment, self.run_id, self.tags)
        study_name = f"{self.model}.{self.data.snapshot}" if study_storage else None
        automl = AutoML(
            task=task,
            **settings.engine_params(),
            callbacks=[logger, *(callbacks or [])],
            study_storage=study_storage,
            study_name=study_name,
        )
        started = time.perf_counter()
        try:
            automl.fit(X, y)
        finally:
            self.fit_seconds = time.perf_counter() - started
            logger.close()
        leaderboard = automl.leaderboard()
        best = leaderboard.iloc[0]
        metric = automl.metric_.display_name
        self.tracking.log_batch(
            self.run_id,
            params={
                "task": automl.task_,
                "metric": metric,
                **{k: _param(v) for k, v in settings.engine_params().items()},
                "study_name": study_name or "",
                "rows_train": len(X),
                "features": len(self.data.features),
                "final_model": automl.metadata_["final_model"],
            },
            metrics={
                f"cv_{metric}": float(best[metric]),
                f"cv_{metric}_std": float(best[f"{metric}_std"]),
                "trials": automl.metadata_["trials"],
                "training_seconds": self.fit_seconds,
            },
        )
        return automl

    def config(self, automl, threshold: float | None) -> ModelConfig:
        classes = [_plain(c) for c in automl.classes_] if automl.classes_ is not None else None
        return ModelConfig(self.model, automl.task_, list(self.data.features), threshold, classes)

    def holdout_predictions(self, automl, threshold: float | None = 0.5) -> Evaluation:
        X, y = self.data.part("holdout")
        predicted = predict_frame(automl, self.data.transforms, self.config(automl, threshold), X)
        return Evaluation(predicted, y)

    def log_metrics(self, metrics: dict[str, float], prefix: str = "holdout_") -> None:
        values = {f"{prefix}{k}": float(v) for k, v in metrics.items() if v is not None and np.isfinite(v)}
        self.tracking.log_batch(self.run_id, metrics=values)

    def log_artifacts(self, files: dict[str, bytes], folder: str = "") -> None:
        with tempfile.TemporaryDirectory() as tmp:
            for name, content in files.items():
                (Path(tmp) / name).write_bytes(content)
            self.tracking.client.log_artifacts(self.run_id, tmp, folder or None)

    def log_model(self, automl, threshold: float | None, extra_artifacts: dict[str, bytes] | None = None) -> str:
        """Log the pyfunc model (signature and input example from the training rows); its URI."""
        import mlflow
        from mlflow.models import infer_signature

        from .pyfunc import MaestroModel

        config = self.config(automl, threshold)
        X, _ = self.data.part("train")
        example = X.head(5).astype(float)  # features may be missing at prediction time: doubles, not integers
        signature = infer_signature(example, predict_frame(automl, self.data.transforms, config, example))
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            automl.save(folder / AUTOML_ARTIFACT)
            (folder / "transforms.json").write_text(json.dumps(self.data.transforms.to_json(), indent=2))
            (folder / "config.json").write_text(json.dumps(config.to_json(), indent=2, default=str))
            artifacts = {
                AUTOML_ARTIFACT: str(folder / AUTOML_ARTIFACT),
                TRANSFORMS_ARTIFACT: str(folder / "transforms.json"),
                CONFIG_ARTIFACT: str(folder / "config.json"),
            }
            for name, content in (extra_artifacts or {}).items():
                (folder / name).write_bytes(content)
                artifacts[Path(name).stem] = str(folder / name)
            mlflow.set_tracking_uri(self.tracking.tracking_uri)
            with mlflow.start_run(run_id=self.run_id):
                info = mlflow.pyfunc.log_model(
                    name=MODEL_ARTIFACT,
                    python_model=MaestroModel(),
                    artifacts=artifacts,
                    signature=signature,
                    input_example=example,
                    pip_requirements=model_requirements(),
                    tags={TAG_MODEL: self.model, TAG_SNAPSHOT: self.data.snapshot},
                )
        return info.model_uri


def model_requirements() -> list[str]:
    """The model's pip requirements, pinned to what it was trained with (no slow inference)."""
    from importlib import metadata

    names = ["mlflow", "scikit-learn", "lightgbm", "xgboost-cpu", "pandas", "numpy", "pyarrow", "joblib"]
    pinned = []
    for name in names:
        try:
            pinned.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return pinned


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def prediction_columns(task: str) -> list[str]:
    return [PREDICTION, PROBABILITY] if task == "classification" else [PREDICTION]
