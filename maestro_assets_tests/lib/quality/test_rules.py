"""The rules models: every setting refused when wrong (from a file and when built in Python), the
`<source>/<table>` binding and lookup, the JSON Schema generated from the models, the demo file."""

from __future__ import annotations

import ast
import copy
import json
from pathlib import Path

import pytest
import yaml

from maestro_assets.lib.ingestion.sources import NAME, load_sources
from maestro_assets.lib.quality import (
    CheckRule,
    ColumnRule,
    QualityRules,
    RulesError,
    Severity,
    TableRules,
    load_rules,
    rules_json_schema,
)
from maestro_assets.lib.quality import rules as rules_module
from maestro_assets.lib.schemas import SCHEMAS, render, write_schemas

PACKAGE = Path(rules_module.__file__).resolve().parents[2]
DEMO_RULES = PACKAGE / "quality_rules.yaml"
SCHEMA_FILE = PACKAGE / "schemas" / "quality_rules.schema.json"

GOOD_TABLE = {
    "keys": ["id"],
    "columns": {
        "id": {"dtype": "int64", "nullable": False},
        "at": {"dtype": "datetime64[ns, UTC]"},
        "n": {"dtype": "float64", "missing": "impute", "impute_value": 1.5},
        "kind": {"dtype": "string"},
    },
    "checks": [
        {"kind": "uniqueness"},
        {"kind": "range", "column": "n", "min": 0, "max": 10, "severity": "WARNING"},
        {"kind": "categorical", "column": "kind", "allowed": ["a", "b"]},
        {"kind": "completeness", "column": "n", "max_null_fraction": 0.5},
        {"kind": "freshness", "column": "at", "max_age_hours": 24, "future_tolerance_minutes": 1},
        {"kind": "distribution", "column": "n", "max_ks": 0.2},
    ],
}


def document(**changes) -> dict:
    """A valid rules document for table `db/events`, with ``changes`` applied to its body
    (``checks=…`` replaces the checks, ``column_n={…}`` the settings of column ``n``)."""
    body = copy.deepcopy(GOOD_TABLE)
    for name, value in changes.items():
        if name.startswith("column_"):
            body["columns"][name.removeprefix("column_")] = value
        else:
            body[name] = value
    return {"tables": {"db/events": body}}


def with_check(check: dict) -> dict:
    return document(checks=[*GOOD_TABLE["checks"], check])


def test_a_good_document_loads_into_the_models():
    rules = load_rules(document())
    table = rules.for_table("db", "events")
    assert isinstance(rules, QualityRules) and isinstance(table, TableRules)
    assert (table.source, table.table, table.key) == ("db", "events", "db/events")
    assert table.column_names == ("id", "at", "n", "kind")
    assert [check.name for check in table.checks] == [
        "uniqueness:id",  # no columns: the table's keys
        "range:n",
        "categorical:kind",
        "completeness:n",
        "freshness:at",
        "distribution:n",
    ]
    assert table.check("range:n").severity is Severity.WARNING
    assert table.check("range:n").params == {"min": 0, "max": 10}
    assert table.check("categorical:kind").params == {"allowed": ("a", "b")}
    assert table.check("freshness:at").params == {"max_age_hours": 24, "future_tolerance_minutes": 1}
    assert table.check("freshness:at").future_name == "future:at"
    assert table.column("n").impute_value == 1.5 and table.column("id").nullable is False


# --- every setting refused when wrong ----------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        # unknown settings, at each level
        (document(owner="me"), r"^table 'db/events': unknown field\(s\) owner \(allowed: checks, columns, keys\)$"),
        (
            document(column_n={"dtype": "int64", "type": "x"}),
            r"^table 'db/events': column 'n': unknown field\(s\) type",
        ),
        (
            with_check({"kind": "range", "column": "n", "minimum": 0}),
            r"^table 'db/events': check 7 \(range:n\): unknown parameter\(s\) minimum for a range check "
            r"\(allowed: max, min\)$",
        ),
        (
            with_check({"kind": "uniqueness", "columns": ["n"], "max": 1}),
            r"check 7 \(uniqueness:n\): unknown parameter\(s\) max for a uniqueness check \(allowed: none\)",
        ),
        ({"tables": {"db/events": GOOD_TABLE}, "version": 2}, r"^unknown field\(s\) version \(allowed: tables\)$"),
        # columns
        (document(column_n={"dtype": "int65"}), r"^table 'db/events': column 'n': unknown dtype 'int65'$"),
        (document(column_n={"dtype": "complex128"}), r"column 'n': unsupported dtype 'complex128'"),
        (document(column_n={"nullable": True}), r"^table 'db/events': column 'n': no `dtype`$"),
        (document(column_n="float64"), r"column 'n': must be a mapping, got str"),
        (document(column_n={"dtype": "float64", "nullable": "no"}), r"column 'n': `nullable` must be true or false"),
        (document(column_n={"dtype": "float64", "required": 1}), r"column 'n': `required` must be true or false"),
        (
            document(column_n={"dtype": "float64", "missing": "guess"}),
            r"column 'n': unknown missing-value policy 'guess' \(use one of keep, impute, drop, zero\)",
        ),
        (document(column_kind={"dtype": "string", "missing": "zero"}), r"missing: zero needs a numeric or bool column"),
        (document(column_n={"dtype": "float64", "impute_value": 1}), r"impute_value is only used with missing: impute"),
        (
            document(column_n={"dtype": "float64", "missing": "impute", "impute_value": "x"}),
            r"column 'n': impute_value 'x' is not a valid float64",
        ),
        # the table
        (document(columns={}), r"^table 'db/events': no columns declared$"),
        (document(keys=["nope"]), r"^table 'db/events': key column\(s\) 'nope' not among the declared columns$"),
        (document(keys="id,at"), r"key column\(s\) 'id,at' not among"),
        (document(checks={"kind": "range"}), r"^table 'db/events': `checks` must be a list, got dict$"),
        (
            with_check({"kind": "completeness", "column": "n"}),
            r"^table 'db/events': check\(s\) completeness:n declared more than once$",
        ),
        (
            with_check({"kind": "uniqueness", "columns": ["id"]}),
            r"check\(s\) uniqueness:id declared more than once",  # the keys' check, spelled out
        ),
        # checks
        (with_check({"column": "n"}), r"check 7 \(\?:n\): no `kind`"),
        (with_check({"kind": "sameness", "column": "n"}), r"check 7 \(sameness:n\): unknown check kind 'sameness'"),
        (with_check({"kind": "schema", "column": "n"}), r"check 7 \(schema:n\): 'schema' checks are implicit"),
        (with_check({"kind": "future", "column": "at"}), r"'future' checks are implicit"),
        (
            with_check({"kind": "range", "column": "at", "min": 0, "severity": "FATAL"}),
            r"check 7 \(range:at\): unknown severity 'FATAL' \(use one of ERROR, WARNING, INFO\)",
        ),
        (with_check({"kind": "range", "column": "id", "severity": "error", "min": 0}), r"unknown severity 'error'"),
        (with_check({"kind": "range", "column": "nope", "min": 0}), r"check 7 \(range:nope\): unknown column 'nope'"),
        (with_check({"kind": "range", "column": "id"}), r"check 7 \(range:id\): a range check needs `min`, `max`"),
        (
            with_check({"kind": "range", "column": "id", "min": 5, "max": 1}),
            r"check 7 \(range:id\): min 5 is above max 1",
        ),
        (
            with_check({"kind": "range", "column": "at", "min": "2025-02-01", "max": "2025-01-01"}),
            r"check 7 \(range:at\): min '2025-02-01' is above max '2025-01-01'",
        ),
        (with_check({"kind": "range", "column": "at", "min": "soon"}), r"check 7 \(range:at\): `min` 'soon' is not a"),
        (
            with_check({"kind": "range", "column": "id", "max": True}),
            r"`max` must be a number or a timestamp, got True",
        ),
        (
            with_check({"kind": "range", "column": "kind", "min": 0}),
            r"a range check needs a numeric or datetime column",
        ),
        (
            with_check({"kind": "categorical", "column": "id"}),
            r"check 7 \(categorical:id\): a categorical check needs `allowed`",
        ),
        (with_check({"kind": "categorical", "column": "id", "allowed": []}), r"`allowed` must be a non-empty list"),
        (with_check({"kind": "categorical", "column": "id", "allowed": "a"}), r"`allowed` must be a list, got str"),
        (
            with_check({"kind": "categorical", "column": "id", "allowed": ["x"]}),
            r"allowed value\(s\) 'x' not valid int64",
        ),
        (
            with_check({"kind": "completeness", "column": "id", "max_null_fraction": 2}),
            r"check 7 \(completeness:id\): `max_null_fraction` must be a number between 0 and 1, got 2",
        ),
        (
            with_check({"kind": "completeness", "column": "id", "max_null_fraction": True}),
            r"`max_null_fraction` must be a number between 0 and 1, got True",
        ),
        (
            with_check({"kind": "completeness", "column": "id", "max_null_fraction": "0.1"}),
            r"`max_null_fraction` must be a number between 0 and 1, got '0.1'",
        ),
        (with_check({"kind": "freshness", "column": "at"}), r"a freshness check needs `max_age_hours`"),
        (
            with_check({"kind": "freshness", "column": "n", "max_age_hours": 1}),
            r"check 7 \(freshness:n\): a freshness check needs a datetime column, not float64",
        ),
        (
            with_check({"kind": "freshness", "column": "id", "max_age_hours": -1}),
            r"`max_age_hours` must be a number >= 0, got -1",
        ),
        (with_check({"kind": "distribution", "column": "id"}), r"a distribution check needs `max_ks`"),
        (with_check({"kind": "distribution", "column": "id", "max_psi": 0.1}), r"max_psi does not apply to a int64"),
        (with_check({"kind": "distribution", "column": "kind", "max_ks": 0.1}), r"max_ks does not apply to a string"),
        (with_check({"kind": "range", "columns": ["n"], "min": 0}), r"a range check needs a `column`"),
        (
            with_check({"kind": "range", "column": "n", "columns": ["n"], "min": 0}),
            r"takes one `column`, not `columns`",
        ),
        (with_check({"kind": "uniqueness", "column": "n", "columns": ["n"]}), r"give `column` or `columns`, not both"),
        (
            with_check({"kind": "range", "column": 5, "min": 0}),
            r"check 7 \(range:5\): `column` should be a valid string",
        ),
        (document(keys=[], checks=[{"kind": "uniqueness"}]), r"check 1 \(uniqueness:\): a uniqueness check needs"),
        (document(checks=["range"]), r"check 1 \(\?\): must be a mapping, got str"),
    ],
)
def test_every_setting_is_refused_when_wrong(doc, message):
    with pytest.raises(RulesError, match=message):
        load_rules(doc)


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        ({"events": GOOD_TABLE}, r"table key 'events' does not name its source: write `<source>/<table>`"),
        ({"Db/events": GOOD_TABLE}, r"table key 'Db/events': source and table must each match"),
        ({"db/events/x": GOOD_TABLE}, r"table key 'db/events/x': source and table must each match"),
        ({"db/": GOOD_TABLE}, r"table key 'db/' does not name its source"),
        ({"db/events": {**GOOD_TABLE, "table": "other"}}, r"table 'db/events': table come\(s\) from the"),
        ({"db/events": ["id"]}, r"^table 'db/events': must be a mapping, got list$"),
    ],
)
def test_table_keys_must_be_source_slash_table(tables, message):
    with pytest.raises(RulesError, match=message):
        load_rules({"tables": tables})


def test_the_file_is_named_and_every_mistake_reported(tmp_path):
    doc = document(column_n={"dtype": "int65"})
    doc["tables"]["db/other"] = {"columns": {"id": {"dtype": "int64", "nullable": "no"}}}
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(RulesError) as raised:
        load_rules(path)
    assert str(raised.value) == (
        f"rules file {path}: table 'db/events': column 'n': unknown dtype 'int65'; "
        "table 'db/other': column 'id': `nullable` must be true or false, got 'no'"
    )


def test_document_errors(tmp_path):
    with pytest.raises(RulesError, match=r"`tables` mapping \(<source>/<table> -> rules\)"):
        load_rules({"db/events": GOOD_TABLE})
    with pytest.raises(RulesError, match="cannot read rules file"):
        load_rules(tmp_path / "absent.yaml")
    (tmp_path / "broken.yaml").write_text("tables: [unclosed")
    with pytest.raises(RulesError, match="not valid YAML"):
        load_rules(tmp_path / "broken.yaml")


# --- rules written in Python are checked the same way ------------------------------------------


def test_models_built_in_python_are_checked_like_a_file():
    columns = (ColumnRule("id", "int64", nullable=False), ColumnRule("at", "datetime64[ns, UTC]"))
    cases = [
        (lambda: ColumnRule("id", "int65"), r"^column 'id': unknown dtype 'int65'$"),
        (lambda: ColumnRule("id", "int64", nullable="no"), r"^column 'id': `nullable` must be true or false"),
        (lambda: ColumnRule("id", "int64", typo=1), r"^column 'id': unknown field\(s\) typo"),
        (lambda: CheckRule("range", column="id"), r"^check \(range:id\): a range check needs `min`, `max` or both$"),
        (lambda: CheckRule("range", "FATAL", column="id", params={"min": 0}), r"unknown severity 'FATAL'"),
        (lambda: CheckRule("range", column="id", params={"min": 0, "low": 1}), r"unknown parameter\(s\) low"),
        (lambda: CheckRule("categorical", column="id", params={}), r"a categorical check needs `allowed`"),
        (lambda: CheckRule("schema", column="id"), r"'schema' checks are implicit"),
        (
            lambda: TableRules("events", columns, (CheckRule("range", column="id", params={"min": 5, "max": 1}),)),
            r"^table 'events': check 1 \(range:id\): min 5 is above max 1$",
        ),
        (
            lambda: TableRules("events", columns, (CheckRule("freshness", column="id", params={"max_age_hours": 1}),)),
            r"^table 'events': check 1 \(freshness:id\): a freshness check needs a datetime column",
        ),
        (
            lambda: TableRules("events", columns, (CheckRule("uniqueness", column="id"),) * 2),
            r"^table 'events': check\(s\) uniqueness:id declared more than once$",
        ),
        (lambda: TableRules("events", columns, keys=("nope",)), r"key column\(s\) 'nope' not among"),
        (lambda: TableRules("Events", columns), r"^table 'Events': `table` 'Events' must match"),
        (lambda: TableRules("events", columns, source="my-db"), r"^table 'my-db/events': `source` 'my-db' must match"),
        (lambda: TableRules("events", ()), r"^table 'events': no columns declared$"),
        (lambda: TableRules("events", ({"name": "id", "dtype": "int65"},)), r"table 'events': column 'id': unknown"),
    ]
    for build, message in cases:
        with pytest.raises(RulesError, match=message):
            build()


def test_models_are_frozen_hashable_and_equal_by_value():
    def build():
        return TableRules(
            "events",
            (ColumnRule("id", "int64", nullable=False), ColumnRule("kind", "string")),
            (CheckRule("categorical", column="kind", params={"allowed": ["a"]}), CheckRule("uniqueness")),
            keys=("id",),
            source="db",
        )

    first, second = build(), build()
    assert first == second and hash(first) == hash(second)  # lru_cache keys (pandera_schema, _allowed)
    assert first.check("uniqueness:id").columns == ("id",)
    assert first.column("kind").spec.family.value == "string"
    assert first == second  # a cached property read on one does not make them differ
    assert first != build().model_copy(update={"source": "other"})
    with pytest.raises(Exception, match="frozen"):
        first.table = "other"
    with pytest.raises(TypeError, match="twice"):
        ColumnRule("id", "int64", name="id")


# --- bound to a source and a table -------------------------------------------------------------


def test_two_sources_users_tables_get_their_own_rules():
    crm = {"keys": ["user_id"], "columns": {"user_id": {"dtype": "int64"}, "email": {"dtype": "string"}}}
    hr = {"columns": {"employee_id": {"dtype": "int64"}, "salary": {"dtype": "float64"}}}
    rules = load_rules({"tables": {"crm/users": crm, "hr/users": hr}})
    assert len(rules) == 2
    assert rules.for_table("crm", "users").column_names == ("user_id", "email")
    assert rules.for_table("hr", "users").column_names == ("employee_id", "salary")
    assert (rules.for_table("crm", "users").source, rules.for_table("hr", "users").source) == ("crm", "hr")
    assert rules.for_table("crm", "users").table == rules.for_table("hr", "users").table == "users"


def test_a_table_without_rules_gets_none():
    rules = load_rules(document())
    assert rules.for_table("db", "events") is not None
    assert rules.for_table("db", "teams") is None
    assert rules.for_table("other_db", "events") is None  # same table name, other source: not these rules
    assert rules.for_table("events", "db") is None


# --- the demo's file and the JSON Schema -------------------------------------------------------


def test_the_demo_file_has_rules_for_every_declared_table_and_no_others():
    rules = load_rules(DEMO_RULES)
    declared = {(table.source, table.table) for table in load_sources().tables()}
    keys = {(table.source, table.table) for table in rules.tables.values()}
    assert keys == declared  # every demo bronze table has a silver table
    assert rules.for_table("demo_db", "task_events").check("range:hours_logged").params == {"min": 0, "max": 60}


def test_the_demo_file_points_editors_at_the_schema():
    first_line = DEMO_RULES.read_text(encoding="utf-8").splitlines()[0]
    assert first_line == "# yaml-language-server: $schema=schemas/quality_rules.schema.json"
    assert (DEMO_RULES.parent / first_line.split("$schema=")[1]).resolve() == SCHEMA_FILE.resolve()


def test_the_committed_schema_is_what_the_models_generate():
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert committed == rules_json_schema(), (
        "maestro_assets/schemas/quality_rules.schema.json is stale: "
        "regenerate it with `python -m maestro_assets.lib.schemas`"
    )
    assert SCHEMA_FILE.read_text(encoding="utf-8") == render(rules_json_schema())


def test_the_regeneration_command_writes_the_committed_schema(tmp_path):
    assert SCHEMAS["quality_rules"] is rules_json_schema
    assert write_schemas(tmp_path) and (tmp_path / SCHEMA_FILE.name).read_text() == SCHEMA_FILE.read_text()


def test_the_schema_has_one_variant_per_declared_kind_with_its_parameters():
    schema = rules_json_schema()
    variants = {variant["properties"]["kind"]["const"]: variant for variant in schema["$defs"]["CheckRule"]["oneOf"]}
    assert tuple(variants) == rules_module.DECLARED_CHECK_KINDS
    assert set(variants["range"]["properties"]) == {"kind", "severity", "column", "min", "max"}
    assert variants["categorical"]["required"] == ["kind", "column", "allowed"]
    assert variants["freshness"]["required"] == ["kind", "column", "max_age_hours"]
    assert variants["completeness"]["properties"]["max_null_fraction"]["maximum"] == 1.0
    assert all(variant["additionalProperties"] is False for variant in variants.values())
    assert schema["properties"]["tables"]["propertyNames"]["pattern"] == rules_module.KEY_PATTERN


def test_table_and_source_names_follow_the_sources_file():
    assert rules_module.NAME_PATTERN == NAME.pattern  # the same names as sources.yaml accepts


try:
    import jsonschema
except ImportError:  # it comes with other dependencies; without it the models alone are tested
    jsonschema = None
needs_jsonschema = pytest.mark.skipif(jsonschema is None, reason="jsonschema is not installed")


def _schema_errors(doc) -> list[str]:
    validator = jsonschema.Draft202012Validator(rules_json_schema())
    return [error.message for error in validator.iter_errors(doc)]


@needs_jsonschema
def test_the_demo_file_validates_against_the_schema():
    jsonschema.Draft202012Validator.check_schema(rules_json_schema())
    assert _schema_errors(yaml.safe_load(DEMO_RULES.read_text(encoding="utf-8"))) == []
    assert _schema_errors(document()) == []


@pytest.mark.parametrize(
    "doc",
    [
        {"tables": {"events": GOOD_TABLE}},
        document(owner="me"),
        document(column_n={"dtype": "float64", "type": "x"}),
        document(column_n={"dtype": "float64", "nullable": "no"}),
        document(column_n={"dtype": "float64", "missing": "guess"}),
        document(columns={}),
        with_check({"kind": "sameness", "column": "n"}),
        with_check({"kind": "range", "column": "n", "minimum": 0}),
        with_check({"kind": "range", "column": "n", "min": 0, "severity": "FATAL"}),
        with_check({"kind": "categorical", "column": "n"}),
        with_check({"kind": "categorical", "column": "n", "allowed": []}),
        with_check({"kind": "completeness", "column": "n", "max_null_fraction": 2}),
        with_check({"kind": "freshness", "column": "at"}),
        with_check({"kind": "uniqueness", "column": "n", "columns": ["n"]}),
    ],
)
@needs_jsonschema
def test_the_schema_refuses_what_the_models_refuse(doc):
    with pytest.raises(RulesError):
        load_rules(doc)
    assert _schema_errors(doc)


# --- the import cycle stays broken -------------------------------------------------------------


def test_coercion_and_dtypes_do_not_import_rules():
    for module in ("coercion", "dtypes"):
        tree = ast.parse((PACKAGE / "lib" / "quality" / f"{module}.py").read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert "rules" not in imported, f"{module}.py imports rules"


def test_the_demo_rules_allow_every_status_the_demo_generates():
    """A status the generator can produce but the rules refuse blocks the demo at some scale."""
    from maestro_assets.lib.demo._work import PROJECT_STATUSES, TASK_STATUSES

    rules = load_rules(DEMO_RULES)
    for table, statuses in (("projects", PROJECT_STATUSES), ("tasks", TASK_STATUSES)):
        allowed = set(rules.for_table("demo_db", table).check("categorical:status").params["allowed"])
        assert set(statuses) <= allowed, table
