"""Greedy ensemble selection (Caruana et al., 2004) over the out-of-fold predictions of the top trials.

:func:`greedy_selection` starts from the best single model and repeatedly adds (with
replacement) the model whose addition to the running average scores best, keeping the best
prefix of that path: the weights are how often each model was picked.

Choosing the weights on the same out-of-fold rows they are then scored on flatters the
ensemble, so :func:`cross_validated_selection` scores the *procedure*: the scored rows are cut
into chunks, the weights chosen on all chunks but one and scored on that one, for each chunk
in turn. The best single model is scored on the same chunks; the engine keeps the ensemble only
when it wins that comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator

Score = Callable[[np.ndarray, np.ndarray], float]  # (row positions, averaged predictions) -> greater is better


def greedy_selection(predictions: list[np.ndarray], rows: np.ndarray, score: Score, rounds: int = 15) -> np.ndarray:
    """How often each of ``predictions`` is picked; ``score`` judges an average on ``rows``."""
    singles = [score(rows, p[rows]) for p in predictions]
    counts = np.zeros(len(predictions), dtype=int)
    best = int(np.argmax(singles))
    counts[best] = 1
    total = predictions[best][rows].astype(np.float64).copy()
    best_counts, best_score = counts.copy(), singles[best]
    for _ in range(rounds):
        picked = counts.sum()
        trial_scores = [score(rows, (total + p[rows]) / (picked + 1)) for p in predictions]
        choice = int(np.argmax(trial_scores))
        counts[choice] += 1
        total += predictions[choice][rows]
        if trial_scores[choice] > best_score:
            best_counts, best_score = counts.copy(), trial_scores[choice]
    return best_counts


def blend(predictions: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    weights = np.asarray(weights, dtype=np.float64)
    return sum(w * p for w, p in zip(weights / weights.sum(), predictions) if w)


@dataclass(frozen=True)
class SelectionResult:
    weights: np.ndarray  # chosen on all scored rows
    ensemble_chunk_scores: list[float]  # the procedure scored on each held-out chunk
    single_chunk_scores: list[float]  # the best single model on the same chunks

    @property
    def ensemble_score(self) -> float:
        return float(np.mean(self.ensemble_chunk_scores))

    @property
    def single_score(self) -> float:
        return float(np.mean(self.single_chunk_scores))

    @property
    def beats_single(self) -> bool:
        return int(np.count_nonzero(self.weights)) > 1 and self.ensemble_score > self.single_score


def cross_validated_selection(
    predictions: list[np.ndarray],
    n_rows: int,
    score: Score,
    random_state: int,
    chunks: int = 5,
    best_single: int = 0,
    max_rows: int = 20_000,
) -> SelectionResult:
    """Weights over ``predictions`` (rows aligned, ``n_rows`` of them) and the held-out comparison
    of the selection with model ``best_single``, on at most ``max_rows`` rows drawn at random."""
    order = np.random.default_rng(random_state).permutation(n_rows)[:max_rows]
    parts = np.array_split(order, chunks)
    ensemble_scores, single_scores = [], []
    for i, held_out in enumerate(parts):
        chosen_on = np.sort(np.concatenate([p for j, p in enumerate(parts) if j != i]))
        held_out = np.sort(held_out)
        counts = greedy_selection(predictions, chosen_on, score)
        ensemble_scores.append(score(held_out, blend([p[held_out] for p in predictions], counts)))
        single_scores.append(score(held_out, predictions[best_single][held_out]))
    weights = greedy_selection(predictions, np.sort(order), score)
    return SelectionResult(weights, ensemble_scores, single_scores)


class WeightedEnsemble(BaseEstimator):
    """Fitted pipelines averaged with weights: class probabilities for classification, values for regression."""

    def __init__(self, members=None, weights=None, classes=None):
        self.members = members
        self.weights = weights
        self.classes = classes

    @property
    def classes_(self):
        if self.classes is None:
            raise AttributeError("a regression ensemble has no classes_")
        return self.classes

    def predict_proba(self, X):
        if self.classes is None:
            raise AttributeError("a regression ensemble has no predict_proba")
        return blend([m.predict_proba(X) for m in self.members], self.weights)

    def predict(self, X):
        if self.classes is None:
            return blend([m.predict(X) for m in self.members], self.weights)
        return np.asarray(self.classes)[np.argmax(self.predict_proba(X), axis=1)]
