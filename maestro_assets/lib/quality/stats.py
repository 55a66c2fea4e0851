"""Drift statistics between a sample and a reference sample, in plain numpy."""

from __future__ import annotations

import numpy as np
import pandas as pd

PSI_FLOOR = 1e-4  # a share of 0 would make PSI infinite; unseen categories count as this share


def ks_statistic(sample: np.ndarray, reference: np.ndarray) -> float:
    """Two-sample Kolmogorov–Smirnov statistic: the largest gap between the two empirical CDFs.

    Both CDFs are step functions, so the gap is largest at a step of one of them; each sample's
    steps are the ends of its runs of equal values once sorted.
    """
    a, b = np.sort(np.asarray(sample, dtype=np.float64)), np.sort(np.asarray(reference, dtype=np.float64))
    if not len(a) or not len(b):
        return float("nan")
    return float(max(_largest_gap_at_steps(a, b), _largest_gap_at_steps(b, a)))


def _largest_gap_at_steps(a: np.ndarray, b: np.ndarray) -> float:
    steps = np.flatnonzero(np.append(a[1:] != a[:-1], True))  # last index of each run of equal values
    cdf_a = (steps + 1) / len(a)
    cdf_b = np.searchsorted(b, a[steps], side="right") / len(b)
    return np.abs(cdf_a - cdf_b).max()


def shares(counts: pd.Series, categories: pd.Index) -> np.ndarray:
    """Share of each category (in ``categories`` order), floored at ``PSI_FLOOR``."""
    aligned = counts.reindex(categories, fill_value=0).to_numpy(dtype=np.float64)
    total = aligned.sum()
    return np.maximum(aligned / total if total else aligned, PSI_FLOOR)


def psi(counts: pd.Series, reference_counts: pd.Series) -> float:
    """Population stability index of category counts against reference category counts."""
    categories = counts.index.union(reference_counts.index)
    p, q = shares(counts, categories), shares(reference_counts, categories)
    return float(np.sum((p - q) * np.log(p / q)))


def chi_square_p(counts: pd.Series, reference_counts: pd.Series) -> float:
    """p-value of a chi-square test that both samples come from the same category distribution."""
    from scipy.stats import chi2_contingency

    categories = counts.index.union(reference_counts.index)
    table = np.vstack(
        [
            counts.reindex(categories, fill_value=0).to_numpy(),
            reference_counts.reindex(categories, fill_value=0).to_numpy(),
        ]
    )
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 1.0
    return float(chi2_contingency(table).pvalue)
