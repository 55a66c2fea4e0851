"""Training sets: point-in-time correctness of Feast's retrieval over the gold tables, the
training-set asset's snapshot and manifest, a rebuild giving the same rows, and transforms fitted
on the train split only."""

import json
from datetime import timedelta

import pandas as pd
import pytest
from dagster import DagsterInstance, materialize

from maestro_assets.defs.feature_store.assets import feast_registry
from maestro_assets.defs.feature_store.training import TRAINING_SET_ASSETS
from maestro_assets.defs.features.assets import gold_features
from maestro_assets.lib.demo.generator import generate
from maestro_assets.lib.feature_store.training import historical_features, rebuild_training_set
from maestro_assets.lib.features.compute import SilverInputs
from maestro_assets_tests.defs.feature_store.test_feast_assets import run
from maestro_assets_tests.defs.features.test_gold_features import write_silver


def apply(feast_resources):
    with DagsterInstance.ephemeral() as instance:
        assert materialize([feast_registry], resources=feast_resources, instance=instance).success


def test_a_value_stamped_after_the_label_never_appears_and_one_before_always_does(feast_resources):
    write_silver(feast_resources["lake"])
    days = ["2026-09-01", "2026-09-02", "2026-09-03", "2026-09-04", "2026-09-05"]
    assert run([gold_features], feast_resources, days=days).success
    apply(feast_resources)
    gold = {
        d: feast_resources["lake"]
        .client()
        .read_partition("gold", "user_features", ("date", d))
        .to_pandas()
        .set_index("user_id")
        for d in days
    }
    at = [
        "2026-09-03 12:00",  # mid-day: the row of 09-02 (stamped 09-03 00:00); 09-03's is stamped later
        "2026-09-04 00:00",  # exactly when 09-03's row is stamped: it is known then
        "2026-09-02 23:59:59",  # a second before 09-02's row: 09-01's
        "2026-09-08 00:00:01",  # past the 2-day TTL of the last row (stamped 09-06 00:00): nothing
    ]
    entities = pd.DataFrame(
        {"task_id": 1, "user_id": 1, "event_timestamp": pd.to_datetime(at, utc=True, format="ISO8601")}
    )
    joined = historical_features(feast_resources["feature_store"].client(), entities, "task_lateness")
    expected_day = ["2026-09-02", "2026-09-03", "2026-09-01", None]
    for i, day in enumerate(expected_day):
        for feature in ("events_7d", "capacity_pct_7d", "current_workload_hours"):
            value = joined.loc[i, f"user_features__{feature}"]
            if day is None:
                assert pd.isna(value)
            else:
                assert value == gold[day].loc[1, feature], (at[i], feature)
    # the days really differ, so picking the wrong row would show
    assert gold["2026-09-02"].loc[1, "current_workload_hours"] != gold["2026-09-01"].loc[1, "current_workload_hours"]


@pytest.fixture(scope="module")
def demo():
    return generate(0.02)


def test_training_set_snapshot_manifest_rebuild_and_transforms_fitted_on_train_rows(feast_resources, demo):
    inputs = SilverInputs(demo.task_events, demo.tasks, demo.users, demo.projects, demo.teams)
    write_silver(feast_resources["lake"], inputs)
    last = demo.end_date - timedelta(days=1)
    days = [(last - timedelta(days=n)).isoformat() for n in range(13, -1, -1)]
    assert run([gold_features], feast_resources, days=days).success
    apply(feast_resources)
    task_set = next(a for a in TRAINING_SET_ASSETS if a.key.to_user_string() == "training_set_task_lateness")
    with DagsterInstance.ephemeral() as instance:
        result = materialize([task_set], resources=feast_resources, instance=instance)
    meta = {k: v.value for k, v in result.get_asset_materialization_events()[0].materialization.metadata.items()}
    assert meta["dagster/row_count"] > 20 and 0 < meta["rows_train"] < meta["dagster/row_count"]
    lake = feast_resources["lake"].client()
    manifest_key = meta["manifest"].split(lake.url.rstrip("/") + "/", 1)[1]
    manifest = json.loads(lake.get(manifest_key))
    assert set(manifest["gold_versions"]) == {"task_features", "user_features"}
    assert sorted(manifest["gold_versions"]["task_features"]) == days
    assert "task_features:hours_logged_7d" in manifest["feature_references"]

    data = pd.read_parquet(pd.io.common.BytesIO(lake.get(manifest["data"])))
    store = feast_resources["feature_store"].client()
    pd.testing.assert_frame_equal(rebuild_training_set(store, lake, manifest_key), data)

    # the transforms' statistics are those of the train split's raw values, not of all rows
    entities = pd.read_parquet(pd.io.common.BytesIO(lake.get(manifest["entity_frame"])))
    raw = historical_features(store, entities, "task_lateness")
    train = raw[raw["event_timestamp"] < pd.Timestamp(manifest["holdout_from"])]
    differs = 0
    for name, fitted in manifest["transforms"].items():
        values = train[name].fillna(train[name].median())
        low, span = values.min(), values.max() - values.min()
        assert fitted["offset"] == pytest.approx(low), name
        assert fitted["factor"] == pytest.approx(span or 1.0), name
        differs += bool(raw[name].min() < low or raw[name].max() > values.max())
    assert differs > 0  # the holdout holds values outside the train range: fitting on all rows would show
    assert set(data["split"]) == {"train", "holdout"}
    train_rows = data[data["split"] == "train"]
    assert train_rows[list(manifest["transforms"])].apply(lambda c: c.between(0, 1).all()).all()
