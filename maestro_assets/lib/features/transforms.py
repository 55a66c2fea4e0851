"""Declared normalization and missing-value handling, fitted on training rows only.

A ``FeatureTransform`` says, per feature, how missing values are treated (``impute`` with the
training median, ``zero``, or ``drop`` the row) and how values are scaled (``minmax`` to 0-1,
``zscore``, or ``none``). ``fit`` learns the statistics from the training rows it is given;
``FittedTransforms`` is JSON (saved with the training set) and applies the same arithmetic at
prediction time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from ..errors import MaestroError

Missing = Literal["impute", "zero", "drop"]
Scale = Literal["minmax", "zscore", "none"]


@dataclass(frozen=True)
class FeatureTransform:
    missing: Missing = "impute"
    scale: Scale = "none"


@dataclass
class FittedFeature:
    missing: str
    scale: str
    fill: float | None = None  # the value missing entries get (impute, zero)
    offset: float = 0.0  # x -> (x - offset) / factor
    factor: float = 1.0


@dataclass
class FittedTransforms:
    features: dict[str, FittedFeature] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {name: asdict(f) for name, f in self.features.items()}

    @classmethod
    def from_json(cls, document: dict) -> FittedTransforms:
        return cls({name: FittedFeature(**spec) for name, spec in document.items()})

    def apply(self, frame: pd.DataFrame, drop_rows: bool = True) -> pd.DataFrame:
        """The transformed copy of ``frame``; rows with a missing ``drop`` feature are removed (at
        prediction time, ``drop_rows=False``: every row is kept, the value stays missing)."""
        out = frame.copy()
        absent = [name for name in self.features if name not in out.columns]
        if absent:
            raise MaestroError(f"the frame lacks the transformed feature(s) {', '.join(absent)}")
        keep = np.ones(len(out), dtype=bool)
        for name, f in self.features.items():
            values = pd.to_numeric(out[name], errors="coerce").astype(float)
            if f.missing == "drop":
                if drop_rows:
                    keep &= values.notna().to_numpy()
            else:
                values = values.fillna(f.fill)
            out[name] = (values - f.offset) / f.factor
        return out[keep].reset_index(drop=True)


def fit(frame: pd.DataFrame, declared: dict[str, FeatureTransform]) -> FittedTransforms:
    """Statistics of the training rows ``frame`` for each declared feature."""
    fitted = {}
    for name, spec in declared.items():
        if name not in frame.columns:
            raise MaestroError(f"transform declared for {name!r}, which is not a column of the training rows")
        values = pd.to_numeric(frame[name], errors="coerce").astype(float)
        present = values.dropna()
        fill = {"impute": float(present.median()) if len(present) else 0.0, "zero": 0.0}.get(spec.missing)
        filled = present if fill is None else values.fillna(fill)
        offset, factor = 0.0, 1.0
        if spec.scale == "minmax" and len(filled):
            low, high = float(filled.min()), float(filled.max())
            offset, factor = low, (high - low) or 1.0
        elif spec.scale == "zscore" and len(filled):
            offset, factor = float(filled.mean()), float(filled.std(ddof=0)) or 1.0
        fitted[name] = FittedFeature(spec.missing, spec.scale, fill, offset, factor)
    return FittedTransforms(fitted)
