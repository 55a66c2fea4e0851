"""Project success prediction through Dagster on a real instance, lake and warehouse: the demo's
projects go bronze → silver → the meta-model, whose predictions land in analytics_predictions for
exactly the running projects, with intervals that contain the point, and whose held-back coverage
and team-size advice are in the metadata. Too small an organisation is a warning, not a failure."""

import pandas as pd
import pytest
import sqlalchemy as sa
from dagster import AssetKey, DagsterInstance, materialize

from maestro_assets.defs.analytics.success import TRAINED_CHECK, project_success_predictions
from maestro_assets.defs.config import DAILY
from maestro_assets.defs.demo.assets import demo_source_system
from maestro_assets.defs.ingestion.assets import bronze_assets
from maestro_assets.defs.quality.assets import silver_assets
from maestro_assets.defs.runs import partition_range_tags
from maestro_assets.lib.analytics.projects import latest_predictions
from maestro_assets.lib.analytics.store import Prediction, Project, TeamMember
from maestro_assets.resources import DemoSourceDatabaseResource, LakeResource, MlflowResource, WarehouseResource

TABLES = ("projects", "tasks", "users", "teams", "artifact_usage")
FAST = {"max_trials": 2, "families": ["ridge"]}


def _keys(layer: str) -> list[AssetKey]:
    return [AssetKey([layer, "demo_db", t]) for t in TABLES]


def _silver_of_the_demo(instance, resources, scale: float) -> pd.DataFrame:
    config = {"ops": {"demo_source_system": {"config": {"scale": scale, "seed": 5}}}}
    assert materialize([demo_source_system], resources=resources, run_config=config, instance=instance).success
    wanted = set(_keys("bronze")) | set(_keys("silver"))
    chosen = [a for a in bronze_assets() + silver_assets() if a.key in wanted]
    keys = DAILY.get_partition_keys()
    for partitioned in (False, True):  # the snapshot tables, then artifact_usage over every day in one run
        group = [a for a in chosen if (a.partitions_def is not None) == partitioned]
        tags = partition_range_tags(keys[0], keys[-1]) if partitioned else None
        assert materialize(group, resources=resources, instance=instance, tags=tags).success
    return resources["lake"].client().read_table("silver", "demo_db/projects")


def _run(instance, resources, config=FAST):
    return materialize(
        [project_success_predictions],
        resources=resources,
        instance=instance,
        run_config={"ops": {"project_success_predictions": {"config": config}}},
    )


def _count(engine, model) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


@pytest.fixture
def resources(maestro_home):
    """The embedded stores (the analytics tables on PostgreSQL: test_analytics_projects.py)."""
    return {
        "demo_source_db": DemoSourceDatabaseResource(),
        "lake": LakeResource(),
        "warehouse": WarehouseResource(),
        "mlflow": MlflowResource(),
    }


def test_running_projects_get_predictions_with_intervals_and_the_metadata_reports_coverage(resources):
    with DagsterInstance.ephemeral() as instance:
        projects = _silver_of_the_demo(instance, resources, scale=0.4)
        result = _run(instance, resources)
        assert result.success
        engine = resources["warehouse"].client().engine
        metadata = result.asset_materializations_for_node("project_success_predictions")[-1].metadata
        [check] = result.get_asset_check_evaluations()
        assert check.check_name == TRAINED_CHECK and check.passed

        latest = latest_predictions(engine)
        running = set(projects.loc[projects["status"] != "completed", "name"])
        assert set(latest["project"]) == running  # every running project, and no finished one
        assert len(latest) == 3 * len(running) == metadata["predictions_written"].value
        assert (latest["lower"] <= latest["value"]).all() and (latest["value"] <= latest["upper"]).all()
        assert latest.loc[latest["target"] == "success_score", "upper"].le(100).all()
        assert (latest["model_version"] == metadata["model_version"].value).all()

        assert metadata["finished_projects"].value == (projects["status"] == "completed").sum()
        for target in ("success_score", "duration_days", "cost"):
            assert 0 <= metadata[f"coverage_{target}"].value <= 1
            assert target in metadata["held_back_evaluation"].value
        assert "best_mean_predicted_success_per_complexity_tercile" in metadata["team_size_recommendation"].value
        assert metadata["held_back_intervals"].value.startswith("![held-back projects")

        assert _count(engine, Project) == len(projects)
        assert _count(engine, TeamMember) == metadata["team_members"].value > 0
        with engine.connect() as conn:
            completed = conn.execute(
                sa.select(Project.name, Project.success_score).where(Project.status == "completed")
            ).all()
        expected = projects[projects["status"] == "completed"].set_index("name")["success_score"]
        assert {name: round(score, 6) for name, score in completed} == expected.round(6).to_dict()

        again = _run(instance, resources)  # a re-run appends a new prediction per project, the tables stay one row each
        assert again.success
        assert _count(engine, Prediction) == 2 * len(latest)
        assert _count(engine, Project) == len(projects)
        assert set(latest_predictions(engine)["model_version"]) == {
            again.asset_materializations_for_node("project_success_predictions")[-1].metadata["model_version"].value
        }


def test_too_few_finished_projects_warns_and_predicts_nothing(resources):
    with DagsterInstance.ephemeral() as instance:
        projects = _silver_of_the_demo(instance, resources, scale=0.01)
        result = _run(instance, resources)
        assert result.success
        [check] = result.get_asset_check_evaluations()
        assert not check.passed and check.severity.value == "WARN"
        assert check.metadata["needed"].value == 30
        engine = resources["warehouse"].client().engine
        assert _count(engine, Prediction) == 0
        assert _count(engine, Project) == len(projects)  # the tables are copied all the same
