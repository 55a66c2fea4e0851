"""The analytics plots, as PNG bytes (shown in the Dagster UI): the top artifacts' usage over time,
and the success meta-model's intervals on its held-back projects."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ..models.plots import SIZE, _png, pyplot


def usage_plot(usage: Mapping[str, pd.DataFrame]) -> bytes:
    """Uses per week of each artifact (``ArtifactLibrary.usage_over_time`` frames, by label)."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=SIZE)
    for label, frame in usage.items():
        if len(frame):
            axes.plot(frame["period_start"], frame["uses"], marker="o", label=label)
    if not any(len(frame) for frame in usage.values()):
        axes.text(0.5, 0.5, "no usage recorded yet", ha="center", va="center", transform=axes.transAxes)
    else:
        axes.legend(fontsize=7)
    axes.set_ylabel("uses per week")
    axes.set_title("Usage of the top artifacts")
    figure.autofmt_xdate()
    return _png(figure)


def interval_coverage_plot(held_back: pd.DataFrame) -> bytes:
    """Per target, the held-back projects (sorted by actual value) with their predicted interval and
    point, and the actual value: green inside the interval, red outside."""
    plt = pyplot()
    targets = list(dict.fromkeys(held_back["target"]))
    figure, axes = plt.subplots(1, len(targets), figsize=(SIZE[0] * 1.6, SIZE[1]), squeeze=False)
    for axis, target in zip(axes[0], targets, strict=True):
        rows = held_back[held_back["target"] == target].sort_values("actual").reset_index(drop=True)
        x = range(len(rows))
        axis.vlines(x, rows["lower"], rows["upper"], color="0.7", linewidth=3, label="interval")
        axis.scatter(x, rows["value"], marker="_", color="black", s=80, label="predicted")
        inside = (rows["lower"] <= rows["actual"]) & (rows["actual"] <= rows["upper"])
        axis.scatter(x, rows["actual"], c=["tab:green" if i else "tab:red" for i in inside], s=14, label="actual")
        axis.set_title(f"{target}: {inside.mean():.0%} inside", fontsize=9)
        axis.set_xticks([])
        axis.set_xlabel("held-back projects")
    axes[0][0].legend(fontsize=7)
    figure.tight_layout()
    return _png(figure)
