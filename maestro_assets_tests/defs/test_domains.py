"""The code location is the merge of its domains: any valid sources file loads, and a new domain
(a package under defs/ with a definitions.py) joins without an edit to definitions.py."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, Definitions

from maestro_assets.definitions import defs, domain_definitions

ROOT = Path(__file__).resolve().parents[2]
SQL = {
    "name": "crm",
    "kind": "sql",
    "connection_env": "CRM_URL",
    "tables": [{"table": "customers", "keys": ["id"]}, {"table": "orders", "watermark": "placed_at"}],
}
FILES = {"name": "drop", "kind": "files", "tables": [{"table": "events", "prefix": "landing/events/", "format": "csv"}]}
REST = {"name": "api", "kind": "rest", "connection_env": "API_URL", "tables": [{"table": "runs", "path": "/runs"}]}


@pytest.mark.parametrize(
    ("sources", "has_sensor"),
    [([SQL], False), ([FILES], True), ([REST], False), ([SQL, REST], False), ([SQL, FILES, REST], True)],
    ids=["sql-only", "files-only", "rest-only", "no-files", "all-kinds"],
)
def test_any_valid_sources_file_loads(sources, has_sensor, tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"start_date": "2026-01-01", "sources": sources}))
    probe = textwrap.dedent("""
        from dagster import Definitions
        from maestro_assets.definitions import defs
        Definitions.validate_loadable(defs)
        print(sorted(k.to_user_string() for k in defs.resolve_all_asset_keys() if k.path[0] == "bronze"))
        print([s.name for s in defs.sensors])
    """)
    env = {**os.environ, "MAESTRO_SOURCES": str(path), "MAESTRO_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    bronze, sensors = done.stdout.strip().splitlines()[-2:]
    expected = sorted(f"bronze/{s['name']}/{t['table']}" for s in sources for t in s["tables"])
    assert bronze == str(expected)
    assert ("landing_files_sensor" in sensors) == has_sensor


def test_a_new_domain_joins_the_code_location_without_editing_definitions(tmp_path, monkeypatch):
    package = tmp_path / "throwaway_defs"
    (package / "reports").mkdir(parents=True)
    (package / "notes").mkdir()  # a folder without definitions.py is not a domain
    (package / "__init__.py").write_text("")
    (package / "reports" / "__init__.py").write_text("")
    (package / "notes" / "__init__.py").write_text("")
    (package / "reports" / "definitions.py").write_text(
        textwrap.dedent("""
        from dagster import AssetKey, Definitions, asset

        @asset(key=AssetKey(["gold", "weekly_report"]), deps=[AssetKey(["silver", "demo_db", "users"])],
               group_name="reports", owners=["team:ml"], kinds={"pandas"}, description="stand-in")
        def weekly_report(): ...

        defs = Definitions(assets=[weekly_report])
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import throwaway_defs

    found = domain_definitions(throwaway_defs)
    assert list(found) == ["reports"]
    merged = Definitions.merge(defs, *found.values())
    Definitions.validate_loadable(merged)
    graph = merged.resolve_asset_graph()
    assert AssetKey(["silver", "demo_db", "users"]) in graph.get(AssetKey(["gold", "weekly_report"])).parent_keys


def test_the_real_domains_are_the_packages_under_defs():
    assert set(domain_definitions()) == {
        "alerts",
        "analytics",
        "backup",
        "demo",
        "feature_store",
        "features",
        "ingestion",
        "models",
        "monitoring",
        "platform",
        "quality",
    }
