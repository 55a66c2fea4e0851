"""What a model must meet before it may serve: its requirements, declared per model in a YAML file.

The file (``maestro_assets/models.yaml`` by default, ``MAESTRO_MODELS`` to use another) names, per
model, the task, the training set, the primary metric, baseline metrics, the business costs of a
classifier's errors (from which its decision threshold is chosen on the holdout), the training time,
serving latency and throughput, and the data and feature counts it needs. Each requirement is
evaluated to a :class:`RequirementResult` whose ``detail`` names the value, the limit and the key in
the file that sets it, so a failure says what to fix and where.

Baseline metrics are minimums for metrics where higher is better (``roc_auc: 0.7``); an error metric
(lower is better) is written with the suffix ``_max`` (``rmse_max: 12``): "at most".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from ..errors import MaestroError, validation_problems
from ..settings import ENV_MODELS, models_file
from ..warehouse import IDENTIFIER

MAX_SUFFIX = "_max"

# Per task, the metrics Maestro computes on the holdout and whether higher is better.
METRICS: dict[str, dict[str, bool]] = {
    "classification": {
        "roc_auc": True,
        "accuracy": True,
        "precision": True,
        "recall": True,
        "f1": True,
        "log_loss": False,
    },
    "regression": {"r2": True, "rmse": False, "mae": False},
}


class ModelRequirementsError(MaestroError):
    """The models' requirements file is missing, not YAML, or declares something wrong."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Costs(_Strict):
    """Business cost of one wrong prediction of a classifier, in any unit (only the ratio matters)."""

    false_negative: float = Field(ge=0)
    false_positive: float = Field(ge=0)

    @model_validator(mode="after")
    def _not_both_zero(self) -> Costs:
        if self.false_negative == 0 and self.false_positive == 0:
            raise ValueError("false_negative and false_positive are both 0: give at least one a positive cost")
        return self


class Serving(_Strict):
    p99_ms: float = Field(gt=0, description="99th percentile latency of one prediction request, at most")
    min_throughput_per_s: float = Field(gt=0, description="predictions per second, at least")


class Data(_Strict):
    min_training_rows: int = Field(ge=1)
    min_positive_ratio: float | None = Field(default=None, gt=0, lt=1, description="classifiers only")


class FeatureCount(_Strict):
    min: int = Field(ge=1)
    max: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> FeatureCount:
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")
        return self


class ModelRequirements(_Strict):
    """One model's entry in the file; ``name`` is its key there (and its registered model's name)."""

    task: Literal["classification", "regression"]
    training_set: str = Field(
        pattern=IDENTIFIER.pattern, description="the training-set asset the model is trained on (letters, digits, '_')"
    )
    description: str = ""
    primary_metric: str
    baseline: dict[str, float] = Field(default_factory=dict)
    costs: Costs | None = None
    max_training_seconds: float = Field(gt=0)
    serving: Serving
    data: Data
    features: FeatureCount
    _name: str = PrivateAttr(default="")
    _source: str = PrivateAttr(default="")

    @property
    def name(self) -> str:
        return self._name

    @property
    def source(self) -> str:
        """The file the requirements were read from."""
        return self._source

    @property
    def greater_is_better(self) -> bool:
        return METRICS[self.task][self.primary_metric]

    def where(self, key: str) -> str:
        """Where a key is set, as details and errors show it: ``models.yaml: task_lateness.costs``."""
        return f"{Path(self._source).name or 'models.yaml'}: {self._name}.{key}"

    @model_validator(mode="after")
    def _fits_the_task(self) -> ModelRequirements:
        metrics = METRICS[self.task]
        if self.primary_metric not in metrics:
            raise ValueError(
                f"primary_metric {self.primary_metric!r} is not a {self.task} metric; use one of {', '.join(metrics)}"
            )
        for key in self.baseline:
            metric = key.removesuffix(MAX_SUFFIX)
            if metric not in metrics:
                allowed = [m if better else m + MAX_SUFFIX for m, better in metrics.items()]
                raise ValueError(f"baseline.{key}: not a {self.task} metric; use one of {', '.join(allowed)}")
            if key == metric and not metrics[metric]:
                raise ValueError(
                    f"baseline.{key}: {metric} is an error metric (lower is better), so its baseline is a "
                    f"maximum: write {metric}{MAX_SUFFIX}: {self.baseline[key]}"
                )
            if key != metric and metrics[metric]:
                raise ValueError(
                    f"baseline.{key}: {metric} is higher-is-better, so its baseline is a minimum: "
                    f"write {metric}: {self.baseline[key]}"
                )
        if self.task == "regression" and self.costs is not None:
            raise ValueError("costs: only a classifier has a decision threshold; remove costs from a regression model")
        if self.task == "regression" and self.data.min_positive_ratio is not None:
            raise ValueError("data.min_positive_ratio: only a classifier has a positive class; remove it")
        return self


def load_model_requirements(path: str | Path | None = None) -> dict[str, ModelRequirements]:
    """Every model's requirements from ``path`` (default :func:`models_file`), by model name."""
    path = Path(path) if path is not None else models_file()
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ModelRequirementsError(
            f"cannot read the models' requirements {path}: {exc.strerror or exc} (set {ENV_MODELS} to the file)"
        ) from None
    except yaml.YAMLError as exc:
        raise ModelRequirementsError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(document, dict) or set(document) != {"models"} or not isinstance(document["models"], dict):
        raise ModelRequirementsError(
            f"{path}: the file must hold one key, `models:`, mapping each model's name to its requirements"
        )
    found = {}
    for name, entry in document["models"].items():
        if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
            raise ModelRequirementsError(
                f"{path}: model name {name!r}: use letters, digits, '_' and '-' (it is the registered model's name)"
            )
        try:
            requirements = ModelRequirements.model_validate(entry)
        except ValidationError as exc:
            raise ModelRequirementsError(f"{path}: {validation_problems(exc, name)}") from None
        requirements._name = name
        requirements._source = str(path)
        found[name] = requirements
    return found


# -- the decision threshold ---------------------------------------------------------------------
@dataclass(frozen=True)
class ThresholdChoice:
    """The threshold (predict positive when ``proba >= threshold``) of least expected cost on the holdout."""

    threshold: float
    expected_cost_per_row: float
    cost_at_0_5: float


def _binary(y_true, proba) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    p = np.asarray(proba, dtype=float)
    if y.shape != p.shape or y.ndim != 1 or len(y) == 0:
        raise ValueError(f"y_true and proba must be 1-D and of the same, non-zero length (got {y.shape}, {p.shape})")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"y_true must hold 0 and 1 only (found {sorted(set(np.unique(y).tolist()))[:5]})")
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("proba must be probabilities of the positive class, in [0, 1], without NaN")
    return y.astype(int), p


def choose_threshold(y_true, proba, cost_false_negative: float, cost_false_positive: float) -> ThresholdChoice:
    """Among the sorted unique probabilities, the threshold minimising the expected cost per row
    (``cost_fn · FN + cost_fp · FP`` over the rows), computed for all candidates at once."""
    y, p = _binary(y_true, proba)
    if cost_false_negative < 0 or cost_false_positive < 0 or cost_false_negative + cost_false_positive == 0:
        raise ValueError("costs must be non-negative and not both 0")
    candidates = np.unique(p)
    positives, negatives = np.sort(p[y == 1]), np.sort(p[y == 0])
    false_negatives = np.searchsorted(positives, candidates, side="left")  # positives below the threshold
    false_positives = len(negatives) - np.searchsorted(negatives, candidates, side="left")
    costs = (cost_false_negative * false_negatives + cost_false_positive * false_positives) / len(y)
    best = int(np.argmin(costs))
    at_half = (
        cost_false_negative * np.sum((y == 1) & (p < 0.5)) + cost_false_positive * np.sum((y == 0) & (p >= 0.5))
    ) / len(y)
    return ThresholdChoice(float(candidates[best]), float(costs[best]), float(at_half))


# -- metrics --------------------------------------------------------------------------------------
def classification_metrics(y_true, proba, threshold: float = 0.5) -> dict[str, float]:
    """The classification metrics of :data:`METRICS` at ``threshold`` (roc_auc is NaN with one class)."""
    from sklearn.metrics import accuracy_score, f1_score, log_loss, precision_score, recall_score, roc_auc_score

    y, p = _binary(y_true, proba)
    predicted = (p >= threshold).astype(int)
    return {
        "roc_auc": float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else math.nan,
        "accuracy": float(accuracy_score(y, predicted)),
        "precision": float(precision_score(y, predicted, zero_division=0)),
        "recall": float(recall_score(y, predicted, zero_division=0)),
        "f1": float(f1_score(y, predicted, zero_division=0)),
        "log_loss": float(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1])),
    }


def regression_metrics(y_true, pred) -> dict[str, float]:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    y, yhat = np.asarray(y_true, dtype=float), np.asarray(pred, dtype=float)
    if y.shape != yhat.shape or y.ndim != 1 or len(y) == 0:
        raise ValueError(f"y_true and pred must be 1-D and of the same, non-zero length (got {y.shape}, {yhat.shape})")
    return {
        "r2": float(r2_score(y, yhat)) if len(y) > 1 else math.nan,
        "rmse": float(np.sqrt(mean_squared_error(y, yhat))),
        "mae": float(mean_absolute_error(y, yhat)),
    }


# -- evaluating requirements ------------------------------------------------------------------------
@dataclass(frozen=True)
class RequirementResult:
    name: str  # the key in the file: "baseline.recall", "serving.p99_ms"
    passed: bool
    value: float | None
    limit: float
    detail: str


def _fmt(value: float) -> str:
    if float(value).is_integer() and abs(value) >= 1:
        return str(int(value))
    return f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.3g}"


def _check(
    req: ModelRequirements, key: str, label: str, value: float | None, limit: float, minimum: bool, unit: str = ""
) -> RequirementResult:
    where = req.where(key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return RequirementResult(key, False, None, limit, f"{label} was not measured ({where})")
    passed = value >= limit if minimum else value <= limit
    if minimum:
        relation = f"≥ {_fmt(limit)}{unit} required" if passed else f"< {_fmt(limit)}{unit} required"
    else:
        relation = f"≤ {_fmt(limit)}{unit} at most" if passed else f"> {_fmt(limit)}{unit} allowed at most"
    return RequirementResult(
        key, bool(passed), float(value), float(limit), f"{label} {_fmt(value)}{unit} {relation} ({where})"
    )


def evaluate_training(
    req: ModelRequirements,
    metrics: dict[str, float],
    training_seconds: float,
    rows: int,
    positive_ratio: float | None,
    n_features: int,
) -> list[RequirementResult]:
    """The requirements a training run can tell: baseline metrics (on the holdout), training time,
    training rows, positive-class ratio (classifiers) and feature count."""
    results = []
    for key, limit in req.baseline.items():
        metric = key.removesuffix(MAX_SUFFIX)
        results.append(_check(req, f"baseline.{key}", metric, metrics.get(metric), limit, minimum=key == metric))
    results.append(
        _check(req, "max_training_seconds", "training time", training_seconds, req.max_training_seconds, False, " s")
    )
    results.append(_check(req, "data.min_training_rows", "training rows", rows, req.data.min_training_rows, True))
    if req.data.min_positive_ratio is not None:
        results.append(
            _check(req, "data.min_positive_ratio", "positive ratio", positive_ratio, req.data.min_positive_ratio, True)
        )
    results.append(_check(req, "features.min", "feature count", n_features, req.features.min, True))
    results.append(_check(req, "features.max", "feature count", n_features, req.features.max, False))
    return results


def evaluate_serving(req: ModelRequirements, p99_ms: float, throughput_per_s: float) -> list[RequirementResult]:
    """The requirements a load test tells: p99 latency and throughput."""
    return [
        _check(req, "serving.p99_ms", "p99 latency", p99_ms, req.serving.p99_ms, False, " ms"),
        _check(
            req,
            "serving.min_throughput_per_s",
            "throughput",
            throughput_per_s,
            req.serving.min_throughput_per_s,
            True,
            "/s",
        ),
    ]


def requirements_markdown(results: list[RequirementResult]) -> str:
    """The results as a markdown table (for Dagster metadata and the model card)."""
    lines = ["| requirement | status | value | limit | detail |", "|---|---|---|---|---|"]
    for r in results:
        value = "—" if r.value is None else _fmt(r.value)
        detail = r.detail.replace("|", "\\|")
        lines.append(f"| {r.name} | {'pass' if r.passed else '**FAIL**'} | {value} | {_fmt(r.limit)} | {detail} |")
    return "\n".join(lines)
