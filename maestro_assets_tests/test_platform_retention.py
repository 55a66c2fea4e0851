"""Retention (maestro_assets.lib.platform.retention) on a real lake (a folder and the S3 server) and a
real MLflow store (PostgreSQL with a local artifact root): only what is older than the threshold goes,
an MLflow run's artifacts go with it, a run a model version was registered from stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import pandas as pd
import pytest

from maestro_assets.lib import settings
from maestro_assets.lib.errors import ConfigurationError
from maestro_assets.lib.platform.retention import RetentionSettings, apply_retention, load_retention
from maestro_assets.lib.tracking import Tracking

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def day(days_ago: int) -> str:
    return (NOW - timedelta(days=days_ago)).date().isoformat()


def test_lake_partitions_older_than_the_layer_threshold_are_deleted(lake_resource):
    lake = lake_resource.client()
    frame = pd.DataFrame({"x": [1, 2]})
    for days_ago in (3, 29, 31, 90):
        lake.write_partition("silver", "tasks", ("day", day(days_ago)), frame)
        lake.write_partition("quarantine", "tasks", ("day", day(days_ago)), frame)
        lake.write_partition("gold", "features", ("day", day(days_ago)), frame)
    lake.write_partition("bronze", "demo/tasks", ("day", day(400)), frame)  # a bronze table is <source>/<table>
    lake.write_partition("silver", "snapshot", None, frame)  # unpartitioned: never deleted

    retention = RetentionSettings(lake_days={"silver": 30, "quarantine": 10, "bronze": 365})
    report = apply_retention(lake, None, retention, now=NOW)

    assert report.deleted_partitions == {
        "bronze": [f"bronze/demo/tasks/day={day(400)}"],
        "quarantine": [f"quarantine/tasks/day={day(d)}" for d in (90, 31, 29)],
        "silver": [f"silver/tasks/day={day(d)}" for d in (90, 31)],
    }
    assert report.deleted_objects == 6
    assert lake.partitions("silver", "tasks") == [day(29), day(3)]
    assert lake.partitions("quarantine", "tasks") == [day(3)]
    assert len(lake.partitions("gold", "features")) == 4  # gold has no threshold: kept
    assert lake.exists("silver/snapshot/part-0.parquet")
    assert lake.partitions("bronze", "demo/tasks") == []


def test_old_mlflow_runs_go_with_their_artifacts(maestro_home, postgres_url):
    # MLflow's backend store on PostgreSQL, as in production (its migrations are quicker there than on SQLite)
    tracking = Tracking(postgres_url, artifact_root=settings.default_mlflow_artifact_root())
    client = tracking.client
    experiment = client.create_experiment("retention", artifact_location=settings.default_mlflow_artifact_root())

    def run(days_ago: int) -> str:
        started = int((NOW - timedelta(days=days_ago)).timestamp() * 1000)
        run_id = client.create_run(experiment, start_time=started).info.run_id
        client.log_text(run_id, "weights", "model/weights.txt")
        client.set_terminated(run_id, end_time=started + 1000)
        return run_id

    old, young, registered = run(200), run(179), run(300)
    client.create_registered_model("kept_model")
    client.create_model_version("kept_model", f"runs:/{registered}/model", run_id=registered)
    folders = {
        run_id: Path(url2pathname(urlparse(client.get_run(run_id).info.artifact_uri).path))
        for run_id in (old, young, registered)
    }
    assert all(folder.is_relative_to(maestro_home) for folder in folders.values())
    assert all((folder / "model" / "weights.txt").exists() for folder in folders.values())

    report = apply_retention(None, tracking, RetentionSettings(mlflow_run_days=180), now=NOW)

    assert [r["run_id"] for r in report.deleted_runs] == [old]
    assert report.deleted_runs[0]["purged"] is True
    assert report.kept_runs == {registered: "registered as kept_model v1"}
    assert not folders[old].exists()  # the artifacts are gone, not only the run
    with pytest.raises(Exception, match="not found"):
        client.get_run(old)  # removed from the store, not just marked deleted
    assert (folders[young] / "model" / "weights.txt").read_text() == "weights"
    assert client.get_run(young).info.lifecycle_stage == "active"
    assert (folders[registered] / "model" / "weights.txt").exists()


def test_retention_settings_come_from_the_yaml_and_default_to_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv(settings.ENV_RETENTION, raising=False)
    assert load_retention() == RetentionSettings()  # nothing configured: nothing is deleted
    path = tmp_path / "retention.yaml"
    path.write_text("lake_days:\n  silver: 30\nmlflow_run_days: 90\n")
    monkeypatch.setenv(settings.ENV_RETENTION, str(path))
    assert load_retention() == RetentionSettings(lake_days={"silver": 30}, mlflow_run_days=90)
    path.write_text("lake_days:\n  platinum: 30\n")
    with pytest.raises(
        ConfigurationError, match="MAESTRO_RETENTION: .*retention.yaml: .*lake_days.platinum: not a lake layer"
    ):
        load_retention()
    path.write_text("lake_days:\n  silver: 0\n")
    with pytest.raises(ConfigurationError, match="lake_days.silver: must be at least 1 day"):
        load_retention()
