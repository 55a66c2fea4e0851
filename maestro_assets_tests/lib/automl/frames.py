"""Small, seeded frames for the AutoML engine's tests: hundreds of rows, every column kind."""

from __future__ import annotations

import numpy as np
import pandas as pd


def mixed_frame(rows: int = 400, seed: int = 0, positive_share: float = 0.5) -> tuple[pd.DataFrame, pd.Series]:
    """Numeric (with missing values), a low-cardinality category, a date, a constant and an
    all-missing column; the label depends on two numbers and the category."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=rows)
    b = rng.normal(size=rows)
    colour = rng.choice(["red", "green", "blue"], size=rows)
    signal = 1.5 * a - b + np.where(colour == "red", 1.2, 0.0) + rng.normal(scale=0.7, size=rows)
    threshold = np.quantile(signal, 1 - positive_share)
    frame = pd.DataFrame(
        {
            "a": np.where(rng.random(rows) < 0.1, np.nan, a),
            "b": b,
            "colour": pd.Series(colour).where(rng.random(rows) > 0.05),
            "signup": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 365, rows), unit="D"),
            "constant": 7,
            "empty": np.nan,
        }
    )
    return frame, pd.Series(np.where(signal > threshold, "yes", "no"), name="bought")


def fast(**overrides):
    """Settings for a quick, clock-free search: a trial budget, 3 folds, two cheap families."""
    settings = dict(
        time_budget_s=None,
        max_trials=3,
        cv=3,
        families=["logistic_regression", "lightgbm"],
        n_jobs=1,
        random_state=0,
    )
    settings.update(overrides)
    return settings
