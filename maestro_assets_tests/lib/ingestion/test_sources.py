"""The sources file as typed configuration: every setting checked, errors that name the file, the
entry and the setting, and a JSON Schema that editors use (kept equal to the models)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
import yaml

from maestro_assets.lib import settings
from maestro_assets.lib.ingestion.sources import (
    SourceConfigError,
    load_sources,
    parse_sources,
    snake_case,
    sources_json_schema,
)

SCHEMA_FILE = settings.PACKAGE_ROOT / "schemas" / "sources.schema.json"
WHERE = Path("my_sources.yaml")


def sql_source(**table) -> dict:
    return {"sources": [{"name": "crm", "kind": "sql", "connection_env": "CRM_URL", "tables": [table]}]}


def test_the_committed_json_schema_is_the_models_schema():
    assert json.loads(SCHEMA_FILE.read_text()) == sources_json_schema(), (
        "maestro_assets/schemas/sources.schema.json is stale: regenerate it with `python -m maestro_assets.lib.schemas`"
    )


def test_the_demo_sources_file_loads_and_validates_against_the_schema():
    config = load_sources(settings.PACKAGE_ROOT / "sources.yaml")
    assert {s.kind for s in config.sources} == {"sql", "files"}
    raw = yaml.safe_load((settings.PACKAGE_ROOT / "sources.yaml").read_text())
    jsonschema.validate(raw, sources_json_schema())


def test_the_schema_refuses_what_the_models_refuse():
    with pytest.raises(jsonschema.ValidationError, match="bogus"):
        jsonschema.validate(sql_source(table="a", bogus=1), sources_json_schema())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"sources": [{"name": "x", "kind": "nosql", "tables": []}]}, sources_json_schema())


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (sql_source(table="a", bogus=1), r"my_sources.yaml, source 'crm', table 'a': bogus: unknown setting"),
        (sql_source(table="a", timezone="Mars/Base"), r"table 'a': timezone: .*'Mars/Base' is not an IANA time zone"),
        (sql_source(table="a", encoding="utf-99"), r"table 'a': encoding: .*'utf-99' is not a known codec"),
        (sql_source(table="a", delimiter=";;"), r"table 'a': delimiter: "),
        (sql_source(table="a", keys=["x y"]), r"table 'a': key column 'x y' is not allowed"),
        (sql_source(table="a", watermark="1st"), r"table 'a': watermark column '1st' is not allowed"),
        (sql_source(table="a", bad_files="FATAL"), r"table 'a': bad_files: "),
        (sql_source(table="a", source="other"), r"source 'crm': a table entry takes its source and kind"),
        (
            {"sources": [{"name": "l", "kind": "files", "tables": [{"table": "t", "format": "csv"}]}]},
            r"source 'l', table 't': a files table needs prefix",
        ),
        (
            {"sources": [{"name": "l", "kind": "files", "tables": [{"table": "t", "prefix": "in/", "format": "xls"}]}]},
            r"source 'l', table 't': format: ",
        ),
        (
            {
                "sources": [
                    {"name": "l", "kind": "files", "tables": [{"table": "Mixed", "prefix": "x/", "format": "csv"}]}
                ]
            },
            r"table 'Mixed': table name 'Mixed' is not allowed",
        ),
        (
            {"sources": [{"name": "api", "kind": "rest", "connection_env": "API", "tables": [{"table": "t"}]}]},
            r"source 'api', table 't': a rest table needs path",
        ),
        (
            {"sources": [{"name": "crm", "kind": "sql", "tables": [{"table": "a"}]}]},
            r"source 'crm': a sql source needs",
        ),
        ({"sources": [{"name": "crm", "kind": "sql", "connection_env": "X", "tables": []}]}, r"source 'crm': tables:"),
        ({"start_date": "2026-02-30", "sources": []}, r"my_sources.yaml: start_date: "),
        (
            {
                "sources": [{"name": "a", "kind": "files", "tables": [{"table": "t", "prefix": "x/", "format": "csv"}]}]
                * 2
            },
            r"source names repeat: \['a'\]",
        ),
    ],
)
def test_a_wrong_setting_names_the_file_the_entry_and_the_setting(raw, message):
    with pytest.raises(SourceConfigError, match=message):
        parse_sources(raw, WHERE)


def test_bronze_names_derive_from_the_catalog_name_and_must_not_collide():
    assert [snake_case(n) for n in ("SeattleWeather", "Order Details", "HTTPLog", "2019_sales", "users")] == [
        "seattle_weather",
        "order_details",
        "http_log",
        "t_2019_sales",
        "users",
    ]
    raw = {
        "sources": [
            {
                "name": "crm",
                "kind": "sql",
                "connection_env": "CRM_URL",
                "tables": [
                    {"table": "sales.Orders"},
                    {"table": "archive.orders"},
                ],
            }
        ]
    }
    with pytest.raises(
        SourceConfigError, match=r"bronze names repeat: \['orders'\] \(give one of the tables a `name:`\)"
    ):
        parse_sources(raw, WHERE)
    raw["sources"][0]["tables"][1]["name"] = "orders_archive"
    first, second = parse_sources(raw, WHERE).tables()
    assert (first.db_schema, first.source_table, first.table) == ("sales", "Orders", "orders")
    assert (second.db_schema, second.source_table, second.table) == ("archive", "orders", "orders_archive")
    assert second.qualified_name == "crm/orders_archive"


def test_a_missing_or_broken_file_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv(settings.ENV_SOURCES, str(tmp_path / "nope.yaml"))
    with pytest.raises(SourceConfigError, match=r"MAESTRO_SOURCES: the sources file .*nope.yaml does not exist"):
        load_sources()
    broken = tmp_path / "broken.yaml"
    broken.write_text("sources: [\n")
    with pytest.raises(SourceConfigError, match=r"broken.yaml: not valid YAML"):
        load_sources(broken)


def test_the_demo_sources_start_where_the_demo_data_starts():
    """The demo's window is defined once (lib/demo/generator.py); its sources file must agree."""
    from maestro_assets.lib.demo.generator import demo_days

    first, last = demo_days()
    config = load_sources(settings.PACKAGE_ROOT / "sources.yaml")
    assert config.start_date == first
    assert config.end_date == last + timedelta(days=1)  # partitions only where the demo has data


# a valid name followed by a tail that is not allowed: every pattern must hold to the name's end
VALID_PREFIX_BAD_TAIL = {
    "source name (NAME)": (
        lambda v: {"sources": [{"name": v, "kind": "sql", "connection_env": "CRM_URL", "tables": [{"table": "a"}]}]},
        "crm",
        "crm;drop",
    ),
    "bronze name (NAME)": (lambda v: sql_source(table="a", name=v), "users", "users;drop"),
    "key column (COLUMN)": (lambda v: sql_source(table="a", keys=[v]), "event_id", "event_id)"),
    "watermark column (COLUMN)": (lambda v: sql_source(table="a", watermark=v), "updated_at", "updated_at--"),
    "renamed column (COLUMN)": (lambda v: sql_source(table="a", columns={"Id": v}), "id", "id,secret"),
    "table (CATALOG_NAME)": (lambda v: sql_source(table=v), "Users", "Users;drop table x"),
    "schema (CATALOG_NAME)": (lambda v: sql_source(table="a", schema=v), "sales", 'sales"; --'),
    "connection_env (ENV_VAR)": (
        lambda v: {"sources": [{"name": "crm", "kind": "sql", "connection_env": v, "tables": [{"table": "a"}]}]},
        "MY_VAR",
        "MY_VAR-x",
    ),
    "upstream (ASSET_PATH)": (lambda v: sql_source(table="a", upstream=[v]), "demo/tasks", "demo/tasks;x"),
    "prefix (PREFIX)": (
        lambda v: {
            "sources": [{"name": "l", "kind": "files", "tables": [{"table": "t", "prefix": v, "format": "csv"}]}]
        },
        "in/",
        "in/x",
    ),
}


@pytest.mark.parametrize("setting", list(VALID_PREFIX_BAD_TAIL))
def test_a_name_with_a_valid_start_and_a_bad_tail_is_refused(setting):
    build, good, bad = VALID_PREFIX_BAD_TAIL[setting]
    parse_sources(build(good), WHERE)  # the valid start alone is accepted
    with pytest.raises(SourceConfigError, match=re.escape(repr(bad))):  # refused, and named
        parse_sources(build(bad), WHERE)


@pytest.mark.parametrize("setting", list(VALID_PREFIX_BAD_TAIL))
def test_a_name_with_a_trailing_newline_is_refused(setting):
    """Python's ``$`` also matches before a final newline: a YAML block scalar (``table: |``) ends in one."""
    build, good, _ = VALID_PREFIX_BAD_TAIL[setting]
    with pytest.raises(SourceConfigError, match=re.escape(repr(good + "\n"))):
        parse_sources(build(good + "\n"), WHERE)
