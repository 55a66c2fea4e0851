"""The model registry against a real MLflow store (SQLite under a temporary folder, and once a real
`mlflow server` with a PostgreSQL warehouse): register → challenger, promote → champion, the audit
table, rollback one and two steps, and the errors; `maestro models history|rollback` on top."""

from __future__ import annotations

import os
import uuid

import mlflow
import numpy as np
import pandas as pd
import pytest
from conftest import free_port
from dagster import AssetKey
from sklearn.linear_model import LogisticRegression

from maestro_assets.cli import main
from maestro_assets.lib import settings
from maestro_assets.lib.errors import is_transient
from maestro_assets.lib.models.registry import (
    ACTION_PROMOTE,
    ACTION_REGISTER,
    ACTION_REMOVE,
    ACTION_ROLLBACK,
    MissingChampion,
    ModelRegistry,
    ModelRegistryError,
    NoEarlierChampion,
    TrackingServerUnreachable,
    UnknownModel,
    UnknownModelVersion,
    champion_lineage,
)
from maestro_assets.lib.tracking import Tracking
from maestro_assets.lib.warehouse import Warehouse
from maestro_assets_tests.test_cli import run_maestro


def log_tiny_model(tracking_uri: str, artifact_root: str | None = None) -> tuple[str, str]:
    """A logistic regression logged to the store at ``tracking_uri``: (model URI, run id). MLflow's
    fluent API needs a global URI (``set_tracking_uri`` also sets ``MLFLOW_TRACKING_URI``): both are
    put back as they were, so nothing else sees this store."""
    previous = os.environ.get(settings.ENV_MLFLOW_URI)
    mlflow.set_tracking_uri(tracking_uri)
    try:
        X = np.random.default_rng(0).random((30, 2))
        model = LogisticRegression().fit(X, (X[:, 0] > 0.5).astype(int))
        experiment = Tracking(tracking_uri, artifact_root=artifact_root).experiment_id("registry_test")
        with mlflow.start_run(experiment_id=experiment) as run:
            info = mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
        return info.model_uri, run.info.run_id
    finally:
        mlflow.set_tracking_uri(None)  # no global URI, and the variable unset
        if previous is not None:
            os.environ[settings.ENV_MLFLOW_URI] = previous


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One MLflow store and one logged model for the module; each test registers its own model name."""
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    model_uri, run_id = log_tiny_model(uri, artifact_root=(root / "artifacts").as_uri())
    return {"uri": uri, "model_uri": model_uri, "run_id": run_id}


@pytest.fixture
def registry(store, maestro_home):
    return ModelRegistry(Tracking(store["uri"]), Warehouse(f"sqlite:///{maestro_home / 'warehouse.db'}"))


@pytest.fixture
def name():
    return f"model_{uuid.uuid4().hex[:8]}"


def register(registry, store, name, times=1) -> list[str]:
    return [
        registry.register(name, store["model_uri"], store["run_id"], tags={"training_set": "ts"}, dagster_run_id="d1")
        for _ in range(times)
    ]


def test_register_makes_the_new_version_challenger(registry, store, name):
    assert register(registry, store, name, times=2) == ["1", "2"]
    assert registry.aliases(name) == {"challenger": "2"}
    assert registry.tracking.client.get_model_version(name, "2").tags["training_set"] == "ts"
    history = registry.history(name)
    assert list(history["action"]) == [ACTION_REGISTER, ACTION_REGISTER]
    assert list(history["version"]) == ["1", "2"]
    assert history["previous_version"].iloc[0] is None and history["previous_version"].iloc[1] == "1"
    assert history["reason"][0] == f"new version from run {store['run_id']}" and history["dagster_run_id"][0] == "d1"
    with pytest.raises(MissingChampion, match=f"model '{name}' has no champion .*challenger → 2.*promote a version"):
        registry.champion(name)


def test_promote_moves_champion_and_the_audit_keeps_the_previous_holder(registry, store, name):
    register(registry, store, name, times=2)
    assert registry.promote(name, "1", "first model", dagster_run_id="run-a") is None
    assert registry.promote(name, "2", "beats version 1 on the holdout", dagster_run_id="run-b") == "1"
    assert registry.alias_version(name, "champion") == "2" and registry.alias_version(name, "nothing") is None
    promotions = registry.history(name).query("alias == 'champion'")
    assert list(promotions["action"]) == [ACTION_PROMOTE, ACTION_PROMOTE]
    assert list(promotions["version"]) == ["1", "2"]
    assert promotions["previous_version"].iloc[1] == "1" and promotions["previous_version"].iloc[0] is None
    assert list(promotions["reason"]) == ["first model", "beats version 1 on the holdout"]
    assert list(promotions["dagster_run_id"]) == ["run-a", "run-b"]
    changed = registry.history(name)["changed_at"]
    assert str(changed.dt.tz) == "UTC" and changed.is_monotonic_increasing
    assert abs(pd.Timestamp.now(tz="UTC") - changed.iloc[-1]) < pd.Timedelta(minutes=5)


def test_rollback_goes_back_one_step_each_time(registry, store, name):
    register(registry, store, name, times=4)
    for version in ("1", "2", "3"):
        registry.promote(name, version, f"promote {version}")
    assert registry.rollback(name, "version 3 misbehaves", dagster_run_id="ops") == ("3", "2")
    assert registry.champion(name) == "2"
    assert registry.rollback(name, "version 2 too") == ("2", "1")  # further back, not forth to 3
    assert registry.champion(name) == "1"
    rollbacks = registry.history(name).query(f"action == '{ACTION_ROLLBACK}'")
    assert list(zip(rollbacks["previous_version"], rollbacks["version"], strict=True)) == [("3", "2"), ("2", "1")]
    assert rollbacks["reason"].iloc[0] == "version 3 misbehaves" and rollbacks["dagster_run_id"].iloc[0] == "ops"
    with pytest.raises(NoEarlierChampion, match=f"model '{name}' has no earlier champion.*version 1 is champion"):
        registry.rollback(name, "again")
    registry.promote(name, "4", "retrained")  # champions now 1 → 4: a rollback returns to 1
    assert registry.rollback(name, "4 is worse") == ("4", "1")


def test_rollback_after_promotions_past_a_rollback(registry, store, name):
    register(registry, store, name, times=4)
    for version in ("1", "2", "3"):
        registry.promote(name, version, "p")
    registry.rollback(name, "r")  # 1 2 | 3 rolled back
    registry.promote(name, "4", "p")  # 1 2 4
    assert registry.rollback(name, "r") == ("4", "2")
    assert registry.rollback(name, "r") == ("2", "1")


def test_rollback_without_an_earlier_champion_names_the_model_and_its_history(registry, store, name):
    register(registry, store, name, times=2)
    with pytest.raises(MissingChampion, match=f"model '{name}' has no champion"):
        registry.rollback(name, "nothing serves")
    registry.promote(name, "1", "first")
    with pytest.raises(NoEarlierChampion) as caught:
        registry.rollback(name, "no")
    text = str(caught.value)
    assert f"model '{name}' has no earlier champion" in text and "promote - → 1" in text
    assert f"maestro models history {name}" in text
    assert registry.champion(name) == "1" and len(registry.history(name)) == 3  # the failed rollback changed nothing


def test_rollback_refuses_an_alias_moved_outside_maestro(registry, store, name):
    register(registry, store, name, times=3)
    registry.promote(name, "1", "p")
    registry.promote(name, "2", "p")
    registry.tracking.client.set_registered_model_alias(name, "champion", "3")  # not audited
    with pytest.raises(ModelRegistryError, match="champion is version 3 in MLflow, but the audit table"):
        registry.rollback(name, "r")


def test_champion_lineage_is_a_stack():
    rows = pd.DataFrame(
        [
            ("promote", "1", None),
            ("promote", "2", "1"),
            ("promote", "2", "2"),  # the same version again pushes nothing
            ("remove", None, "2"),
            ("promote", "3", None),
            ("rollback", "2", "3"),
        ],
        columns=["action", "version", "previous_version"],
    )
    assert champion_lineage(rows) == ["1", "2"]
    assert champion_lineage(rows.iloc[:5]) == ["1", "2", None, "3"]
    assert ACTION_REMOVE == "remove"


def test_remove_alias_is_audited(registry, store, name):
    register(registry, store, name)
    assert registry.remove_alias(name, "challenger", "withdrawn") == "1"
    assert registry.aliases(name) == {}
    last = registry.history(name).iloc[-1]
    assert (last["action"], last["version"], last["previous_version"]) == ("remove", None, "1")
    with pytest.raises(ModelRegistryError, match="has no alias 'challenger' to remove"):
        registry.remove_alias(name, "challenger", "again")


def test_bad_input_names_the_model_the_version_and_the_fix(registry, store, name):
    register(registry, store, name, times=2)
    with pytest.raises(UnknownModel, match=rf"no registered model 'nope' .*registered models: .*{name}"):
        registry.history("nope")
    with pytest.raises(UnknownModel, match="no registered model 'nope'"):
        registry.promote("nope", "1", "x")
    with pytest.raises(UnknownModelVersion, match=rf"model '{name}' has no version '7' \(its versions: 1, 2\)"):
        registry.promote(name, "7", "x")
    with pytest.raises(ModelRegistryError, match="not a registered model name"):
        registry.history("x' OR '1'='1")
    with pytest.raises(ModelRegistryError, match="give a reason"):
        registry.promote(name, "1", " ")
    assert registry.aliases(name) == {"challenger": "2"}  # nothing moved
    assert registry.history(name)["action"].tolist() == [ACTION_REGISTER, ACTION_REGISTER]


def test_a_change_mlflow_refuses_leaves_no_audit_row(registry, store, name):
    register(registry, store, name)
    with pytest.raises(ModelRegistryError, match=f"model '{name}': cannot set alias 'latest'"):
        registry.set_alias(name, "latest", "1", "reserved by MLflow")
    assert registry.history(name)["action"].tolist() == [ACTION_REGISTER]
    assert registry.set_alias(name, "shadow", "1", "a second opinion") is None
    assert registry.aliases(name) == {"challenger": "1", "shadow": "1"}
    assert registry.history(name)["action"].tolist() == [ACTION_REGISTER, "set"]


def test_the_audit_is_in_utc_on_a_mysql_warehouse_in_another_zone(store, mysql_url, name):
    registry = ModelRegistry(Tracking(store["uri"]), Warehouse(mysql_url))
    register(registry, store, name, times=2)
    registry.promote(name, "1", "p")
    registry.promote(name, "2", "p")
    assert registry.rollback(name, "r") == ("2", "1")
    history = registry.history(name)
    assert history["action"].tolist() == ["register", "register", "promote", "promote", "rollback"]
    assert abs(pd.Timestamp.now(tz="UTC") - history["changed_at"].iloc[-1]) < pd.Timedelta(minutes=5)


def test_an_unreachable_tracking_server_is_a_transient_connection_error(maestro_home):
    uri = f"http://maestro:s3cret-pw@127.0.0.1:{free_port()}"
    registry = ModelRegistry(Tracking(uri), Warehouse(f"sqlite:///{maestro_home / 'warehouse.db'}"))
    with pytest.raises(TrackingServerUnreachable) as caught:
        registry.register("task_lateness", "models:/m-0123", "run")
    error = caught.value
    assert isinstance(error, ConnectionError) and is_transient(error)
    assert "s3cret-pw" not in str(error) and "maestro:***@127.0.0.1" in str(error)
    assert "MLFLOW_TRACKING_URI" in str(error) and "the registry is unchanged" in str(error)
    assert "Connection refused" in str(error)  # the probe reached for the port, credentials left out


# -- the command line ------------------------------------------------------------------------------
@pytest.fixture
def cli_env(store, maestro_home, monkeypatch):
    monkeypatch.setenv(settings.ENV_MLFLOW_URI, store["uri"])
    monkeypatch.setenv(settings.ENV_WAREHOUSE_URL, f"sqlite:///{maestro_home / 'warehouse.db'}")
    return {**os.environ}


def test_cli_history_and_rollback(registry, store, name, cli_env, capsys):
    register(registry, store, name, times=2)
    registry.promote(name, "1", "first")
    registry.promote(name, "2", "second")
    assert main(["models", "history", name]) == 0
    out = capsys.readouterr().out
    assert "aliases now: challenger → version 2, champion → version 2" in out
    assert "4 alias change(s), oldest first:" in out and "second" in out and " UTC" in out
    assert main(["models", "rollback", name, "--reason", "bad predictions"]) == 0
    out = capsys.readouterr().out
    assert f"model '{name}': champion moved back from version 2 to version 1 (bad predictions)" in out
    assert registry.champion(name) == "1" and registry.history(name)["reason"].iloc[-1] == "bad predictions"
    assert main(["models", "rollback", name]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"maestro: error: model '{name}' has no earlier champion") and "Traceback" not in err


def test_cli_names_an_unreachable_tracking_server(maestro_home, monkeypatch, capsys):
    monkeypatch.setenv(settings.ENV_MLFLOW_URI, f"http://127.0.0.1:{free_port()}")
    assert main(["models", "history", "task_lateness"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("maestro: error: the MLflow tracking server at http://127.0.0.1:") and "Traceback" not in err


def test_cli_bad_name_exits_non_zero_without_a_traceback(registry, store, name, cli_env):
    register(registry, store, name)
    for command in ("history", "rollback"):
        done = run_maestro("models", command, "no_such_model", env=cli_env, timeout=120)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "maestro: error: no registered model 'no_such_model'" in done.stderr
        assert name in done.stderr and "Traceback" not in done.stderr


# -- a real server and a PostgreSQL warehouse -------------------------------------------------------
def test_register_promote_rollback_on_an_mlflow_server_with_postgres(mlflow_server, postgres_url):
    model_uri, run_id = log_tiny_model(mlflow_server)
    warehouse = Warehouse(postgres_url)
    registry = ModelRegistry(Tracking(mlflow_server), warehouse)
    name = f"served_{uuid.uuid4().hex[:8]}"
    versions = [registry.register(name, model_uri, run_id, dagster_run_id="run-pg") for _ in range(3)]
    assert versions == ["1", "2", "3"] and registry.alias_version(name, "challenger") == "3"
    for version in versions:
        registry.promote(name, version, f"promote {version}")
    assert registry.rollback(name, "r1") == ("3", "2") and registry.rollback(name, "r2") == ("2", "1")
    assert registry.champion(name) == "1"
    audit = warehouse.query("SELECT action, version, previous_version FROM model_alias_audit ORDER BY id")
    assert audit["action"].tolist() == ["register"] * 3 + ["promote"] * 3 + ["rollback"] * 2
    assert audit["previous_version"].tolist()[-2:] == ["3", "2"]
    assert str(registry.history(name)["changed_at"].dt.tz) == "UTC"


def test_the_demo_leaves_out_predictions_of_a_held_model_without_champion(maestro_home, tmp_path, monkeypatch):
    """A first version held by its serving gate leaves no champion: the demo does not start batch
    predictions that can only fail; a held model that has a champion still predicts with it."""
    from maestro_assets.cli import _model_registry, _without_predictions_of_models_without_champion
    from maestro_assets.defs.models.assets import predictions_key

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    model_uri, run_id = log_tiny_model(uri, artifact_root=(tmp_path / "artifacts").as_uri())
    monkeypatch.setenv(settings.ENV_MLFLOW_URI, uri)
    registry = _model_registry()
    registry.register("project_success", model_uri, run_id)
    registry.promote("project_success", "1", "first model")
    other = AssetKey("gold_x")
    keys = [predictions_key("task_lateness"), predictions_key("project_success"), other]
    held = ["serving_check_task_lateness:serving_requirements", "serving_check_project_success:serving_requirements"]
    assert _without_predictions_of_models_without_champion(keys, held) == (
        [predictions_key("project_success"), other],
        ["batch_predictions_task_lateness"],
    )
    assert _without_predictions_of_models_without_champion(keys, []) == (keys, [])
