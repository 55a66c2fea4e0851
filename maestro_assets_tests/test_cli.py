"""`maestro` from a shell, as a user runs it: the demo end to end, and bad settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance

ROOT = Path(__file__).resolve().parents[1]
MAESTRO = str(Path(sys.executable).parent / "maestro")


def run_maestro(*args: str, env: dict, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([MAESTRO, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def user_env(maestro_home):
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env["MAESTRO_HOME"] = str(maestro_home)
    return env


# at scale 0.01 the demo has a few hundred tasks and three scored projects: one model, modest bars
SMALL_DEMO_MODELS = """
models:
  task_lateness:
    task: classification
    training_set: training_set_task_lateness
    primary_metric: roc_auc
    baseline: {roc_auc: 0.55}
    costs: {false_negative: 5.0, false_positive: 1.0}
    max_training_seconds: 900
    serving: {p99_ms: 5000, min_throughput_per_s: 10}
    data: {min_training_rows: 100}
    features: {min: 5, max: 100}
"""


def test_demo_seeds_then_materializes_and_summarizes(user_env, maestro_home, tmp_path):
    models = tmp_path / "models.yaml"
    models.write_text(SMALL_DEMO_MODELS)
    user_env = dict(user_env, MAESTRO_MODELS=str(models))
    done = run_maestro("demo", "--scale", "0.01", env=dict(user_env, PORT="3100"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "seeded" in done.stdout
    assert "Maestro demo summary" in done.stdout
    assert "http://127.0.0.1:3100" in done.stdout  # the port `make ui` will use
    assert "Traceback" not in done.stdout + done.stderr
    assert (maestro_home / "dagster" / "dagster.yaml").exists()
    os.environ["DAGSTER_HOME"] = str(maestro_home / "dagster")
    with DagsterInstance.get() as instance:
        assert instance.get_latest_materialization_event(AssetKey(["demo", "tasks"])) is not None
        # the demo ends with features in the online store and both training sets built
        assert "2026-10-31" in instance.get_materialized_partitions(AssetKey("feast_online_store"))
        for name in ("training_set_task_lateness", "training_set_project_success"):
            event = instance.get_latest_materialization_event(AssetKey(name))
            assert event is not None and event.asset_materialization.metadata["dagster/row_count"].value > 0
        # then the model: trained, load-tested, promoted, predicting every day of the window
        promotion = instance.get_latest_materialization_event(AssetKey("model_promotion_task_lateness"))
        assert promotion.asset_materialization.metadata["champion"].value == "1"
        predicted = instance.get_materialized_partitions(AssetKey("batch_predictions_task_lateness"))
        assert {"2026-08-03", "2026-10-31"} <= predicted

    # a second `maestro demo` at the same scale and seed does not seed again (its materializations are
    # the first run's again: not repeated here, they cost the suite 3 minutes)
    from maestro_assets.cli import _seeded

    assert _seeded(0.01, 42) and not _seeded(0.02, 42) and not _seeded(0.01, 7)


@pytest.mark.parametrize(
    "variable, value, expected",
    [
        (
            "MAESTRO_WAREHOUSE_URL",
            "postgresql+psycopg2://maestro:pw-not-shown@127.0.0.1:1/warehouse",
            "MAESTRO_WAREHOUSE_URL: cannot connect",
        ),
        ("MAESTRO_WAREHOUSE_URL", "not-a-url", "MAESTRO_WAREHOUSE_URL"),
        (
            "MAESTRO_LAKE_URL",
            "s3://maestro-missing-bucket/lake",
            "MAESTRO_LAKE_URL: bucket 'maestro-missing-bucket' does not exist",
        ),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:1", "AWS_ENDPOINT_URL: cannot reach the S3 endpoint"),
        ("MLFLOW_TRACKING_URI", "htp://mlflow:5000", "MLFLOW_TRACKING_URI"),
        ("MLFLOW_TRACKING_URI", "http://127.0.0.1:1", "MLFLOW_TRACKING_URI: no MLflow server answers"),
    ],
)
def test_bad_setting_gives_one_clear_message(user_env, s3_credentials, variable, value, expected):
    env = dict(user_env, AWS_ACCESS_KEY_ID="maestro-test-access", AWS_SECRET_ACCESS_KEY="maestro-test-secret-key")
    if variable == "AWS_ENDPOINT_URL":
        env["MAESTRO_LAKE_URL"] = "s3://any-bucket/lake"
    elif variable == "MAESTRO_LAKE_URL":
        env["AWS_ENDPOINT_URL"] = s3_credentials["endpoint_url"]
    env[variable] = value
    done = run_maestro("demo", "--scale", "0.01", env=env, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert expected in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "pw-not-shown" not in done.stderr + done.stdout
    assert "maestro-test-secret-key" not in done.stderr + done.stdout
