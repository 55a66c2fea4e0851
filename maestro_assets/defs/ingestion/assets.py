"""Bronze assets, made from the declared sources (``sources.yaml``) by one factory.

Partitioned tables (those with a watermark) are daily partitioned and accept a partition range
in one run (single-run backfills): the asset reads ``context.partition_time_window`` and writes
every day of it. Tables without a watermark are whole snapshots.
"""

import warnings
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    Backoff,
    BetaWarning,
    Failure,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    asset,
)

from ...lib.errors import MaestroError
from ...lib.ingestion.bronze import PartitionedBronzeWriter, WriteStats, write_snapshot
from ...lib.ingestion.files import landing_day, read_landed, records_table
from ...lib.ingestion.rest import FetchStats, RestSource, fetch_pages, watermark_stamps
from ...lib.ingestion.sources import Source, TableSource
from ...lib.ingestion.sql import rows_without_watermark, sql_batches
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
    return window.start.astimezone(UTC), window.end.astimezone(UTC)


def extract_sql(context: AssetExecutionContext, source: Source, spec: TableSource, lake) -> WriteStats:
    db = Warehouse(source.connection())
    if not spec.partitioned:
        return write_snapshot(lake, spec.source, spec.table, sql_batches(db, spec), context.run.run_id)
    start, end = _window(context)
    writer = PartitionedBronzeWriter(
        lake,
        spec.source,
        spec.table,
        spec.bronze_name(spec.watermark),
        start.date(),
        end.date(),
        batch_id=context.run.run_id,
        timezone=spec.timezone,
    )
    for batch in sql_batches(db, spec, start, end):
        writer.write(batch)
    stats = writer.close()
    orphans = rows_without_watermark(db, spec)
    if orphans:
        message = (
            f"{orphans} row(s) of {spec.table!r} have no {spec.watermark!r} (NULL): they belong to no "
            "daily partition and are not in bronze"
        )
        context.log.warning(message)
        stats.errors.append(message)
    return stats


def extract_files(context: AssetExecutionContext, source: Source, spec: TableSource, lake) -> WriteStats:
    """Every object landed under the prefix for the days of the run, one partition per landing day."""
    start, end = _window(context)
    by_day: dict = {}
    for obj in lake.list(spec.prefix):
        day = landing_day(obj.key, obj.last_modified)
        if start.date() <= day < end.date():
            by_day.setdefault(day, []).append(obj.key)
    writer = PartitionedBronzeWriter(
        lake, spec.source, spec.table, None, start.date(), end.date(), batch_id=context.run.run_id
    )
    for day in sorted(by_day):
        tables = [read_landed(lake.get(key), spec, key) for key in by_day[day]]
        writer.write_day(day, pa.concat_tables(tables, promote_options="permissive"))
        context.log.info(f"{spec.prefix} {day}: {len(tables)} file(s)")
    return writer.close()


def extract_rest(context: AssetExecutionContext, source: Source, spec: TableSource, lake) -> WriteStats:
    """Every page of the endpoint; with a watermark, the records of the run's days (sorted into them)."""
    window = _window(context) if spec.partitioned else None
    fetch = FetchStats()
    options = dict(spec.options)
    params = {
        k: str(v).format(start=window[0].isoformat(), end=window[1].isoformat()) if window else str(v)
        for k, v in (options.pop("params", None) or {}).items()
    }
    rest = RestSource(
        name=source.name,
        url=source.connection().rstrip("/") + spec.path,
        params=params,
        auth_env=source.auth_env,
        **options,
    )
    records = [record for page in fetch_pages(rest, stats=fetch) for record in page]
    table = records_table(records)
    if spec.columns:
        table = table.rename_columns([spec.bronze_name(c) for c in table.column_names])
    context.log.info(f"{rest.url}: {fetch.pages} pages, {fetch.records} records, {fetch.retries} retries")
    if window is None:
        stats = write_snapshot(lake, spec.source, spec.table, [table], context.run.run_id)
    else:
        watermark = spec.bronze_name(spec.watermark)
        if watermark not in table.column_names and table.num_rows:
            raise MaestroError(
                f"source {source.name!r}, table {spec.table!r}: the records have no watermark "
                f"field {watermark!r}; fields are {table.column_names}"
            )
        writer = PartitionedBronzeWriter(
            lake, spec.source, spec.table, watermark, window[0].date(), window[1].date(), batch_id=context.run.run_id
        )
        if table.num_rows:
            stamps = watermark_stamps(table, watermark, f"source {source.name!r}, table {spec.table!r}")
            table = table.set_column(table.column_names.index(watermark), watermark, stamps)
            inside = pc.and_(
                pc.greater_equal(stamps, pa.scalar(window[0], pa.timestamp("us", tz="UTC"))),
                pc.less(stamps, pa.scalar(window[1], pa.timestamp("us", tz="UTC"))),
            )
            outside = table.num_rows - pc.sum(inside).as_py()
            if outside:
                context.log.info(
                    f"{outside} record(s) outside {window[0].date()}..{window[1].date()} belong to "
                    "other partitions and are ingested with them"
                )
            writer.write(table.filter(inside).sort_by(watermark))
        stats = writer.close()
    stats.records_read = fetch.records
    if fetch.retries:
        stats.errors.append(f"retried {fetch.retries} request(s) (429/5xx/timeouts), all recovered")
    return stats


EXTRACTORS = {"sql": extract_sql, "files": extract_files, "rest": extract_rest}


def build_bronze_asset(source: Source, spec: TableSource) -> AssetsDefinition:
    description = (
        f"Bronze: `{spec.table}` from the {spec.kind} source `{source.name}` as received, plus "
        f"`_ingested_at`, `_source`, `_batch_id`. "
        + (
            "Daily partitions by landing day."
            if spec.kind == "files"
            else f"Daily partitions by `{spec.watermark}`."
            if spec.partitioned
            else "Whole-table snapshot."
        )
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
        metadata={
            "source": source.name,
            "source_kind": spec.kind,
            "keys": list(spec.keys),
            **({"watermark": spec.watermark} if spec.watermark else {}),
        },
    )
    def bronze(context: AssetExecutionContext, lake: LakeResource) -> MaterializeResult:
        store = lake.get()
        try:
            stats = EXTRACTORS[spec.kind](context, source, spec, store)
        except MaestroError as exc:  # bad data or configuration: retrying cannot help
            raise Failure(description=str(exc), allow_retries=False) from exc
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
        return [
            build_bronze_asset(source, spec)
            for source in SOURCES.sources
            for spec in source.tables
            if spec.kind in EXTRACTORS
        ]
