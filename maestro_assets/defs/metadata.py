"""Metadata that people look at in the UI, built the same way for every asset."""

from __future__ import annotations

import pandas as pd
from dagster import MetadataValue, TableColumn, TableSchema

PREVIEW_ROWS = 10


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
