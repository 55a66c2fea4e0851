"""The demo source system materialized through Dagster, on the embedded defaults and on
PostgreSQL + S3 with the same test body."""

from __future__ import annotations

import json
import subprocess

import pytest
from dagster import AssetKey, DagsterInstance, materialize

from maestro_assets.defs.demo.assets import CI_EXPORT_KEY, demo_source_system
from maestro_assets.lib import demo
from maestro_assets.resources import DemoSourceDatabaseResource, LakeResource

SCALE = 0.01


@pytest.fixture(params=["embedded", "postgres+s3"])
def stores(request, maestro_home):
    if request.param == "embedded":
        return {"demo_source_db": DemoSourceDatabaseResource(), "lake": LakeResource()}
    server = request.getfixturevalue("s3_credentials")
    return {
        "demo_source_db": DemoSourceDatabaseResource(url=request.getfixturevalue("postgres_url")),
        "lake": LakeResource(url=request.getfixturevalue("s3_lake_url"), endpoint_url=server["endpoint_url"]),
    }


def test_demo_source_system_materializes_every_output(stores, maestro_home):
    config = {"ops": {"demo_source_system": {"config": {"scale": SCALE, "seed": 7}}}}
    with DagsterInstance.ephemeral() as instance:
        result = materialize([demo_source_system], resources=stores, run_config=config, instance=instance)
        assert result.success
        materialized = {e.asset_key for e in result.get_asset_materialization_events()}
        assert materialized == set(demo_source_system.keys)

        expected = demo.generate(scale=SCALE, seed=7)
        source = stores["demo_source_db"].client()
        for table, frame in expected.tables().items():
            assert source.row_count(table) == len(frame), table
            event = instance.get_latest_materialization_event(AssetKey(["demo", table]))
            metadata = event.asset_materialization.metadata
            assert metadata["dagster/row_count"].value == len(frame)
            assert [c.name for c in metadata["dagster/column_schema"].schema.columns] == list(frame.columns)

    lake = stores["lake"].client()
    landing = demo.landing_files(expected)
    assert sorted(o.key for o in lake.list("landing/") if o.key != CI_EXPORT_KEY) == sorted(landing)
    export = json.loads(lake.get(CI_EXPORT_KEY))
    assert export["total_count"] == len(export["workflow_runs"]) > 0

    repo = maestro_home / "demo" / "git" / "platform-service"
    count = subprocess.run(
        ["git", "-C", str(repo), "rev-list", "--all", "--count"], capture_output=True, text=True, check=True
    ).stdout
    assert int(count) >= 30


def test_rematerializing_replaces_instead_of_duplicating(maestro_home):
    resources = {"demo_source_db": DemoSourceDatabaseResource(), "lake": LakeResource()}
    config = {"ops": {"demo_source_system": {"config": {"scale": SCALE, "seed": 1}}}}
    for _ in range(2):
        assert materialize([demo_source_system], resources=resources, run_config=config).success
    expected = demo.generate(scale=SCALE, seed=1)
    assert resources["demo_source_db"].client().row_count("tasks") == len(expected.tasks)
