"""Silver through Dagster: quarantine with reasons, blocking ERROR checks, non-blocking warnings,
reports in the lake, and a partition range in one run."""

import json

import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, asset, materialize

from maestro_assets.defs.quality.assets import silver_assets

DAY = "2026-09-01"


def silver(name: str):
    return next(a for a in silver_assets() if a.key == AssetKey(["silver", "demo_db", name]))


@asset(deps=[AssetKey(["silver", "demo_db", "deployments"])], partitions_def=silver("deployments").partitions_def)
def downstream_of_deployments() -> None:
    """Stands for any asset built on silver/demo_db/deployments."""


def deployments(n: int = 6, day: str = DAY) -> pd.DataFrame:
    at = pd.Timestamp(day, tz="UTC") + pd.to_timedelta(range(n), unit="h")
    return pd.DataFrame(
        {
            "deployment_id": range(1, n + 1),
            "project_id": [7] * n,
            "environment": ["production"] * n,
            "sha": [f"{i:07x}" for i in range(n)],
            "deployed_at": at,
            "status": ["success"] * n,
            "lead_time_hours": [float(i + 1) for i in range(n)],
            "restored_at": pd.NaT,
            "_ingested_at": pd.Timestamp("2026-09-02", tz="UTC"),
            "_source": "demo_db",
            "_batch_id": "b-1",
        }
    )


@pytest.fixture
def lake(lake_resource):
    return lake_resource


def run(lake, assets, partition=DAY):
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            assets, resources={"lake": lake}, partition_key=partition, instance=instance, raise_on_error=False
        )
        # every evaluation, also those of a step that failed on a blocking check
        evaluations = [
            e.asset_check_evaluation_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
        ]
        checks = {e.check_name: e for e in evaluations}
        return result, checks


def test_bad_rows_are_quarantined_with_reasons_and_block_downstream(lake):
    frame = deployments()
    frame.loc[1, "deployment_id"] = 1  # duplicate key
    frame.loc[2, "lead_time_hours"] = -5.0  # out of range
    frame.loc[3, "environment"] = "prod"  # not an allowed value
    frame.loc[4, "deployed_at"] = pd.Timestamp("2030-01-01", tz="UTC")  # in the future
    lake.client().write_partition("bronze", "demo_db/deployments", ("date", DAY), frame)

    result, checks = run(lake, [silver("deployments"), downstream_of_deployments])
    assert not result.success
    assert checks["uniqueness__deployment_id"].passed is False
    assert checks["range__lead_time_hours"].passed is False
    assert checks["categorical__environment"].passed is False
    assert checks["future__deployed_at"].passed is False
    assert checks["schema"].passed is True
    # the blocking checks stopped the downstream asset
    assert not any(e.asset_key == downstream_of_deployments.key for e in result.get_asset_materialization_events())

    store = lake.client()
    quarantine = store.read_partition("quarantine", "demo_db/deployments", ("date", DAY)).to_pandas()
    valid = store.read_partition("silver", "demo_db/deployments", ("date", DAY)).to_pandas()
    assert len(quarantine) == 4 and len(valid) == 2
    reasons = " | ".join(quarantine["_reason"])
    assert "deployment_id=1" in reasons and "lead_time_hours=-5.0" in reasons and "environment=prod" in reasons
    assert "deployed_at" in reasons
    assert set(quarantine["_batch_id"]) == {"b-1"}  # traceable to the bronze batch
    assert quarantine["restored_at"].isna().all()  # nulls stay null, not the text "None"
    bronze = store.read_partition("bronze", "demo_db/deployments", ("date", DAY)).to_pandas()
    assert len(bronze) == 6  # raw data stays in bronze

    report = json.loads(store.get(f"reports/silver/demo_db/deployments/date={DAY}/report.json"))
    assert report["rows_in"] == report["rows_valid"] + report["rows_quarantined"] == 6
    assert set(report["blocking_failures"]) >= {"uniqueness:deployment_id", "range:lead_time_hours"}


def test_clean_partition_passes_and_downstream_runs(lake):
    lake.client().write_partition("bronze", "demo_db/deployments", ("date", DAY), deployments())
    result, checks = run(lake, [silver("deployments"), downstream_of_deployments])
    assert result.success
    assert all(c.passed for c in checks.values())
    assert downstream_of_deployments.key in {e.asset_key for e in result.get_asset_materialization_events()}
    metadata = result.asset_materializations_for_node("silver__demo_db__deployments")[0].metadata
    assert metadata["rows_in"].value == 6 and metadata["rows_quarantined"].value == 0
    silver_frame = lake.client().read_partition("silver", "demo_db/deployments", ("date", DAY)).to_pandas()
    assert str(silver_frame["deployed_at"].dtype) == "datetime64[ns, UTC]"
    assert not any(c.startswith("_") for c in silver_frame.columns)


def test_warnings_are_reported_but_do_not_block(lake):
    frame = deployments()
    frame["unexpected_column"] = "x"  # not declared: a WARNING, kept
    lake.client().write_partition("bronze", "demo_db/deployments", ("date", DAY), frame)
    result, checks = run(lake, [silver("deployments"), downstream_of_deployments])
    assert result.success
    assert checks["schema__extra_columns"].passed is False
    assert checks["schema__extra_columns"].severity.value == "WARN"
    assert downstream_of_deployments.key in {e.asset_key for e in result.get_asset_materialization_events()}


def test_missing_required_column_quarantines_every_row_and_names_it(lake):
    frame = deployments().drop(columns=["environment"])
    lake.client().write_partition("bronze", "demo_db/deployments", ("date", DAY), frame)
    result, checks = run(lake, [silver("deployments")])
    assert checks["schema"].passed is False
    assert "environment" in checks["schema"].metadata["message"].value
    quarantine = lake.client().read_partition("quarantine", "demo_db/deployments", ("date", DAY)).to_pandas()
    assert len(quarantine) == 6


def test_mixed_types_from_a_text_file_are_quarantined_not_lost(lake):
    frame = deployments().astype(str)  # files land as text
    frame["restored_at"] = None
    frame.loc[2, "lead_time_hours"] = "twelve"
    lake.client().write_partition("bronze", "demo_db/deployments", ("date", DAY), frame)
    run(lake, [silver("deployments")])
    quarantine = lake.client().read_partition("quarantine", "demo_db/deployments", ("date", DAY)).to_pandas()
    assert quarantine["lead_time_hours"].tolist() == ["twelve"]
    assert "lead_time_hours" in quarantine["_reason"].iloc[0]


def test_a_range_of_partitions_in_one_run(lake, maestro_home):
    days = ["2026-09-01", "2026-09-02", "2026-09-03"]
    for offset, day in enumerate(days):
        frame = deployments(3 + offset, day)
        frame["deployment_id"] += 100 * offset
        lake.client().write_partition("bronze", "demo_db/deployments", ("date", day), frame)
    from dagster import PartitionKeyRange

    from maestro_assets.defs.runs import partition_range_tags

    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [silver("deployments")],
            resources={"lake": lake},
            instance=instance,
            tags=partition_range_tags(days[0], days[-1]),
        )
        assert result.success
        assert instance.get_materialized_partitions(AssetKey(["silver", "demo_db", "deployments"])) == set(days)
    assert PartitionKeyRange(days[0], days[-1])  # the range API the UI's backfill uses
    for offset, day in enumerate(days):
        assert lake.client().read_partition("silver", "demo_db/deployments", ("date", day)).num_rows == 3 + offset
