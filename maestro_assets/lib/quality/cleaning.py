"""clean(): valid rows into the silver table — typed, deduplicated, missing values handled."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import MaestroError
from .coercion import coerce_column
from .dtypes import Family
from .rules import ColumnRule, TableRules

KEEP = ("first", "last", "latest")


def clean(valid: pd.DataFrame, rules: TableRules, keep: str = "first", latest_by: str | None = None) -> pd.DataFrame:
    """The silver table from ``validate(...).valid``.

    Declared columns are cast to their dtypes; rows whose ``missing: drop`` column is null are
    dropped; rows repeating a key of ``rules.keys`` are dropped, keeping the ``first`` or ``last``
    occurrence, or the ``latest`` by ``latest_by`` (default: the freshness check's column, else
    the first datetime column); then nulls are filled per column (``zero``, or ``impute``: the
    ``impute_value``, else the median of a numeric or datetime column, the mode of any other).
    Integer and bool columns left without nulls get their numpy dtype; with nulls kept, the
    pandas masked one (``Int64``, ``boolean``).
    """
    if keep not in KEEP:
        raise MaestroError(f"table {rules.table!r}: keep must be one of {', '.join(KEEP)}, not {keep!r}")
    frame = _typed(valid, rules)
    dropping = [rule.name for rule in rules.columns if rule.missing == "drop" and rule.name in frame.columns]
    if dropping:
        frame = frame[frame[dropping].notna().all(axis=1).to_numpy()]
    frame = _deduplicated(frame, rules, keep, latest_by)
    return frame.assign(
        **{rule.name: _filled(frame[rule.name], rule) for rule in rules.columns if rule.name in frame.columns}
    )


def _typed(valid: pd.DataFrame, rules: TableRules) -> pd.DataFrame:
    typed = {}
    for rule in rules.columns:
        if rule.name not in valid.columns:
            continue
        read = coerce_column(valid[rule.name], rule.spec, rule.nullable)
        if read.bad.any():
            example = valid[rule.name].iloc[np.flatnonzero(read.bad)[0]]
            raise MaestroError(
                f"table {rules.table!r}: clean() takes validated rows, but {rule.name}="
                f"{example!r} is not a valid {rule.dtype}"
            )
        if not rule.nullable and read.null.any():
            raise MaestroError(
                f"table {rules.table!r}: clean() takes validated rows, but {rule.name} has "
                f"{int(read.null.sum())} null(s) and is not nullable"
            )
        typed[rule.name] = read.values
    return valid.assign(**typed)


def _deduplicated(frame: pd.DataFrame, rules: TableRules, keep: str, latest_by: str | None) -> pd.DataFrame:
    keys = list(rules.keys)
    if not keys or frame.empty:
        return frame
    absent = [key for key in keys if key not in frame.columns]
    if absent:
        raise MaestroError(f"table {rules.table!r}: key column(s) {', '.join(absent)} missing, cannot deduplicate")
    if keep != "latest":
        return frame[~frame.duplicated(keys, keep=keep).to_numpy()]
    by = latest_by or _time_column(rules)
    if by not in frame.columns:
        raise MaestroError(f"table {rules.table!r}: no column {by!r} to find the latest row of each key by")
    order = frame[by].rank(method="first", na_option="top").to_numpy().argsort(kind="stable")
    superseded = frame.iloc[order].duplicated(keys, keep="last").to_numpy()
    return frame.iloc[np.sort(order[~superseded])]


def _time_column(rules: TableRules) -> str:
    freshness = [check.column for check in rules.checks if check.kind == "freshness"]
    timestamps = [rule.name for rule in rules.columns if rule.spec.family is Family.DATETIME]
    if not freshness and not timestamps:
        raise MaestroError(f"table {rules.table!r}: keep='latest' needs latest_by= (the table has no datetime column)")
    return (freshness or timestamps)[0]


def _filled(values: pd.Series, rule: ColumnRule) -> pd.Series:
    """Nulls filled per the column's policy, then the declared dtype when no null is left."""
    if rule.missing in ("zero", "impute") and values.isna().any():
        fill = _fill_value(values, rule)
        if fill is not None:
            values = values.fillna(fill)
    if values.dtype != rule.spec.dtype and not values.isna().any():
        values = values.astype(rule.spec.dtype)
    return values


def _fill_value(values: pd.Series, rule: ColumnRule) -> Any:
    family = rule.spec.family
    if rule.missing == "zero":
        return False if family is Family.BOOLEAN else 0
    if rule.impute_value is not None:
        return rule.read([rule.impute_value]).values[0]
    present = values.dropna()
    if present.empty:
        return None  # nothing to impute from: the nulls stay
    if family in (Family.INTEGER, Family.FLOAT, Family.DATETIME):
        median = present.median()
        return round(median) if family is Family.INTEGER else median
    return present.mode().iloc[0]
