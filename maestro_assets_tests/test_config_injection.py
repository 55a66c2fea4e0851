"""SQL identifier safety: names from the sources, rules and model-requirements files reach SQL
(tables, columns, watermarks, asset tables), so a name that could change a statement is refused
when the file is read, with an error naming the file and the entry."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from maestro_assets.lib.ingestion.sources import SourceConfigError, load_sources
from maestro_assets.lib.models.requirements import ModelRequirementsError, load_model_requirements
from maestro_assets.lib.quality.rules import RulesError, load_rules

PACKAGE = Path(__file__).resolve().parents[1] / "maestro_assets"
DROP_TABLE = "tasks; DROP TABLE users"
OR_TRUE = 'x" OR 1=1 --'


def _shipped(name: str) -> dict:
    return yaml.safe_load((PACKAGE / name).read_text())


def _write(tmp_path: Path, name: str, document: dict) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _table(document: dict, source: str, table: str) -> dict:
    entries = next(s for s in document["sources"] if s["name"] == source)["tables"]
    return next(t for t in entries if t["table"] == table)


def test_the_shipped_files_pass_the_identifier_checks():
    assert load_sources(PACKAGE / "sources.yaml").sources
    assert load_rules(PACKAGE / "quality_rules.yaml").tables
    assert load_model_requirements(PACKAGE / "models.yaml")


@pytest.mark.parametrize(
    ("setting", "value", "refused"),
    [("table", DROP_TABLE, "table 'tasks; DROP TABLE users'"), ("watermark", OR_TRUE, "watermark column")],
)
def test_sources_file_refuses_a_table_or_column_that_is_sql(tmp_path, setting, value, refused):
    document = _shipped("sources.yaml")
    _table(document, "demo_db", "tasks" if setting == "table" else "task_events")[setting] = value
    path = _write(tmp_path, "my_sources.yaml", document)
    with pytest.raises(SourceConfigError) as raised:
        load_sources(path)
    message = str(raised.value)
    assert str(path) in message and "source 'demo_db'" in message and refused in message
    assert value in message


def test_rules_file_refuses_a_column_name_that_is_sql(tmp_path):
    document = _shipped("quality_rules.yaml")
    document["tables"]["demo_db/task_events"]["columns"][OR_TRUE] = {"dtype": "int64"}
    path = _write(tmp_path, "my_rules.yaml", document)
    with pytest.raises(RulesError) as raised:
        load_rules(path)
    message = str(raised.value)
    assert str(path) in message and "table 'demo_db/task_events'" in message and f"column {OR_TRUE!r}" in message


def test_rules_file_refuses_a_table_key_that_is_sql(tmp_path):
    document = _shipped("quality_rules.yaml")
    document["tables"][f"demo_db/{DROP_TABLE}"] = document["tables"].pop("demo_db/tasks")
    path = _write(tmp_path, "my_rules.yaml", document)
    with pytest.raises(RulesError) as raised:
        load_rules(path)
    assert str(path) in str(raised.value) and DROP_TABLE in str(raised.value)


def test_model_requirements_file_refuses_a_training_set_that_is_sql(tmp_path):
    document = _shipped("models.yaml")
    document["models"]["task_lateness"]["training_set"] = DROP_TABLE
    path = _write(tmp_path, "my_models.yaml", document)
    with pytest.raises(ModelRequirementsError) as raised:
        load_model_requirements(path)
    message = str(raised.value)
    assert str(path) in message and "task_lateness.training_set" in message
