"""Gold feature assets: user, task, project and team features, one daily partition per day.

The four tables are computed together (they share the task status and workload grids), so they
are one multi-asset that cannot be subset: materializing one materializes all four. Each day's
rows use the silver events of that day and of the 29 before it (the 30-day window) — declared as
a time-window dependency, so a late event re-materialized in silver marks the following month of
gold stale — and the task status carried from all earlier days. A single-run backfill computes a
range in one pass and writes each day's partition.
"""

from datetime import UTC, datetime

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    AutomationCondition,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableSchema,
    TimeWindowPartitionMapping,
    multi_asset,
)

from ...lib.dates import days_of_window
from ...lib.features.catalog import LONGEST_WINDOW, TABLES, FeatureTable
from ...lib.features.gold import FeatureInputs, load_feature_inputs, materialize_gold
from ...lib.settings import features_file
from ...resources import LakeResource
from ..config import DAILY
from ..failures import RETRY, bad_input_fails_fast

GROUP = "features"
INPUTS: FeatureInputs = load_feature_inputs(features_file())
ONE_ROW_CHECK = "one_row_per_entity_and_day"
PREVIEW_ROWS = 10


def gold_key(entity: str) -> AssetKey:
    return AssetKey(["gold", TABLES[entity].name])


def silver_input_key(table: str) -> AssetKey:
    return AssetKey(["silver", *table.split("/")])


def feature_schema(table: FeatureTable) -> TableSchema:
    return TableSchema(
        columns=[
            TableColumn(table.key, "int64", description=f"The {table.entity} (entity key)."),
            TableColumn("event_timestamp", "timestamp[UTC]", description="End of the day the row describes."),
            TableColumn("created_timestamp", "timestamp[UTC]", description="When the row was computed."),
            *[TableColumn(f.name, f.dtype, description=f.description) for f in table.features],
        ]
    )


def _deps() -> list[AssetDep]:
    window = TimeWindowPartitionMapping(start_offset=-(LONGEST_WINDOW - 1), end_offset=0)
    deps = [AssetDep(silver_input_key(INPUTS.events), partition_mapping=window)]
    return deps + [silver_input_key(t) for t in (INPUTS.tasks, INPUTS.users, INPUTS.projects, INPUTS.teams)]


SPECS = [
    AssetSpec(
        gold_key(entity),
        description=f"Gold: {table.description} {len(table.features)} features, 7- and 30-day windows.",
        group_name=GROUP,
        owners=["team:ml-platform"],
        kinds={"pandas", "parquet"},
        deps=_deps(),
        metadata={"dagster/column_schema": feature_schema(table), "entity_key": table.key},
        automation_condition=AutomationCondition.eager(),
    )
    for entity, table in TABLES.items()
]
CHECKS = [
    AssetCheckSpec(
        ONE_ROW_CHECK,
        asset=gold_key(entity),
        description=f"At most one row per {TABLES[entity].key} and day, and no key missing.",
        blocking=True,
    )
    for entity in TABLES
]


@multi_asset(
    specs=SPECS,
    check_specs=CHECKS,
    name="gold_features",
    partitions_def=DAILY,
    backfill_policy=BackfillPolicy.single_run(),
    retry_policy=RETRY,
    can_subset=False,
)
@bad_input_fails_fast
def gold_features(context: AssetExecutionContext, lake: LakeResource):
    store = lake.client()
    days = days_of_window(*context.partition_time_window)
    run = materialize_gold(store, INPUTS, days, created=datetime.now(UTC))
    if run.features.dropped:
        context.log.warning(f"silver rows left out of the features: {run.features.dropped}")
    base = store.url.rstrip("/")
    for entity, table in TABLES.items():
        key = gold_key(entity)
        for day, rows in run.rows[entity].items():
            context.add_asset_metadata({"dagster/row_count": rows}, asset_key=key, partition_key=day)
        frame = run.features.tables[entity]
        total = int(sum(run.rows[entity].values()))
        last = frame[frame["date"] == days[-1].isoformat()].drop(columns="date")
        context.log.info(f"gold/{table.name}: {total} rows over {len(days)} day(s)")
        preview = last.head(PREVIEW_ROWS)  # on the run's last day only (metadata is copied to every partition)
        context.add_asset_metadata(
            {"preview": MetadataValue.md(preview.to_markdown(index=False) if len(preview) else "_empty_")},
            asset_key=key,
            partition_key=days[-1].isoformat(),
        )
        yield MaterializeResult(
            asset_key=key,
            metadata={
                "rows_written": total,
                "days": len(days),
                "features": len(table.features),
                "location": MetadataValue.path(f"{base}/gold/{table.name}/"),
                **({"dropped_silver_rows": MetadataValue.json(run.features.dropped)} if run.features.dropped else {}),
            },
        )
        duplicated = int(frame.duplicated([table.key, "date"]).sum())
        missing = int(frame[table.key].isna().sum())
        yield AssetCheckResult(
            asset_key=key,
            check_name=ONE_ROW_CHECK,
            passed=duplicated == 0 and missing == 0,
            severity=AssetCheckSeverity.ERROR,
            metadata={"duplicated_rows": duplicated, "missing_keys": missing},
            description=None if duplicated == missing == 0 else f"{duplicated} duplicated, {missing} keyless rows",
        )


GOLD_FEATURE_ASSETS = [gold_features]
