"""The analytics domain through Dagster on a real instance, warehouse, lake and git repository:
the demo's git repository and CI export at a tiny scale feed the weekly git and CI/CD metrics,
and the artifact library reads the instance's materializations incrementally; the CLI finds them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from dagster import AssetKey, DagsterInstance, DefaultScheduleStatus, build_schedule_context, materialize

from maestro_assets.cli import main
from maestro_assets.definitions import defs as code_location
from maestro_assets.defs.analytics.assets import (
    artifact_library,
    cicd_weekly_metrics,
    git_weekly_metrics,
    top_artifacts,
)
from maestro_assets.defs.demo.assets import CI_EXPORT_KEY, demo_source_system
from maestro_assets.defs.ingestion.assets import bronze_assets
from maestro_assets.defs.quality.assets import silver_assets
from maestro_assets.defs.runs import partition_range_tags
from maestro_assets.lib import settings
from maestro_assets.lib.analytics.artifacts import ArtifactLibrary
from maestro_assets.lib.analytics.cicd import cicd_metrics, github_export_records, github_run, week_window
from maestro_assets.lib.analytics.config import load_analytics_config
from maestro_assets.lib.analytics.git_metrics import commit_times, iter_commits, repository_week, week_start_of
from maestro_assets.lib.analytics.process_metrics import cicd_week_values, git_week_values, read_week
from maestro_assets.lib.analytics.store import ArtifactUsage, ArtifactVersion, ProcessMetric
from maestro_assets.resources import DemoSourceDatabaseResource, LakeResource, MlflowResource, WarehouseResource

SCALE = 0.01
REPOSITORY = "platform-service"
BRONZE = {a.key: a for a in bronze_assets()}
SILVER = {a.key: a for a in silver_assets()}
TASKS, USERS = AssetKey(["bronze", "demo_db", "tasks"]), AssetKey(["bronze", "demo_db", "users"])
SILVER_USERS = AssetKey(["silver", "demo_db", "users"])


@pytest.fixture
def demo_resources(maestro_home):
    return {
        "demo_source_db": DemoSourceDatabaseResource(),
        "lake": LakeResource(),
        "warehouse": WarehouseResource(),
        "mlflow": MlflowResource(),
    }


def seed(instance, resources) -> None:
    config = {"ops": {"demo_source_system": {"config": {"scale": SCALE, "seed": 3}}}}
    assert materialize([demo_source_system], resources=resources, run_config=config, instance=instance).success


def busiest_week() -> date:
    weeks = [c.week for c in iter_commits(settings.demo_git_path()) if not c.is_merge]
    return max(set(weeks), key=weeks.count)


@pytest.fixture(params=["sqlite", "postgres"])
def warehouse(request, maestro_home):
    """The embedded SQLite warehouse, and PostgreSQL: the migrations and the week's replace on both."""
    return WarehouseResource(url=request.getfixturevalue("postgres_url") if request.param == "postgres" else None)


def stored_rows(engine, week: date) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(ProcessMetric).where(ProcessMetric.period_start == week)
        ).scalar_one()


def test_git_weekly_metrics_writes_what_repository_week_computes_and_a_rerun_replaces_it(demo_resources, warehouse):
    demo_resources = {**demo_resources, "warehouse": warehouse}
    with DagsterInstance.ephemeral() as instance:
        seed(instance, demo_resources)
        week = busiest_week()
        for _ in range(2):  # the second run of the week replaces its rows
            result = materialize(
                [git_weekly_metrics],
                resources=demo_resources,
                instance=instance,
                partition_key=week.isoformat(),
                selection=[git_weekly_metrics],
            )
            assert result.success
    metrics, contributors = repository_week(settings.demo_git_path(), week)
    assert metrics.commits > 0 and contributors
    engine = demo_resources["warehouse"].client().engine
    stored = read_week(engine, "repository", REPOSITORY, week, "git.")
    assert stored == git_week_values(metrics, contributors)
    assert stored_rows(engine, week) == len(stored)  # the re-run replaced the week's rows, no duplicates
    assert stored["git.commits"] == metrics.commits
    assert sum(v for k, v in stored.items() if k.startswith("git.contributor.commits.")) == metrics.commits
    metadata = result.asset_materializations_for_node("git_weekly_metrics")[-1].metadata
    assert metadata["dagster/row_count"].value == metadata["rows_written"].value == len(stored)
    assert str(metrics.collaboration_score) in metadata["collaboration_score"].value


def test_cicd_weekly_metrics_writes_each_weeks_pipeline_and_dora_figures_in_one_run(demo_resources):
    lake = demo_resources["lake"]
    with DagsterInstance.ephemeral() as instance:
        seed(instance, demo_resources)
        export = json.loads(lake.client().get(CI_EXPORT_KEY))
        runs = [github_run(r, "export", i) for i, r in enumerate(github_export_records(export, "export"))]
        deployed = sorted(run.created_at for run in runs if run.is_deployment)
        weeks = [week_start_of(deployed[len(deployed) // 2])]
        weeks.append(weeks[0] + timedelta(days=7))
        result = materialize(  # two weeks in one run, as a single-run backfill does
            [cicd_weekly_metrics],
            resources=demo_resources,
            instance=instance,
            tags=partition_range_tags(*(w.isoformat() for w in weeks)),
        )
        assert result.success
        assert instance.get_materialized_partitions(cicd_weekly_metrics.key) == {w.isoformat() for w in weeks}
    times = commit_times(settings.demo_git_path())
    engine = demo_resources["warehouse"].client().engine
    for week in weeks:
        expected = cicd_metrics(runs, *week_window(week), commit_times=times)
        assert read_week(engine, "repository", REPOSITORY, week) == cicd_week_values(expected)
    first = cicd_metrics(runs, *week_window(weeks[0]), commit_times=times)
    assert first.runs > 0 and first.dora.completed_deployments > 0
    metadata = result.asset_materializations_for_node("cicd_weekly_metrics")[-1].metadata
    assert metadata["weeks"].value == 2
    assert first.dora.bands["deployment_frequency"] in metadata["dora_bands"].value


def test_artifact_library_registers_only_what_is_new_and_the_cli_finds_it(
    demo_resources, tmp_path, monkeypatch, capsys
):
    url = f"sqlite:///{tmp_path / 'analytics.db'}"
    monkeypatch.setenv(settings.ENV_WAREHOUSE_URL, url)
    resources = {**demo_resources, "warehouse": WarehouseResource(url=url)}
    everything = [
        demo_source_system,
        BRONZE[TASKS],
        BRONZE[USERS],
        SILVER[SILVER_USERS],
        artifact_library,
        top_artifacts,
    ]

    def run(*assets):
        result = materialize(everything, resources=resources, instance=instance, selection=list(assets))
        assert result.success
        return result

    with DagsterInstance.ephemeral() as instance:
        seed(instance, resources)
        run(BRONZE[TASKS])
        first = run(artifact_library).asset_materializations_for_node("artifact_library")[-1].metadata
        assert first["registered"].value == [f"bronze/demo_db/tasks@{_version(instance, TASKS)}"]

        run(BRONZE[USERS], SILVER[SILVER_USERS])  # a dataset and its consumer arrive between two reads
        second = run(artifact_library).asset_materializations_for_node("artifact_library")[-1].metadata
        users_version = _version(instance, USERS)
        users = f"bronze/demo_db/users@{users_version}"
        silver = f"silver/demo_db/users@{_version(instance, SILVER_USERS)}"
        assert second["registered"].value == [users, silver]
        assert second["usage_recorded"].value == 1  # silver users read bronze users
        assert second["materializations_read"].value == 3  # bronze and silver users, and the first read itself
        assert second["mlflow_versions_read"].value == 0

        register_model_version(resources["mlflow"].client().client, tmp_path, "churn_model")
        third = run(artifact_library).asset_materializations_for_node("artifact_library")[-1].metadata
        assert third["registered"].value == []  # no new materialization but the second read's own
        assert (third["mlflow_versions_read"].value, third["mlflow_versions_registered"].value) == (1, 1)
        fourth = run(artifact_library).asset_materializations_for_node("artifact_library")[-1].metadata
        assert (fourth["mlflow_versions_read"].value, fourth["materializations_read"].value) == (0, 1)

        top = run(top_artifacts).asset_materializations_for_node("top_artifacts")[-1].metadata
        assert "bronze/demo_db/users" in top["impact"].value
        assert top["usage_over_time"].value.startswith("![usage of the top artifacts](data:image/png;base64,")

    library = ArtifactLibrary(url)
    with library.engine.connect() as conn:  # the exact version silver read, from its input data version
        uses = conn.execute(
            sa.select(ArtifactVersion.version, ArtifactUsage.consumer_name, ArtifactUsage.how).join(
                ArtifactVersion, ArtifactVersion.id == ArtifactUsage.artifact_version_id
            )
        ).all()
    assert [tuple(u) for u in uses] == [(users_version, "silver/demo_db/users", "lineage")]
    used = library.catalogue().set_index("name")
    assert used.loc["bronze/demo_db/users", "uses"] == 1 and used.loc["bronze/demo_db/tasks", "uses"] == 0
    capsys.readouterr()
    assert main(["artifacts", "search", "--kind", "dataset", "users"]) == 0
    out = capsys.readouterr().out
    assert "bronze/demo_db/users" in out and "tasks" not in out
    assert (
        main(
            [
                "artifacts",
                "register",
                "--kind",
                "code",
                "--name",
                "ingest-lib",
                "--version",
                "1.2.0",
                "--owner",
                "team:data",
                "--tag",
                "python",
            ]
        )
        == 0
    )
    assert main(["artifacts", "search", "--tag", "python"]) == 0
    out = capsys.readouterr().out
    assert "ingest-lib" in out and "1.2.0" in out and "bronze" not in out
    assert main(["artifacts", "search", "--kind", "model"]) == 0
    out = capsys.readouterr().out
    assert "churn_model" in out and "team:ml" in out


def register_model_version(client, tmp_path, name: str) -> None:
    """A model version in the MLflow registry, made the way a training run makes one."""
    experiment = client.create_experiment("analytics_assets", artifact_location=(tmp_path / "mlruns").as_uri())
    run_id = client.create_run(experiment, tags={"owner": "team:ml"}).info.run_id
    client.log_text(run_id, "flavors: {}\n", "model/MLmodel")
    client.create_registered_model(name)
    client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)


def _version(instance, key: AssetKey) -> str:
    event = instance.get_latest_materialization_event(key)
    return event.asset_materialization.tags["dagster/data_version"]


def test_a_bad_analytics_file_names_the_file_and_the_field(tmp_path):
    path = tmp_path / "analytics.yaml"
    path.write_text("ci_sources:\n  - {name: x, kind: github, owner: me}\n")
    with pytest.raises(Exception, match=r"analytics.yaml: ci_sources.0: .*needs `owner` and `repo`"):
        load_analytics_config(path)
    path.write_text("repositories:\n  - {name: a}\nci_sources:\n  - {name: b, lake_key: k, repository: nope}\n")
    with pytest.raises(Exception, match=r"ci_sources.0.repository: 'nope' is not one of the repositories \(a\)"):
        load_analytics_config(path)


def test_maestro_analytics_names_the_file_and_relative_paths_are_the_files_own(tmp_path, monkeypatch):
    path = tmp_path / "conf" / "analytics.yaml"
    path.parent.mkdir()
    path.write_text("repositories:\n  - {name: svc, path: ../repos/svc}\nci_sources: []\n")
    monkeypatch.setenv(settings.ENV_ANALYTICS, str(path))
    config = load_analytics_config()
    assert [(r.name, r.local_path()) for r in config.repositories] == [("svc", tmp_path / "repos" / "svc")]
    assert config.ci_sources == []


def test_the_weekly_schedule_is_stopped_and_asks_for_the_week_just_ended():
    schedule = code_location.resolve_schedule_def("analytics_weekly_schedule")
    assert schedule.default_status == DefaultScheduleStatus.STOPPED
    monday = datetime(2026, 10, 12, tzinfo=UTC)
    with DagsterInstance.ephemeral() as instance:
        context = build_schedule_context(instance=instance, scheduled_execution_time=monday)
        [request] = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2026-10-05"
