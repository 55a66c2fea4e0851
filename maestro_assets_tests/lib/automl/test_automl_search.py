"""The search's schedule on real fits: the median pruner stops trials that fall behind, and above
SCREEN_ABOVE_ROWS every family's default is screened on a sample before the search proper."""

from __future__ import annotations

import numpy as np

from maestro_assets.lib.automl import AutoML
from maestro_assets.lib.automl import search as search_module
from maestro_assets_tests.lib.automl.frames import fast, mixed_frame


def running_means(scores: list[float]) -> np.ndarray:
    return np.cumsum(scores) / np.arange(1, len(scores) + 1)


def test_trials_that_fall_behind_the_median_are_pruned():
    X, y = mixed_frame(rows=400)
    model = AutoML(**fast(max_trials=12, cv=5, families=["logistic_regression"], ensemble=False)).fit(X, y)

    board = model.leaderboard(all_trials=True)
    pruned = board[board["state"] == "pruned"]
    assert len(pruned) >= 2, board[["trial", "roc_auc", "folds", "state"]].to_string()
    assert (pruned["folds"] < 5).all() and (pruned["rank"] == 0).all()  # stopped early, not ranked
    assert pruned["roc_auc"].max() < board.loc[board["state"] == "complete", "roc_auc"].max()
    assert "pruned" not in set(model.leaderboard()["state"])  # the default leaderboard: completed trials only

    records = {r.number: r for r in model.trials_}
    for number in pruned["trial"]:
        record = records[number]
        step = len(record.fold_scores) - 1
        earlier = [r for r in model.trials_ if r.state == "complete" and r.number < number]
        assert len(earlier) >= 2  # the pruner's startup trials
        median = np.median([running_means(r.fold_scores)[step] for r in earlier])
        assert running_means(record.fold_scores).max() < median  # behind the median at the step it stopped


def test_large_data_is_screened_on_a_sample_first(monkeypatch):
    monkeypatch.setattr(search_module, "SCREEN_ABOVE_ROWS", 300)  # a threshold: small data stands in for large
    monkeypatch.setattr(search_module, "SCREEN_ROWS", 120)
    X, y = mixed_frame(rows=400)
    families = ["logistic_regression", "lightgbm", "knn", "extra_trees"]
    model = AutoML(**fast(max_trials=4, cv=3, families=families, ensemble=False)).fit(X, y)

    screened = [r for r in model.trials_ if r.state == "screening"]
    assert sorted(r.family for r in screened) == sorted(families)  # every family's default once, before any trial
    assert [r.number for r in screened] == [0, 1, 2, 3]
    assert all(r.train_rows == 120 and len(r.fold_scores) == 1 for r in screened)
    board = model.leaderboard(all_trials=True)
    assert (board["state"] == "screening").sum() == 4 and (board.loc[board["state"] == "screening", "rank"] == 0).all()
    assert "screening" not in set(model.leaderboard()["state"])
    assert model.metadata_["trials"] == 4  # screening does not count against max_trials

    best_screened = sorted(screened, key=lambda r: (-r.score, r.family))[:2]  # the better half goes on
    searched = {r.family for r in model.trials_ if r.state != "screening"}
    assert searched == {r.family for r in best_screened}
    # a screened family's search starts from its default again, now on every fold's full training rows
    assert all(r.train_rows > 120 for r in model.trials_ if r.state == "complete")
