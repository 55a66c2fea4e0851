"""Feast objects of the gold feature tables: entities, file sources, feature views, services.

Built from :mod:`maestro_assets.lib.features.catalog`, so a feature added there is registered on
the next apply. The file sources point at the gold parquet in the lake (``MAESTRO_LAKE_URL``: a
folder, or ``s3://…`` with ``AWS_ENDPOINT_URL`` for S3-compatible servers).
"""

from __future__ import annotations

from feast import Entity, FeatureService, FeatureView, Field, FileSource
from feast.data_format import ParquetFormat
from feast.types import Float64, Int64
from feast.value_type import ValueType

from .. import settings
from ..features.catalog import CREATED_TIMESTAMP, EVENT_TIMESTAMP, TABLES, FeatureTable
from .services import FEATURE_SERVICES, FEATURE_TTL

FEAST_TYPES = {"float64": Float64, "int64": Int64}


def gold_path(table: FeatureTable, lake_url: str | None = None) -> str:
    base = (lake_url or settings.lake_url()).rstrip("/")
    return f"{base}/gold/{table.name}"


def daily_files(folder: str) -> str:
    """Every daily file of a Hive-style parquet folder (``date=…/*.parquet``), as the offline store
    (DuckDB) reads them: a glob, since S3 has no folders to list."""
    return f"{folder.rstrip('/')}/*/*.parquet"


def entity(table: FeatureTable) -> Entity:
    return Entity(
        name=table.entity, join_keys=[table.key], value_type=ValueType.INT64, description=f"A {table.entity}."
    )


def source(table: FeatureTable, lake_url: str | None = None) -> FileSource:
    return FileSource(
        name=f"gold_{table.name}",
        path=daily_files(gold_path(table, lake_url)),
        file_format=ParquetFormat(),
        timestamp_field=EVENT_TIMESTAMP,
        created_timestamp_column=CREATED_TIMESTAMP,
        s3_endpoint_override=settings.s3_endpoint_url(),
        description=f"gold/{table.name} in the lake (Hive-style daily partitions).",
    )


def feature_view(table: FeatureTable, lake_url: str | None = None) -> FeatureView:
    return FeatureView(
        name=table.name,
        entities=[entity(table)],
        ttl=FEATURE_TTL,
        schema=[Field(name=f.name, dtype=FEAST_TYPES[f.dtype], description=f.description) for f in table.features],
        source=source(table, lake_url),
        online=True,
        description=table.description,
        owner="team:ml-platform",
    )


def repo_objects(lake_url: str | None = None) -> list:
    """Every object of Maestro's Feast repository, in apply order."""
    views = {e: feature_view(t, lake_url) for e, t in TABLES.items()}
    services = [
        FeatureService(name=name, features=[views[e] for e in entities], description=f"Features of the {name} model.")
        for name, entities in FEATURE_SERVICES.items()
    ]
    return [*(entity(t) for t in TABLES.values()), *views.values(), *services]
