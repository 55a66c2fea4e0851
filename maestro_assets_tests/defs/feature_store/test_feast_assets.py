"""Feast through Dagster on the embedded defaults (file registry, SQLite online store): apply with
its diff, the online store filled one gold day at a time, lookups through a feature service,
latency and health on the materialization, and bad lookups named."""

import pandas as pd
import pytest
from dagster import DagsterInstance, materialize

from maestro_assets.defs.feature_store.assets import HEALTH_CHECK, feast_online_store, feast_registry
from maestro_assets.defs.features.assets import gold_features
from maestro_assets.defs.runs import partition_range_tags
from maestro_assets.lib.feature_store.online import FeatureStoreError, OnlineFeatures
from maestro_assets_tests.defs.features.test_gold_features import write_silver

DAYS = ["2026-09-01", "2026-09-02", "2026-09-03"]


def run(assets, feast_resources, days=DAYS, **kwargs):
    with DagsterInstance.ephemeral() as instance:
        return materialize(
            assets,
            resources=feast_resources,
            instance=instance,
            tags=partition_range_tags(days[0], days[-1]) if len(days) > 1 else None,
            partition_key=days[0] if len(days) == 1 else None,
            raise_on_error=False,
            **kwargs,
        )


def metadata(result, key: str) -> dict:
    found = [m for m in result.get_asset_materialization_events() if m.asset_key.to_user_string() == key]
    return {k: v.value for k, v in found[-1].materialization.metadata.items()}


def test_apply_shows_what_was_added_then_nothing_then_a_removal(feast_resources, feast_repo):
    def apply() -> dict:
        return metadata(materialize([feast_registry], resources=feast_resources, instance=instance), "feast_registry")

    with DagsterInstance.ephemeral() as instance:
        first = materialize([feast_registry], resources=feast_resources, instance=instance)
        meta = metadata(first, "feast_registry")
        assert (meta["added"], meta["removed"]) == (4 + 4 + 4 + 2, 0)  # entities, sources, views, services
        assert "`user_features` | **added**" in meta["diff"] and "`task_lateness` | **added**" in meta["diff"]
        again = apply()
        assert (again["added"], again["changed"], again["removed"]) == (0, 0, 0), again["diff"]
        assert again["diff"].startswith("_no change_")
        (feast_repo / "extra.py").write_text(
            "from feast import FeatureService\nfrom definitions import user_features\n"
            "user_only = FeatureService(name='user_only', features=[user_features])\n"
        )
        added = apply()
        assert added["added"] == 1 and "`user_only` | **added**" in added["diff"]
        (feast_repo / "extra.py").unlink()
        removed = metadata(
            materialize([feast_registry], resources=feast_resources, instance=instance), "feast_registry"
        )
        assert removed["removed"] == 1 and "`user_only` | **removed**" in removed["diff"]


def test_online_store_serves_the_latest_gold_day_through_a_feature_service(feast_resources):
    write_silver(feast_resources["lake"])
    assert run([gold_features], feast_resources).success
    with DagsterInstance.ephemeral() as instance:
        assert materialize([feast_registry], resources=feast_resources, instance=instance).success
    result = run([feast_online_store], feast_resources)
    assert result.success
    meta = metadata(result, "feast_online_store")
    assert meta["windows_done"] == 3 and meta["last_window"] == DAYS[-1]
    assert meta["rows_user_features"] == 2 + 2 + 3  # users 1 and 3, then user 2 from 09-03
    for label in ("1", "100"):
        assert 0 < meta[f"latency_task_lateness_{label}_p50_ms"] <= meta[f"latency_task_lateness_{label}_p99_ms"]
    check = next(c for c in result.get_asset_check_evaluations() if c.check_name == HEALTH_CHECK)
    assert check.passed, check.description

    store = feast_resources["feature_store"].client()
    online = OnlineFeatures(store, "task_lateness")
    frame = online.frame([{"task_id": 2, "user_id": 2}, {"task_id": 999, "user_id": 2}])
    gold = feast_resources["lake"].client().read_partition("gold", "task_features", ("date", DAYS[-1])).to_pandas()
    assert frame.loc[0, "task_features__hours_logged_7d"] == gold.set_index("task_id").loc[2, "hours_logged_7d"] == 4.0
    assert pd.isna(frame.loc[1, "task_features__hours_logged_7d"])  # not in the online store: null, no error
    assert frame.loc[1, "user_features__current_workload_hours"] == 16.0  # the user's features still come back


def test_bad_lookups_name_the_service_and_the_key(feast_resources):
    with DagsterInstance.ephemeral() as instance:
        assert materialize([feast_registry], resources=feast_resources, instance=instance).success
    store = feast_resources["feature_store"].client()
    with pytest.raises(FeatureStoreError, match="unknown feature service 'task_latenes'.*task_lateness"):
        OnlineFeatures(store, "task_latenes")
    online = OnlineFeatures(store, "project_success")
    with pytest.raises(FeatureStoreError, match="entity key project_id must be an integer.*'7'"):
        online.get([{"project_id": "7", "team_id": 1}])
    with pytest.raises(FeatureStoreError, match="entity row 0 lacks team_id"):
        online.get([{"project_id": 7}])


def test_a_day_missing_from_gold_fails_naming_the_view_and_keeps_the_days_before(feast_resources):
    write_silver(feast_resources["lake"])
    assert run([gold_features], feast_resources, days=DAYS[:2]).success
    with DagsterInstance.ephemeral() as instance:
        assert materialize([feast_registry], resources=feast_resources, instance=instance).success
    result = run([feast_online_store], feast_resources)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "has no partition 2026-09-03" in failure.event_specific_data.error.message
    assert "materialize gold/user_features for 2026-09-03 first" in failure.event_specific_data.error.message
    online = OnlineFeatures(feast_resources["feature_store"].client(), "project_success")
    assert online.get([{"project_id": 1, "team_id": 1}])["project_features__total_tasks"] == [2]  # 09-02 was written


def test_a_gold_day_whose_schema_changed_fails_naming_the_view_the_columns_and_the_fix(feast_resources):
    write_silver(feast_resources["lake"])
    assert run([gold_features], feast_resources).success
    lake = feast_resources["lake"].client()
    changed = lake.read_partition("gold", "team_features", ("date", DAYS[-1])).to_pandas()
    lake.write_partition("gold", "team_features", ("date", DAYS[-1]), changed.drop(columns=["skill_diversity"]))
    with DagsterInstance.ephemeral() as instance:
        assert materialize([feast_registry], resources=feast_resources, instance=instance).success
    result = run([feast_online_store], feast_resources)
    assert not result.success
    message = next(
        e for e in result.all_events if e.event_type_value == "STEP_FAILURE"
    ).event_specific_data.error.message
    assert "feature view team_features: gold/team_features date=2026-09-03 lacks skill_diversity" in message
    assert "re-materialize gold for that day, then apply the Feast repo" in message
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]  # bad data: no retry


def test_an_empty_gold_day_fails_the_health_check_naming_the_view(feast_resources):
    write_silver(feast_resources["lake"])
    assert run([gold_features], feast_resources).success
    lake = feast_resources["lake"].client()
    empty = lake.read_partition("gold", "project_features", ("date", DAYS[-1])).slice(0, 0)
    lake.write_partition("gold", "project_features", ("date", DAYS[-1]), empty)
    with DagsterInstance.ephemeral() as instance:
        assert materialize([feast_registry], resources=feast_resources, instance=instance).success
    result = run([feast_online_store], feast_resources, days=[DAYS[-1]])
    assert result.success  # the other views are written
    check = next(c for c in result.get_asset_check_evaluations() if c.check_name == HEALTH_CHECK)
    assert not check.passed
    assert "project_features: gold partition 2026-09-03 has zero rows" in check.description
