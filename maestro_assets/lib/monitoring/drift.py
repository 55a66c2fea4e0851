"""Feature and prediction drift against a reference profile of the training set, in numpy.

The reference is summarised once (:meth:`ReferenceProfile.from_frame`) and stored with the model as
JSON; a partition is then checked against it (:func:`check_drift`) without the raw training rows.

**Numeric features** keep a quantile sketch of the training values: up to ``points`` (default
2,048) distinct values taken at evenly spaced ranks of the sorted column, each with the number of
training values below it and equal to it. When the column has no more distinct values than that,
all of them are kept and the Kolmogorov–Smirnov statistic below is exactly
``scipy.stats.ks_2samp``'s; otherwise it is at most ``1 / points`` below it (between two kept
values the reference CDF is only known to lie between their two heights, and they are one
``1 / points`` step of rank apart). A random sample of the same size would be off by about
``1 / sqrt(points)``, which is why the sketch keeps ranks, not a sample. Values are compared as
float32 (half the memory traffic of float64); that only merges values closer than one part in 16
million.

The current column is not sorted: the number of its values below and equal to every kept value
(its CDF there and just below) is counted in one pass (:func:`counts_at_points`, a lookup table
over a uniform grid, exact), which is all the statistic needs. The p-value is Smirnov's
distribution as ``ks_2samp`` computes it (see :func:`ks_p_value`). Twenty quantile bins of the
training values give the population stability index (PSI) and the histograms of the plot.

**Categorical features** (object, string, category and bool columns, or those named in
``categorical=``) keep the count of each category, the ``max_categories`` most frequent by name and
the rest summed as ``other``. A current category the training set never had is *unseen*: kept under
its own name with a reference count of 0 (it raises the chi-square statistic and PSI and is named in
the reason); when the reference lumped rare categories into ``other``, unseen ones go there too, as
they cannot be told apart from rare ones. The test is chi-square on the 2 × k table of current and
reference counts (``scipy.stats.chi2_contingency``: both are samples) and PSI with shares floored at
``lib.quality.stats.PSI_FLOOR``.

Nulls are left out of both tests and counted separately (``null_share``).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from ..errors import MaestroError
from ..quality.stats import chi_square_p, psi

NUMERIC = "numeric"
CATEGORICAL = "categorical"
OTHER = "__other__"  # the reference's bucket of categories beyond max_categories
PROFILE_FORMAT = 1
DEFAULT_POINTS = 2048
DEFAULT_MAX_CATEGORIES = 100
HISTOGRAM_BINS = 20


class DriftInputError(MaestroError, ValueError):
    """A frame or profile that cannot be checked: the message names the columns and the fix."""


# --------------------------------------------------------------------------------------------
# Thresholds


@dataclass(frozen=True)
class DriftThresholds:
    """When a feature counts as drifted.

    The rule, per feature (sample-size aware: a p-value alone flags trivial shifts once samples are
    large, because with a million rows every real-world difference is "significant"; an effect size
    alone flags noise in small samples, so both must agree):

    * fewer than ``min_rows`` current rows, or fewer than ``min_rows`` non-null values on either
      side: not judged (``drifted`` False, reason "not enough data") — never drift;
    * numeric: drifted when the KS p-value is below ``p_value`` **and** the KS statistic (the largest
      gap between the two CDFs, 0..1) is at least ``min_ks_statistic``;
    * categorical: drifted when the chi-square p-value is below ``p_value`` **and** PSI is at least
      ``min_psi``;
    * either kind: also drifted when the null share rose by more than ``max_null_share_increase``
      (None: never), whatever the values say.

    A whole frame drifted (:attr:`DriftReport.drifted`) when its share of drifted features among
    those judged exceeds ``max_share_drifted`` (0: any drifted feature).
    """

    p_value: float = 0.01
    min_ks_statistic: float = 0.1
    min_psi: float = 0.2
    min_rows: int = 100
    max_null_share_increase: float | None = 0.1
    max_share_drifted: float = 0.0

    def __post_init__(self):
        for name in ("p_value", "min_ks_statistic", "max_share_drifted"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise DriftInputError(f"DriftThresholds.{name} must be between 0 and 1, got {value!r}")
        if self.min_psi < 0:
            raise DriftInputError(f"DriftThresholds.min_psi must be at least 0, got {self.min_psi!r}")
        if self.min_rows < 1:
            raise DriftInputError(f"DriftThresholds.min_rows must be at least 1, got {self.min_rows!r}")
        if self.max_null_share_increase is not None and not 0 <= self.max_null_share_increase <= 1:
            raise DriftInputError(
                "DriftThresholds.max_null_share_increase must be between 0 and 1 or None, "
                f"got {self.max_null_share_increase!r}"
            )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------------------------
# Reference profile


@dataclass
class NumericReference:
    """A numeric feature's training values: the quantile sketch (``values`` sorted and distinct,
    ``below``/``at`` the counts of training values under and equal to each), the histogram bins,
    and the counts of values and nulls."""

    values: np.ndarray  # float32, sorted, distinct
    below: np.ndarray  # int64
    at: np.ndarray  # int64
    bin_edges: np.ndarray  # float64, inner edges; the outer bins are open
    bin_counts: np.ndarray  # int64, len(bin_edges) + 1
    count: int
    nulls: int

    kind = NUMERIC

    @classmethod
    def from_values(cls, column: pd.Series, points: int) -> NumericReference:
        present, nulls = _numeric_values(column)
        ordered = np.sort(present)
        n = len(ordered)
        if n == 0:
            empty = np.array([], dtype=np.int64)
            return cls(np.array([], dtype=np.float32), empty, empty, np.array([]), np.zeros(1, np.int64), 0, nulls)
        run_starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        if len(run_starts) <= points:  # every distinct value: the KS statistic is exact
            kept = ordered[run_starts]
        else:
            kept = np.unique(ordered[np.round(np.linspace(0, n - 1, points)).astype(np.int64)])
        below = np.searchsorted(ordered, kept, side="left")
        at = np.searchsorted(ordered, kept, side="right") - below
        edges = _bin_edges(ordered, kept)
        return cls(kept, below.astype(np.int64), at.astype(np.int64), edges, _bin_counts(ordered, edges), n, nulls)

    def to_dict(self) -> dict:
        return {
            "kind": NUMERIC,
            "count": self.count,
            "nulls": self.nulls,
            "values": [float(v) for v in self.values],
            "below": self.below.tolist(),
            "at": self.at.tolist(),
            "bin_edges": [float(v) for v in self.bin_edges],
            "bin_counts": self.bin_counts.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> NumericReference:
        return cls(
            np.asarray(data["values"], dtype=np.float32),
            np.asarray(data["below"], dtype=np.int64),
            np.asarray(data["at"], dtype=np.int64),
            np.asarray(data["bin_edges"], dtype=np.float64),
            np.asarray(data["bin_counts"], dtype=np.int64),
            int(data["count"]),
            int(data["nulls"]),
        )


@dataclass
class CategoricalReference:
    """A categorical feature's training values: counts per category (by its text), the count of the
    rest lumped as ``other`` and of nulls."""

    counts: dict[str, int]
    other: int
    nulls: int

    kind = CATEGORICAL

    @classmethod
    def from_values(cls, column: pd.Series, max_categories: int) -> CategoricalReference:
        counts = _category_counts(column)
        kept = counts.iloc[:max_categories]
        nulls = len(column) - int(counts.sum())
        return cls({str(k): int(v) for k, v in kept.items()}, int(counts.iloc[max_categories:].sum()), nulls)

    @property
    def count(self) -> int:
        return sum(self.counts.values()) + self.other

    def series(self) -> pd.Series:
        counts = dict(self.counts)
        if self.other:
            counts[OTHER] = self.other
        return pd.Series(counts, dtype=np.int64)

    def to_dict(self) -> dict:
        return {"kind": CATEGORICAL, "counts": self.counts, "other": self.other, "nulls": self.nulls}

    @classmethod
    def from_dict(cls, data: dict) -> CategoricalReference:
        return cls({str(k): int(v) for k, v in data["counts"].items()}, int(data["other"]), int(data["nulls"]))


Reference = NumericReference | CategoricalReference


@dataclass
class ReferenceProfile:
    """What drift is measured against, computed once from the training frame (one column per
    feature) with :meth:`from_frame`; JSON with :meth:`to_dict` / :meth:`save`, back with
    :meth:`from_dict` / :meth:`load`."""

    features: dict[str, Reference]
    rows: int
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        categorical: Iterable[str] = (),
        points: int = DEFAULT_POINTS,
        max_categories: int = DEFAULT_MAX_CATEGORIES,
        metadata: dict[str, Any] | None = None,
    ) -> ReferenceProfile:
        """Profile every column of ``frame``. Object, string, category and bool columns are
        categorical, numbers and datetimes numeric; ``categorical`` names numeric columns to treat
        as categories (codes, small integers). ``points``: distinct values kept per numeric feature
        (the KS statistic is within ``1 / points`` of the exact one); ``max_categories``: categories
        kept by name per categorical feature."""
        if not isinstance(frame, pd.DataFrame) or frame.columns.empty:
            raise DriftInputError(
                "ReferenceProfile.from_frame needs a pandas DataFrame with at least one feature column"
            )
        if points < 2 or max_categories < 1:
            raise DriftInputError(
                f"points must be at least 2 and max_categories at least 1, got {points}, {max_categories}"
            )
        as_categories = set(categorical)
        if unknown := sorted(as_categories - set(map(str, frame.columns))):
            raise DriftInputError(f"categorical= names columns the training frame lacks: {', '.join(unknown)}")
        _check_unique_names(frame, "training frame")
        features: dict[str, Reference] = {}
        for name in frame.columns:
            column = frame[name]
            if str(name) in as_categories or _is_categorical(column):
                features[str(name)] = CategoricalReference.from_values(column, max_categories)
            elif _is_numeric(column):
                features[str(name)] = NumericReference.from_values(column, points)
            else:
                raise DriftInputError(
                    f"column {name!r} of the training frame has dtype {column.dtype}, neither numeric nor "
                    "categorical: convert it, or leave it out of the profile"
                )
        return cls(features, len(frame), dict(metadata or {}))

    @property
    def kinds(self) -> dict[str, str]:
        return {name: ref.kind for name, ref in self.features.items()}

    def to_dict(self) -> dict:
        return {
            "format": PROFILE_FORMAT,
            "rows": self.rows,
            "metadata": self.metadata,
            "features": {name: ref.to_dict() for name, ref in self.features.items()},
        }

    @classmethod
    def from_dict(cls, data: dict) -> ReferenceProfile:
        if data.get("format") != PROFILE_FORMAT:
            raise DriftInputError(
                f"reference profile format {data.get('format')!r} is not {PROFILE_FORMAT}: "
                "recompute it with ReferenceProfile.from_frame from the training set"
            )
        kinds = {NUMERIC: NumericReference, CATEGORICAL: CategoricalReference}
        features = {}
        for name, ref in data["features"].items():
            if ref.get("kind") not in kinds:
                raise DriftInputError(f"reference profile feature {name!r} has unknown kind {ref.get('kind')!r}")
            features[name] = kinds[ref["kind"]].from_dict(ref)
        return cls(features, int(data["rows"]), dict(data.get("metadata") or {}))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), separators=(",", ":")))
        return path

    @classmethod
    def load(cls, path: str | Path) -> ReferenceProfile:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise DriftInputError(f"cannot read the reference profile {path}: {exc}") from exc
        return cls.from_dict(data)


# --------------------------------------------------------------------------------------------
# The check


@dataclass
class FeatureDrift:
    """One feature's verdict. ``statistic`` is the effect size the rule compares: the KS statistic
    (numeric, test ``ks``) or PSI (categorical, test ``chi2+psi``); ``p_value`` is the KS or
    chi-square test's; ``psi`` is also given for numeric features (over the reference's quantile
    bins). ``n_reference``/``n_current`` count non-null values. ``judged`` False: not enough data."""

    feature: str
    kind: str
    test: str
    statistic: float
    p_value: float
    psi: float
    n_reference: int
    n_current: int
    null_share_reference: float
    null_share_current: float
    judged: bool
    drifted: bool
    reason: str
    # for the plot: reference and current shares per histogram bin / category
    labels: list[str] = field(default_factory=list, repr=False)
    reference_shares: list[float] = field(default_factory=list, repr=False)
    current_shares: list[float] = field(default_factory=list, repr=False)


TABLE_COLUMNS = [
    "feature",
    "kind",
    "test",
    "statistic",
    "p_value",
    "psi",
    "n_reference",
    "n_current",
    "null_share_reference",
    "null_share_current",
    "judged",
    "drifted",
    "reason",
]


@dataclass
class DriftReport:
    """Every feature's :class:`FeatureDrift`, in the profile's order."""

    features: list[FeatureDrift]
    thresholds: DriftThresholds
    rows: int

    @property
    def drifted_features(self) -> list[str]:
        return [f.feature for f in self.features if f.drifted]

    @property
    def not_judged(self) -> list[str]:
        return [f.feature for f in self.features if not f.judged]

    @property
    def share_drifted(self) -> float:
        """Drifted features over the features judged (0 when none was)."""
        judged = sum(f.judged for f in self.features)
        return len(self.drifted_features) / judged if judged else 0.0

    @property
    def drifted(self) -> bool:
        """The frame as a whole: its share of drifted features exceeds ``max_share_drifted``."""
        return bool(self.drifted_features) and self.share_drifted > self.thresholds.max_share_drifted

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([{c: getattr(f, c) for c in TABLE_COLUMNS} for f in self.features], columns=TABLE_COLUMNS)

    def markdown(self, max_rows: int = 60) -> str:
        """A summary line and the per-feature table (drifted first, then by statistic) for Dagster
        metadata (``MetadataValue.md``)."""
        t = self.thresholds
        lines = [
            f"**{len(self.drifted_features)} of {len(self.features)} features drifted** "
            f"({self.share_drifted:.0%} of those judged) over {self.rows:,} rows. Rule: p < {t.p_value:g} and "
            f"KS ≥ {t.min_ks_statistic:g} (numeric) or PSI ≥ {t.min_psi:g} (categorical); "
            f"at least {t.min_rows} rows.",
            "",
            "| feature | kind | test | statistic | p-value | PSI | rows (ref / cur) | nulls (ref / cur) "
            "| drifted | reason |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for f in self._ranked()[:max_rows]:
            lines.append(
                f"| {f.feature} | {f.kind} | {f.test} | {_fmt(f.statistic)} | {_fmt(f.p_value)} | {_fmt(f.psi)} "
                f"| {f.n_reference:,} / {f.n_current:,} | {f.null_share_reference:.1%} / {f.null_share_current:.1%} "
                f"| {'**yes**' if f.drifted else 'no' if f.judged else '—'} | {f.reason.replace('|', '/')} |"
            )
        if len(self.features) > max_rows:
            lines.append(f"| … {len(self.features) - max_rows} more features | | | | | | | | | |")
        return "\n".join(lines)

    def plot_png(self, target: str | Path | IO[bytes], top: int = 4) -> None:
        """A PNG: each feature's effect size against its threshold (KS statistic for numeric, PSI
        for categorical; drifted in red), and reference-vs-current shares per histogram bin or
        category for the ``top`` features with the largest effect (drifted first)."""
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure

        shown = [f for f in self._ranked() if f.judged][:top]
        panels = [
            (fs, title, limit)
            for fs, title, limit in (
                (
                    [f for f in self.features if f.kind == NUMERIC and f.judged],
                    "KS statistic (numeric)",
                    self.thresholds.min_ks_statistic,
                ),
                (
                    [f for f in self.features if f.kind == CATEGORICAL and f.judged],
                    "PSI (categorical)",
                    self.thresholds.min_psi,
                ),
            )
            if fs
        ]
        top_height = max(2.5, 0.2 * max((len(fs) for fs, _, _ in panels), default=1) + 1.2)
        fig = Figure(figsize=(11, top_height + (2.6 if shown else 0)), layout="constrained")
        upper, lower = fig.subfigures(2, 1, height_ratios=[top_height, 2.6]) if shown else (fig, None)
        if not panels:
            upper.text(0.5, 0.5, "no feature had enough data to judge", ha="center", va="center")
        for ax, (fs, title, limit) in zip(np.atleast_1d(upper.subplots(1, len(panels))) if panels else [], panels):
            values = [_or0(f.statistic if f.kind == NUMERIC else f.psi) for f in fs]
            ax.barh([f.feature for f in fs], values, color=["#d62728" if f.drifted else "#1f77b4" for f in fs])
            ax.axvline(limit, color="black", linestyle="--", linewidth=1, label=f"threshold {limit:g}")
            ax.invert_yaxis()
            ax.set_title(title, fontsize=9)
            ax.tick_params(axis="both", labelsize=7)
            ax.legend(fontsize=7, loc="lower right")
        if lower is not None:
            for i, (ax, f) in enumerate(zip(np.atleast_1d(lower.subplots(1, len(shown))), shown)):
                x = np.arange(len(f.labels))
                colour = "#d62728" if f.drifted else "#1f77b4"
                ax.bar(x - 0.2, f.reference_shares, width=0.4, label="reference", color="#7f7f7f")
                if f.current_shares:
                    ax.bar(x + 0.2, f.current_shares, width=0.4, label="current", color=colour)
                ax.set_title(f"{f.feature}{' (drifted)' if f.drifted else ''}", fontsize=8)
                if f.kind == CATEGORICAL:
                    ax.set_xticks(x, f.labels, rotation=60, fontsize=6)
                else:
                    ax.set_xticks([])
                    ax.set_xlabel("reference quantile bins", fontsize=7)
                ax.tick_params(axis="y", labelsize=6)
                if i == 0:
                    ax.legend(fontsize=6)
        fig.savefig(target, format="png", dpi=90)

    def to_dict(self) -> dict:
        return {"rows": self.rows, "thresholds": self.thresholds.to_dict(), "features": self.table().to_dict("records")}

    def _ranked(self) -> list[FeatureDrift]:
        def effect(f: FeatureDrift) -> float:
            if f.kind == NUMERIC:
                return _or0(f.statistic) / max(self.thresholds.min_ks_statistic, 1e-12)
            return _or0(f.psi) / max(self.thresholds.min_psi, 1e-12)

        return sorted(self.features, key=lambda f: (not f.drifted, not f.judged, -effect(f)))


def check_drift(
    profile: ReferenceProfile, frame: pd.DataFrame, thresholds: DriftThresholds | None = None
) -> DriftReport:
    """Check ``frame`` (one partition; exactly the profile's feature columns) against ``profile``.

    Raises :class:`DriftInputError` naming the columns when ``frame`` lacks a profiled feature or
    has columns the profile does not know (select ``frame[list(profile.features)]``), or when a
    numeric feature arrives as text."""
    thresholds = thresholds or DriftThresholds()
    if not isinstance(frame, pd.DataFrame):
        raise DriftInputError(f"check_drift needs a pandas DataFrame, got {type(frame).__name__}")
    _check_unique_names(frame, "frame")
    names = list(map(str, frame.columns))
    missing = [n for n in profile.features if n not in names]
    extra = [n for n in names if n not in profile.features]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing profiled features: {', '.join(missing)}")
        if extra:
            parts.append(f"columns the profile does not know: {', '.join(extra)}")
        raise DriftInputError(
            f"the frame does not match the reference profile ({'; '.join(parts)}): pass "
            "frame[list(profile.features)] with every profiled feature, or recompute the profile "
            "from a training set with these columns"
        )
    columns = dict(zip(names, (frame.iloc[:, i] for i in range(frame.shape[1]))))
    results = []
    for name, ref in profile.features.items():
        check = _check_numeric if ref.kind == NUMERIC else _check_categorical
        results.append(check(name, ref, columns[name], len(frame), thresholds))
    return DriftReport(results, thresholds, len(frame))


def prediction_drift(
    reference: ReferenceProfile | Sequence[float] | np.ndarray | pd.Series,
    current: Sequence[float] | np.ndarray | pd.Series,
    thresholds: DriftThresholds | None = None,
    name: str = "prediction",
) -> DriftReport:
    """Drift of one prediction column (a probability, a value or a class label), the same test as a
    feature's. ``reference``: the training-time predictions, or better a one-column profile of them
    built once with :func:`prediction_profile` and stored with the model."""
    if not isinstance(reference, ReferenceProfile):
        reference = prediction_profile(reference, name)
    if len(reference.features) != 1:
        raise DriftInputError(
            f"prediction_drift needs a profile of one column, this one has {len(reference.features)}: "
            f"{', '.join(reference.features)}"
        )
    (column,) = reference.features
    return check_drift(reference, pd.DataFrame({column: pd.Series(current).reset_index(drop=True)}), thresholds)


def prediction_profile(values: Sequence[float] | np.ndarray | pd.Series, name: str = "prediction") -> ReferenceProfile:
    """The one-column profile of training-time predictions that :func:`prediction_drift` takes."""
    return ReferenceProfile.from_frame(pd.DataFrame({name: pd.Series(values).reset_index(drop=True)}))


# --------------------------------------------------------------------------------------------
# Per kind


def _check_numeric(name: str, ref: NumericReference, column: pd.Series, rows: int, t: DriftThresholds) -> FeatureDrift:
    if not _is_numeric(column) or _is_categorical(column):
        raise DriftInputError(
            f"feature {name!r} is numeric in the reference profile but arrives as {column.dtype}: "
            "convert it to numbers (pd.to_numeric) or recompute the profile"
        )
    current, nulls = _numeric_values(column)
    n, m = ref.count, len(current)
    row = _base_row(name, NUMERIC, "ks", ref.count, ref.nulls, m, nulls, rows)
    ref_shares = ref.bin_counts / max(ref.count, 1)
    row.labels = [str(i) for i in range(len(ref.bin_counts))]
    row.reference_shares = ref_shares.tolist()
    if not m or not n:
        _enough(row, rows, t)
        return row
    below, at = counts_at_points(ref.values, current)
    edges_at = np.searchsorted(ref.values, ref.bin_edges.astype(np.float32))  # the edges are kept values
    row.current_shares = (np.diff(np.r_[0, below[edges_at], m]) / m).tolist()
    if not _enough(row, rows, t):
        return row
    gap_at = np.abs((ref.below + ref.at) / n - (below + at) / m)  # both CDFs at each kept value
    gap_below = np.abs(ref.below / n - below / m)  # and just below it
    statistic = float(max(gap_at.max(), gap_below.max()))
    row.statistic = statistic
    row.p_value = ks_p_value(statistic, n, m)
    row.psi = _psi_of_shares(np.asarray(row.current_shares), ref_shares)
    if row.p_value < t.p_value and statistic >= t.min_ks_statistic:
        row.drifted = True
        row.reason = f"KS {statistic:.3f} ≥ {t.min_ks_statistic:g} and p {row.p_value:.2g} < {t.p_value:g}"
    else:
        row.reason = _why_not(statistic, t.min_ks_statistic, "KS", row.p_value, t.p_value)
    return _null_share_rule(row, t)


LOOKUP_CELLS = 1 << 16  # cells of the uniform grid over the kept values' range
LOOKUP_MAX_STEPS = 4  # kept values per cell the lookup walks past; more: binary search instead


def counts_at_points(points: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For sorted distinct float32 ``points``: how many of the (unsorted) float32 ``values`` are
    below each point and how many equal it, exactly.

    Instead of sorting the values (n log n) each value's position among the points is read from a
    lookup table over a uniform grid of the points' range (which point each cell starts at) and then
    walked past the few points inside its cell; positions a rounding put one cell off are checked
    and redone by binary search. When the points crowd into a few cells (heavy outliers) the table
    would need long walks, and every position is found by binary search instead."""
    k = len(points)
    position = _positions(points, values)
    padded = np.r_[points, np.float32(np.nan)]
    equal = padded[position] == values
    cumulative = np.cumsum(np.bincount(2 * position + equal, minlength=2 * k + 2))
    below = cumulative[0 : 2 * k : 2]  # bucket 2j: between point j-1 and point j; 2j+1: equal to point j
    return below, cumulative[1 : 2 * k + 1 : 2] - below


def _positions(points: np.ndarray, values: np.ndarray) -> np.ndarray:
    """How many points are below each value (``np.searchsorted(points, values, "left")``)."""
    k = len(points)
    low, high = float(points[0]), float(points[-1])
    if k < 2 or not high > low or not np.isfinite(high - low):
        return np.searchsorted(points, values, side="left")
    scale = LOOKUP_CELLS / (high - low)
    starts = np.searchsorted(points, low + np.arange(LOOKUP_CELLS) / scale, side="left")
    steps = int(np.diff(np.r_[starts, k]).max())
    if steps > LOOKUP_MAX_STEPS:
        return np.searchsorted(points, values, side="left")
    # cell -1 (below the range), cells 0 .. LOOKUP_CELLS-1, cell LOOKUP_CELLS (at or above its top)
    table = np.r_[0, starts, k - 1].astype(np.int64)
    cells = np.clip((values - np.float32(low)) * np.float32(scale), -1, LOOKUP_CELLS).astype(np.int64)
    position = table[cells + 1]
    padded = np.r_[points, np.float32(np.nan)]  # NaN < value is False: the walk stops at the end
    for _ in range(max(steps, 1)):
        position += padded[position] < values
    wrong = (position < k) & ~(padded[position] >= values)
    wrong |= (position > 0) & ~(padded[position - 1] < values)
    if wrong.any():
        position[wrong] = np.searchsorted(points, values[wrong], side="left")
    return position


def _check_categorical(
    name: str, ref: CategoricalReference, column: pd.Series, rows: int, t: DriftThresholds
) -> FeatureDrift:
    counts = _category_counts(column)
    counts.index = counts.index.map(str)
    if counts.index.has_duplicates:  # two values with the same text (1 and "1")
        counts = counts.groupby(level=0, sort=False).sum()
    known = counts.index.isin(list(ref.counts))
    unseen = counts[~known]
    if ref.other and len(unseen):  # rare and unseen categories cannot be told apart: both are "other"
        counts = pd.concat([counts[known], pd.Series({OTHER: int(unseen.sum())})])
        unseen = unseen.iloc[:0]
    reference = ref.series()
    m = int(counts.sum())
    row = _base_row(name, CATEGORICAL, "chi2+psi", ref.count, ref.nulls, m, rows - m, rows)
    categories = reference.index.union(counts.index, sort=False)
    row.labels = [str(c) for c in categories]
    row.reference_shares = (reference.reindex(categories, fill_value=0) / max(ref.count, 1)).tolist()
    if m:
        row.current_shares = (counts.reindex(categories, fill_value=0) / m).tolist()
    if not _enough(row, rows, t):
        return row
    row.p_value = chi_square_p(counts, reference)
    row.psi = psi(counts, reference)
    row.statistic = row.psi
    new = ""
    if len(unseen):
        listed = ", ".join(f"{c!r} ({v / m:.1%})" for c, v in unseen.sort_values(ascending=False).iloc[:5].items())
        new = f"; unseen categories: {listed}{' …' if len(unseen) > 5 else ''}"
    if row.p_value < t.p_value and row.psi >= t.min_psi:
        row.drifted = True
        row.reason = f"PSI {row.psi:.3f} ≥ {t.min_psi:g} and p {row.p_value:.2g} < {t.p_value:g}{new}"
    else:
        row.reason = _why_not(row.psi, t.min_psi, "PSI", row.p_value, t.p_value) + new
    return _null_share_rule(row, t)


def ks_p_value(statistic: float, n_reference: int, n_current: int) -> float:
    """Two-sided KS p-value. Below an effective size ``n*m / (n+m)`` of 10,000, Smirnov's distribution
    ``kstwo.sf(D, round(n*m / (n+m)))`` as ``scipy.stats.ks_2samp`` computes it for samples over
    10,000 values; above, Stephens' approximation ``kolmogorov((sqrt(e) + 0.12 + 0.11 / sqrt(e)) * D)``,
    within about 1 % of it and a thousand times faster (``kstwo.sf`` takes up to a second at a
    million rows). Either way a KS statistic of 0.1 or more there has a p-value below 1e-80, so the
    drift decision is the same."""
    from scipy.special import kolmogorov
    from scipy.stats import distributions

    effective = n_reference * n_current / (n_reference + n_current)
    if effective < 10_000:
        p = distributions.kstwo.sf(statistic, np.round(effective))
    else:
        root = math.sqrt(effective)
        p = kolmogorov((root + 0.12 + 0.11 / root) * statistic)
    return float(np.clip(p, 0.0, 1.0))


def _base_row(name, kind, test, n_ref, nulls_ref, m, nulls_cur, rows) -> FeatureDrift:
    nan = float("nan")
    return FeatureDrift(
        feature=name,
        kind=kind,
        test=test,
        statistic=nan,
        p_value=nan,
        psi=nan,
        n_reference=n_ref,
        n_current=m,
        null_share_reference=nulls_ref / (n_ref + nulls_ref) if n_ref + nulls_ref else 0.0,
        null_share_current=nulls_cur / rows if rows else 0.0,
        judged=True,
        drifted=False,
        reason="",
    )


def _enough(row: FeatureDrift, rows: int, t: DriftThresholds) -> bool:
    """Whether both sides have ``min_rows`` values; if not, the row says so (not judged), and the
    null-share rule still applies when the frame itself has ``min_rows`` rows."""
    if min(row.n_current, row.n_reference) < t.min_rows:
        row.judged = False
        where = f"{row.n_current} current" if row.n_current < t.min_rows else f"{row.n_reference} reference"
        row.reason = f"not enough data: {where} values, fewer than min_rows={t.min_rows}"
        if rows >= t.min_rows:  # the null share can still be judged
            _null_share_rule(row, t)
        return False
    return True


def _null_share_rule(row: FeatureDrift, t: DriftThresholds) -> FeatureDrift:
    limit = t.max_null_share_increase
    rise = row.null_share_current - row.null_share_reference
    if limit is not None and rise > limit:
        row.judged = True
        row.drifted = True
        row.reason = (
            f"null share rose from {row.null_share_reference:.1%} to {row.null_share_current:.1%} "
            f"(more than {limit:.0%}); the values: {row.reason}"
        )
    return row


def _why_not(effect: float, effect_limit: float, effect_name: str, p: float, p_limit: float) -> str:
    if p >= p_limit:
        return f"no drift: p {p:.2g} ≥ {p_limit:g} ({effect_name} {effect:.3f})"
    return f"no drift: {effect_name} {effect:.3f} < {effect_limit:g} (p {p:.2g}: significant but too small to matter)"


def _psi_of_shares(current: np.ndarray, reference: np.ndarray) -> float:
    from ..quality.stats import PSI_FLOOR

    p, q = np.maximum(current, PSI_FLOOR), np.maximum(reference, PSI_FLOOR)
    return float(np.sum((p - q) * np.log(p / q)))


# --------------------------------------------------------------------------------------------
# Columns


def _is_categorical(column: pd.Series) -> bool:
    return (
        pd.api.types.is_bool_dtype(column)
        or pd.api.types.is_object_dtype(column)
        or pd.api.types.is_string_dtype(column)
        or isinstance(column.dtype, pd.CategoricalDtype)
    )


def _is_numeric(column: pd.Series) -> bool:
    return (
        pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column)
    ) and not pd.api.types.is_bool_dtype(column)


def _numeric_values(column: pd.Series) -> tuple[np.ndarray, int]:
    """The column's non-null values as float32 (datetimes as nanoseconds) and its null count."""
    if pd.api.types.is_datetime64_any_dtype(column):
        mask = column.isna().to_numpy()
        values = column.to_numpy(dtype="datetime64[ns]").view(np.int64)[~mask].astype(np.float32)
        return values, int(mask.sum())
    values = column.to_numpy(dtype=np.float32, na_value=np.nan)
    nulls = np.isnan(values)
    count = int(nulls.sum())
    return (values[~nulls] if count else values), count


def _category_counts(column: pd.Series) -> pd.Series:
    counts = column.value_counts(dropna=True, sort=True)
    return counts[counts > 0]  # a category dtype lists unused categories with 0


def _bin_edges(ordered: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Inner edges of up to HISTOGRAM_BINS quantile bins of sorted values (the outer bins are open),
    each moved to the nearest kept value at or above it, so a check counts them from the kept values."""
    ranks = np.round(np.linspace(0, len(ordered) - 1, HISTOGRAM_BINS + 1)[1:-1]).astype(np.int64)
    inner = kept[np.minimum(np.searchsorted(kept, ordered[ranks], side="left"), len(kept) - 1)]
    return np.unique(inner[inner > kept[0]]).astype(np.float64)


def _bin_counts(ordered: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Values per bin (x < e0, e0 <= x < e1, …, x >= e_last) of sorted values."""
    cuts = np.searchsorted(ordered, edges.astype(ordered.dtype), side="left")
    return np.diff(np.r_[0, cuts, len(ordered)]).astype(np.int64)


def _check_unique_names(frame: pd.DataFrame, what: str) -> None:
    names = pd.Index(map(str, frame.columns))
    if names.has_duplicates:
        raise DriftInputError(f"the {what} has duplicate column names: {', '.join(names[names.duplicated()].unique())}")


def _fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.3g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


def _or0(value: float) -> float:
    return 0.0 if value is None or math.isnan(value) else value
