"""The model chain through Dagster on a real MLflow store, warehouse and scoring server:
train -> load test -> promote, a worse challenger blocked by its checks, batch predictions with
drift checks, and the retraining sensor reading the drift they recorded."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from dagster import AssetKey, DagsterInstance, build_sensor_context, materialize

from maestro_assets.defs.analytics.assets import artifact_library
from maestro_assets.defs.models.assets import (
    CHAMPION_CHECK,
    FEATURE_DRIFT_CHECK,
    REQUIREMENTS_CHECK,
    SERVING_CHECK,
    build_predictions_asset,
    build_promotion_asset,
    build_serving_asset,
    build_training_asset,
)
from maestro_assets.defs.models.sensors import model_retraining_on_drift
from maestro_assets.defs.monitoring.assets import build_readiness_asset
from maestro_assets.defs.runs import partition_range_tags
from maestro_assets.lib.analytics.store import Artifact, ArtifactUsage, ArtifactVersion
from maestro_assets.lib.models.lifecycle import DRIFT_TABLE, drift_history
from maestro_assets.lib.models.registry import ModelRegistry
from maestro_assets.lib.models.requirements import load_model_requirements
from maestro_assets.resources import FeatureStoreResource, LakeResource, MlflowResource, WarehouseResource
from maestro_assets_tests.lib.models.snapshots import write_gold_day, write_snapshot

REQUIREMENTS = """
models:
  task_lateness:
    description: Will a task finish late?
    task: classification
    training_set: training_set_task_lateness
    primary_metric: roc_auc
    baseline: {roc_auc: 0.65, recall: 0.3}
    costs: {false_negative: 5.0, false_positive: 1.0}
    max_training_seconds: 600
    serving: {p99_ms: 5000, min_throughput_per_s: 5}
    data: {min_training_rows: 100, min_positive_ratio: 0.05}
    features: {min: 5, max: 100}
"""
SEARCH = {"time_budget_s": None, "max_trials": 2, "families": ["logistic_regression"], "cv": 3}


@pytest.fixture
def chain(maestro_home, tmp_path):
    path = tmp_path / "models.yaml"
    path.write_text(REQUIREMENTS)
    req = load_model_requirements(path)["task_lateness"]
    assets = {
        "train": build_training_asset(req),
        "serve": build_serving_asset(req),
        "promote": build_promotion_asset(req),
        "predict": build_predictions_asset(req),
    }
    resources = {"lake": LakeResource(), "mlflow": MlflowResource(), "warehouse": WarehouseResource()}
    return req, assets, resources


def _checks(result) -> dict[str, bool]:
    return {c.check_name: c.passed for c in result.get_asset_check_evaluations()}


def test_train_serve_promote_then_a_worse_challenger_is_blocked_then_predict_and_drift(chain):
    req, assets, resources = chain
    lake = resources["lake"].client()
    registry = ModelRegistry(resources["mlflow"].client(), resources["warehouse"].client())
    config = {"ops": {"model_task_lateness": {"config": SEARCH}}}
    write_snapshot(lake, seed=1, rows=500)
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [assets["train"], assets["serve"], assets["promote"]],
            resources=resources,
            instance=instance,
            run_config=config,
        )
        assert result.success
        assert _checks(result) == {REQUIREMENTS_CHECK: True, CHAMPION_CHECK: True, SERVING_CHECK: True}
        training = result.asset_materializations_for_node("model_task_lateness")[0].metadata
        assert training["model_version"].value == "1"
        assert (
            "rank" in training["leaderboard"].value.splitlines()[0]
            and "data:image/png;base64" in training["plots"].value
        )
        assert 0 < training["decision_threshold"].value < 0.5  # a missed late task costs 5x a false alarm
        serving = result.asset_materializations_for_node("serving_check_task_lateness")[0].metadata
        assert serving["one_row_p50_ms"].value <= serving["one_row_p99_ms"].value
        assert registry.aliases("task_lateness") == {"challenger": "1", "champion": "1"}

        # labels that do not depend on the features: below the baseline and worse than the champion
        write_snapshot(lake, seed=2, rows=500, label_noise=True)
        worse = materialize(
            [assets["train"], assets["serve"], assets["promote"]],
            resources=resources,
            instance=instance,
            run_config=config,
            raise_on_error=False,
        )
        assert _checks(worse) == {REQUIREMENTS_CHECK: False, CHAMPION_CHECK: False}  # serving never ran
        assert not worse.asset_materializations_for_node("model_promotion_task_lateness")
        assert registry.aliases("task_lateness") == {"challenger": "2", "champion": "1"}
        # promotion on its own (another run) still refuses a version whose gates failed
        alone = materialize([assets["promote"]], resources=resources, instance=instance)
        promotion = alone.asset_materializations_for_node("model_promotion_task_lateness")[0].metadata
        assert promotion["promoted"].value is False and "requirements=fail" in promotion["reason"].value
        assert registry.alias_version("task_lateness", "champion") == "1"
        history = registry.history("task_lateness")
        assert list(history["alias"]) == ["challenger", "champion", "challenger"]

        # three days, the last two shifted: predictions by the champion, drift on the shifted days
        first = date(2026, 9, 1)
        days = [first + timedelta(days=i) for i in range(3)]
        for i, day in enumerate(days):
            write_gold_day(lake, day, rows=400, seed=10 + i, shift=0.0 if i == 0 else 6.0)
        predicted = materialize(
            [assets["predict"]],
            resources=resources,
            instance=instance,
            tags=partition_range_tags(str(days[0]), str(days[-1])),
        )
        assert predicted.success
        per_day = {
            m.partition: m.metadata
            for m in predicted.asset_materializations_for_node("batch_predictions_task_lateness")
            if m.partition
        }
        assert set(per_day) == {str(d) for d in days}
        assert all(m["dagster/row_count"].value == 400 and m["model_version"].value == "1" for m in per_day.values())
        drift = {c.check_name: c for c in predicted.get_asset_check_evaluations()}
        assert drift[FEATURE_DRIFT_CHECK].passed is False
        assert drift[FEATURE_DRIFT_CHECK].metadata["days_drifted"].value == 2
        warehouse = resources["warehouse"].client()
        stored = warehouse.query(
            "SELECT partition_date, model_version, COUNT(*) AS n FROM predictions_task_lateness "
            "GROUP BY partition_date, model_version"
        )
        assert sorted(stored["partition_date"]) == [str(d) for d in days] and set(stored["n"]) == {400}
        recorded = drift_history(warehouse, "task_lateness")
        assert list(recorded["drifted"]) == [False, True, True]
        assert "task_features__estimated_hours" in recorded["drifted_features"].iloc[-1]

        # two drifted days are not yet persistent drift; a third is, and the sensor asks for a retraining
        context = build_sensor_context(instance=instance, resources={"warehouse": resources["warehouse"]})
        assert model_retraining_on_drift(context).skip_message
        write_gold_day(lake, days[-1] + timedelta(days=1), rows=400, seed=20, shift=6.0)
        assert materialize(
            [assets["predict"]], resources=resources, instance=instance, partition_key=str(days[-1] + timedelta(days=1))
        ).success
        result = model_retraining_on_drift(
            build_sensor_context(instance=instance, resources={"warehouse": resources["warehouse"]})
        )
        (request,) = result.run_requests
        assert request.asset_selection == [AssetKey("model_task_lateness")]
        assert request.tags["maestro/drift_days"] == "2026-09-02,2026-09-03,2026-09-04"
        assert "task_features__estimated_hours" in request.tags["maestro/drift_features"]
        again = build_sensor_context(
            instance=instance, cursor=result.cursor, resources={"warehouse": resources["warehouse"]}
        )
        assert model_retraining_on_drift(again).skip_message  # requested once per drifted stretch
        assert warehouse.has_table(DRIFT_TABLE)

        # readiness from that evidence: no silver or Feast in this instance, no rollback yet
        readiness = materialize(
            [build_readiness_asset(req)],
            resources={**resources, "feature_store": FeatureStoreResource()},
            instance=instance,
        )
        card = readiness.asset_materializations_for_node("ml_readiness_task_lateness")[0].metadata
        table = card["checklist"].value
        for ready in (
            "model meets its baselines",
            "registered in MLflow",
            "promotion audited",
            "serving load-tested",
            "drift detection running",
        ):
            assert f"| {ready} | ✅ ready |" in table, table
        for missing in ("rollback tested", "features registered", "data quality checks"):
            assert any(line.startswith(f"| {missing}") and "❌ not yet" in line for line in table.splitlines())
        assert card["ready"].value == "5/8" and "# Model card: task_lateness" in card["model_card"].value
        assert "champion version 1 tagged maestro.gate.requirements=pass" in table

        # the artifact library: the model's MLflow versions, and each day's predictions as a use of version 1
        library = materialize([artifact_library], resources=resources, instance=instance)
        assert library.success
        engine = resources["warehouse"].client().engine
        with engine.connect() as conn:
            uses = conn.execute(
                sa.select(ArtifactVersion.version, ArtifactUsage.consumer_name, ArtifactUsage.how)
                .join(ArtifactVersion, ArtifactVersion.id == ArtifactUsage.artifact_version_id)
                .join(Artifact, Artifact.id == ArtifactVersion.artifact_id)
                .where(Artifact.kind == "model", Artifact.name == "task_lateness")
            ).all()
            versions = conn.execute(
                sa.select(ArtifactVersion.version, ArtifactVersion.source)
                .join(Artifact, Artifact.id == ArtifactVersion.artifact_id)
                .where(Artifact.kind == "model", Artifact.name == "task_lateness")
            ).all()
        assert {(v, s) for v, s in versions} >= {("1", "mlflow"), ("2", "mlflow")}
        predicted_days = len(days) + 1
        assert sorted(uses) == [("1", "batch_predictions_task_lateness", "predictions")] * predicted_days


def test_batch_predictions_without_a_champion_name_the_fix(chain):
    req, assets, resources = chain
    write_gold_day(resources["lake"].client(), date(2026, 9, 1), rows=50)
    result = materialize([assets["predict"]], resources=resources, partition_key="2026-09-01", raise_on_error=False)
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error.message
    assert "no version holds the alias champion" in failure and "model_promotion_task_lateness" in failure


def test_too_few_training_rows_fail_before_any_search_naming_the_requirement(chain):
    req, assets, resources = chain
    write_snapshot(resources["lake"].client(), seed=3, rows=60)
    result = materialize(
        [assets["train"]],
        resources=resources,
        run_config={"ops": {"model_task_lateness": {"config": SEARCH}}},
        raise_on_error=False,
    )
    failure = result.get_step_failure_events()[0].step_failure_data.error.message
    assert "has 48 training rows, fewer than the 100" in failure and "task_lateness.data.min_training_rows" in failure
    assert not result.get_asset_check_evaluations()  # nothing registered, no alias moved
