"""Silver assets: each declared table with rules becomes a validated, cleaned table.

``lib/quality/silver.py`` writes, per partition, the silver parquet, the quarantined rows (as
received, with the failed checks and the reason) and a JSON report. The checks are Dagster asset
checks declared on the asset (``check_specs``), evaluated for the partitions just written: ERROR
checks are blocking, so downstream assets do not run when they fail; WARNING checks are
reported; INFO checks are recorded and never fail.
"""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ...lib.dates import days_of_window
from ...lib.ingestion.sources import TableSource
from ...lib.quality import Severity, TableRules
from ...lib.quality.results import CheckSummary, checks_table, jsonable, reported_check_name, summarize
from ...lib.quality.silver import materialize_silver
from ...resources import LakeResource
from ..config import DAILY, SOURCES, rules_for
from ..failures import RETRY, bad_input_fails_fast
from ..ingestion.assets import bronze_key
from ..metadata import frame_metadata, run_metadata

GROUP = "quality"
DAGSTER_SEVERITY = {
    Severity.ERROR: AssetCheckSeverity.ERROR,
    Severity.WARNING: AssetCheckSeverity.WARN,
    Severity.INFO: AssetCheckSeverity.WARN,
}


def silver_key(spec: TableSource) -> AssetKey:
    return AssetKey(["silver", spec.source, spec.table])


def check_specs(rules: TableRules, key: AssetKey) -> list[AssetCheckSpec]:
    """The Dagster checks of a table: schema, extra columns, each declared check, future timestamps."""
    specs = {
        "schema": (Severity.ERROR, "schema: declared columns present, typed and non-null"),
        reported_check_name("schema:extra_columns"): (Severity.WARNING, "columns not declared in the rules"),
    }
    for check in rules.checks:
        specs[reported_check_name(check.name)] = (check.severity, f"{check.kind} ({check.severity.value})")
        if check.kind == "freshness":
            specs[reported_check_name(check.future_name)] = (Severity.ERROR, "no timestamps in the future")
    return [
        AssetCheckSpec(name, asset=key, blocking=severity is Severity.ERROR, description=text)
        for name, (severity, text) in specs.items()
    ]


def check_results(summaries: dict[str, CheckSummary], specs: list[AssetCheckSpec]) -> list[AssetCheckResult]:
    results = []
    for spec in specs:
        summary = summaries.get(spec.name) or CheckSummary(spec.name, Severity.INFO)
        results.append(
            AssetCheckResult(
                check_name=spec.name,
                passed=not summary.fails,
                severity=DAGSTER_SEVERITY[summary.severity],
                metadata={
                    "severity": summary.severity.value,
                    "failing_rows": summary.failing_rows,
                    "examples": MetadataValue.json(jsonable(summary.examples)),
                    "message": summary.message,
                },
            )
        )
    return results


def build_silver_asset(spec: TableSource, rules: TableRules) -> AssetsDefinition:
    key = silver_key(spec)
    specs = check_specs(rules, key)

    @asset(
        key=key,
        description=(
            f"Silver: `{spec.qualified_name}` validated against its rules ({len(rules.checks)} declared "
            f"checks), typed, deduplicated by {', '.join(rules.keys) or 'nothing'}, missing values handled. "
            f"Rejected rows go to `quarantine/{spec.qualified_name}/` with the failed check and the reason."
        ),
        group_name=GROUP,
        owners=["team:data-quality"],
        kinds={"pandas", "pandera", "parquet"},
        deps=[bronze_key(spec)],
        partitions_def=DAILY if spec.partitioned else None,
        backfill_policy=BackfillPolicy.single_run() if spec.partitioned else None,
        retry_policy=RETRY,
        check_specs=specs,
    )
    @bad_input_fails_fast
    def silver(context: AssetExecutionContext, lake: LakeResource):
        store = lake.client()
        days = [d.isoformat() for d in days_of_window(*context.partition_time_window)] if spec.partitioned else None
        run = materialize_silver(store, spec.qualified_name, rules, days)
        summaries = summarize(run.checks)
        totals = run.totals
        failed = [name for name, summary in summaries.items() if summary.fails]
        context.log.info(
            f"silver/{spec.qualified_name}: {totals['rows_valid']} valid, {totals['rows_quarantined']} "
            f"quarantined of {totals['rows_in']}; failed checks: {failed or 'none'}"
        )
        for day, counts in run.partitions.items():
            if day is not None:  # each partition's own counts (the UI's partition view)
                context.add_asset_metadata(
                    {
                        "dagster/row_count": counts.rows_silver,
                        "partition_rows_in": counts.rows_in,
                        "partition_rows_quarantined": counts.rows_quarantined,
                    },
                    partition_key=day,
                )
        base = store.url.rstrip("/")
        metadata = {
            **frame_metadata(run.last_silver),
            **totals,
            "dagster/row_count": totals["rows_silver"],
            "partitions": len(run.partitions),
            "checks": MetadataValue.md(checks_table(summaries)),
            "report": MetadataValue.path(f"{base}/reports/silver/{spec.qualified_name}/"),
            "quarantine": MetadataValue.path(f"{base}/quarantine/{spec.qualified_name}/"),
        }
        yield MaterializeResult(metadata=run_metadata(context, metadata, days or []))
        yield from check_results(summaries, specs)

    return silver


def silver_assets() -> list[AssetsDefinition]:
    return [build_silver_asset(spec, rules) for spec in SOURCES.tables() if (rules := rules_for(spec)) is not None]
