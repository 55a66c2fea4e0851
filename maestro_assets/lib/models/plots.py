"""The plots of a training, as PNG bytes: logged to the MLflow run and shown in the Dagster UI.

Leaderboard chart, confusion matrix and calibration curve (classifiers) or residuals (regressors),
and permutation feature importance on the holdout rows.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable

import numpy as np
import pandas as pd

SIZE = (6.0, 3.6)
DPI = 80


def pyplot():
    """matplotlib's pyplot on the Agg backend, imported on first use: with the module it cost every
    process that loads the code location 0.2 s."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(figure) -> bytes:
    plt = pyplot()
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=DPI)
    plt.close(figure)
    return buffer.getvalue()


def markdown_image(png: bytes, title: str) -> str:
    """A PNG inline in markdown (Dagster's metadata renders data URIs)."""
    return f"![{title}](data:image/png;base64,{base64.b64encode(png).decode()})"


def leaderboard_chart(leaderboard: pd.DataFrame, metric: str, top: int = 15) -> bytes:
    plt = pyplot()
    rows = leaderboard[leaderboard["rank"] > 0].head(top).iloc[::-1]
    figure, axes = plt.subplots(figsize=SIZE)
    labels = [f"#{r.trial} {r.family}" if r.trial >= 0 else "ensemble" for r in rows.itertuples()]
    axes.barh(labels, rows[metric], xerr=rows[f"{metric}_std"].fillna(0), color="#4f7cac", capsize=2)
    low = float((rows[metric] - rows[f"{metric}_std"].fillna(0)).min())
    high = float((rows[metric] + rows[f"{metric}_std"].fillna(0)).max())
    pad = max(1e-3, (high - low) * 0.1)
    axes.set_xlim(low - pad, high + pad)
    axes.set_xlabel(f"cross-validated {metric} (± std)")
    axes.set_title("Leaderboard")
    return _png(figure)


def confusion_matrix_plot(y_true, y_pred, classes: list) -> bytes:
    plt = pyplot()
    from sklearn.metrics import confusion_matrix

    matrix = confusion_matrix(y_true, y_pred, labels=classes)
    figure, axes = plt.subplots(figsize=(3.6, 3.2))
    axes.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        axes.text(j, i, str(count), ha="center", va="center", color="black")
    axes.set_xticks(range(len(classes)), [str(c) for c in classes])
    axes.set_yticks(range(len(classes)), [str(c) for c in classes])
    axes.set_xlabel("predicted")
    axes.set_ylabel("actual")
    axes.set_title("Confusion matrix (holdout)")
    return _png(figure)


def calibration_plot(y_true, proba, positive) -> bytes:
    plt = pyplot()
    from sklearn.calibration import calibration_curve

    observed, predicted = calibration_curve(np.asarray(y_true) == positive, proba, n_bins=10, strategy="quantile")
    figure, axes = plt.subplots(figsize=(3.6, 3.2))
    axes.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
    axes.plot(predicted, observed, marker="o", color="#4f7cac")
    axes.set_xlabel("predicted probability")
    axes.set_ylabel("observed share")
    axes.set_title("Calibration (holdout)")
    return _png(figure)


def residuals_plot(y_true, y_pred) -> bytes:
    plt = pyplot()
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    figure, axes = plt.subplots(figsize=SIZE)
    axes.scatter(y_pred, y_true - y_pred, s=6, alpha=0.4, color="#4f7cac")
    axes.axhline(0, color="grey", lw=1)
    axes.set_xlabel("predicted")
    axes.set_ylabel("actual - predicted")
    axes.set_title("Residuals (holdout)")
    return _png(figure)


def permutation_importance(
    score: Callable[[pd.DataFrame], float], X: pd.DataFrame, repeats: int = 3, rows: int = 2000, seed: int = 0
) -> pd.Series:
    """Mean drop of ``score`` (greater is better) when a feature's values are shuffled, per feature."""
    rng = np.random.default_rng(seed)
    if len(X) > rows:
        X = X.iloc[np.sort(rng.choice(len(X), rows, replace=False))].reset_index(drop=True)
    base = score(X)
    drops = {}
    for column in X.columns:
        losses = []
        for _ in range(repeats):
            shuffled = X.copy()
            shuffled[column] = rng.permutation(shuffled[column].to_numpy())
            losses.append(base - score(shuffled))
        drops[column] = float(np.mean(losses))
    return pd.Series(drops).sort_values(ascending=False)


def importance_plot(importance: pd.Series, top: int = 15) -> bytes:
    plt = pyplot()
    shown = importance.head(top).iloc[::-1]
    figure, axes = plt.subplots(figsize=SIZE)
    axes.barh(shown.index, shown.to_numpy(), color="#4f7cac")
    axes.set_xlabel("score drop when shuffled (holdout)")
    axes.set_title("Permutation feature importance")
    axes.tick_params(axis="y", labelsize=7)
    return _png(figure)
