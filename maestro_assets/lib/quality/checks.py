"""The checks, vectorised: row-level ones flag rows, table-level ones judge the table.

A row-level check returns :class:`RowFailures` (a row mask, and how to word each row's reason);
the engine turns those into the quarantine and into check results. A table-level check returns
its :class:`CheckResult` directly, judged on the rows that stay valid (completeness: on every
row received).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
import pandas as pd

from .coercion import Coerced, as_array, coerce_column
from .dtypes import Family, as_utc
from .results import CheckResult
from .rules import DEFAULT_FUTURE_TOLERANCE_MINUTES, CheckRule, ColumnRule, Severity, TableRules, range_bounds
from .stats import chi_square_p, ks_statistic, psi

MAX_EXAMPLES = 5


@dataclass
class Table:
    """A received frame read against its rules: what every check works from."""

    rules: TableRules
    raw: pd.DataFrame
    typed: dict[str, Coerced]  # the declared columns that were received, read
    now: pd.Timestamp  # UTC
    reference: pd.DataFrame | None = None

    @property
    def rows(self) -> int:
        return len(self.raw)

    @cached_property
    def received(self) -> dict:
        """Column -> its values as received (numpy or extension array)."""
        return {name: as_array(self.raw[name]) for name in self.raw.columns}

    def said(self, column: str, positions: np.ndarray) -> np.ndarray:
        """``column=value`` for the received values of ``column`` at ``positions`` (object array)."""
        values = self.received[column][positions]
        if values.dtype == object:  # any Python objects (lists too): pandas words each with str()
            values = pd.Series(values, dtype=object, copy=False)
        return f"{column}=" + np.asarray(values.astype(str), dtype=object)

    def examples(self, mask: np.ndarray, columns: tuple[str, ...]) -> list[dict]:
        """Up to five rows of ``mask``: their index label and received values of ``columns``."""
        shown = [column for column in columns if column in self.received]
        return [
            {"row": self.raw.index[position], **{column: self.received[column][position] for column in shown}}
            for position in np.flatnonzero(mask)[:MAX_EXAMPLES]
        ]


@dataclass
class RowFailures:
    """The rows a row-level check flags, and how to word why, one sentence per flagged row."""

    name: str
    kind: str
    severity: Severity
    mask: np.ndarray
    columns: tuple[str, ...]  # shown in examples
    reasons: Callable[[np.ndarray], np.ndarray]  # positions -> sentences
    message: str = ""
    details: dict = field(default_factory=dict)

    def result(self, table: Table) -> CheckResult:
        failing = int(np.count_nonzero(self.mask))
        return CheckResult(
            self.name,
            self.kind,
            self.severity,
            passed=failing == 0,
            failing_rows=failing,
            examples=table.examples(self.mask, self.columns),
            details=self.details,
            message=self.message if failing else "",
        )


def _flags(result) -> np.ndarray:
    """A boolean array (numpy, or pandas with NA) as a numpy mask, NA read as False."""
    if isinstance(result, np.ndarray):
        return result
    return result.to_numpy(dtype=bool, na_value=False)


def _isin(array, allowed) -> np.ndarray:
    """Which values of ``array`` are among ``allowed`` (an array of the same dtype)."""
    return _flags(np.isin(array, allowed) if isinstance(array, np.ndarray) else array.isin(allowed))


@lru_cache(maxsize=256)
def _allowed(check: CheckRule, rule: ColumnRule):
    """The allowed values of a categorical check, read as the column's dtype."""
    read = rule.read(check.params["allowed"])
    return read.values[read.present]


def _rows(count: int) -> str:
    return f"{count} row{'s' if count != 1 else ''}"


# --- row level ---------------------------------------------------------------------------------


def schema_rows(table: Table, rule: ColumnRule, problem: str | None) -> RowFailures:
    """Implicit per-column schema check: the column is there with its dtype (``problem`` says
    otherwise: every row fails), every value is readable, no null where not nullable."""
    name, column = f"schema:{rule.name}", rule.name
    received = table.raw[column].dtype if column in table.raw.columns else None
    details = {
        "declared": rule.dtype,
        "received": None if received is None else str(received),
        "nullable": rule.nullable,
        "required": rule.required,
    }
    if problem is not None:
        return RowFailures(
            name,
            "schema",
            Severity.ERROR,
            np.ones(table.rows, dtype=bool),
            (column,),
            lambda positions: np.full(len(positions), problem, dtype=object),
            problem,
            {**details, "problem": problem},
        )
    if column not in table.typed:
        return RowFailures(
            name,
            "schema",
            Severity.ERROR,
            np.zeros(table.rows, dtype=bool),
            (),
            _no_reasons,
            details={**details, "absent": True},
        )
    read = table.typed[column]
    null_count, unreadable = int(np.count_nonzero(read.null)), int(np.count_nonzero(read.bad))
    refused = read.bad if rule.nullable else read.bad | read.null

    def reasons(positions: np.ndarray) -> np.ndarray:
        unreadable_text = table.said(column, positions) + f" is not a valid {rule.dtype}"
        return np.where(read.bad[positions], unreadable_text, f"{column} is null but not nullable")

    message = f"{column}: {_rows(unreadable)} not readable as {rule.dtype}"
    if not rule.nullable:
        message += f", {_rows(null_count)} null but not nullable"
    return RowFailures(
        name,
        "schema",
        Severity.ERROR,
        refused,
        (column,),
        reasons,
        message,
        {**details, "unreadable": unreadable, "nulls": null_count},
    )


def _no_reasons(positions: np.ndarray) -> np.ndarray:
    return np.full(len(positions), "", dtype=object)


def range_rows(table: Table, check: CheckRule) -> RowFailures:
    column = check.column
    read, spec = table.typed[column], table.rules.column(column).spec
    low, high = range_bounds(check, spec)
    outside = np.zeros(table.rows, dtype=bool)
    if low is not None:
        outside |= _flags(read.values < low)
    if high is not None:
        outside |= _flags(read.values > high)
    interval = f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"
    return RowFailures(
        check.name,
        check.kind,
        check.severity,
        outside & read.present,
        (column,),
        lambda positions: table.said(column, positions) + f" outside {interval}",
        f"{column} outside {interval}",
        {"min": low, "max": high},
    )


def categorical_rows(table: Table, check: CheckRule) -> RowFailures:
    column, allowed = check.column, check.params["allowed"]
    read = table.typed[column]
    unknown = ~_isin(read.values, _allowed(check, table.rules.column(column))) & read.present
    return RowFailures(
        check.name,
        check.kind,
        check.severity,
        unknown,
        (column,),
        lambda positions: table.said(column, positions) + " is not an allowed value",
        f"{column} not among the allowed values",
        {"allowed": list(allowed)},
    )


def duplicate_rows(table: Table, check: CheckRule) -> RowFailures:
    """Every occurrence of a key after its first (rows whose key is unreadable or null are the
    schema check's business, not duplicates)."""
    columns = check.columns
    keyed = np.logical_and.reduce([table.typed[column].present for column in columns])
    keys = [table.typed[column].values for column in columns]
    duplicate = np.zeros(table.rows, dtype=bool)
    if keyed.all():
        duplicate = _repeats(keys)
    elif keyed.any():
        duplicate[keyed] = _repeats([values[keyed] for values in keys])

    def reasons(positions: np.ndarray) -> np.ndarray:
        parts = [table.said(column, positions) for column in columns]
        key = parts[0] if len(parts) == 1 else "(" + _joined(parts, ", ") + ")"
        return "duplicate key " + key

    return RowFailures(
        check.name,
        check.kind,
        check.severity,
        duplicate,
        columns,
        reasons,
        f"duplicate {', '.join(columns)} (all but the first occurrence)",
        {"duplicates": int(np.count_nonzero(duplicate))},
    )


def _repeats(keys: list) -> np.ndarray:
    """All but the first occurrence of each key (one array per key column). A single key that
    only ever increases (ids, times) repeats exactly where equal to its predecessor: no hash table."""
    if len(keys) == 1 and keys[0].dtype.kind in "iumM" and len(keys[0]) > 1:
        values = keys[0]
        if _flags(values[1:] >= values[:-1]).all():
            return np.concatenate([[False], _flags(values[1:] == values[:-1])])
    frame = pd.DataFrame({position: values for position, values in enumerate(keys)}, copy=False)
    return frame.duplicated(keep="first").to_numpy()


def _joined(parts: list[np.ndarray], separator: str) -> np.ndarray:
    text = parts[0]
    for part in parts[1:]:
        text = text + separator + part
    return text


def future_rows(table: Table, check: CheckRule) -> RowFailures:
    """Implicit with a freshness check: a timestamp later than ``now`` (plus a small tolerance)."""
    column = check.column
    read, spec = table.typed[column], table.rules.column(column).spec
    minutes = check.params.get("future_tolerance_minutes", DEFAULT_FUTURE_TOLERANCE_MINUTES)
    limit = spec.in_zone(table.now + pd.Timedelta(minutes=minutes))
    late = _flags(read.values > limit) & read.present
    now = table.now.isoformat()
    return RowFailures(
        check.future_name,
        "future",
        Severity.ERROR,
        late,
        (column,),
        lambda positions: table.said(column, positions) + f" is in the future (now {now})",
        f"{column} later than now ({now}) + {minutes:g} min",
        {"now": table.now, "tolerance_minutes": minutes},
    )


ROW_CHECKS: dict[str, Callable[[Table, CheckRule], RowFailures]] = {
    "range": range_rows,
    "categorical": categorical_rows,
    "uniqueness": duplicate_rows,
    "freshness": future_rows,
}


# --- table level -------------------------------------------------------------------------------


def completeness_result(table: Table, check: CheckRule, valid: np.ndarray) -> CheckResult:
    """Share of received rows with no value (judged on everything received)."""
    column, limit = check.column, check.params.get("max_null_fraction", 0.0)
    nulls = table.typed[column].null
    count = int(np.count_nonzero(nulls))
    fraction = count / table.rows if table.rows else 0.0
    passed = fraction <= limit
    return CheckResult(
        check.name,
        check.kind,
        check.severity,
        passed,
        failing_rows=0 if passed else count,
        examples=[] if passed else table.examples(nulls, (column,)),
        details={"null_fraction": fraction, "nulls": count, "max_null_fraction": limit},
        message="" if passed else f"{column}: {fraction:.2%} null, at most {limit:.2%} allowed",
    )


def freshness_result(table: Table, check: CheckRule, valid: np.ndarray) -> CheckResult:
    """Age of the newest valid record against ``now``. A partition without any row is not judged
    (a day with no activity is not stale data: it passes, saying so); rows of which none is valid fail."""
    column, limit = check.column, check.params["max_age_hours"]
    if len(valid) == 0:
        return skipped_result(check, "no rows in this partition", passed=True)
    read = table.typed[column]
    stamps = read.values[valid & read.present]
    newest = pd.Timestamp(stamps.max()) if len(stamps) else pd.NaT
    details = {"now": table.now, "max_age_hours": limit, "newest": None, "age_hours": None}
    if pd.isna(newest):
        return CheckResult(
            check.name,
            check.kind,
            check.severity,
            False,
            details=details,
            message=f"{column}: no valid record to judge freshness by",
        )
    age_hours = (table.now - as_utc(newest)).total_seconds() / 3600
    passed = age_hours <= limit
    return CheckResult(
        check.name,
        check.kind,
        check.severity,
        passed,
        details={**details, "newest": newest, "age_hours": age_hours},
        message="" if passed else f"{column}: newest record is {age_hours:.1f} h old, at most {limit:g} h allowed",
    )


def distribution_result(table: Table, check: CheckRule, valid: np.ndarray) -> CheckResult:
    """Drift of the valid values against the reference frame: Kolmogorov–Smirnov for numbers and
    timestamps, PSI and/or chi-square for categories. Skipped (passing) without a reference."""
    column = check.column
    rule = table.rules.column(column)
    if table.reference is None or column not in table.reference.columns:
        why = "no reference frame" if table.reference is None else f"reference frame has no column {column!r}"
        return skipped_result(check, why, passed=True)
    read, expected = table.typed[column], coerce_column(table.reference[column], rule.spec, rule.nullable)
    current = read.values[valid & read.present]
    baseline = expected.values[expected.present]
    if not len(current) or not len(baseline):
        return skipped_result(check, "no values to compare", passed=True)
    measure = _numeric_drift if rule.spec.ordered else _categorical_drift
    passed, details = measure(current, baseline, check, rule)
    shown = ", ".join(f"{key}={value:.4g}" for key, value in details.items() if isinstance(value, float))
    return CheckResult(
        check.name,
        check.kind,
        check.severity,
        passed,
        details=details,
        message="" if passed else f"{column} drifted from the reference: {shown}",
    )


def _numeric_drift(current, baseline, check: CheckRule, rule: ColumnRule) -> tuple[bool, dict]:
    statistic = ks_statistic(_as_floats(current, rule), _as_floats(baseline, rule))
    limit = check.params["max_ks"]
    return statistic <= limit, {
        "ks_statistic": statistic,
        "max_ks": limit,
        "values": len(current),
        "reference_values": len(baseline),
    }


def _as_floats(values, rule: ColumnRule) -> np.ndarray:
    if rule.spec.family is Family.DATETIME:
        values = values.astype("int64")
    return np.asarray(values, dtype=np.float64)


def _categorical_drift(current, baseline, check: CheckRule, rule: ColumnRule) -> tuple[bool, dict]:
    counts, reference_counts = (pd.Series(values, copy=False).value_counts() for values in (current, baseline))
    details: dict = {"values": len(current), "reference_values": len(baseline)}
    passed = True
    if "max_psi" in check.params:
        details.update(psi=psi(counts, reference_counts), max_psi=check.params["max_psi"])
        passed &= details["psi"] <= details["max_psi"]
    if "min_p_value" in check.params:
        details.update(chi_square_p=chi_square_p(counts, reference_counts), min_p_value=check.params["min_p_value"])
        passed &= details["chi_square_p"] >= details["min_p_value"]
    return bool(passed), details


def skipped_result(check: CheckRule, why: str, passed: bool) -> CheckResult:
    return CheckResult(
        check.name,
        check.kind,
        check.severity,
        passed,
        details={"skipped": why},
        message="" if passed else f"not evaluated: {why}",
    )


TABLE_CHECKS: dict[str, Callable[[Table, CheckRule, np.ndarray], CheckResult]] = {
    "completeness": completeness_result,
    "freshness": freshness_result,
    "distribution": distribution_result,
}
