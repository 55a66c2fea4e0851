"""validate(): split a received frame into typed valid rows and quarantined rows, check by check."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from ..errors import MaestroError
from .checks import ROW_CHECKS, TABLE_CHECKS, RowFailures, Table, schema_rows, skipped_result
from .coercion import coerce_column
from .dtypes import as_utc
from .results import FAILED_CHECKS, REASON, CheckResult, ValidationResult
from .rules import CheckRule, Severity, TableRules
from .schema import column_problems


def validate(
    frame: pd.DataFrame, rules: TableRules, now: datetime | None = None, reference: pd.DataFrame | None = None
) -> ValidationResult:
    """Check ``frame`` against ``rules``.

    Rows failing a row-level check (schema, range, categorical, uniqueness, future timestamps)
    go to ``quarantine`` as received, with ``_failed_checks`` and ``_reason``; the others come
    out in ``valid``, typed to the declared dtypes. Table-level checks (completeness,
    freshness, distribution against ``reference``) only produce results. ``now`` (default: the
    current time; naive means UTC) is what freshness and future timestamps are judged against.
    """
    table = _read(frame, rules, now, reference)
    problems = column_problems(rules, {name: read.values.dtype for name, read in table.typed.items()})
    schema = [schema_rows(table, rule, problems.get(rule.name)) for rule in rules.columns]
    flagged = {
        index: ROW_CHECKS[check.kind](table, check)
        for index, check in enumerate(rules.checks)
        if check.kind in ROW_CHECKS and not _absent(table, check)
    }
    failures = schema + list(flagged.values())  # one schema entry per declared column: never empty
    quarantined = np.logical_or.reduce([failure.mask for failure in failures])
    results = [failure.result(table) for failure in schema] + [_extra_columns(table)]
    for index, check in enumerate(rules.checks):
        results.extend(_results(table, index, check, flagged, ~quarantined))
    return ValidationResult(
        rules.table,
        table.rows,
        _valid(table, ~quarantined),
        _quarantine(table, failures, quarantined),
        results,
        now=table.now.to_pydatetime(),
    )


def _read(frame: pd.DataFrame, rules: TableRules, now, reference) -> Table:
    if not isinstance(rules, TableRules):
        raise MaestroError(f"rules must be TableRules, got {type(rules).__name__}")
    if not isinstance(frame, pd.DataFrame):
        raise MaestroError(f"table {rules.table!r}: expected a pandas DataFrame, got {type(frame).__name__}")
    if not frame.columns.is_unique:
        repeated = frame.columns[frame.columns.duplicated()].unique().tolist()
        raise MaestroError(f"table {rules.table!r}: the frame has repeated column names {repeated}")
    if reference is not None and not isinstance(reference, pd.DataFrame):
        raise MaestroError(f"table {rules.table!r}: reference must be a pandas DataFrame")
    typed = {
        rule.name: coerce_column(frame[rule.name], rule.spec, rule.nullable)
        for rule in rules.columns
        if rule.name in frame.columns
    }
    return Table(rules, frame, typed, as_utc(pd.Timestamp.now(tz="UTC") if now is None else now), reference)


def _absent(table: Table, check: CheckRule) -> list[str]:
    return [column for column in check.targets if column not in table.typed]


def _results(
    table: Table, index: int, check: CheckRule, flagged: dict[int, RowFailures], valid: np.ndarray
) -> list[CheckResult]:
    """Results of one declared check, in order: its row-level part, then its table-level part."""
    absent = _absent(table, check)
    if absent:
        required = any(table.rules.column(column).required for column in absent)
        return [skipped_result(check, f"column(s) {', '.join(absent)} absent", passed=not required)]
    results = [flagged[index].result(table)] if index in flagged else []
    if check.kind in TABLE_CHECKS:
        results.append(TABLE_CHECKS[check.kind](table, check, valid))
    return results


def _extra_columns(table: Table) -> CheckResult:
    extra = [column for column in table.raw.columns if column not in table.rules.column_names]
    message = f"table {table.rules.table!r}: unexpected column(s) {', '.join(map(str, extra))} (kept)" if extra else ""
    return CheckResult(
        "schema:extra_columns",
        "schema",
        Severity.WARNING,
        passed=not extra,
        details={"extra_columns": extra},
        message=message,
    )


def _valid(table: Table, keep: np.ndarray) -> pd.DataFrame:
    """The kept rows, declared columns typed, others as received, in the received order."""
    columns = {
        name: table.typed[name].values if name in table.typed else table.received[name] for name in table.raw.columns
    }
    return _frame(columns, table.raw.index, keep)


def _quarantine(table: Table, failures: list[RowFailures], quarantined: np.ndarray) -> pd.DataFrame:
    """Flagged rows as received, each once, with every check it failed and why."""
    positions = np.flatnonzero(quarantined)
    names = np.full(len(positions), "", dtype=object)
    reasons = np.full(len(positions), "", dtype=object)
    for failure in failures:
        hit = failure.mask[positions]
        if hit.any():
            names[hit] = _appended(names[hit], failure.name, ",")
            reasons[hit] = _appended(reasons[hit], failure.reasons(positions[hit]), "; ")
    return _frame(
        {**table.received, FAILED_CHECKS: names, REASON: reasons},
        table.raw.index,
        positions,
        taken=(FAILED_CHECKS, REASON),
    )


def _frame(columns: dict, index: pd.Index, rows: np.ndarray, taken: tuple = ()) -> pd.DataFrame:
    """A new frame of ``rows`` (a mask or positions) of the ``columns`` arrays, except the
    ``taken`` ones, which hold those rows already. Indexing copies: nothing is shared with the
    received frame."""
    columns = {name: values if name in taken else values[rows] for name, values in columns.items()}
    return pd.DataFrame(columns, index=index[rows], copy=False)


def _appended(text: np.ndarray, more, separator: str) -> np.ndarray:
    return np.where(text == "", more, text + separator + more)
