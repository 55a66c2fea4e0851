"""What the AutoML engine accepts and how it scores: input checks, the task, the metric, the folds.

Every check raises an :class:`AutoMLInputError` subclass whose message names the column and the
problem, so a user knows what to fix without reading a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import get_scorer, get_scorer_names, log_loss
from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold, TimeSeriesSplit, train_test_split

from ..errors import MaestroError

CLASSIFICATION = "classification"
REGRESSION = "regression"
TASKS = ("auto", CLASSIFICATION, REGRESSION)

# at most this many distinct integer values (and few per row) make an integer target a class label
MAX_CLASSES_FOR_INTEGER_TARGET = 20
HOLDOUT_FRACTION = 0.2


class AutoMLInputError(MaestroError):
    """The data or the settings given to the AutoML engine cannot be used as they are."""


class TargetError(AutoMLInputError):
    """The target column is missing, empty, constant or of the wrong kind for the task."""


class FeatureError(AutoMLInputError):
    """A feature column holds values the engine cannot learn from (infinite values, no columns)."""


class FoldError(AutoMLInputError):
    """The data is too small for the requested cross-validation."""


class SchemaMismatchError(AutoMLInputError):
    """The frame given to ``predict`` does not have the training frame's columns and dtypes."""


def split_target(X, y, target_name: str = "target") -> tuple[pd.DataFrame, pd.Series]:
    """The features as a DataFrame and the target as a Series; ``y`` may name a column of ``X``."""
    if not isinstance(X, pd.DataFrame):
        X = pd.DataFrame(np.asarray(X)).rename(columns=lambda c: f"x{c}")
    if isinstance(y, str):
        if y not in X.columns:
            raise TargetError(f"target column {y!r} is not in the data (columns: {', '.join(map(str, X.columns))})")
        return X.drop(columns=[y]), X[y].rename(y)
    if y is None:
        raise TargetError("no target given: pass y (values or the name of a column)")
    series = y if isinstance(y, pd.Series) else pd.Series(np.asarray(y).ravel(), name=target_name)
    if len(series) != len(X):
        raise TargetError(f"target {series.name!r} has {len(series)} values but the data has {len(X)} rows")
    return X, series.set_axis(X.index)


def infer_task(y: pd.Series) -> str:
    """Classification for text, boolean, categorical and few-valued integer targets, else regression."""
    values = y.dropna()
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return CLASSIFICATION
    if pd.api.types.is_integer_dtype(values) or np.all(np.mod(values.to_numpy(dtype=float), 1) == 0):
        if values.nunique() <= MAX_CLASSES_FOR_INTEGER_TARGET:
            return CLASSIFICATION
    return REGRESSION


def check_target(y: pd.Series, task: str) -> None:
    """A target the engine can learn: present, not constant, numeric for regression."""
    name = y.name
    missing = int(y.isna().sum())
    if missing == len(y):
        raise TargetError(f"target {name!r} has no values: all {len(y)} rows are missing")
    if missing:
        first = y.index[y.isna().to_numpy()][0]
        raise TargetError(
            f"target {name!r} is missing in {missing} of {len(y)} rows (first at index {_plain(first)!r}): "
            "drop or fill them"
        )
    if task == REGRESSION:
        if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
            example = next((v for v in y if not _is_number(v)), y.iloc[0])
            raise TargetError(
                f"target {name!r} is not numeric (dtype {y.dtype}, e.g. {example!r}): regression needs numbers"
            )
        if not np.isfinite(y.to_numpy(dtype=float)).all():
            first = y.index[~np.isfinite(y.to_numpy(dtype=float))][0]
            raise TargetError(f"target {name!r} has infinite values (first at index {_plain(first)!r})")
    levels = y.nunique()
    if levels < 2:
        raise TargetError(f"target {name!r} has one value only ({_plain(y.iloc[0])!r}): there is nothing to learn")


def _plain(value):
    """A numpy scalar as the Python value it holds, so messages read ``58``, not ``np.int64(58)``."""
    return value.item() if isinstance(value, np.generic) else value


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def check_features(X: pd.DataFrame) -> None:
    """Feature columns the engine can use: some columns, unique names, no infinite numbers."""
    if X.shape[1] == 0:
        raise FeatureError("the data has no feature columns besides the target")
    duplicated = X.columns[X.columns.duplicated()].unique().tolist()
    if duplicated:
        raise FeatureError(f"duplicate column names: {', '.join(map(str, duplicated))}")
    check_finite(X)


def check_finite(X: pd.DataFrame) -> None:
    for column in X.columns:
        values = X[column]
        if pd.api.types.is_float_dtype(values):
            infinite = np.isinf(values.to_numpy(dtype=float, na_value=np.nan))
            if infinite.any():
                first = X.index[infinite][0]
                raise FeatureError(
                    f"column {column!r} has {int(infinite.sum())} infinite values (first at index {_plain(first)!r}): "
                    "replace them by a number or leave them missing (NaN)"
                )


# ---------------------------------------------------------------- schema kept for predict


def column_kind(values: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(values):
        return "boolean"
    if pd.api.types.is_numeric_dtype(values):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "datetime"
    return "categorical"


@dataclass(frozen=True)
class FeatureSchema:
    """The training frame's columns, in order, with their dtype and kind."""

    columns: tuple[str, ...]
    dtypes: tuple[str, ...]
    kinds: tuple[str, ...]

    @classmethod
    def of(cls, X: pd.DataFrame) -> FeatureSchema:
        return cls(
            tuple(X.columns), tuple(str(X[c].dtype) for c in X.columns), tuple(column_kind(X[c]) for c in X.columns)
        )

    def conform(self, X) -> pd.DataFrame:
        """``X`` with the training columns in training order; extra columns are left out."""
        if not isinstance(X, pd.DataFrame):
            array = np.asarray(X)
            if array.ndim != 2 or array.shape[1] != len(self.columns):
                raise SchemaMismatchError(
                    f"expected a frame with the {len(self.columns)} training columns "
                    f"({', '.join(map(str, self.columns))}), got an array of shape {array.shape}"
                )
            X = pd.DataFrame(array, columns=list(self.columns)).infer_objects()
        missing = [c for c in self.columns if c not in X.columns]
        if missing:
            raise SchemaMismatchError(
                f"{len(missing)} training column(s) missing at predict: {', '.join(map(str, missing))}"
            )
        for column, dtype, kind in zip(self.columns, self.dtypes, self.kinds):
            values = X[column]
            now = column_kind(values)
            if now == kind or values.isna().all() or {now, kind} <= {"numeric", "boolean"}:
                continue
            if kind == "datetime" and now == "categorical":  # dates read back as text parse at predict
                continue
            raise SchemaMismatchError(
                f"column {column!r} was {kind} ({dtype}) in training but is {now} ({values.dtype}) now"
            )
        X = X[list(self.columns)]
        check_finite(X)
        return X


# ---------------------------------------------------------------- metrics


METRIC_ALIASES = {
    "auc": "roc_auc",
    "roc_auc": "roc_auc",
    "log_loss": "neg_log_loss",
    "logloss": "neg_log_loss",
    "rmse": "neg_root_mean_squared_error",
    "mse": "neg_mean_squared_error",
    "mae": "neg_mean_absolute_error",
}


class _Predictions(BaseEstimator):
    """Precomputed predictions dressed as a fitted estimator, so any scikit-learn scorer can score them."""

    def __init__(self, values=None, classes=None):
        self.values = values
        self.classes = classes

    def predict(self, X):
        if self.classes is None:
            return self.values
        return self.classes[np.argmax(self.values, axis=1)]

    def predict_proba(self, X):
        return self.values


class _ClassPredictions(ClassifierMixin, _Predictions):
    @property
    def classes_(self):
        return self.classes


class _ValuePredictions(RegressorMixin, _Predictions):
    pass


@dataclass(frozen=True)
class Metric:
    """A scikit-learn scorer by name, applied to predictions (class probabilities or values)."""

    name: str  # as the user gave it (or the default)
    scorer_name: str  # scikit-learn's scorer name
    sign: int = field(default=1)  # +1: greater is better in the metric's own units; -1: the scorer negates it

    @property
    def display_name(self) -> str:
        return self.scorer_name.removeprefix("neg_") if self.sign < 0 else self.scorer_name

    def score(self, y_true, predictions, classes=None) -> float:
        """The scorer's value (greater is better) of ``predictions`` against ``y_true``."""
        fast = _FAST_SCORES.get(self.scorer_name)
        if fast is not None and (self.scorer_name != "roc_auc" or (classes is not None and len(classes) == 2)):
            return fast(np.asarray(y_true), np.asarray(predictions), classes)
        if self.scorer_name == "neg_log_loss":  # every class named, so a fold missing a class still scores
            return -float(log_loss(y_true, np.clip(predictions, 1e-15, 1), labels=classes))
        holder = (
            _ValuePredictions(predictions) if classes is None else _ClassPredictions(predictions, np.asarray(classes))
        )
        return float(get_scorer(self.scorer_name)(holder, np.empty((len(y_true), 0)), y_true))

    def natural(self, score: float) -> float:
        """A scorer value in the metric's own units (an RMSE as a positive number)."""
        return self.sign * score


def _binary_roc_auc(y_true, proba, classes) -> float:
    """ROC AUC as the Mann-Whitney statistic of the positive class's probability (ties share ranks)."""
    positive = y_true == classes[1]
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(proba[:, 1])
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _neg_log_loss(y_true, proba, classes) -> float:
    codes = np.searchsorted(np.asarray(classes), y_true)
    picked = np.clip(proba[np.arange(len(codes)), codes] / proba.sum(axis=1), 1e-15, 1)
    return float(np.mean(np.log(picked)))


def _accuracy(y_true, proba, classes) -> float:
    return float(np.mean(np.asarray(classes)[np.argmax(proba, axis=1)] == y_true))


# The search scores thousands of blends in ensemble selection; scikit-learn's scorers validate their
# input each time (~4 ms a call here), so the common metrics are computed directly (the tests hold
# them equal to scikit-learn's). Every other scorer goes through scikit-learn.
_FAST_SCORES = {
    "roc_auc": _binary_roc_auc,
    "neg_log_loss": _neg_log_loss,
    "accuracy": _accuracy,
    "neg_root_mean_squared_error": lambda y, p, c: -float(np.sqrt(np.mean((y - p) ** 2))),
    "neg_mean_squared_error": lambda y, p, c: -float(np.mean((y - p) ** 2)),
    "neg_mean_absolute_error": lambda y, p, c: -float(np.mean(np.abs(y - p))),
    "r2": lambda y, p, c: float(1 - np.sum((y - p) ** 2) / np.sum((y - np.mean(y)) ** 2)),
}


def resolve_metric(metric: str | None, task: str, n_classes: int) -> Metric:
    if metric is None:
        if task == REGRESSION:
            return Metric("rmse", "neg_root_mean_squared_error", -1)
        return Metric("roc_auc", "roc_auc") if n_classes == 2 else Metric("log_loss", "neg_log_loss", -1)
    scorer_name = METRIC_ALIASES.get(metric.lower(), metric)
    if scorer_name not in get_scorer_names():
        raise AutoMLInputError(
            f"unknown metric {metric!r}: use a scikit-learn scorer name (e.g. roc_auc, accuracy, neg_log_loss, "
            f"r2, neg_root_mean_squared_error) or one of {', '.join(sorted(METRIC_ALIASES))}"
        )
    if scorer_name == "roc_auc" and n_classes > 2:
        scorer_name = "roc_auc_ovr"
    return Metric(metric, scorer_name, -1 if scorer_name.startswith("neg_") else 1)


# ---------------------------------------------------------------- folds


def make_folds(
    task: str,
    y: pd.Series,
    groups,
    cv,
    large_data_rows: int,
    random_state: int,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """The train/validation index pairs and a description of the split.

    ``cv`` is a number of folds (stratified for classification, grouped when ``groups`` are given,
    one stratified holdout of 20% above ``large_data_rows`` rows), ``"holdout"``, ``"timeseries"``
    (five expanding windows in row order) or any scikit-learn splitter.
    """
    n_rows = len(y)
    labels = y.to_numpy()
    index = np.arange(n_rows)
    stratify = task == CLASSIFICATION
    if cv == "holdout" or (isinstance(cv, int | np.integer) and n_rows > large_data_rows and groups is None):
        _check_rows(y, 2, task, "a holdout split")
        train, valid = train_test_split(
            index, test_size=HOLDOUT_FRACTION, random_state=random_state, stratify=labels if stratify else None
        )
        return [(np.sort(train), np.sort(valid))], f"holdout {HOLDOUT_FRACTION:.0%}"
    if cv == "timeseries":
        splitter, name = TimeSeriesSplit(n_splits=5), "time-series split, 5 expanding windows"
    elif isinstance(cv, int | np.integer):
        if cv < 2:
            raise FoldError(f"cv={cv}: cross-validation needs at least 2 folds")
        if groups is not None:
            splitter, name = GroupKFold(n_splits=int(cv)), f"group {cv}-fold"
        elif stratify:
            splitter = StratifiedKFold(n_splits=int(cv), shuffle=True, random_state=random_state)
            name = f"stratified {cv}-fold"
        else:
            splitter, name = KFold(n_splits=int(cv), shuffle=True, random_state=random_state), f"{cv}-fold"
    elif hasattr(cv, "split"):
        splitter, name = cv, type(cv).__name__
    else:
        raise AutoMLInputError(f"cv={cv!r}: give a number of folds, 'holdout', 'timeseries' or a scikit-learn splitter")
    n_splits = splitter.get_n_splits(None, labels, groups)
    _check_rows(y, n_splits, task if isinstance(splitter, StratifiedKFold) else "", f"{name} cross-validation")
    if groups is not None:
        groups = np.asarray(groups)
        if len(groups) != n_rows:
            raise AutoMLInputError(f"groups has {len(groups)} values but the data has {n_rows} rows")
        if len(np.unique(groups)) < n_splits:
            raise FoldError(f"{len(np.unique(groups))} distinct groups cannot make {n_splits} group folds")
    folds = [(np.asarray(t), np.asarray(v)) for t, v in splitter.split(np.empty((n_rows, 1)), labels, groups)]
    return folds, name


def _check_rows(y: pd.Series, n_splits: int, task: str, what: str) -> None:
    if len(y) < n_splits:
        raise FoldError(f"{len(y)} rows are fewer than the {n_splits} folds of {what}")
    if task == CLASSIFICATION:
        counts = y.value_counts()
        small = counts[counts < n_splits]
        if len(small):
            label, count = _plain(small.index[0]), int(small.iloc[0])
            raise FoldError(
                f"class {label!r} of target {y.name!r} has {count} member(s), fewer than the {n_splits} folds "
                f"of {what}: lower cv, or merge or drop the rare class"
            )
