"""The usage-over-time plot of the top artifacts, as PNG bytes (shown in the Dagster UI)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ..models.plots import SIZE, _png, plt


def usage_plot(usage: Mapping[str, pd.DataFrame]) -> bytes:
    """Uses per week of each artifact (``ArtifactLibrary.usage_over_time`` frames, by label)."""
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
