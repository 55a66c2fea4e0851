"""Rules: what a silver table must look like, declared per table in YAML or as dataclasses.

```yaml
tables:
  task_events:
    keys: [event_id]
    columns:
      event_id:     {dtype: int64, nullable: false}
      hours_logged: {dtype: float64, nullable: true, missing: zero}
    checks:
      - {kind: range, column: hours_logged, min: 0, max: 24, severity: ERROR}
```

The dataclasses check themselves when built, so rules written in Python are held to the same
standard as rules loaded from YAML; every mistake is a :class:`RulesError` naming the table and
the check (or column) to fix.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..errors import MaestroError
from .coercion import Coerced, coerce_column
from .dtypes import DtypeSpec, Family, parse_dtype

ROW_KINDS = ("uniqueness", "range", "categorical")
TABLE_KINDS = ("completeness", "freshness", "distribution")
DECLARED_CHECK_KINDS = ROW_KINDS + TABLE_KINDS  # what a rules file may declare
IMPLICIT_KINDS = ("schema", "future")  # produced by validate(), never declared
MISSING_POLICIES = ("keep", "impute", "drop", "zero")
DEFAULT_FUTURE_TOLERANCE_MINUTES = 5.0

# kind -> (required params, optional params)
PARAMS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "completeness": (frozenset(), frozenset({"max_null_fraction"})),
    "uniqueness": (frozenset(), frozenset()),
    "range": (frozenset(), frozenset({"min", "max"})),
    "categorical": (frozenset({"allowed"}), frozenset()),
    "freshness": (frozenset({"max_age_hours"}), frozenset({"future_tolerance_minutes"})),
    "distribution": (frozenset(), frozenset({"max_ks", "max_psi", "min_p_value"})),
}
COLUMN_FIELDS = frozenset({"dtype", "nullable", "required", "missing", "impute_value"})
TABLE_FIELDS = frozenset({"keys", "columns", "checks"})


class RulesError(MaestroError):
    """The rules themselves are wrong: the message names the table and the check or column."""


@contextlib.contextmanager
def _context(where: str) -> Iterator[None]:
    """Prefix any RulesError raised inside with ``where`` (the table, check or column)."""
    try:
        yield
    except RulesError as exc:
        raise RulesError(f"{where}: {exc}") from None


class Severity(str, Enum):
    ERROR = "ERROR"
    WARNING = "WARNING"
    INFO = "INFO"

    @classmethod
    def parse(cls, value: Any) -> Severity:
        if isinstance(value, cls):
            return value
        try:
            return cls(str(value).upper())
        except ValueError:
            raise RulesError(f"unknown severity {value!r} (use one of {', '.join(s.value for s in cls)})") from None


@dataclass(frozen=True)
class ColumnRule:
    name: str
    dtype: str
    nullable: bool = True
    required: bool = True
    missing: str = "keep"  # keep | impute | drop | zero — what clean() does with nulls
    impute_value: Any = field(default=None, hash=False)

    def __post_init__(self):
        with _context(f"column {self.name!r}"):
            try:
                spec = parse_dtype(self.dtype)
            except ValueError as exc:
                raise RulesError(str(exc)) from None
            if self.missing not in MISSING_POLICIES:
                raise RulesError(
                    f"unknown missing-value policy {self.missing!r} (use one of {', '.join(MISSING_POLICIES)})"
                )
            if self.missing == "zero" and spec.family not in (Family.INTEGER, Family.FLOAT, Family.BOOLEAN):
                raise RulesError(f"missing: zero needs a numeric or bool column, not {self.dtype}")
            if self.impute_value is not None and self.missing != "impute":
                raise RulesError("impute_value is only used with missing: impute")
            if self.impute_value is not None and not self.read([self.impute_value]).present.all():
                raise RulesError(f"impute_value {self.impute_value!r} is not a valid {self.dtype}")

    def read(self, values: Iterable[Any]) -> Coerced:
        """``values`` (from the rules: an impute value, allowed values…) read as this column's dtype."""
        return coerce_column(pd.Series(list(values), dtype=object), self.spec, self.nullable)

    @cached_property
    def spec(self) -> DtypeSpec:
        return parse_dtype(self.dtype)

    @cached_property
    def storage_dtype(self):
        """The dtype of the column once read (see ``DtypeSpec.storage``)."""
        return self.spec.storage(self.nullable)


@dataclass(frozen=True)
class CheckRule:
    kind: str
    severity: Severity = Severity.ERROR
    column: str | None = None
    columns: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self):
        if self.kind in IMPLICIT_KINDS:
            raise RulesError(
                f"{self.kind!r} checks are implicit (from `columns` and freshness checks); do not declare them"
            )
        if self.kind not in DECLARED_CHECK_KINDS:
            raise RulesError(f"unknown check kind {self.kind!r} (use one of {', '.join(DECLARED_CHECK_KINDS)})")
        object.__setattr__(self, "severity", Severity.parse(self.severity))
        columns = (self.columns,) if isinstance(self.columns, str) else tuple(self.columns)
        if self.kind == "uniqueness":
            if self.column is not None and columns:
                raise RulesError("give `column` or `columns`, not both")
            columns = columns or ((self.column,) if self.column is not None else ())
            object.__setattr__(self, "column", None)
        elif self.column is None:
            raise RulesError(f"a {self.kind} check needs a `column`")
        elif columns:
            raise RulesError(f"a {self.kind} check takes one `column`, not `columns`")
        object.__setattr__(self, "columns", columns)
        object.__setattr__(self, "params", _check_params(self.kind, dict(self.params)))

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.column if self.column is not None else ','.join(self.columns)}"

    @property
    def targets(self) -> tuple[str, ...]:
        """The columns this check reads."""
        return self.columns if self.kind == "uniqueness" else (self.column,)

    @property
    def future_name(self) -> str:
        """The implicit row-level check a freshness check brings: no timestamp after ``now``."""
        return f"future:{self.column}"


def _check_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    required, optional = PARAMS[kind]
    unknown = set(params) - required - optional
    if unknown:
        allowed = ", ".join(sorted(required | optional)) or "none"
        raise RulesError(f"unknown parameter(s) {', '.join(sorted(unknown))} for a {kind} check (allowed: {allowed})")
    absent = required - set(params)
    if absent:
        raise RulesError(f"a {kind} check needs {', '.join(sorted(absent))}")
    for name in ("max_null_fraction", "max_ks", "min_p_value"):
        if name in params:
            _number(params, name, low=0.0, high=1.0)
    for name in ("max_age_hours", "future_tolerance_minutes", "max_psi"):
        if name in params:
            _number(params, name, low=0.0)
    if kind == "range" and not ({"min", "max"} & set(params)):
        raise RulesError("a range check needs `min`, `max` or both")
    if kind == "categorical":
        allowed = params["allowed"]
        if isinstance(allowed, (str, bytes)) or not isinstance(allowed, (list, tuple, set, frozenset)) or not allowed:
            raise RulesError("`allowed` must be a non-empty list of values")
        params["allowed"] = tuple(allowed)
    if kind == "distribution" and not ({"max_ks", "max_psi", "min_p_value"} & set(params)):
        raise RulesError(
            "a distribution check needs `max_ks` (numeric columns) or `max_psi` / `min_p_value` (categorical columns)"
        )
    return params


def _number(params: Mapping[str, Any], name: str, low: float, high: float = math.inf) -> None:
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        bounds = f"between {low:g} and {high:g}" if high != math.inf else f">= {low:g}"
        raise RulesError(f"`{name}` must be a number {bounds}, got {value!r}")


@dataclass(frozen=True)
class TableRules:
    table: str
    columns: tuple[ColumnRule, ...]
    checks: tuple[CheckRule, ...] = ()
    keys: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "keys", (self.keys,) if isinstance(self.keys, str) else tuple(self.keys))
        with _context(f"table {self.table!r}"):
            self._check_columns()
            object.__setattr__(self, "checks", tuple(self._resolved_check(i, c) for i, c in enumerate(self.checks)))
            repeated = _repeated(check.name for check in self.checks)
            if repeated:
                raise RulesError(f"check(s) {', '.join(repeated)} declared more than once")

    def _check_columns(self) -> None:
        if not self.columns:
            raise RulesError("no columns declared")
        repeated = _repeated(self.column_names)
        if repeated:
            raise RulesError(f"column(s) {', '.join(map(repr, repeated))} declared more than once")
        unknown = [key for key in self.keys if key not in self.column_names]
        if unknown:
            raise RulesError(f"key column(s) {', '.join(map(repr, unknown))} not among the declared columns")

    def _resolved_check(self, index: int, check: CheckRule) -> CheckRule:
        if check.kind == "uniqueness" and not check.columns:
            if not self.keys:
                raise RulesError(
                    f"check {index + 1} ({check.name}): a uniqueness check needs `columns` (or table `keys`)"
                )
            check = replace(check, columns=self.keys)
        with _context(f"check {index + 1} ({check.name})"):
            for name in check.targets:
                if name not in self.column_names:
                    raise RulesError(f"unknown column {name!r} (declared: {', '.join(self.column_names)})")
            _check_fits_column(check, self.column(check.targets[0]))
        return check

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> ColumnRule:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def check(self, name: str) -> CheckRule:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)


def _repeated(names: Iterable[str]) -> list[str]:
    names = list(names)
    return sorted({name for name in names if names.count(name) > 1})


def _check_fits_column(check: CheckRule, column: ColumnRule) -> None:
    """A check must make sense for its column's dtype: ranges on ordered values, etc."""
    spec = column.spec
    if check.kind == "range":
        if not spec.ordered:
            raise RulesError(f"a range check needs a numeric or datetime column, not {spec}")
        low, high = range_bounds(check, spec)
        if low is not None and high is not None and low > high:
            raise RulesError(f"min {check.params['min']!r} is above max {check.params['max']!r}")
    elif check.kind == "categorical":
        allowed = check.params["allowed"]
        unreadable = [value for value, ok in zip(allowed, column.read(allowed).present) if not ok]
        if unreadable:
            raise RulesError(f"allowed value(s) {', '.join(map(repr, unreadable))} not valid {spec}")
    elif check.kind == "freshness" and spec.family is not Family.DATETIME:
        raise RulesError(f"a freshness check needs a datetime column, not {spec}")
    elif check.kind == "distribution":
        wanted = {"max_ks"} if spec.ordered else {"max_psi", "min_p_value"}
        wrong = set(check.params) - wanted
        if wrong:
            raise RulesError(
                f"{', '.join(sorted(wrong))} does not apply to a {spec} column (use {' / '.join(sorted(wanted))})"
            )


def _bound(value: Any, spec: DtypeSpec, name: str):
    """A range bound as comparable with the column's values."""
    if spec.family is Family.DATETIME:
        try:
            stamp = pd.Timestamp(value)
            if stamp is pd.NaT:
                raise ValueError(value)
        except (TypeError, ValueError):
            raise RulesError(f"`{name}` {value!r} is not a timestamp") from None
        return spec.in_zone(stamp)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RulesError(f"`{name}` must be a number, got {value!r}")
    return value


def range_bounds(check: CheckRule, spec: DtypeSpec) -> tuple[Any, Any]:
    """``(min, max)`` of a range check, ``None`` for an open end, comparable with the column."""
    return tuple(_bound(check.params[name], spec, name) if name in check.params else None for name in ("min", "max"))


# --- loading -----------------------------------------------------------------------------------


def load_rules(path_or_mapping: str | Path | Mapping[str, Any]) -> dict[str, TableRules]:
    """Rules of every table in a YAML file (or the mapping such a file holds), by table name."""
    document = _read(path_or_mapping) if isinstance(path_or_mapping, (str, Path)) else path_or_mapping
    if not isinstance(document, Mapping) or not isinstance(document.get("tables"), Mapping):
        raise RulesError("rules must be a mapping with a `tables` mapping (table name -> rules)")
    return {str(name): _table(str(name), body) for name, body in document["tables"].items()}


def _read(path: str | Path) -> Any:
    path = Path(path)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RulesError(f"cannot read rules file {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise RulesError(f"rules file {path} is not valid YAML: {exc}") from None


def _table(name: str, body: Any) -> TableRules:
    with _context(f"table {name!r}"):
        body = _mapping(body, "the table's rules", TABLE_FIELDS)
        columns = _mapping(body.get("columns"), "`columns`")
        checks = body.get("checks") or []
        if not isinstance(checks, list):
            raise RulesError("`checks` must be a list")
        keys = body.get("keys") or []
        if isinstance(keys, str) or not isinstance(keys, list):
            raise RulesError("`keys` must be a list of column names")
        column_rules = tuple(_column(str(column), spec) for column, spec in columns.items())
        check_rules = tuple(_check(index, spec) for index, spec in enumerate(checks))
    return TableRules(table=name, columns=column_rules, checks=check_rules, keys=tuple(keys))


def _column(name: str, spec: Any) -> ColumnRule:
    with _context(f"column {name!r}"):
        spec = _mapping(spec, "a column", COLUMN_FIELDS)
        if "dtype" not in spec:
            raise RulesError("no `dtype`")
        for flag in ("nullable", "required"):
            if flag in spec and not isinstance(spec[flag], bool):
                raise RulesError(f"`{flag}` must be true or false, got {spec[flag]!r}")
    return ColumnRule(name=name, **spec)


def _check(index: int, spec: Any) -> CheckRule:
    with _context(f"check {index + 1} ({_label(spec)})"):
        spec = dict(_mapping(spec, "a check"))
        if "kind" not in spec:
            raise RulesError("no `kind`")
        fields = {name: spec.pop(name) for name in ("kind", "severity", "column", "columns") if name in spec}
        return CheckRule(**fields, params=spec)


def _label(spec: Any) -> str:
    """``kind:column`` of a check as written, for error messages."""
    if not isinstance(spec, Mapping):
        return "?"
    target = spec.get("column") or spec.get("columns") or ""
    target = ",".join(map(str, target)) if isinstance(target, (list, tuple)) else str(target)
    return f"{spec.get('kind', '?')}:{target}" if target else str(spec.get("kind", "?"))


def _mapping(value: Any, what: str, allowed: frozenset[str] | None = None) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RulesError(f"{what} must be a mapping, got {type(value).__name__}")
    if allowed is not None:
        unknown = set(value) - allowed
        if unknown:
            raise RulesError(
                f"unknown field(s) {', '.join(sorted(map(str, unknown)))} in {what} "
                f"(allowed: {', '.join(sorted(allowed))})"
            )
    return value
