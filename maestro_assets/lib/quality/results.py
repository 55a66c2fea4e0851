"""What validate() returns: one result per check, the valid rows and the quarantined rows."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd

from .rules import Severity

FAILED_CHECKS = "_failed_checks"
REASON = "_reason"


@dataclass
class CheckResult:
    name: str
    kind: str
    severity: Severity
    passed: bool
    failing_rows: int = 0
    examples: list[dict] = field(default_factory=list)  # at most 5 failing rows or values
    details: dict = field(default_factory=dict)  # observed figures: null fraction, ks statistic, age…
    message: str = ""

    def to_dict(self) -> dict:
        return jsonable(
            {
                "name": self.name,
                "kind": self.kind,
                "severity": self.severity,
                "passed": self.passed,
                "failing_rows": self.failing_rows,
                "message": self.message,
                "examples": self.examples,
                "details": self.details,
            }
        )


@dataclass
class ValidationResult:
    table: str
    rows_in: int
    valid: pd.DataFrame  # typed to the declared dtypes
    quarantine: pd.DataFrame  # rows as received, plus _failed_checks and _reason
    checks: list[CheckResult]
    now: datetime | None = None

    def __post_init__(self):
        if self.rows_in != self.rows_valid + self.rows_quarantined:
            raise AssertionError(
                f"table {self.table!r}: {self.rows_in} rows in but {self.rows_valid} valid + "
                f"{self.rows_quarantined} quarantined"
            )

    @property
    def rows_valid(self) -> int:
        return len(self.valid)

    @property
    def rows_quarantined(self) -> int:
        return len(self.quarantine)

    @property
    def blocking_failures(self) -> list[CheckResult]:
        """Failed checks of severity ERROR."""
        return [check for check in self.checks if not check.passed and check.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[CheckResult]:
        return [check for check in self.checks if not check.passed and check.severity is Severity.WARNING]

    @property
    def passed(self) -> bool:
        return not self.blocking_failures

    def check(self, name: str) -> CheckResult:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"no check {name!r} in the result for table {self.table!r}")

    def to_report(self) -> dict:
        """Everything about the run as plain JSON types (timestamps as ISO strings)."""
        return {
            "table": self.table,
            "validated_at": jsonable(self.now),
            "passed": self.passed,
            "rows_in": self.rows_in,
            "rows_valid": self.rows_valid,
            "rows_quarantined": self.rows_quarantined,
            "blocking_failures": [check.name for check in self.blocking_failures],
            "warnings": [check.name for check in self.warnings],
            "checks": [check.to_dict() for check in self.checks],
        }


MAX_EXAMPLES = 5


@dataclass
class CheckSummary:
    """One reported check over every result it gathers (its per-column parts, every partition)."""

    name: str
    severity: Severity
    passed: bool = True
    failing_rows: int = 0
    examples: list[dict] = field(default_factory=list)  # at most MAX_EXAMPLES
    messages: list[str] = field(default_factory=list)  # at most MAX_EXAMPLES

    def add(self, result: CheckResult) -> None:
        self.passed &= result.passed
        self.failing_rows += result.failing_rows
        if not result.passed:
            self.examples.extend(result.examples[: MAX_EXAMPLES - len(self.examples)])
            if result.message and len(self.messages) < MAX_EXAMPLES:
                self.messages.append(result.message)
        if result.severity is Severity.ERROR:
            self.severity = Severity.ERROR

    @property
    def fails(self) -> bool:
        """Failed in a way that is reported as failed: INFO checks are recorded, never failed."""
        return not self.passed and self.severity is not Severity.INFO

    @property
    def message(self) -> str:
        return "; ".join(self.messages) or "ok"


def reported_check_name(result_name: str) -> str:
    """How a result is reported: ``range:hours_logged`` → ``range__hours_logged``; every
    per-column schema result is the one ``schema`` check."""
    if result_name.startswith("schema:") and result_name != "schema:extra_columns":
        return "schema"
    return re.sub(r"[^A-Za-z0-9_]", "_", result_name.replace(":", "__"))


def summarize(results: list[CheckResult]) -> dict[str, CheckSummary]:
    """The results gathered per reported check (over all partitions of a run)."""
    summaries: dict[str, CheckSummary] = {}
    for result in results:
        name = reported_check_name(result.name)
        summaries.setdefault(name, CheckSummary(name, result.severity)).add(result)
    return summaries


def checks_table(summaries: dict[str, CheckSummary]) -> str:
    """The summaries as a markdown table (what the UI shows)."""
    lines = ["| check | severity | passed | failing rows | example |", "|---|---|---|---|---|"]
    for name, entry in sorted(summaries.items()):
        example = json.dumps(jsonable(entry.examples[0]))[:80] if entry.examples else ""
        lines.append(
            f"| {name} | {entry.severity.value} | {'yes' if entry.passed else '**no**'} | "
            f"{entry.failing_rows} | {example.replace('|', '/')} |"
        )
    return "\n".join(lines)


def jsonable(value: Any) -> Any:
    """``value`` with every part turned into a JSON type: NaN/NA become null, times ISO strings."""
    if isinstance(value, Enum):
        return jsonable(value.value)
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        return [jsonable(item) for item in value]
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else pd.Timestamp(value).isoformat()
    if isinstance(value, np.generic):
        return jsonable(value.item())
    return str(value)
