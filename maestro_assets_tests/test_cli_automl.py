"""`maestro automl` from a shell: progress, leaderboard, predictions file and saved model, bad input."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from maestro_assets.lib.automl import AutoML
from maestro_assets_tests.lib.automl.frames import mixed_frame
from maestro_assets_tests.test_cli import run_maestro


@pytest.fixture
def env(maestro_home):
    return {**{k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}, "MAESTRO_HOME": str(maestro_home)}


def test_binary_search_writes_predictions_and_the_model(tmp_path, env):
    X, y = mixed_frame(rows=300)
    table = X.assign(bought=y)
    table.iloc[:240].to_csv(tmp_path / "train.csv", index=False)
    table.iloc[240:].drop(columns=["bought"]).to_csv(tmp_path / "test.csv", index=False)
    done = run_maestro(
        "automl",
        *("--data", str(tmp_path / "train.csv"), "--target", "bought", "--trials", "3", "--cv", "3"),
        *("--test", str(tmp_path / "test.csv"), "--predictions", str(tmp_path / "out" / "pred.csv")),
        *("--model-out", str(tmp_path / "model"), "--n-jobs", "1"),
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "within 3 trials" in out
    progress = [line for line in out.splitlines() if line.startswith("  trial ")]
    assert len(progress) == 3 and "| best " in progress[-1] and "3 done" in progress[-1]
    assert "rank" in out and "roc_auc" in out and "final model: " in out
    predictions = pd.read_csv(tmp_path / "out" / "pred.csv")
    assert list(predictions.columns) == ["pred", "proba"] and len(predictions) == 60
    assert set(predictions["pred"]) <= {"no", "yes"} and predictions["proba"].between(0, 1).all()
    model = AutoML.load(tmp_path / "model")
    test = pd.read_csv(tmp_path / "test.csv")
    np.testing.assert_allclose(model.predict_proba(test)[:, 1], predictions["proba"], rtol=1e-9)
    assert (predictions["proba"] > 0.5).eq(predictions["pred"] == "yes").all()  # proba is of classes_[1], "yes"


def test_multiclass_parquet_gets_a_probability_per_class(tmp_path, env):
    X, _ = mixed_frame(rows=240)
    table = X.drop(columns=["signup"]).assign(band=np.select([X["b"] < -0.5, X["b"] < 0.5], ["low", "mid"], "high"))
    table.to_parquet(tmp_path / "train.parquet")
    done = run_maestro(
        "automl",
        *("--data", str(tmp_path / "train.parquet"), "--target", "band", "--trials", "2", "--cv", "3"),
        *("--test", str(tmp_path / "train.parquet"), "--predictions", str(tmp_path / "pred.parquet")),
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    predictions = pd.read_parquet(tmp_path / "pred.parquet")
    assert list(predictions.columns) == ["pred", "proba_high", "proba_low", "proba_mid"]
    assert np.allclose(predictions.iloc[:, 1:].sum(axis=1), 1)
    assert (predictions["pred"] == table["band"]).mean() > 0.8


def test_bad_input_is_one_line_naming_the_problem(tmp_path, env):
    X, y = mixed_frame(rows=50)
    X.assign(bought=y).to_csv(tmp_path / "train.csv", index=False)
    done = run_maestro("automl", "--data", str(tmp_path / "train.csv"), "--target", "price", env=env, timeout=120)
    assert done.returncode == 1
    assert "maestro: error: target column 'price' is not in the data (columns: a, b, colour" in done.stderr
    assert "Traceback" not in done.stderr
    missing = run_maestro("automl", "--data", str(tmp_path / "nope.csv"), "--target", "x", env=env, timeout=120)
    assert missing.returncode == 1 and "--data " in missing.stderr and "no such file" in missing.stderr
