"""Bronze assets, made from the declared sources (``sources.yaml``) by one factory.

Partitioned tables (those with a watermark, and landed files) are daily partitioned and take a
partition range in one run (single-run backfills): the asset hands ``context.partition_time_window``
to the extraction in ``lib/ingestion/extract.py``, which writes every day of it. Each partition's
materialization carries its own row count. Tables without a watermark are whole snapshots. A files
table has a ``readable_files`` check: it fails, naming the files, when a landed file of the run's
days could not be read (ERROR by default, so downstream waits; ``bad_files: WARNING`` reports only).
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

from ...lib.ingestion.extract import Extraction, bad_files_prefix, extract
from ...lib.ingestion.sources import Source, TableSource
from ...resources import LakeResource
from ..config import DAILY, SOURCES
from ..failures import RETRY, bad_input_fails_fast
from ..metadata import arrow_metadata, ingestion_metadata, run_metadata

GROUP = "ingestion"
ASSET_KINDS = {"sql": {"sql", "parquet"}, "files": {"s3", "parquet"}, "rest": {"api", "parquet"}}
READABLE_FILES_CHECK = "readable_files"


def bronze_key(spec: TableSource) -> AssetKey:
    return AssetKey(["bronze", spec.source, spec.table])


def _description(source: Source, spec: TableSource) -> str:
    partitions = (
        "Daily partitions by landing day."
        if spec.kind == "files"
        else f"Daily partitions by `{spec.watermark}`."
        if spec.partitioned
        else "Whole-table snapshot."
    )
    keys = f" Keys: {', '.join(spec.keys)}." if spec.keys else ""
    return (
        f"Bronze: `{spec.catalog_name}` from the {spec.kind} source `{source.name}` as received, plus "
        f"`_ingested_at`, `_source`, `_batch_id`. {partitions}{keys}"
    )


def _readable_files_result(spec: TableSource, extraction: Extraction, lake_url: str) -> AssetCheckResult:
    bad = extraction.bad_files
    return AssetCheckResult(
        check_name=READABLE_FILES_CHECK,
        passed=not bad,
        severity=AssetCheckSeverity.ERROR if spec.bad_files == "ERROR" else AssetCheckSeverity.WARN,
        metadata={
            "files_set_aside": len(bad),
            "files": MetadataValue.json([b.to_dict() for b in bad[:20]]),
            "records": MetadataValue.path(f"{lake_url.rstrip('/')}/{bad_files_prefix(spec)}"),
            "message": "; ".join(b.reason for b in bad[:5]) or "every landed file was read",
        },
    )


def build_bronze_asset(source: Source, spec: TableSource) -> AssetsDefinition:
    check_specs = (
        [
            AssetCheckSpec(
                READABLE_FILES_CHECK,
                asset=bronze_key(spec),
                blocking=spec.bad_files == "ERROR",
                description=f"every landed file of the run's days was read ({spec.bad_files}); unreadable ones are "
                f"recorded under {bad_files_prefix(spec)}",
            )
        ]
        if spec.kind == "files"
        else []
    )

    @asset(
        key=bronze_key(spec),
        description=_description(source, spec),
        group_name=GROUP,
        owners=[source.owner],
        kinds=ASSET_KINDS[spec.kind],
        partitions_def=DAILY if spec.partitioned else None,
        backfill_policy=BackfillPolicy.single_run() if spec.partitioned else None,
        deps=[AssetKey(u.split("/")) for u in spec.upstream],
        retry_policy=RETRY,
        check_specs=check_specs,
        metadata={
            "source": source.name,
            "source_kind": spec.kind,
            "source_table": spec.source_table,
            "keys": list(spec.keys),
            **({"watermark": spec.watermark} if spec.watermark else {}),
        },
    )
    @bad_input_fails_fast
    def bronze(context: AssetExecutionContext, lake: LakeResource):
        store = lake.client()
        window = context.partition_time_window if spec.partitioned else None
        extraction = extract(source, spec, store, window, context.run.run_id, context.log)
        stats = extraction.stats
        prefix = f"bronze/{spec.source}/{spec.table}"
        metadata = ingestion_metadata(stats, store.url, prefix)
        if stats.schema is not None:
            metadata.update(arrow_metadata(stats.schema, store, prefix, stats.partitions))
        for day, rows in stats.partitions.items():  # the UI's partition view shows each day's own count
            context.add_asset_metadata({"dagster/row_count": rows}, partition_key=day)
        context.log.info(f"{prefix}: {stats.records_written} rows in {len(stats.partitions) or 1} partition(s)")
        yield MaterializeResult(metadata=run_metadata(context, metadata, list(stats.partitions)))
        if check_specs:
            yield _readable_files_result(spec, extraction, store.url)

    return bronze


def bronze_assets() -> list[AssetsDefinition]:
    return [build_bronze_asset(source, spec) for source in SOURCES.sources for spec in source.tables]
