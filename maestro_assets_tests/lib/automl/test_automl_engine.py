"""The AutoML engine on real fits of small data: every column kind, imbalance, regression,
multiclass, no leakage, reproducibility, save/load, scikit-learn's clone and get/set_params."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import r2_score, recall_score, roc_auc_score
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import TargetEncoder

from maestro_assets.lib.automl import AutoML, Progress
from maestro_assets.lib.automl.ensemble import WeightedEnsemble
from maestro_assets_tests.lib.automl.frames import fast, mixed_frame


def split(X, y, test_rows: int):
    return X.iloc[:-test_rows], y.iloc[:-test_rows], X.iloc[-test_rows:], y.iloc[-test_rows:]


def test_mixed_columns_with_missing_values():
    X, y = mixed_frame(rows=500)
    X_train, y_train, X_test, y_test = split(X, y, 100)
    seen: list[Progress] = []
    model = AutoML(**fast(max_trials=4, callbacks=[seen.append])).fit(X_train, y_train)

    assert list(model.classes_) == ["no", "yes"]
    proba = model.predict_proba(X_test)
    assert proba.shape == (100, 2) and np.allclose(proba.sum(axis=1), 1)
    assert roc_auc_score(y_test == "yes", proba[:, 1]) > 0.85
    assert set(model.predict(X_test)) <= {"no", "yes"}
    columns = model.metadata_["columns"]
    assert columns["dropped"] == {"constant": "constant (7)", "empty": "all values missing"}
    assert columns["datetime_expanded"] == ["signup"] and columns["categorical_one_hot_or_ordinal"] == ["colour"]
    assert isinstance(model.best_estimator_, Pipeline | WeightedEnsemble)

    board = model.leaderboard()
    assert list(board.columns[:8]) == [
        "rank",
        "trial",
        "family",
        "roc_auc",
        "roc_auc_std",
        "folds",
        "fit_time_s",
        "state",
    ]
    singles = board[board["family"] != "ensemble"]
    assert len(singles) == 4 and set(singles["family"]) == {"logistic_regression", "lightgbm"}
    assert singles["roc_auc"].is_monotonic_decreasing and (singles["folds"] == 3).all()
    first = singles[singles["trial"] == 1].iloc[0]  # lightgbm's first trial is its known-good default
    assert first["params"]["learning_rate"] == 0.05 and first["params"]["num_leaves"] == 31
    assert [p.trials_done for p in seen] == [1, 2, 3, 4] and seen[-1].best is not None
    meta = board.attrs["metadata"]
    assert meta["versions"]["lightgbm"].startswith("4.7") and meta["versions"]["xgboost"].startswith("2.1")
    assert meta["seeds"]["samplers"] == {"logistic_regression": 0, "lightgbm": 1}
    assert meta["validation"] == "stratified 3-fold"


def test_imbalanced_classes_get_class_weights():
    X, y = mixed_frame(rows=600, positive_share=0.06)
    X_train, y_train, X_test, y_test = split(X, y, 200)
    model = AutoML(**fast(max_trials=2, families=["logistic_regression"])).fit(X_train, y_train)
    default = model.leaderboard(all_trials=True).query("trial == 0").iloc[0]
    assert default["params"]["class_weight"] == "balanced"
    # unweighted, a model of 6% positives predicts almost none; balanced, it finds most of them
    assert recall_score(y_test, model.predict(X_test), pos_label="yes") > 0.6


def test_a_text_column_of_thousands_of_levels_is_target_encoded():
    rng = np.random.default_rng(3)
    rows = 3000
    cities = np.array([f"city-{i:04d}" for i in range(2000)])
    effect = rng.normal(scale=2.0, size=len(cities))
    city = rng.integers(0, len(cities) // 4, size=rows)  # 500 used levels, ~6 rows each
    y = pd.Series(np.where(effect[city] + rng.normal(scale=0.5, size=rows) > 0, 1, 0), name="churned")
    X = pd.DataFrame({"city": cities[city], "noise": rng.normal(size=rows)})
    model = AutoML(**fast(max_trials=1, families=["logistic_regression"])).fit(X, y)
    assert model.metadata_["columns"]["categorical_target_encoded"] == ["city"]
    width = model.best_estimator_.named_steps["preprocess"].transform(X).shape[1]
    assert width <= 3  # the city is one encoded column, not 500 one-hot ones
    assert model.leaderboard()["roc_auc"].iloc[0] > 0.8
    assert model.metadata_["search_s"] < 30


def test_a_whole_number_regression_target_is_target_encoded_as_continuous():
    # counts (bikers per hour, orders per day) are whole numbers: scikit-learn alone would read them as
    # classes and the target encoder would write one column per distinct count
    rng = np.random.default_rng(4)
    rows = 1500
    hour = rng.integers(0, 24, size=rows)
    y = pd.Series(rng.poisson(5 + 20 * np.sin(hour / 24 * np.pi)).astype(float), name="bikers")
    X = pd.DataFrame({"hr": [f"h{h:02d}" for h in hour], "temp": rng.normal(size=rows)})
    model = AutoML(**fast(task="regression", max_trials=1, families=["ridge"], ensemble=False)).fit(X, y)
    assert model.metadata_["columns"]["categorical_target_encoded"] == ["hr"]
    preprocess = model.best_estimator_.named_steps["preprocess"]
    assert preprocess.named_transformers_["high_cardinality"].named_steps["target_encode"].target_type_ == "continuous"
    assert preprocess.transform(X).shape[1] == 2  # hr and temp: one column each
    assert r2_score(y, model.predict(X)) > 0.6  # the Poisson noise leaves at most about 0.68


def test_categories_written_as_numbers_keep_their_order_for_trees():
    """Hours as text ("0".."23", as a CSV or a pandas categorical turned to text gives them): trees get
    the numbers, in their order (an ordinal code of the text puts "10" before "2"); linear models the
    categories. One column of codes that are not all numbers stays categorical for both."""
    from maestro_assets.lib.automl.preprocessing import IMPUTED, NATIVE, SCALED, build_preprocessor, plan_columns

    hours = np.arange(48) % 24
    X = pd.DataFrame(
        {
            "hr": [str(h) for h in hours],  # 24 levels: high cardinality
            "weekday": [str(h % 7) for h in hours],  # 7 levels: low cardinality
            "weather": ["clear" if h % 3 else "rain" for h in hours],
        }
    )
    y = pd.Series(hours.astype(float))
    plan = plan_columns(X)
    assert plan.number_levels == ("hr", "weekday")
    assert plan.high_cardinality == ("hr",) and set(plan.low_cardinality) == {"weekday", "weather"}
    for style in (IMPUTED, NATIVE):
        pre = build_preprocessor(plan, style, "regression")
        out = pd.DataFrame(pre.fit_transform(X, y), columns=pre.get_feature_names_out())
        assert out["hr"].tolist() == hours.astype(float).tolist()
        assert out["weekday"].tolist() == (hours % 7).astype(float).tolist()
        assert sorted(out["weather"].unique()) == [0.0, 1.0]  # ordinal code of the text
    scaled = build_preprocessor(plan, SCALED, "regression")
    names = list(scaled.fit(X, y).get_feature_names_out())
    assert [n for n in names if n.startswith("weekday_")] == [f"weekday_{d}" for d in "0123456"]  # one-hot
    assert "hr" in names and len(names) == 1 + 7 + 2  # hr target encoded, weekday and weather one-hot

    # the engine says so in its metadata
    rows = np.random.default_rng(6).integers(0, 24, size=300)
    X_hours = pd.DataFrame({"hr": [str(h) for h in rows], "noise": np.random.default_rng(7).normal(size=300)})
    y_noon = pd.Series((rows >= 12).astype(int), name="afternoon")
    model = AutoML(**fast(max_trials=1, families=["lightgbm"], ensemble=False)).fit(X_hours, y_noon)
    assert model.metadata_["columns"]["categorical_numbers_for_trees"] == ["hr"]


def test_preprocessing_is_fitted_inside_each_fold():
    """An ID-like column (two rows per level) and a random target: encoded on all rows, each row's own
    target leaks into its feature and cross-validation looks excellent; fitted in each fold, it is chance."""
    rng = np.random.default_rng(5)
    rows = 400
    X = pd.DataFrame({"customer": [f"c{i // 2}" for i in range(rows)], "noise": rng.normal(size=rows)})
    y = pd.Series(rng.integers(0, 2, size=rows), name="label")
    leaky = TargetEncoder(cv=5).fit(X[["customer"]], y).transform(X[["customer"]])
    leaky_auc = cross_val_score(LogisticRegression(), leaky, y, cv=3, scoring="roc_auc").mean()
    assert leaky_auc > 0.75  # what leakage would look like

    model = AutoML(**fast(max_trials=2, families=["logistic_regression", "lightgbm"], ensemble=False)).fit(X, y)
    assert model.leaderboard()["roc_auc"].max() < 0.62


def test_regression_with_rmse():
    rng = np.random.default_rng(7)
    rows = 400
    X = pd.DataFrame({"size": rng.uniform(20, 200, rows), "rooms": rng.integers(1, 6, rows)})
    X["district"] = rng.choice(["north", "south", "east"], rows)
    y = pd.Series(
        3.0 * X["size"] + 20 * X["rooms"] + np.where(X["district"] == "north", 80, 0) + rng.normal(0, 20, rows),
        name="price",
    )
    X_train, y_train, X_test, y_test = split(X, y, 100)
    model = AutoML(**fast(max_trials=3, families=["ridge", "lightgbm"])).fit(X_train, y_train)
    assert model.task_ == "regression" and model.classes_ is None
    board = model.leaderboard()
    assert "root_mean_squared_error" in board.columns and (board["root_mean_squared_error"] > 0).all()
    singles = board[board["family"] != "ensemble"]
    assert singles["root_mean_squared_error"].is_monotonic_increasing  # smaller is better: the first is best
    assert r2_score(y_test, model.predict(X_test)) > 0.9
    with pytest.raises(Exception, match="predict_proba is for classification"):
        model.predict_proba(X_test)


def test_multiclass_defaults_to_log_loss():
    X, _ = mixed_frame(rows=300)
    y = pd.Series(np.select([X["b"] < -0.5, X["b"] < 0.5], ["low", "mid"], "high"), name="band")
    model = AutoML(**fast(max_trials=2)).fit(X, y)
    assert model.metadata_["metric"] == "log_loss"
    assert list(model.classes_) == ["high", "low", "mid"]
    assert model.predict_proba(X).shape == (300, 3)
    assert (model.predict(X) == y).mean() > 0.8


def test_grouped_and_time_series_validation():
    X, y = mixed_frame(rows=240)
    groups = np.repeat(np.arange(24), 10)
    model = AutoML(**fast(max_trials=1, families=["logistic_regression"])).fit(X, y, groups=groups)
    assert model.metadata_["validation"] == "group 3-fold"
    timeseries = AutoML(**fast(max_trials=2, cv="timeseries")).fit(X, y)
    assert timeseries.metadata_["validation"].startswith("time-series split")
    assert (timeseries.leaderboard()["folds"] == 5).all()


def test_same_seed_same_leaderboard_and_predictions():
    X, y = mixed_frame(rows=300, seed=2)
    settings = fast(max_trials=6, families=["logistic_regression", "lightgbm", "extra_trees"])
    first, second = AutoML(**settings).fit(X, y), AutoML(**settings).fit(X, y)
    a, b = (m.leaderboard(all_trials=True).drop(columns=["fit_time_s"]) for m in (first, second))
    pd.testing.assert_frame_equal(a, b)
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    other = AutoML(**{**settings, "random_state": 1}).fit(X, y)
    assert not np.array_equal(other.predict_proba(X), first.predict_proba(X))


def test_save_and_load_predict_the_same(tmp_path):
    X, y = mixed_frame(rows=200)
    model = AutoML(**fast(max_trials=2, callbacks=[print])).fit(X, y)
    folder = model.save(tmp_path / "model")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["task"] == "classification" and manifest["classes"] == ["no", "yes"]
    assert [f["name"] for f in manifest["features"]] == list(X.columns)
    assert manifest["metadata"]["versions"]["scikit-learn"].startswith("1.9")
    loaded = AutoML.load(folder)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    pd.testing.assert_frame_equal(loaded.leaderboard(), model.leaderboard())
    assert loaded.callbacks is None  # the caller's functions are not saved


def test_clone_and_params_like_any_estimator():
    model = AutoML(metric="accuracy", max_trials=5, cv=4, families=["lightgbm"])
    params = model.get_params()
    assert params["metric"] == "accuracy" and params["cv"] == 4 and params["families"] == ["lightgbm"]
    copy = clone(model)
    assert copy.get_params() == params and copy is not model
    copy.set_params(cv=3, time_budget_s=5.0)
    assert copy.cv == 3 and model.cv == 4 and copy.time_budget_s == 5.0
    X, y = mixed_frame(rows=120)
    fitted = AutoML(**fast(max_trials=1, families=["logistic_regression"])).fit(X, y)
    fresh = clone(fitted)
    assert not hasattr(fresh, "best_estimator_") and fresh.get_params() == fitted.get_params()


def test_an_ensemble_is_the_final_model_only_when_it_wins():
    X, y = mixed_frame(rows=400, seed=4)
    model = AutoML(**fast(max_trials=6, families=["logistic_regression", "lightgbm", "knn"])).fit(X, y)
    summary = model.metadata_["ensemble"]
    board = model.leaderboard()
    row = board[board["family"] == "ensemble"].iloc[0]
    if summary["kept"]:
        assert isinstance(model.best_estimator_, WeightedEnsemble) and row["rank"] == 1
        assert summary["score"] > summary["best_single_same_rows"]
        assert row["state"] == "kept" and len(summary["members"]) >= 2
    else:
        assert isinstance(model.best_estimator_, Pipeline) and row["state"] == "not kept"
        assert model.metadata_["final_model"].startswith(f"trial {board.iloc[0]['trial']} ")
    single = AutoML(**fast(max_trials=1, families=["logistic_regression"])).fit(X, y)
    assert "ensemble" not in single.metadata_  # one trial: nothing to mix
    assert "ensemble" not in set(single.leaderboard()["family"])


def test_a_study_in_rdb_storage_is_resumed_by_name(tmp_path):
    X, y = mixed_frame(rows=200, seed=4)
    storage = f"sqlite:///{tmp_path / 'warehouse.db'}"
    settings = fast(max_trials=3, families=["logistic_regression"], study_storage=storage, study_name="lateness")
    first = AutoML(**settings).fit(X, y)
    assert first.metadata_["study"] == {"name": "lateness", "storage": storage, "earlier_trials": 0}
    second = AutoML(**settings).fit(X, y)
    assert second.metadata_["study"]["earlier_trials"] == 3
    import optuna

    study = optuna.load_study(study_name="lateness.logistic_regression", storage=storage)
    assert len(study.trials) == 6
    # the default configuration is the first trial of the study, not tried again on resuming
    defaults = [t for t in study.trials if t.system_attrs.get("fixed_params")]
    assert [t.number for t in defaults] == [0]
    fresh = AutoML(**{**settings, "study_name": "other"}).fit(X, y)
    assert fresh.metadata_["study"]["earlier_trials"] == 0
    with pytest.raises(Exception, match="study_storage and study_name go together"):
        AutoML(**{**settings, "study_name": None}).fit(X, y)
