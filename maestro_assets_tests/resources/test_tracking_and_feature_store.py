"""MLflow tracking (local store and a real ``mlflow server``) and the Feast repository."""

from __future__ import annotations

import pytest

from maestro_assets.lib.errors import ConfigurationError
from maestro_assets.lib.tracking import PARENT_RUN_TAG, Tracking
from maestro_assets.resources import FeatureStoreResource, MlflowResource


def exercise(tracking: Tracking) -> None:
    tracking.check()
    with tracking.run(["features", "user_features"], run_name="study", tags={"dagster/run_id": "r1"}) as parent:
        for trial in range(3):
            with tracking.run(
                ["features", "user_features"], run_name=f"trial-{trial}", parent_run_id=parent.info.run_id
            ) as child:
                tracking.log_batch(child.info.run_id, params={"trial": trial}, metrics={"score": trial / 10})
    experiment = tracking.client.get_experiment_by_name("maestro/features/user_features")
    assert experiment is not None and experiment.experiment_id == parent.info.experiment_id
    children = tracking.child_runs(parent.info.run_id)
    assert sorted(r.data.params["trial"] for r in children) == ["0", "1", "2"]
    assert all(r.data.tags[PARENT_RUN_TAG] == parent.info.run_id for r in children)
    assert {r.info.status for r in children} == {"FINISHED"}
    assert tracking.client.get_run(parent.info.run_id).data.tags["dagster/run_id"] == "r1"
    # an experiment per asset: another asset gets another experiment
    assert tracking.experiment_id("other") != parent.info.experiment_id


def test_local_store_default_under_maestro_home(maestro_home):
    tracking = MlflowResource().client()
    assert tracking.tracking_uri == f"sqlite:///{maestro_home / 'mlflow' / 'mlflow.db'}"
    exercise(tracking)
    assert (maestro_home / "mlflow" / "mlflow.db").exists()


def test_local_store_commits_in_wal_mode(maestro_home):
    """The SQLite store is in WAL mode (kept in the file, so the UI's mlflow server reads while runs
    write) and the store's connections commit with synchronous=NORMAL (1), not SQLite's FULL (2)."""
    import sqlite3

    import sqlalchemy as sa

    tracking = MlflowResource().client()
    exercise(tracking)
    database = maestro_home / "mlflow" / "mlflow.db"
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    engine = tracking.client._tracking_client.store.engine
    with engine.connect() as connection:
        assert connection.execute(sa.text("PRAGMA synchronous")).scalar() == 1
    again = MlflowResource().client()  # another client in the process shares MLflow's store
    again.check()
    with again.client._tracking_client.store.engine.connect() as connection:
        assert connection.execute(sa.text("PRAGMA synchronous")).scalar() == 1


def test_tracking_server(mlflow_server, maestro_home):
    exercise(MlflowResource(tracking_uri=mlflow_server).client())


def test_failed_block_marks_the_run_failed(maestro_home):
    tracking = MlflowResource().client()
    with pytest.raises(RuntimeError):
        with tracking.run("failing") as run:
            raise RuntimeError("boom")
    assert tracking.client.get_run(run.info.run_id).info.status == "FAILED"


@pytest.mark.parametrize(
    "uri, expected",
    [
        ("htp://typo:5000", "is not a tracking URI"),
        ("http://127.0.0.1:9", "no MLflow server answers"),
        ("http://user:topsecret@127.0.0.1:9", "no MLflow server answers"),
    ],
)
def test_bad_tracking_uri_names_the_setting(uri, expected):
    with pytest.raises(ConfigurationError) as info:
        Tracking(uri).check()
    assert str(info.value).startswith("MLFLOW_TRACKING_URI:")
    assert expected in str(info.value)
    assert "topsecret" not in str(info.value)


def test_feature_store_opens_the_project_repo(maestro_home):
    store = FeatureStoreResource().client()
    assert store.project == "maestro"
    assert store.list_feature_views() == []
    assert (maestro_home / "feast" / "registry.db").exists()  # registry under MAESTRO_HOME


def test_feature_store_without_repo_names_the_setting(tmp_path, maestro_home):
    with pytest.raises(ConfigurationError, match="^MAESTRO_FEATURE_REPO:.*no feature_store.yaml"):
        FeatureStoreResource(repo_path=str(tmp_path)).client()
