"""Rules: what a silver table must look like, declared per source table in YAML or as models.

```yaml
tables:
  demo_db/task_events:          # <source>/<table>: the bronze table these rules are for
    keys: [event_id]
    columns:
      event_id:     {dtype: int64, nullable: false}
      hours_logged: {dtype: float64, nullable: true, missing: zero}
    checks:
      - {kind: range, column: hours_logged, min: 0, max: 24, severity: ERROR}
```

The rules are pydantic models (unknown settings are refused at every level) whose validators
hold rules written in Python to the same standard as rules loaded from YAML; every mistake is a
:class:`RulesError` naming the file, the table and the check (by number and kind) or column,
and the setting to fix. :func:`rules_json_schema` describes the file format for editors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import pandas as pd
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from ..errors import MaestroError
from ..warehouse import IDENTIFIER
from .coercion import Coerced, coerce_column
from .dtypes import DtypeSpec, Family, parse_dtype

ROW_KINDS = ("uniqueness", "range", "categorical")
TABLE_KINDS = ("completeness", "freshness", "distribution")
DECLARED_CHECK_KINDS = ROW_KINDS + TABLE_KINDS  # what a rules file may declare
IMPLICIT_KINDS = ("schema", "future")  # produced by validate(), never declared
MISSING_POLICIES = ("keep", "impute", "drop", "zero")
DEFAULT_FUTURE_TOLERANCE_MINUTES = 5.0
NAME_PATTERN = r"^[a-z_][a-z0-9_]{0,62}$"  # a source or table name
KEY_PATTERN = NAME_PATTERN[:-1] + "/" + NAME_PATTERN[1:]  # <source>/<table>

Fraction = Annotated[float, Field(strict=True, ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(strict=True, ge=0.0)]
Scalar = Annotated[Any, WithJsonSchema({"type": ["string", "number", "boolean"]})]
NumberOrTime = Annotated[Any, WithJsonSchema({"type": ["number", "string"], "description": "a number or a timestamp"})]


class RulesError(MaestroError):
    """The rules themselves are wrong: the message names the file, the table and the check or column."""


class Severity(str, Enum):
    ERROR = "ERROR"
    WARNING = "WARNING"
    INFO = "INFO"


class _Model(BaseModel):
    """Frozen, unknown settings refused; built by keyword or, in field order, by position
    (``ColumnRule("id", "int64")``); a mistake is a :class:`RulesError`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    _level: ClassVar[str] = ""

    def __init__(self, *args: Any, **kwargs: Any):
        names = list(type(self).model_fields)
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__} takes at most {len(names)} positional arguments")
        data = dict(zip(names, args))
        twice = data.keys() & kwargs.keys()
        if twice:
            raise TypeError(f"{type(self).__name__} got {', '.join(sorted(twice))} twice")
        data.update(kwargs)
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise rules_error(exc, self._level, data, [_where(self._level, data)]) from None

    # Only arguments are reshaped here: nested data (a file's tables, columns, checks) is
    # validated without calling it, so its errors keep their location (RootModel does the same).
    __init__.__pydantic_base_init__ = True


# --- check parameters: one model per kind ------------------------------------------------------


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CompletenessParams(_Params):
    max_null_fraction: Fraction = Field(0.0, description="largest share of null values allowed (0 to 1)")


class UniquenessParams(_Params):
    pass


class RangeParams(_Params):
    min: NumberOrTime = Field(None, description="lowest value allowed (a number, or a timestamp for datetimes)")
    max: NumberOrTime = Field(None, description="highest value allowed (a number, or a timestamp for datetimes)")

    @field_validator("min", "max")
    @classmethod
    def _number_or_time(cls, value: Any, info) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float, str, date, datetime)):
            raise ValueError(f"`{info.field_name}` must be a number or a timestamp, got {value!r}")
        return value

    @model_validator(mode="after")
    def _one_end(self) -> RangeParams:
        if not self.model_fields_set & {"min", "max"}:
            raise ValueError("a range check needs `min`, `max` or both")
        return self


class CategoricalParams(_Params):
    allowed: tuple[Scalar, ...] = Field(min_length=1, description="the values allowed, read as the column's dtype")


class FreshnessParams(_Params):
    max_age_hours: NonNegative = Field(description="the newest timestamp may be at most this many hours old")
    future_tolerance_minutes: NonNegative = Field(
        DEFAULT_FUTURE_TOLERANCE_MINUTES,
        description="timestamps later than now plus this many minutes are quarantined (implicit `future` check)",
    )


class DistributionParams(_Params):
    max_ks: Fraction = Field(None, description="numeric and datetime columns: largest KS statistic to the reference")
    max_psi: NonNegative = Field(None, description="categorical columns: largest population stability index")
    min_p_value: Fraction = Field(None, description="categorical columns: smallest chi-square p-value")

    @model_validator(mode="after")
    def _one_measure(self) -> DistributionParams:
        if not self.model_fields_set & {"max_ks", "max_psi", "min_p_value"}:
            raise ValueError(
                "a distribution check needs `max_ks` (numeric columns) "
                "or `max_psi` / `min_p_value` (categorical columns)"
            )
        return self


PARAMS: dict[str, type[_Params]] = {
    "completeness": CompletenessParams,
    "uniqueness": UniquenessParams,
    "range": RangeParams,
    "categorical": CategoricalParams,
    "freshness": FreshnessParams,
    "distribution": DistributionParams,
}
assert set(PARAMS) == set(DECLARED_CHECK_KINDS)


# --- the rules ---------------------------------------------------------------------------------


class ColumnRule(_Model):
    _level: ClassVar[str] = "column"

    name: str = Field(
        pattern=IDENTIFIER.pattern,
        description="the column's name (letters, digits and '_': it is quoted into the warehouse's SQL)",
    )
    dtype: str = Field(
        description="int8…int64, uint8…uint64, float32, float64, bool, string, category, "
        'datetime64[ns] or datetime64[ns, <zone>] (e.g. "datetime64[ns, UTC]")',
    )
    nullable: bool = Field(True, strict=True, description="may a value be null?")
    required: bool = Field(True, strict=True, description="must the column be present?")
    missing: Literal[MISSING_POLICIES] = Field(
        "keep", description="what clean() does with nulls: keep them, impute (median or mode), drop the row, or zero"
    )
    impute_value: Scalar = Field(None, description="the value nulls get with `missing: impute` (default: median/mode)")

    @field_validator("dtype")
    @classmethod
    def _known_dtype(cls, value: str) -> str:
        parse_dtype(value)  # ValueError names the dtype
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ColumnRule:
        family = self.spec.family
        if self.missing == "zero" and family not in (Family.INTEGER, Family.FLOAT, Family.BOOLEAN):
            raise ValueError(f"missing: zero needs a numeric or bool column, not {self.dtype}")
        if self.impute_value is not None and self.missing != "impute":
            raise ValueError("impute_value is only used with missing: impute")
        if self.impute_value is not None and not self.read([self.impute_value]).present.all():
            raise ValueError(f"impute_value {self.impute_value!r} is not a valid {self.dtype}")
        return self

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

    def __hash__(self) -> int:
        return hash((self.name, self.dtype, self.nullable, self.required, self.missing))

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema, handler):
        schema = handler(core_schema)
        body = handler.resolve_ref_schema(schema)
        body["properties"].pop("name")  # the key of the `columns` mapping
        body["required"].remove("name")
        return schema


class CheckRule(_Model):
    """A declared check. In YAML its parameters sit beside ``kind`` and ``column``; in Python
    they are ``params`` (``CheckRule("range", column="x", params={"min": 0})``)."""

    _level: ClassVar[str] = "check"

    kind: Literal[DECLARED_CHECK_KINDS] = Field(description="the kind of check")
    severity: Severity = Field(
        Severity.ERROR, description="ERROR blocks downstream assets, WARNING is reported, INFO is recorded"
    )
    column: str | None = Field(None, description="the column checked")
    columns: tuple[str, ...] = Field((), description="uniqueness: the columns that together must be unique")
    params: dict[str, Any] = Field(default_factory=dict, description="the kind's parameters")

    @model_validator(mode="before")
    @classmethod
    def _gather_params(cls, data: Any) -> Any:
        """YAML's flat form: every setting that is not a field is a parameter."""
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        if data.get("kind") in IMPLICIT_KINDS:
            raise ValueError(
                f"{data['kind']!r} checks are implicit (from `columns` and freshness checks); do not declare them"
            )
        extra = {name: data.pop(name) for name in list(data) if name not in cls.model_fields}
        if extra and isinstance(data.get("params", {}), Mapping):
            data["params"] = {**data.get("params", {}), **extra}
        elif extra:
            data.update(extra)  # refused as unknown fields
        if isinstance(data.get("columns"), str):
            data["columns"] = (data["columns"],)
        return data

    @model_validator(mode="after")
    def _targets_and_params(self) -> CheckRule:
        column, columns = self.column, self.columns
        if self.kind == "uniqueness":
            if column is not None and columns:
                raise ValueError("give `column` or `columns`, not both")
            columns, column = columns or ((column,) if column is not None else ()), None
        elif column is None:
            raise ValueError(f"a {self.kind} check needs a `column`")
        elif columns:
            raise ValueError(f"a {self.kind} check takes one `column`, not `columns`")
        model = PARAMS[self.kind]
        try:
            params = model.model_validate(self.params)
        except ValidationError as exc:
            raise ValueError(_params_message(exc, self.kind)) from None
        # frozen: set what validation resolved, as pydantic does itself
        self.__dict__.update(column=column, columns=columns, params=params.model_dump(exclude_unset=True))
        return self

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

    def __hash__(self) -> int:
        return hash((self.kind, self.severity, self.column, self.columns))

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema, handler):
        """The YAML form: one variant per kind, its parameters beside ``kind`` and ``column``."""
        schema = handler(core_schema)
        body = handler.resolve_ref_schema(schema)
        fields = body["properties"]
        target = {"column": {"type": "string", "description": fields["column"]["description"]}}
        variants = []
        for kind in DECLARED_CHECK_KINDS:
            model = PARAMS[kind]
            params = model.model_json_schema()
            properties = {"kind": {"const": kind}, "severity": fields["severity"], **target}
            required = ["kind"] if kind == "uniqueness" else ["kind", "column"]
            extra = {}
            if kind == "uniqueness":
                properties["columns"] = {**fields["columns"], "minItems": 1}
                properties["columns"].pop("default", None)
                extra = {"not": {"required": ["column", "columns"]}}  # one or the other (or the table's keys)
            properties.update(params.get("properties", {}))
            variants.append(
                {
                    "type": "object",
                    "title": f"{kind} check",
                    "description": (model.__doc__ or "").strip() or None,
                    "properties": properties,
                    "required": required + params.get("required", []),
                    "additionalProperties": False,
                    **extra,
                }
            )
        body.clear()
        body.update(
            {
                "description": "A declared check: `kind`, the `column` it reads, `severity` and the kind's settings.",
                "oneOf": [{key: value for key, value in v.items() if value is not None} for v in variants],
            }
        )
        return schema


class TableRules(_Model):
    """The rules of one table: its columns, keys and checks. ``source`` is the source the table
    comes from (set from the ``<source>/<table>`` key of a rules file; None for rules built in
    Python that are not bound to a source)."""

    _level: ClassVar[str] = "table"

    table: str = Field(pattern=NAME_PATTERN, description="the table's name")
    columns: tuple[ColumnRule, ...] = Field(description="the declared columns, by name")
    checks: tuple[CheckRule, ...] = Field((), description="the declared checks")
    keys: tuple[str, ...] = Field((), description="the columns that identify a row (deduplication, uniqueness)")
    source: str | None = Field(None, pattern=NAME_PATTERN, description="the source the table comes from")

    @model_validator(mode="before")
    @classmethod
    def _named_columns(cls, data: Any) -> Any:
        """YAML's form: ``columns`` a mapping of name -> settings."""
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        columns = data.get("columns")
        if isinstance(columns, Mapping):
            data["columns"] = [
                {"name": name, **spec} if isinstance(spec, Mapping) else spec for name, spec in columns.items()
            ]
        if isinstance(data.get("keys"), str):
            data["keys"] = (data["keys"],)
        return data

    @model_validator(mode="after")
    def _consistent(self) -> TableRules:
        if not self.columns:
            raise ValueError("no columns declared")
        repeated = _repeated(self.column_names)
        if repeated:
            raise ValueError(f"column(s) {', '.join(map(repr, repeated))} declared more than once")
        unknown = [key for key in self.keys if key not in self.column_names]
        if unknown:
            raise ValueError(f"key column(s) {', '.join(map(repr, unknown))} not among the declared columns")
        checks = tuple(self._resolved_check(index, check) for index, check in enumerate(self.checks))
        repeated = _repeated(check.name for check in checks)
        if repeated:
            raise ValueError(f"check(s) {', '.join(repeated)} declared more than once")
        self.__dict__["checks"] = checks  # frozen: set what validation resolved
        return self

    def _resolved_check(self, index: int, check: CheckRule) -> CheckRule:
        if check.kind == "uniqueness" and not check.columns:
            if not self.keys:
                raise ValueError(
                    f"check {index + 1} ({check.name}): a uniqueness check needs `columns` (or table `keys`)"
                )
            check = check.model_copy(update={"columns": self.keys})
        where = f"check {index + 1} ({check.name})"
        for name in check.targets:
            if name not in self.column_names:
                raise ValueError(f"{where}: unknown column {name!r} (declared: {', '.join(self.column_names)})")
        try:
            _check_fits_column(check, self.column(check.targets[0]))
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        return check

    @property
    def key(self) -> str:
        """``<source>/<table>``, or the table alone when not bound to a source."""
        return f"{self.source}/{self.table}" if self.source is not None else self.table

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

    def __hash__(self) -> int:
        return hash((self.source, self.table, self.columns, self.checks, self.keys))

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema, handler):
        schema = handler(core_schema)
        body = handler.resolve_ref_schema(schema)
        properties = body["properties"]
        for name in ("table", "source"):  # from the `<source>/<table>` key
            properties.pop(name)
            if name in body.get("required", []):
                body["required"].remove(name)
        body["description"] = "The rules of one table: its columns, keys and checks."
        columns = properties["columns"]
        properties["columns"] = {
            "type": "object",
            "description": "the declared columns: name -> settings",
            "additionalProperties": columns["items"],
            "minProperties": 1,
        }
        return schema


class QualityRules(_Model):
    """The rules of a rules file: ``tables`` maps ``<source>/<table>`` to the table's rules."""

    _level: ClassVar[str] = "document"

    tables: dict[str, TableRules] = Field(
        description="rules per bronze table, keyed `<source>/<table>` (e.g. `demo_db/task_events`)",
        json_schema_extra={"propertyNames": {"pattern": KEY_PATTERN}},
    )

    @field_validator("tables", mode="before")
    @classmethod
    def _bound_to_sources(cls, tables: Any) -> Any:
        """Each key names its source and table; both go into the table's rules."""
        if not isinstance(tables, Mapping):
            return tables
        bound = {}
        for key, body in tables.items():
            source, _, table = str(key).partition("/")
            if not table:
                raise ValueError(
                    f"table key {key!r} does not name its source: write `<source>/<table>`, e.g. `demo_db/{key}`"
                )
            if not (_matches(source) and _matches(table)):
                raise ValueError(f"table key {key!r}: source and table must each match {NAME_PATTERN}")
            if isinstance(body, Mapping):
                set_twice = sorted({"source", "table"} & set(body))
                if set_twice:
                    raise ValueError(
                        f"table {key!r}: {', '.join(set_twice)} come(s) from the `<source>/<table>` key, not a setting"
                    )
                body = {**body, "source": source, "table": table}
            bound[str(key)] = body
        return bound

    def for_table(self, source: str, table: str) -> TableRules | None:
        """The rules of ``table`` of ``source``, or None when it has none."""
        return self.tables.get(f"{source}/{table}")

    def __len__(self) -> int:
        return len(self.tables)


def _matches(name: str) -> bool:
    return re.fullmatch(NAME_PATTERN, name) is not None


def _repeated(names: Iterable[str]) -> list[str]:
    names = list(names)
    return sorted({name for name in names if names.count(name) > 1})


def _check_fits_column(check: CheckRule, column: ColumnRule) -> None:
    """A check must make sense for its column's dtype: ranges on ordered values, etc."""
    spec = column.spec
    if check.kind == "range":
        if not spec.ordered:
            raise ValueError(f"a range check needs a numeric or datetime column, not {spec}")
        low, high = range_bounds(check, spec)
        if low is not None and high is not None and low > high:
            raise ValueError(f"min {check.params['min']!r} is above max {check.params['max']!r}")
    elif check.kind == "categorical":
        allowed = check.params["allowed"]
        unreadable = [value for value, ok in zip(allowed, column.read(allowed).present) if not ok]
        if unreadable:
            raise ValueError(f"allowed value(s) {', '.join(map(repr, unreadable))} not valid {spec}")
    elif check.kind == "freshness" and spec.family is not Family.DATETIME:
        raise ValueError(f"a freshness check needs a datetime column, not {spec}")
    elif check.kind == "distribution":
        wanted = {"max_ks"} if spec.ordered else {"max_psi", "min_p_value"}
        wrong = set(check.params) - wanted
        if wrong:
            raise ValueError(
                f"{', '.join(sorted(wrong))} does not apply to a {spec} column (use {' / '.join(sorted(wanted))})"
            )


def _bound(value: Any, spec: DtypeSpec, name: str):
    """A range bound as comparable with the column's values (ValueError if it cannot be)."""
    if spec.family is Family.DATETIME:
        try:
            stamp = pd.Timestamp(value)
            if stamp is pd.NaT:
                raise ValueError(value)
        except (TypeError, ValueError):
            raise ValueError(f"`{name}` {value!r} is not a timestamp") from None
        return spec.in_zone(stamp)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"`{name}` must be a number, got {value!r}")
    return value


def range_bounds(check: CheckRule, spec: DtypeSpec) -> tuple[Any, Any]:
    """``(min, max)`` of a range check, ``None`` for an open end, comparable with the column."""
    return tuple(_bound(check.params[name], spec, name) if name in check.params else None for name in ("min", "max"))


# --- loading -----------------------------------------------------------------------------------


def load_rules(path_or_mapping: str | Path | Mapping[str, Any]) -> QualityRules:
    """The rules of a YAML file (or of the mapping such a file holds); look a table's up with
    ``.for_table(source, table)``."""
    where = []
    if isinstance(path_or_mapping, (str, Path)):
        document, where = _read(Path(path_or_mapping)), [f"rules file {path_or_mapping}"]
    else:
        document = path_or_mapping
    if not isinstance(document, Mapping) or not isinstance(document.get("tables"), Mapping):
        raise RulesError(
            ": ".join([*where, "rules must be a mapping with a `tables` mapping (<source>/<table> -> rules)"])
        )
    try:
        return QualityRules.model_validate(document)
    except ValidationError as exc:
        raise rules_error(exc, "document", document, where) from None


def rules_json_schema() -> dict[str, Any]:
    """The JSON Schema of a rules file, generated from the models (``schemas/quality_rules.schema.json``)."""
    schema = QualityRules.model_json_schema()
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "Maestro silver quality rules",
        "description": "Silver rules per bronze table, keyed `<source>/<table>` (maestro_assets/lib/quality/rules.py).",
    }
    return _without_null_defaults(schema)


def _without_null_defaults(node: Any) -> Any:
    """``"default": null`` of an optional setting says nothing to an editor; drop it."""
    if isinstance(node, dict):
        return {key: _without_null_defaults(value) for key, value in node.items() if (key, value) != ("default", None)}
    if isinstance(node, list):
        return [_without_null_defaults(value) for value in node]
    return node


def _read(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RulesError(f"cannot read rules file {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise RulesError(f"rules file {path} is not valid YAML: {exc}") from None


# --- errors: pydantic's ValidationError as one sentence ----------------------------------------

CHOICES = {
    "kind": ("check kind", DECLARED_CHECK_KINDS),
    "severity": ("severity", tuple(severity.value for severity in Severity)),
    "missing": ("missing-value policy", MISSING_POLICIES),
}
NUMBER_ERRORS = {
    "float_type",
    "float_parsing",
    "int_type",
    "int_parsing",
    "greater_than_equal",
    "less_than_equal",
    "greater_than",
    "less_than",
    "finite_number",
}
HIDDEN_FIELDS = {"name", "table", "source", "params"}  # not settings a rules file writes


def rules_error(exc: ValidationError, level: str, root: Any, where: Sequence[str] = ()) -> RulesError:
    """One RulesError for all of ``exc``'s errors, after ``where`` (the file): each names where
    it is (table, check or column) and the setting. ``root`` is the input validated at
    ``level`` (``document``, ``table``, ``column`` or ``check``)."""
    sentences: dict[tuple[str, ...], list[str]] = {}
    unknown: dict[tuple[str, ...], tuple[type[BaseModel], list[str]]] = {}
    for error in exc.errors(include_url=False):
        place, setting, model = _locate(tuple(error["loc"]), root, level)
        place = tuple(place)
        if error["type"] == "extra_forbidden":
            unknown.setdefault(place, (model, []))[1].append(str(setting))
            continue
        sentence = _sentence(error, setting, model)
        if sentence not in sentences.setdefault(place, []):
            sentences[place].append(sentence)
    for place, (model, names) in unknown.items():
        allowed = sorted(set(model.model_fields) - HIDDEN_FIELDS)
        if model is CheckRule:
            allowed = ["kind", "severity", "column", "columns", "<the kind's parameters>"]
        sentences.setdefault(place, []).append(
            f"unknown field(s) {', '.join(sorted(names))} (allowed: {', '.join(allowed)})"
        )
    found = "; ".join(": ".join([*place, text]) for place, texts in sentences.items() for text in texts)
    return RulesError(": ".join([*where, found]))


def _params_message(exc: ValidationError, kind: str) -> str:
    """The parameters of a ``kind`` check are wrong: one sentence per mistake."""
    model = PARAMS[kind]
    texts, unknown = [], []
    for error in exc.errors(include_url=False):
        setting = next((part for part in error["loc"] if isinstance(part, str)), None)
        if error["type"] == "extra_forbidden":
            unknown.append(str(setting))
        elif error["type"] == "missing":
            texts.append(f"a {kind} check needs `{setting}`")
        elif (text := _sentence(error, setting, model)) not in texts:
            texts.append(text)
    if unknown:
        allowed = ", ".join(sorted(model.model_fields)) or "none"
        texts.insert(0, f"unknown parameter(s) {', '.join(sorted(unknown))} for a {kind} check (allowed: {allowed})")
    return "; ".join(texts)


def _sentence(error: Mapping[str, Any], setting: str | None, model: type[BaseModel]) -> str:
    kind, got = error["type"], error.get("input")
    name = f"`{setting}` " if setting is not None else ""  # None: the entry itself
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if kind == "missing":
        return f"no {name.strip() or 'value'}"
    if kind in ("literal_error", "enum") and setting in CHOICES:
        noun, options = CHOICES[setting]
        return f"unknown {noun} {got!r} (use one of {', '.join(options)})"
    if kind in ("bool_type", "bool_parsing"):
        return f"{name}must be true or false, got {got!r}"
    if kind in NUMBER_ERRORS:
        return f"{name}must be a number{_bounds(model, setting)}, got {got!r}"
    if kind == "too_short":
        return f"{name}must be a non-empty list of values"
    if kind == "string_pattern_mismatch":
        return f"{name}{got!r} must match {error['ctx']['pattern']}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{name}must be a mapping, got {type(got).__name__}"
    if kind in ("tuple_type", "list_type"):
        return f"{name}must be a list, got {type(got).__name__}"
    return f"{name}{error['msg'].replace('Input should', 'should')}, got {got!r}"


def _bounds(model: type[BaseModel], setting: str | None) -> str:
    field = model.model_fields.get(setting) if setting is not None else None
    low = high = None
    for constraint in field.metadata if field is not None else ():
        low = getattr(constraint, "ge", low)
        high = getattr(constraint, "le", high)
    if low is not None and high is not None:
        return f" between {low:g} and {high:g}"
    return f" >= {low:g}" if low is not None else ""


def _locate(loc: tuple, node: Any, level: str) -> tuple[list[str], str | None, type[BaseModel]]:
    """Walk an error's ``loc`` through the input: where it is (``table 'a/b'``, ``check 2
    (range:x)``, ``column 'x'``), the setting it names and the model that setting belongs to."""
    place: list[str] = []
    while True:
        if level == "document" and len(loc) >= 2 and loc[0] == "tables":
            place.append(f"table {loc[1]!r}")
            node, loc, level = _get(_get(node, "tables"), loc[1]), loc[2:], "table"
        elif level == "table" and len(loc) >= 2 and loc[0] in ("columns", "checks") and isinstance(loc[1], int):
            items = _get(node, loc[0])
            item = _item(items, loc[1])
            if loc[0] == "columns":
                name = list(items)[loc[1]] if isinstance(items, Mapping) else _get(item, "name")
                place.append(f"column {name!r}")
                level = "column"
            else:
                place.append(f"check {loc[1] + 1} ({_label(item)})")
                level = "check"
            node, loc = item, loc[2:]
        else:
            setting = next((part for part in loc if isinstance(part, str)), None)
            return place, setting, _MODELS[level]


def _where(level: str, data: Mapping[str, Any]) -> str:
    """How a model built in Python is named in its errors."""
    if level == "column":
        return f"column {data.get('name')!r}"
    if level == "check":
        return f"check ({_label(data)})"
    if level == "table":
        source, table = data.get("source"), data.get("table")
        return f"table {f'{source}/{table}' if source is not None else table!r}"
    return "rules"


def _get(node: Any, key: Any) -> Any:
    if isinstance(node, Mapping):
        return node.get(key)
    return getattr(node, key, None) if isinstance(key, str) else None


def _item(items: Any, index: int) -> Any:
    if isinstance(items, Mapping):
        items = list(items.values())
    try:
        return items[index]
    except (TypeError, IndexError, KeyError):
        return None


def _label(spec: Any) -> str:
    """``kind:column`` of a check as written, for error messages."""
    if isinstance(spec, CheckRule):
        return spec.name
    if not isinstance(spec, Mapping):
        return "?"
    target = spec.get("column") or spec.get("columns") or ""
    target = ",".join(map(str, target)) if isinstance(target, (list, tuple)) else str(target)
    return f"{spec.get('kind', '?')}:{target}" if target else str(spec.get("kind", "?"))


_MODELS: dict[str, type[BaseModel]] = {
    "document": QualityRules,
    "table": TableRules,
    "column": ColumnRule,
    "check": CheckRule,
}
