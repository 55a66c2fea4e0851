"""Feast's DuckDB offline store, set up for the lake.

Feast's ``duckdb`` offline store reads the gold parquet through ibis' default DuckDB connection: its
point-in-time join of 60,000 labels is several times faster than the ``file`` (dask) store
(``benchmarks/training_set.py``). That connection is prepared here, once per lake, before a
retrieval: DuckDB's ``httpfs`` extension from the ``duckdb-ext-httpfs`` wheel (nothing is downloaded
at run time) and, for an ``s3://`` lake, an S3 secret from boto3's credential chain and
``AWS_ENDPOINT_URL``, as the rest of Maestro reaches S3.
"""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path
from urllib.parse import urlsplit

from .. import settings
from ..errors import ConfigurationError
from ..redact import scrub

EXTENSION = "httpfs.duckdb_extension"
_prepared: set[tuple] = set()


def extension_directory(package: str = "duckdb-ext-httpfs", extension: str = EXTENSION) -> str | None:
    """The folder of a DuckDB extension wheel's file, as DuckDB's ``extension_directory``
    (``<folder>/v<duckdb version>/<platform>/<extension>``); None when the package is not installed."""
    try:
        files = importlib.metadata.distribution(package).files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in files:
        if file.name == extension:
            return str(Path(file.locate()).parents[2])
    return None


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def s3_secret_sql(endpoint_url: str | None, region: str | None) -> tuple[str, list[str]] | None:
    """``CREATE OR REPLACE SECRET`` for the lake's S3 with the credentials boto3 finds, and the values
    in it that must never be shown; None when boto3 finds no credentials."""
    import boto3

    credentials = boto3.Session().get_credentials()
    if credentials is None:
        return None
    frozen = credentials.get_frozen_credentials()
    options = [
        "TYPE s3",
        f"KEY_ID {_literal(frozen.access_key)}",
        f"SECRET {_literal(frozen.secret_key)}",
        f"REGION {_literal(region or 'us-east-1')}",
    ]
    if frozen.token:
        options.append(f"SESSION_TOKEN {_literal(frozen.token)}")
    if endpoint_url:  # an S3-compatible server: host:port, path-style URLs
        parts = urlsplit(endpoint_url)
        options += [
            f"ENDPOINT {_literal(parts.netloc)}",
            "URL_STYLE 'path'",
            f"USE_SSL {'true' if parts.scheme == 'https' else 'false'}",
        ]
    sql = f"CREATE OR REPLACE SECRET maestro_lake ({', '.join(options)})"
    return sql, [v for v in (frozen.secret_key, frozen.token, frozen.access_key) if v]


def prepare_offline_store(store) -> None:
    """Point ibis' default DuckDB connection at the lake, when ``store`` uses the duckdb offline store."""
    if getattr(store.config.offline_store, "type", None) != "duckdb":
        return
    lake_url, endpoint = settings.lake_url(), settings.s3_endpoint_url()
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if (lake_url, endpoint, region) in _prepared:
        return
    import ibis

    folder = extension_directory()
    if folder is None:
        raise ConfigurationError(
            "offline_store", "DuckDB's httpfs extension is not installed (the duckdb-ext-httpfs package)"
        )
    connection = ibis.duckdb.connect()
    connection.raw_sql(f"SET extension_directory = {_literal(folder)}")
    if lake_url.startswith("s3://"):
        connection.raw_sql("LOAD httpfs")
        if endpoint:
            # rclone (compose's S3 server) sends a file's ETag quoted on GET and bare on HEAD, which
            # DuckDB takes for a file changed mid-read; AWS itself keeps the check
            connection.raw_sql("SET unsafe_disable_etag_checks = true")
        secret = s3_secret_sql(endpoint, region)
        if secret:
            sql, hidden = secret
            try:
                connection.raw_sql(sql)
            except Exception as exc:  # the statement holds the keys: never in a message
                raise ConfigurationError(
                    settings.ENV_S3_ENDPOINT,
                    f"DuckDB refused the lake's S3 settings: {scrub(str(exc).splitlines()[0], *hidden)}",
                ) from None
    ibis.set_backend(connection)
    _prepared.add((lake_url, endpoint, region))
