"""Bronze assets, made from the declared sources (``sources.yaml``) by one factory.

Partitioned tables (those with a watermark) are daily partitioned and accept a partition range
in one run (single-run backfills): the asset reads ``context.partition_time_window`` and writes
every day of it. Tables without a watermark are whole snapshots.
"""

import warnings
from datetime import datetime, timezone

from dagster import (
    AssetExecutionContext, AssetKey, AssetsDefinition, Backoff, BackfillPolicy, BetaWarning, MaterializeResult,
    MetadataValue, RetryPolicy, asset,
)

import pyarrow as pa

from ...lib.ingestion.bronze import PartitionedBronzeWriter, WriteStats, write_snapshot
from ...lib.ingestion.files import landing_day, read_landed
from ...lib.ingestion.sources import Source, TableSource
from ...lib.ingestion.sql import sql_batches
from ...lib.warehouse import Warehouse
from ...resources import LakeResource
from ..metadata import arrow_metadata
from .partitions import DAILY, SOURCES

GROUP = "ingestion"
KINDS = {"sql": {"sql", "parquet"}, "files": {"s3", "parquet"}, "rest": {"api", "parquet"}}
# transient failures of the database, the lake or an API are retried; bad data is not (it raises MaestroError)
RETRY = RetryPolicy(max_retries=2, delay=5, backoff=Backoff.EXPONENTIAL)


def bronze_key(spec: TableSource) -> AssetKey:
    return AssetKey(["bronze", spec.source, spec.table])


def ingestion_metadata(stats: WriteStats, lake_url: str, prefix: str) -> dict:
    """What every bronze materialization reports."""
    metadata = {
        "dagster/row_count": stats.records_written,
        "records_read": stats.records_read,
        "records_written": stats.records_written,
        "records_failed": stats.records_failed,
        "bytes": stats.bytes_written,
        "duration_seconds": round(stats.duration_seconds, 3),
        "error_rate": round(stats.error_rate, 6),
        "partitions_written": len(stats.partitions) or 1,
        "location": MetadataValue.path(f"{lake_url.rstrip('/')}/{prefix}"),
    }
    if stats.partitions:
        metadata["rows_per_partition"] = MetadataValue.json(stats.partitions)
    if stats.errors:
        metadata["errors"] = MetadataValue.md("\n".join(f"- {e}" for e in stats.errors))
    return metadata


def _window(context: AssetExecutionContext) -> tuple[datetime, datetime]:
    window = context.partition_time_window
    return window.start.astimezone(timezone.utc), window.end.astimezone(timezone.utc)


def extract_sql(context: AssetExecutionContext, source: Source, spec: TableSource, lake) -> WriteStats:
    db = Warehouse(source.connection())
    if not spec.partitioned:
        return write_snapshot(lake, spec.source, spec.table, sql_batches(db, spec), context.run_id)
    start, end = _window(context)
    writer = PartitionedBronzeWriter(lake, spec.source, spec.table, spec.bronze_name(spec.watermark),
                                     start.date(), end.date(), batch_id=context.run_id)
    for batch in sql_batches(db, spec, start, end):
        writer.write(batch)
    return writer.close()


def extract_files(context: AssetExecutionContext, source: Source, spec: TableSource, lake) -> WriteStats:
    """Every object landed under the prefix for the days of the run, one partition per landing day."""
    start, end = _window(context)
    by_day: dict = {}
    for obj in lake.list(spec.prefix):
        day = landing_day(obj.key, obj.last_modified)
        if start.date() <= day < end.date():
            by_day.setdefault(day, []).append(obj.key)
    writer = PartitionedBronzeWriter(lake, spec.source, spec.table, None, start.date(), end.date(),
                                     batch_id=context.run_id)
    for day in sorted(by_day):
        tables = [read_landed(lake.get(key), spec, key) for key in by_day[day]]
        writer.write_day(day, pa.concat_tables(tables, promote_options="permissive"))
        context.log.info(f"{spec.prefix} {day}: {len(tables)} file(s)")
    return writer.close()


EXTRACTORS = {"sql": extract_sql, "files": extract_files}


def build_bronze_asset(source: Source, spec: TableSource) -> AssetsDefinition:
    description = (
        f"Bronze: `{spec.table}` from the {spec.kind} source `{source.name}` as received, plus "
        f"`_ingested_at`, `_source`, `_batch_id`. "
        + ("Daily partitions by landing day." if spec.kind == "files" else
           f"Daily partitions by `{spec.watermark}`." if spec.partitioned else "Whole-table snapshot.")
        + (f" Keys: {', '.join(spec.keys)}." if spec.keys else "")
    )

    @asset(
        key=bronze_key(spec),
        description=description,
        group_name=GROUP,
        owners=[source.owner],
        kinds=KINDS[spec.kind],
        partitions_def=DAILY if spec.partitioned else None,
        backfill_policy=BackfillPolicy.single_run() if spec.partitioned else None,
        deps=[AssetKey(u.split("/")) for u in spec.upstream],
        retry_policy=RETRY,
        metadata={"source": source.name, "source_kind": spec.kind, "keys": list(spec.keys),
                  "watermark": spec.watermark or ""},
    )
    def bronze(context: AssetExecutionContext, lake: LakeResource) -> MaterializeResult:
        store = lake.get()
        stats = EXTRACTORS[spec.kind](context, source, spec, store)
        prefix = f"bronze/{spec.source}/{spec.table}"
        metadata = ingestion_metadata(stats, store.url, prefix)
        if stats.schema is not None:
            metadata.update(arrow_metadata(stats.schema, store, prefix, stats.partitions))
        context.log.info(f"{prefix}: {stats.records_written} rows in {len(stats.partitions) or 1} partition(s)")
        return MaterializeResult(metadata=metadata)

    return bronze


def bronze_assets() -> list[AssetsDefinition]:
    with warnings.catch_warnings():  # BackfillPolicy is "beta" in 1.13; single-run backfills are what we want
        warnings.simplefilter("ignore", BetaWarning)
        return [build_bronze_asset(source, spec) for source in SOURCES.sources for spec in source.tables
                if spec.kind in EXTRACTORS]
