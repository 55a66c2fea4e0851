"""Metadata that people look at in the UI, built the same way for every asset."""

from __future__ import annotations

import pandas as pd
from dagster import MetadataValue, TableColumn, TableSchema

PREVIEW_ROWS = 10
# bulky run-level entries: schemas, previews, per-partition tables (see run_metadata)
SUMMARY_KEYS = ("dagster/column_schema", "preview", "rows_per_partition", "checks")


def column_schema(frame: pd.DataFrame) -> TableSchema:
    return TableSchema(columns=[TableColumn(str(name), str(dtype)) for name, dtype in frame.dtypes.items()])


def frame_metadata(frame: pd.DataFrame, preview_rows: int = PREVIEW_ROWS) -> dict:
    """Row count, column schema and a markdown preview of a table just written."""
    preview = frame.head(preview_rows)
    return {
        "dagster/row_count": len(frame),
        "dagster/column_schema": column_schema(frame),
        "preview": MetadataValue.md(preview.to_markdown(index=False) if len(preview) else "_empty_"),
    }


def ingestion_metadata(stats, lake_url: str, prefix: str) -> dict:
    """What every bronze materialization reports (the run's totals; each partition's own count is
    added per partition)."""
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


def arrow_metadata(schema, lake, prefix: str, partitions: dict[str, int]) -> dict:
    """Column schema of what was written and a preview read back from the lake (a few rows)."""
    metadata = {
        "dagster/column_schema": TableSchema(columns=[TableColumn(field.name, str(field.type)) for field in schema])
    }
    days = [d for d, rows in sorted(partitions.items()) if rows] if partitions else [None]
    if days:
        layer, table = prefix.split("/", 1)
        part = lake.read_partition(layer, table, ("date", days[-1]) if days[-1] else None)
        preview = part.slice(0, PREVIEW_ROWS).to_pandas()
        metadata["preview"] = MetadataValue.md(preview.to_markdown(index=False) if len(preview) else "_empty_")
    return metadata


def run_metadata(context, metadata: dict, partitions: list[str]) -> dict:
    """What the run's ``MaterializeResult`` carries, for a run of ``partitions`` (a range or none).

    Dagster copies a ``MaterializeResult``'s metadata into the materialization of *every* partition
    of the run, so a year's single-run backfill stored the schema, the preview, the per-partition
    table (365 entries) and the checks table 365 times over — most of the bytes of its 730 events.
    The run's scalar figures (totals, bytes, location) stay on every partition; the bulky summary
    goes on the run's last partition only, which is the asset's latest materialization (what the
    asset page shows). Each partition keeps its own ``dagster/row_count`` (added by the asset).
    """
    if len(partitions) < 2:
        return metadata
    summary = {key: metadata[key] for key in SUMMARY_KEYS if key in metadata}
    context.add_asset_metadata(summary, partition_key=partitions[-1])
    return {key: value for key, value in metadata.items() if key not in summary}
