"""Preprocessing as the first step of every model's Pipeline, so it is fitted inside each fold.

:func:`plan_columns` decides once, from the training frame's schema, what each column is
(numeric, low- or high-cardinality categorical, datetime) and which columns carry nothing
(constant or all missing). A categorical whose levels are all numbers written as text (hours
``"0"``..``"23"``, month numbers, codes) is also kept as those numbers for the tree families: an
ordinal code of the text would put ``"10"`` before ``"2"`` and scramble the order a tree splits
on. :func:`build_preprocessor` turns that plan into a ColumnTransformer for a family's needs;
its statistics (medians, scales, category levels, target encodings) are learned by ``fit`` on
the training rows of a fold only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler, TargetEncoder

from .validation import REGRESSION

# categoricals with at most this many levels are one-hot encoded (linear and distance models) or
# ordinal encoded (trees); above it, target encoded: a column of thousands of levels stays one column
MAX_ONE_HOT_LEVELS = 20
MISSING_CATEGORY = "__missing__"
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")

# the preprocessing a family needs
SCALED = "scaled"  # imputation, scaling, one-hot: linear models, k-NN, SVMs
IMPUTED = "imputed"  # imputation, ordinal codes: sklearn's random forests and extra trees
NATIVE = "native"  # missing values left as NaN, ordinal codes: gradient boosting handles both


@dataclass(frozen=True)
class ColumnPlan:
    numeric: tuple[str, ...] = ()
    low_cardinality: tuple[str, ...] = ()
    high_cardinality: tuple[str, ...] = ()
    datetime: tuple[str, ...] = ()
    dropped: dict[str, str] = field(default_factory=dict)  # column -> why it carries nothing
    number_levels: tuple[str, ...] = ()  # the categoricals (low or high) whose levels are all numbers

    @property
    def columns(self) -> int:
        """How many columns the plan keeps."""
        return len(self.numeric) + len(self.low_cardinality) + len(self.high_cardinality) + len(self.datetime)

    def describe(self) -> dict:
        return {
            "numeric": list(self.numeric),
            "categorical_one_hot_or_ordinal": list(self.low_cardinality),
            "categorical_target_encoded": list(self.high_cardinality),
            "datetime_expanded": list(self.datetime),
            "categorical_numbers_for_trees": list(self.number_levels),
            "dropped": dict(self.dropped),
        }


def _looks_like_dates(values: pd.Series) -> bool:
    sample = values.dropna().astype(str).head(200)
    return len(sample) > 0 and all(_ISO_DATE.match(v) for v in sample)


def _levels_are_numbers(present: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(present) or pd.api.types.is_bool_dtype(present):
        return False
    levels = pd.Series(present.astype(str).unique())
    return bool(np.isfinite(pd.to_numeric(levels, errors="coerce")).all())


def plan_columns(X: pd.DataFrame, max_one_hot_levels: int = MAX_ONE_HOT_LEVELS) -> ColumnPlan:
    numeric, low, high, dates, dropped, numbers = [], [], [], [], {}, []
    for column in X.columns:
        values = X[column]
        present = values.dropna()
        if present.empty:
            dropped[column] = "all values missing"
            continue
        levels = present.nunique()
        if levels == 1 and not values.isna().any():
            value = present.iloc[0]
            dropped[column] = f"constant ({(value.item() if isinstance(value, np.generic) else value)!r})"
            continue
        if pd.api.types.is_datetime64_any_dtype(values) or (
            values.dtype == object and _looks_like_dates(values)  # ISO dates read from CSV as text
        ):
            dates.append(column)
        elif pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            numeric.append(column)
        else:
            (low if levels <= max_one_hot_levels else high).append(column)
            if _levels_are_numbers(present):
                numbers.append(column)
    return ColumnPlan(tuple(numeric), tuple(low), tuple(high), tuple(dates), dropped, tuple(numbers))


class AsFloat(TransformerMixin, BaseEstimator):
    """Numbers and booleans (nullable ones too) as a float array, missing as NaN."""

    def fit(self, X, y=None):
        return self

    def __sklearn_is_fitted__(self) -> bool:  # stateless: nothing to learn
        return True

    def transform(self, X):
        frame = pd.DataFrame(X)
        return np.column_stack([pd.to_numeric(frame[c], errors="coerce").astype("float64") for c in frame.columns])

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features, dtype=object)


class AsCategories(TransformerMixin, BaseEstimator):
    """Category levels as strings, missing values as one more level of their own."""

    def fit(self, X, y=None):
        return self

    def __sklearn_is_fitted__(self) -> bool:  # stateless: nothing to learn
        return True

    def transform(self, X):
        frame = pd.DataFrame(X)
        out = np.empty(frame.shape, dtype=object)
        for i, column in enumerate(frame.columns):
            values = frame[column]
            out[:, i] = np.where(values.isna().to_numpy(), MISSING_CATEGORY, values.astype(str).to_numpy())
        return out

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features, dtype=object)


DATE_PARTS = ("year", "month", "day", "weekday", "dayofyear", "hour", "days_since_1970")


class DatetimeParts(TransformerMixin, BaseEstimator):
    """Each datetime column (or ISO date text) as year, month, day, weekday, day of year, hour and
    days since 1970; unparseable or missing values become NaN."""

    def fit(self, X, y=None):
        return self

    def __sklearn_is_fitted__(self) -> bool:  # stateless: nothing to learn
        return True

    def transform(self, X):
        frame = pd.DataFrame(X)
        parts = []
        for column in frame.columns:
            stamps = pd.to_datetime(frame[column], errors="coerce", utc=True, format="mixed")
            parts += [
                stamps.dt.year,
                stamps.dt.month,
                stamps.dt.day,
                stamps.dt.weekday,
                stamps.dt.dayofyear,
                stamps.dt.hour,
                (stamps - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds() / 86400.0,
            ]
        return np.column_stack([p.to_numpy(dtype="float64", na_value=np.nan) for p in parts])

    def get_feature_names_out(self, input_features=None):
        return np.asarray([f"{c}_{p}" for c in input_features for p in DATE_PARTS], dtype=object)


def build_preprocessor(plan: ColumnPlan, style: str, task: str) -> ColumnTransformer:
    """The ColumnTransformer for a family's ``style`` (:data:`SCALED`, :data:`IMPUTED` or :data:`NATIVE`)
    and ``task`` (a regression target is continuous even when its values are whole numbers, e.g. counts:
    left to guess, the target encoder would take each distinct count for a class and write one column
    per count)."""
    numeric_steps: list = [("as_float", AsFloat())]
    if style in (SCALED, IMPUTED):
        numeric_steps.append(("impute", SimpleImputer(strategy="median", add_indicator=True)))
    if style == SCALED:
        numeric_steps.append(("scale", StandardScaler()))
    date_steps = [("parts", DatetimeParts()), *numeric_steps[1:]]
    if style == SCALED:
        low_encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    else:
        low_encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    target_type = "continuous" if task == REGRESSION else "auto"
    high_steps: list = [("as_text", AsCategories()), ("target_encode", TargetEncoder(target_type=target_type, cv=5))]
    if style == SCALED:
        high_steps.append(("scale", StandardScaler()))
    # trees take number-coded categoricals as their numbers; linear and distance models as categories
    as_numbers = [] if style == SCALED else list(plan.number_levels)
    low = [c for c in plan.low_cardinality if c not in as_numbers]
    high = [c for c in plan.high_cardinality if c not in as_numbers]
    parts = []
    if plan.numeric or as_numbers:
        parts.append(("numeric", Pipeline(numeric_steps), [*plan.numeric, *as_numbers]))
    if plan.datetime:
        parts.append(("datetime", Pipeline(date_steps), list(plan.datetime)))
    if low:
        parts.append(("categorical", Pipeline([("as_text", AsCategories()), ("encode", low_encoder)]), low))
    if high:
        parts.append(("high_cardinality", Pipeline(high_steps), high))
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0, verbose_feature_names_out=False)
