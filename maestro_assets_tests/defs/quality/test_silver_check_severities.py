"""Each check of a silver asset, one fault at a time, through Dagster: every ERROR check alone
blocks the downstream asset; INFO checks are recorded, never failed; freshness and future
timestamps of a backfilled partition are judged at the end of its day, not by the wall clock."""

import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, asset, materialize

from maestro_assets.defs.quality.assets import build_silver_asset, silver_assets
from maestro_assets.lib.ingestion.sources import TableSource
from maestro_assets.lib.quality import load_rules
from maestro_assets.resources import LakeResource
from maestro_assets_tests.defs.quality.test_silver import deployments

DAY = "2026-09-01"
OLD_DAY = "2026-08-10"  # a backfilled partition, months before the wall clock


def silver(name: str):
    return next(a for a in silver_assets() if a.key == AssetKey(["silver", "demo_db", name]))


@asset(deps=[AssetKey(["silver", "demo_db", "deployments"])], partitions_def=silver("deployments").partitions_def)
def after_deployments() -> None:
    """Stands for any asset built on silver/demo_db/deployments."""


@pytest.fixture
def lake(maestro_home):
    return LakeResource(url=str(maestro_home / "lake"))


def task_events(day: str, hours: list[float]) -> pd.DataFrame:
    n = len(hours)
    return pd.DataFrame(
        {
            "event_id": range(1, n + 1),
            "task_id": [3] * n,
            "user_id": [11] * n,
            "event_type": ["work_logged"] * n,
            "event_time": [pd.Timestamp(day, tz="UTC") + pd.Timedelta(hours=h) for h in hours],
            "hours_logged": [1.5] * n,
            "_ingested_at": pd.Timestamp(day, tz="UTC") + pd.Timedelta(days=1),
            "_source": "demo_db",
            "_batch_id": "b-1",
        }
    )


def run(lake, assets, partition):
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            assets, resources={"lake": lake}, partition_key=partition, instance=instance, raise_on_error=False
        )
    evaluations = [
        e.asset_check_evaluation_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    return result, {e.check_name: e for e in evaluations}


def set_sha_null(frame):
    frame["sha"] = frame["sha"].astype(object)
    frame.loc[2, "sha"] = None


# one kind of fault per case; every check but the named one must pass
SINGLE_FAULTS = {
    "schema": set_sha_null,  # a non-nullable column without a value
    "future__deployed_at": lambda f: f.__setitem__(
        "deployed_at", f["deployed_at"].where(f.index != 2, pd.Timestamp(DAY, tz="UTC") + pd.Timedelta(days=3))
    ),  # after the end of the partition's day (but before the wall clock)
    "uniqueness__deployment_id": lambda f: f.__setitem__("deployment_id", [1, 2, 2, 4, 5]),
    "range__lead_time_hours": lambda f: f.__setitem__("lead_time_hours", [1.0, 2.0, -5.0, 4.0, 5.0]),
    "categorical__environment": lambda f: f.__setitem__("environment", ["production"] * 4 + ["prod"]),
    "categorical__status": lambda f: f.__setitem__("status", ["success"] * 4 + ["exploded"]),
}


@pytest.mark.parametrize("check_name", list(SINGLE_FAULTS))
def test_each_error_check_alone_fails_with_error_severity_and_blocks_downstream(lake, check_name):
    frame = deployments(5)
    SINGLE_FAULTS[check_name](frame)
    lake.client().write_partition("bronze", "demo_db/deployments", ("date", DAY), frame)

    result, checks = run(lake, [silver("deployments"), after_deployments], DAY)

    assert checks[check_name].passed is False
    assert checks[check_name].severity.value == "ERROR"
    assert checks[check_name].metadata["severity"].value == "ERROR"
    others = {name for name, check in checks.items() if not check.passed and name != check_name}
    assert others == set(), f"more than one fault: {others}"
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert silver("deployments").key in materialized  # the valid rows are still written
    assert after_deployments.key not in materialized  # the blocking check stopped the downstream asset
    assert not result.success


def test_backfilled_old_partition_is_fresh_as_of_the_end_of_its_day(lake):
    """Rows of 2026-08-10 up to 05:00 are 19 h old at the end of that day (36 h allowed), and none
    is in the future: judged by the wall clock (months later) freshness would fail."""
    lake.client().write_partition("bronze", "demo_db/task_events", ("date", OLD_DAY), task_events(OLD_DAY, [1, 3, 5]))
    result, checks = run(lake, [silver("task_events")], OLD_DAY)
    assert result.success
    assert checks["freshness__event_time"].passed is True
    assert checks["future__event_time"].passed is True
    assert all(check.passed for check in checks.values()), {n: c.passed for n, c in checks.items()}


def test_row_after_the_end_of_the_partition_day_fails_the_future_check(lake):
    """A row stamped 2026-08-12 in the partition of 2026-08-10: in the future for that day, though
    long past by the wall clock."""
    frame = task_events(OLD_DAY, [1, 3, 5, 60])  # the last: 2026-08-12 12:00
    lake.client().write_partition("bronze", "demo_db/task_events", ("date", OLD_DAY), frame)
    result, checks = run(lake, [silver("task_events")], OLD_DAY)
    future = checks["future__event_time"]
    assert future.passed is False
    assert future.severity.value == "ERROR"
    assert future.metadata["failing_rows"].value == 1
    assert not result.success  # blocking
    quarantine = lake.client().read_partition("quarantine", "demo_db/task_events", ("date", OLD_DAY)).to_pandas()
    assert quarantine["event_id"].astype(int).tolist() == [4]


INFO_RULES = load_rules(
    {
        "tables": {
            "meter/readings": {
                "keys": ["reading_id"],
                "columns": {
                    "reading_id": {"dtype": "int64", "nullable": False},
                    "read_at": {"dtype": "datetime64[ns, UTC]", "nullable": False},
                    "value": {"dtype": "float64", "nullable": True},
                },
                "checks": [{"kind": "range", "column": "value", "min": 0, "max": 10, "severity": "INFO"}],
            }
        }
    }
).for_table("meter", "readings")
READINGS = TableSource(source="meter", kind="sql", table="readings", keys=("reading_id",), watermark="read_at")


def test_failing_info_check_is_recorded_as_passed_with_its_severity_and_failing_rows(lake):
    silver_readings = build_silver_asset(READINGS, INFO_RULES)
    frame = pd.DataFrame(
        {
            "reading_id": [1, 2, 3, 4],
            "read_at": pd.Timestamp(DAY, tz="UTC") + pd.to_timedelta([1, 2, 3, 4], unit="h"),
            "value": [1.0, 50.0, 2.0, 99.0],  # two out of the INFO range
        }
    )
    lake.client().write_partition("bronze", "meter/readings", ("date", DAY), frame)

    result, checks = run(lake, [silver_readings], DAY)

    assert result.success
    info = checks["range__value"]
    assert info.passed is True  # recorded, not failed
    assert info.metadata["severity"].value == "INFO"
    assert info.metadata["failing_rows"].value == 2
    assert "value" in info.metadata["message"].value and info.metadata["message"].value != "ok"
