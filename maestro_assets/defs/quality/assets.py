"""Silver assets: each declared bronze table with rules becomes a validated, cleaned table.

Every run writes, per partition, the silver parquet, the quarantined rows (as received, with the
failed checks and the reason) and a JSON report to the lake, and asserts
``rows_in = rows_valid + rows_quarantined``. Check results are Dagster asset checks declared on
the asset (``check_specs``), evaluated for the partitions just written: ERROR checks are
blocking, so downstream assets do not run when they fail; WARNING checks are reported; INFO
checks are recorded.
"""

import json
import os
import re
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    BetaWarning,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ...lib.errors import MaestroError
from ...lib.ingestion.sources import TableSource
from ...lib.lake import LakeKeyError
from ...lib.quality import CheckResult, Severity, TableRules, load_rules
from ...lib.quality.results import jsonable
from ...lib.quality.silver import build_silver
from ...resources import LakeResource
from ..ingestion.assets import bronze_key
from ..ingestion.partitions import DAILY, SOURCES
from ..metadata import frame_metadata

GROUP = "quality"
ENV_RULES = "MAESTRO_QUALITY_RULES"
RULES_FILE = Path(os.environ.get(ENV_RULES) or Path(__file__).resolve().parents[2] / "quality_rules.yaml")
RULES = load_rules(RULES_FILE)
SCHEMA_CHECK = "schema"
DAGSTER_SEVERITY = {
    Severity.ERROR: AssetCheckSeverity.ERROR,
    Severity.WARNING: AssetCheckSeverity.WARN,
    Severity.INFO: AssetCheckSeverity.WARN,
}


def silver_key(spec: TableSource) -> AssetKey:
    return AssetKey(["silver", spec.table])


def dagster_check_name(result_name: str) -> str:
    """``range:hours_logged`` → ``range__hours_logged``; every per-column schema result is ``schema``."""
    if result_name.startswith("schema:") and result_name != "schema:extra_columns":
        return SCHEMA_CHECK
    return re.sub(r"[^A-Za-z0-9_]", "_", result_name.replace(":", "__"))


def check_specs(rules: TableRules, key: AssetKey) -> list[AssetCheckSpec]:
    """The Dagster checks of a table: schema, extra columns, each declared check, future timestamps."""
    specs = {SCHEMA_CHECK: (Severity.ERROR, "schema: declared columns present, typed and non-null")}
    specs[dagster_check_name("schema:extra_columns")] = (Severity.WARNING, "columns not declared in the rules")
    for check in rules.checks:
        specs[dagster_check_name(check.name)] = (check.severity, f"{check.kind} ({check.severity.value})")
        if check.kind == "freshness":
            specs[dagster_check_name(check.future_name)] = (Severity.ERROR, "no timestamps in the future")
    return [
        AssetCheckSpec(name, asset=key, blocking=severity is Severity.ERROR, description=text)
        for name, (severity, text) in specs.items()
    ]


def combine(results: list[CheckResult]) -> dict[str, dict]:
    """Per Dagster check: passed, severity, failing rows and examples over all results and partitions."""
    combined: dict[str, dict] = {}
    for result in results:
        entry = combined.setdefault(
            dagster_check_name(result.name),
            {
                "passed": True,
                "severity": result.severity,
                "failing_rows": 0,
                "examples": [],
                "messages": [],
            },
        )
        entry["passed"] &= result.passed
        entry["failing_rows"] += result.failing_rows
        if not result.passed:
            entry["examples"].extend(result.examples[: 5 - len(entry["examples"])])
            if result.message and len(entry["messages"]) < 5:
                entry["messages"].append(result.message)
        if result.severity is Severity.ERROR:
            entry["severity"] = Severity.ERROR
    return combined


def check_results(combined: dict[str, dict], specs: list[AssetCheckSpec]) -> list[AssetCheckResult]:
    out = []
    for spec in specs:
        entry = combined.get(
            spec.name, {"passed": True, "severity": Severity.INFO, "failing_rows": 0, "examples": [], "messages": []}
        )
        severity = entry["severity"]
        out.append(
            AssetCheckResult(
                check_name=spec.name,
                passed=bool(entry["passed"]) or severity is Severity.INFO,  # INFO checks are recorded, never failed
                severity=DAGSTER_SEVERITY[severity],
                metadata={
                    "severity": severity.value,
                    "failing_rows": entry["failing_rows"],
                    "examples": MetadataValue.json(jsonable(entry["examples"])),
                    "message": "; ".join(entry["messages"]) or "ok",
                },
            )
        )
    return out


def _days(context: AssetExecutionContext) -> list[str]:
    window = context.partition_time_window
    start, end = window.start.astimezone(UTC), window.end.astimezone(UTC)
    return [(start + timedelta(days=i)).date().isoformat() for i in range((end - start).days)]


def _read_bronze(lake, spec: TableSource, day: str | None) -> pd.DataFrame:
    partition = ("date", day) if day else None
    try:
        return lake.read_partition("bronze", f"{spec.source}/{spec.table}", partition).to_pandas()
    except LakeKeyError:
        where = f" partition {day}" if day else ""
        raise MaestroError(
            f"silver/{spec.table}: bronze/{spec.source}/{spec.table}{where} has not been materialized"
        ) from None


def _reference(lake, spec: TableSource, day: str | None) -> pd.DataFrame | None:
    """The distribution reference: the previous day's bronze partition, when there is one."""
    if day is None:
        return None
    previous = (datetime.fromisoformat(day) - timedelta(days=1)).date().isoformat()
    try:
        return lake.read_partition("bronze", f"{spec.source}/{spec.table}", ("date", previous)).to_pandas()
    except LakeKeyError:
        return None


def build_silver_asset(spec: TableSource, rules: TableRules) -> AssetsDefinition:
    key = silver_key(spec)
    specs = check_specs(rules, key)

    @asset(
        key=key,
        description=(
            f"Silver: `{spec.table}` validated against its rules ({len(rules.checks)} declared checks), "
            f"typed, deduplicated by {', '.join(rules.keys) or 'nothing'}, missing values handled. "
            f"Rejected rows go to `quarantine/{spec.table}/` with the failed check and the reason."
        ),
        group_name=GROUP,
        owners=["team:data-quality"],
        kinds={"pandas", "pandera", "parquet"},
        deps=[bronze_key(spec)],
        partitions_def=DAILY if spec.partitioned else None,
        backfill_policy=BackfillPolicy.single_run() if spec.partitioned else None,
        check_specs=specs,
    )
    def silver(context: AssetExecutionContext, lake: LakeResource):
        store = lake.get()
        days = _days(context) if spec.partitioned else [None]
        totals = {"rows_in": 0, "rows_valid": 0, "rows_quarantined": 0, "rows_silver": 0}
        results: list[CheckResult] = []
        last_silver = None
        for day in days:
            bronze = _read_bronze(store, spec, day)
            # freshness and future timestamps are judged at the end of the partition's day
            now = (datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(days=1)) if day else None
            part = build_silver(bronze, rules, now=now, reference=_reference(store, spec, day))
            assert part.result.rows_in == part.result.rows_valid + part.result.rows_quarantined
            partition = ("date", day) if day else None
            store.write_partition("silver", spec.table, partition, part.silver)
            # as received: mixed types kept as text, nulls stay null
            store.write_partition("quarantine", spec.table, partition, part.quarantine.astype("string"))
            report_key = f"reports/silver/{spec.table}/" + (f"date={day}/" if day else "") + "report.json"
            store.put(report_key, json.dumps(part.report(day), indent=1).encode())
            for name in totals:
                totals[name] += len(part.silver) if name == "rows_silver" else getattr(part.result, name)
            results.extend(part.result.checks)
            last_silver = part.silver
        combined = combine(results)
        failed = [name for name, entry in combined.items() if not entry["passed"]]
        context.log.info(
            f"silver/{spec.table}: {totals['rows_valid']} valid, {totals['rows_quarantined']} "
            f"quarantined of {totals['rows_in']}; failed checks: {failed or 'none'}"
        )
        metadata = {
            **frame_metadata(last_silver),
            **totals,
            "dagster/row_count": totals["rows_silver"],
            "partitions": len(days),
            "checks": MetadataValue.md(_checks_table(combined)),
            "report": MetadataValue.path(f"{store.url.rstrip('/')}/reports/silver/{spec.table}/"),
            "quarantine": MetadataValue.path(f"{store.url.rstrip('/')}/quarantine/{spec.table}/"),
        }
        yield MaterializeResult(metadata=metadata)
        yield from check_results(combined, specs)

    return silver


def _checks_table(combined: dict[str, dict]) -> str:
    lines = ["| check | severity | passed | failing rows | example |", "|---|---|---|---|---|"]
    for name, entry in sorted(combined.items()):
        example = json.dumps(jsonable(entry["examples"][0]))[:80] if entry["examples"] else ""
        lines.append(
            f"| {name} | {entry['severity'].value} | {'yes' if entry['passed'] else '**no**'} | "
            f"{entry['failing_rows']} | {example.replace('|', '/')} |"
        )
    return "\n".join(lines)


def silver_assets() -> list[AssetsDefinition]:
    with warnings.catch_warnings():  # BackfillPolicy is "beta" in 1.13
        warnings.simplefilter("ignore", BetaWarning)
        return [
            build_silver_asset(spec, rules)
            for spec in SOURCES.tables()
            if (rules := RULES.for_table(spec.source, spec.table)) is not None
        ]


def silver_of_bronze() -> dict[AssetKey, AssetKey]:
    return {
        bronze_key(spec): silver_key(spec)
        for spec in SOURCES.tables()
        if RULES.for_table(spec.source, spec.table) is not None
    }
