"""Time limits that hold: an overrunning fit is killed, and a short budget is kept within 10%
although one family alone would take several times the budget."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification

from maestro_assets.lib.automl import AutoML
from maestro_assets.lib.automl.budget import FitRequest, FitWorker, warm_up
from maestro_assets.lib.automl.families import SearchContext
from maestro_assets.lib.automl.preprocessing import plan_columns


def wide(rows: int, columns: int = 40, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    X, y = make_classification(rows, columns, n_informative=10, random_state=seed)
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(columns)]), pd.Series(y, name="label")


def test_an_overrunning_fit_is_killed_and_the_worker_restarts():
    X, y = wide(4000)
    context = SearchContext("classification", len(y), 2, False, 1, 0, plan_columns(X), (0, 1))
    index = np.arange(len(y))
    forest = {"n_estimators": 2000, "max_features": 1.0, "min_samples_leaf": 1}  # a minute or more here
    worker = FitWorker(X, y.to_numpy(), n_jobs=1)
    try:
        worker.fit(FitRequest("logistic_regression", {"C": 1.0}, context, index[:100], index[100:200]), None)
        started = time.monotonic()
        result = worker.fit(FitRequest("random_forest", forest, context, index[:3000], index[3000:]), 1.0)
        waited = time.monotonic() - started
        assert result.timed_out and not result.ok
        assert waited < 1.5  # the limit, plus the kill
        again = worker.fit(FitRequest("logistic_regression", {"C": 1.0}, context, index[:3000], index[3000:]), 30)
        assert again.ok and again.predictions.shape == (1000, 2)
        assert worker.restarts == 1
    finally:
        worker.close()


def test_a_short_time_budget_is_kept_with_a_slow_family():
    X, y = wide(4000, seed=1)
    budget = 10.0
    warm_up()  # once per Python process, seconds on this busy machine: not what this test measures
    started = time.monotonic()
    model = AutoML(
        time_budget_s=budget, cv=3, families=["logistic_regression", "random_forest", "lightgbm"], n_jobs=2
    ).fit(X, y)
    wall = time.monotonic() - started
    board = model.leaderboard(all_trials=True)
    meta = model.metadata_
    print(f"budget {budget}s, wall {wall:.2f}s, overshoot {wall / budget - 1:+.1%}, search {meta['search_s']}s")
    print(board[["trial", "family", "roc_auc", "state", "fit_time_s"]].to_string())
    assert wall <= 1.1 * budget
    forest = board[board["family"] == "random_forest"]
    assert (forest["state"] == "timed out").any()  # 300 trees on 2,700 rows x 40 columns: killed at its limit
    assert (board["state"] == "complete").sum() >= 2
    assert model.predict(X.head(5)).shape == (5,)


def test_fit_in_flight_is_set_only_while_the_search_waits_for_the_worker():
    """Background work (the MLflow trial logger) waits for FIT_IN_FLIGHT to run while the search's
    thread only waits: it is set during a request, also one that is killed, and clear after."""
    import threading

    from maestro_assets.lib.automl.budget import FIT_IN_FLIGHT

    X, y = wide(4000)
    context = SearchContext("classification", len(y), 2, False, 1, 0, plan_columns(X), (0, 1))
    index = np.arange(len(y))
    forest = {"n_estimators": 2000, "max_features": 1.0, "min_samples_leaf": 1}
    worker = FitWorker(X, y.to_numpy(), n_jobs=1)
    seen = []
    watcher = threading.Thread(target=lambda: seen.append(FIT_IN_FLIGHT.wait(timeout=30)))
    try:
        worker.fit(FitRequest("logistic_regression", {"C": 1.0}, context, index[:100], index[100:200]), None)
        assert not FIT_IN_FLIGHT.is_set()
        watcher.start()
        result = worker.fit(FitRequest("random_forest", forest, context, index[:3000], index[3000:]), 1.0)
        watcher.join(5)
        assert seen == [True] and result.timed_out
        assert not FIT_IN_FLIGHT.is_set()
    finally:
        worker.close()
