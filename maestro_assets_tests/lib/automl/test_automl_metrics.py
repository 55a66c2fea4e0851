"""The engine's direct computations of the common metrics equal scikit-learn's scorers, and any
other scorer name goes through scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, log_loss, mean_absolute_error, r2_score, roc_auc_score

from maestro_assets.lib.automl.validation import resolve_metric


@pytest.fixture
def binary():
    rng = np.random.default_rng(0)
    y = rng.choice(["no", "yes"], size=300)
    p = np.clip(0.5 + 0.3 * (y == "yes") + rng.normal(scale=0.25, size=300), 0.01, 0.99)
    p[:20] = 0.5  # ties
    return y, np.column_stack([1 - p, p])


def test_classification_metrics_equal_scikit_learns(binary):
    y, proba = binary
    classes = ("no", "yes")
    assert resolve_metric(None, "classification", 2).score(y, proba, classes) == pytest.approx(
        roc_auc_score(y == "yes", proba[:, 1]), abs=1e-12
    )
    assert resolve_metric("log_loss", "classification", 2).score(y, proba, classes) == pytest.approx(
        -log_loss(y, proba, labels=list(classes)), rel=1e-9
    )
    assert resolve_metric("accuracy", "classification", 2).score(y, proba, classes) == pytest.approx(
        accuracy_score(y, np.array(classes)[proba.argmax(axis=1)])
    )
    f1 = resolve_metric("f1_macro", "classification", 2)
    assert f1.score(y, proba, classes) == pytest.approx(
        f1_score(y, np.array(classes)[proba.argmax(axis=1)], average="macro")
    )


def test_regression_metrics_equal_scikit_learns():
    rng = np.random.default_rng(1)
    y = rng.normal(size=200)
    pred = y + rng.normal(scale=0.3, size=200)
    rmse = resolve_metric(None, "regression", 0)
    assert rmse.display_name == "root_mean_squared_error"
    assert rmse.natural(rmse.score(y, pred)) == pytest.approx(np.sqrt(np.mean((y - pred) ** 2)))
    assert resolve_metric("r2", "regression", 0).score(y, pred) == pytest.approx(r2_score(y, pred))
    mae = resolve_metric("mae", "regression", 0)
    assert mae.natural(mae.score(y, pred)) == pytest.approx(mean_absolute_error(y, pred))
