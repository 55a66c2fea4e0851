"""Gold features through Dagster: a range in one run writes every day's partition of the four
tables, a single day gives the same rows, checks are evaluated, bad silver fails naming the fix."""

import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, materialize

from maestro_assets.defs.features.assets import ONE_ROW_CHECK, gold_features
from maestro_assets.defs.runs import partition_range_tags
from maestro_assets.lib.features.catalog import TABLES
from maestro_assets.resources import LakeResource
from maestro_assets_tests.lib.features.test_compute import world

DAYS = ["2026-09-01", "2026-09-02", "2026-09-03", "2026-09-04", "2026-09-05"]


@pytest.fixture
def lake(lake_resource):
    return lake_resource


def write_silver(lake: LakeResource, inputs=None) -> None:
    inputs = inputs or world()
    store = lake.client()
    events = inputs.events.assign(event_id=range(1, len(inputs.events) + 1))
    for day, part in events.groupby(events["event_time"].dt.strftime("%Y-%m-%d")):
        store.write_partition("silver", "demo_db/task_events", ("date", day), part)
    for name in ("tasks", "users", "projects", "teams"):
        store.write_partition("silver", f"demo_db/{name}", None, getattr(inputs, name))


def gold(lake: LakeResource, entity: str, day: str) -> pd.DataFrame:
    return lake.client().read_partition("gold", TABLES[entity].name, ("date", day)).to_pandas()


def test_a_range_in_one_run_then_a_single_day_gives_the_same_rows(lake):
    write_silver(lake)
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [gold_features], resources={"lake": lake}, instance=instance, tags=partition_range_tags(DAYS[0], DAYS[-1])
        )
        assert result.success
        for table in TABLES.values():
            key = AssetKey(["gold", table.name])
            assert instance.get_materialized_partitions(key) == set(DAYS)
        checks = result.get_asset_check_evaluations()
        assert {(c.asset_key.path[-1], c.check_name, c.passed) for c in checks} == {
            (t.name, ONE_ROW_CHECK, True) for t in TABLES.values()
        }
        counts = {
            (m.asset_key.path[-1], m.partition): m.metadata["dagster/row_count"].value
            for m in result.asset_materializations_for_node("gold_features")
        }
    assert counts[("user_features", "2026-09-02")] == 2  # users 1 and 3; user 2 is hired on 09-03
    by_range = {entity: {day: gold(lake, entity, day) for day in DAYS} for entity in TABLES}
    assert by_range["user"]["2026-09-03"]["user_id"].tolist() == [1, 2, 3]
    assert counts[("user_features", "2026-09-03")] == 3
    assert by_range["task"]["2026-09-01"].loc[0, "hours_logged_7d"] == 5.0

    with DagsterInstance.ephemeral() as instance:
        assert materialize([gold_features], resources={"lake": lake}, instance=instance, partition_key=DAYS[2]).success
    for entity in TABLES:
        alone = gold(lake, entity, DAYS[2]).drop(columns="created_timestamp")
        pd.testing.assert_frame_equal(alone, by_range[entity][DAYS[2]].drop(columns="created_timestamp"))


def test_a_silver_table_without_a_needed_column_fails_at_once_naming_table_column_and_setting(lake):
    inputs = world()
    inputs.tasks = inputs.tasks.drop(columns=["deadline"])
    write_silver(lake, inputs)
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [gold_features], resources={"lake": lake}, instance=instance, partition_key=DAYS[0], raise_on_error=False
        )
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
        message = failure.event_specific_data.error.message
        assert "silver/demo_db/tasks" in message and "deadline" in message and "MAESTRO_FEATURES" in message
        assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
