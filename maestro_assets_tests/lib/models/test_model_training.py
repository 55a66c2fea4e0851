"""Training on a training-set snapshot with MLflow tracking: parent run, a child run per trial,
the pyfunc model predicting from raw features the same as the engine on transformed ones."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest

from maestro_assets.lib.lake import open_lake
from maestro_assets.lib.models.prediction import ModelInputError
from maestro_assets.lib.models.training import (
    TAG_DAGSTER_RUN,
    TAG_SNAPSHOT,
    ModelTraining,
    SearchSettings,
    TrainingData,
    TrainingDataError,
)
from maestro_assets.lib.tracking import Tracking
from maestro_assets_tests.lib.models.snapshots import FEATURES, days_ago, write_snapshot

SETTINGS = SearchSettings(
    time_budget_s=None, max_trials=4, families=["logistic_regression", "lightgbm"], cv=3, n_jobs=1
)


@pytest.fixture
def lake(tmp_path):
    return open_lake(str(tmp_path / "lake"))


@pytest.fixture
def tracking(tmp_path):
    return Tracking(f"sqlite:///{tmp_path / 'mlflow.db'}", artifact_root=str(tmp_path / "artifacts"))


def test_training_logs_parent_children_and_a_model_that_predicts_from_raw_features(lake, tracking, tmp_path):
    write_snapshot(lake, "task_lateness", "classification", seed=1, as_of=days_ago(3))
    newest = write_snapshot(lake, "task_lateness", "classification", seed=2)
    data = TrainingData.latest(lake, "task_lateness")
    assert data.manifest["manifest"] == newest["manifest"]  # the newest snapshot by as-of
    assert data.features == FEATURES and len(FEATURES) == 26
    storage = f"sqlite:///{tmp_path / 'warehouse.db'}"
    with ModelTraining(tracking, "task_lateness", data, "model_task_lateness", {TAG_DAGSTER_RUN: "r1"}) as training:
        automl = training.fit(SETTINGS, "classification", study_storage=storage)
        evaluation = training.holdout_predictions(automl, threshold=0.3)
        uri = training.log_model(automl, threshold=0.3)
    parent = tracking.client.get_run(training.run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags[TAG_SNAPSHOT] == data.snapshot and parent.data.tags[TAG_DAGSTER_RUN] == "r1"
    assert parent.data.params["rows_train"] == str(len(data.part("train")[0]))
    children = tracking.child_runs(training.run_id)
    assert len(children) == automl.metadata_["trials"] == 4
    assert {c.data.params["family"] for c in children} == {"logistic_regression", "lightgbm"}
    assert all(c.data.tags[TAG_DAGSTER_RUN] == "r1" for c in children)
    complete = [c for c in children if c.data.tags["maestro.trial_state"] == "complete"]
    assert complete and all("roc_auc" in c.data.metrics for c in complete)
    # the registered model: raw features in, transforms + engine + threshold inside
    model = mlflow.pyfunc.load_model(uri)
    X, _ = data.part("holdout")
    served = model.predict(X)
    expected = automl.predict_proba(data.transforms.apply(X))[:, 1]
    np.testing.assert_allclose(served["probability"].to_numpy(), expected)
    assert (served["prediction"] == (expected >= 0.3).astype(int)).all()
    pd.testing.assert_frame_equal(served, evaluation.predictions)
    assert model.metadata.signature.inputs.input_names() == FEATURES
    with pytest.raises(Exception, match=f"missing inputs.*{FEATURES[0]}"):  # MLflow's signature check
        model.predict(X.drop(columns=[FEATURES[0]]))
    with pytest.raises(ModelInputError, match=f"lacks 1 feature.*{FEATURES[0]}.*retrain"):
        model.unwrap_python_model().predict(None, X.drop(columns=[FEATURES[0]]))


def test_a_failed_training_marks_its_run_failed(lake, tracking):
    write_snapshot(lake, "task_lateness", "classification", seed=3)
    data = TrainingData.latest(lake, "task_lateness")
    with pytest.raises(Exception, match="unknown classification family no_such_family"):
        with ModelTraining(tracking, "task_lateness", data, "model_task_lateness", {}) as training:
            training.fit(
                SearchSettings(time_budget_s=None, max_trials=1, families=["no_such_family"]), "classification"
            )
    assert tracking.client.get_run(training.run_id).info.status == "FAILED"


def test_empty_stale_or_missing_training_sets_are_named(lake):
    with pytest.raises(Exception, match="materialize the asset training_set_task_lateness"):
        TrainingData.latest(lake, "task_lateness")
    write_snapshot(lake, "task_lateness", "classification", seed=4, as_of=days_ago(10))
    with pytest.raises(TrainingDataError, match="10 days old"):
        TrainingData.latest(lake, "task_lateness")
    write_snapshot(lake, "project_success", "regression", rows=1, seed=5)
    with pytest.raises(TrainingDataError, match="no (train|holdout) rows"):
        TrainingData.latest(lake, "project_success")
