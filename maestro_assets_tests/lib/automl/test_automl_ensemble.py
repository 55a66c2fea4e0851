"""Greedy ensemble selection: two models that each see half of the signal average into a better
one and are kept; copies of noise next to a good model are not picked and the ensemble is dropped."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from maestro_assets.lib.automl.ensemble import blend, cross_validated_selection, greedy_selection


def probabilities(score: np.ndarray) -> np.ndarray:
    p = 1 / (1 + np.exp(-score))
    return np.column_stack([1 - p, p])


def setup(seed: int = 0, rows: int = 2000):
    rng = np.random.default_rng(seed)
    first, second = rng.normal(size=rows), rng.normal(size=rows)
    y = (first + second + rng.normal(scale=0.5, size=rows) > 0).astype(int)

    def score(positions, values):
        return roc_auc_score(y[positions], values[:, 1])

    return rng, first, second, y, score


def test_complementary_models_make_an_ensemble_that_is_kept():
    rng, first, second, y, score = setup()
    sees_first = probabilities(first + rng.normal(scale=0.3, size=len(y)))
    sees_second = probabilities(second + rng.normal(scale=0.3, size=len(y)))
    result = cross_validated_selection([sees_first, sees_second], len(y), score, random_state=0)
    assert np.count_nonzero(result.weights) == 2
    assert result.beats_single and result.ensemble_score > result.single_score + 0.05
    averaged = blend([sees_first, sees_second], result.weights)
    assert score(np.arange(len(y)), averaged) > score(np.arange(len(y)), sees_first)


def test_noise_next_to_a_good_model_is_not_kept():
    rng, first, second, y, score = setup(seed=1)
    good = probabilities(first + second)
    noise = [probabilities(rng.normal(size=len(y))) for _ in range(3)]
    counts = greedy_selection([good, *noise], np.arange(len(y)), score)
    assert counts[0] >= 1 and counts[1:].sum() == 0
    result = cross_validated_selection([good, *noise], len(y), score, random_state=0)
    assert not result.beats_single
