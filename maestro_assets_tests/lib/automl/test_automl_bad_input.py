"""Bad input to the AutoML engine fails at once with a message naming the column and the problem."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from maestro_assets.lib.automl import (
    AutoML,
    AutoMLInputError,
    FeatureError,
    FoldError,
    SchemaMismatchError,
    TargetError,
)
from maestro_assets.lib.errors import MaestroError
from maestro_assets_tests.lib.automl.frames import fast, mixed_frame


def frame(rows: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame({"x": rng.normal(size=rows), "kind": rng.choice(["p", "q"], size=rows)})


@pytest.mark.parametrize(
    "target, error, words",
    [
        (pd.Series(["same"] * 60, name="label"), TargetError, ["'label'", "one value", "'same'"]),
        (pd.Series([np.nan] * 60, name="label"), TargetError, ["'label'", "no values", "all 60 rows are missing"]),
        (
            pd.Series(["a", "b"] * 29 + [None, None], name="label"),
            TargetError,
            ["'label'", "missing in 2 of 60 rows", "index 58"],
        ),
    ],
)
def test_unusable_targets_are_named(target, error, words):
    with pytest.raises(error) as raised:
        AutoML(**fast()).fit(frame(), target)
    assert isinstance(raised.value, MaestroError)
    for word in words:
        assert word in str(raised.value)


def test_a_target_column_that_is_not_there():
    with pytest.raises(TargetError, match=r"target column 'price' is not in the data \(columns: x, kind\)"):
        AutoML(**fast()).fit(frame(), "price")


def test_regression_needs_a_numeric_target():
    target = pd.Series(["1.5", "2.0", "lots"] * 20, name="amount")
    with pytest.raises(TargetError, match=r"target 'amount' is not numeric \(dtype object, e.g. 'lots'\)"):
        AutoML(**fast(task="regression", families=["ridge"])).fit(frame(), target)


def test_fewer_rows_than_folds():
    with pytest.raises(FoldError, match=r"3 rows are fewer than the 5 folds"):
        AutoML(**fast(cv=5)).fit(frame(3), pd.Series([1.0, 2.0, 3.5]), "x")


def test_a_class_with_fewer_members_than_folds():
    target = pd.Series(["common"] * 57 + ["rare"] * 3, name="label")
    with pytest.raises(FoldError, match=r"class 'rare' of target 'label' has 3 member\(s\), fewer than the 5 folds"):
        AutoML(**fast(cv=5)).fit(frame(), target)


def test_infinite_feature_values_are_named():
    data = frame()
    data.loc[7, "x"] = np.inf
    with pytest.raises(FeatureError, match=r"column 'x' has 1 infinite values \(first at index 7\)"):
        AutoML(**fast()).fit(data, pd.Series(["a", "b"] * 30))


def test_settings_that_cannot_work():
    with pytest.raises(AutoMLInputError, match="unknown metric 'accuracy_pct'"):
        AutoML(**fast(metric="accuracy_pct")).fit(frame(), pd.Series(["a", "b"] * 30))
    with pytest.raises(AutoMLInputError, match="unknown classification family catboost"):
        AutoML(**fast(families=["catboost"])).fit(frame(), pd.Series(["a", "b"] * 30))
    with pytest.raises(AutoMLInputError, match="give a time budget"):
        AutoML(time_budget_s=None, max_trials=None).fit(frame(), pd.Series(["a", "b"] * 30))


@pytest.fixture(scope="module")
def fitted():
    X, y = mixed_frame(rows=150)
    return AutoML(**fast(max_trials=1, families=["logistic_regression"])).fit(X, y), X


def test_predict_names_missing_columns(fitted):
    model, X = fitted
    with pytest.raises(SchemaMismatchError, match=r"1 training column\(s\) missing at predict: colour"):
        model.predict(X.drop(columns=["colour"]))


def test_predict_names_a_changed_dtype(fitted):
    model, X = fitted
    changed = X.assign(b=X["b"].map(lambda v: f"{v:.2f} kg"))
    with pytest.raises(SchemaMismatchError, match=r"column 'b' was numeric \(float64\) in training but is categorical"):
        model.predict_proba(changed)


def test_predict_rejects_infinite_values_and_ignores_extra_columns(fitted):
    model, X = fitted
    assert len(model.predict(X.assign(row_id=range(len(X))))) == len(X)
    with pytest.raises(FeatureError, match="column 'b' has 1 infinite values"):
        model.predict(X.assign(b=X["b"].where(X.index != 3, -np.inf)))
