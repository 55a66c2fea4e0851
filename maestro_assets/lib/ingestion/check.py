"""Checking the declared sources before anything runs (``maestro check``).

For every source: its connection variable is set; a database answers and each declared table,
key, renamed column and watermark is in its live catalog; a REST API's host accepts a
connection; a files table's landing prefix holds objects (an empty prefix is reported, not an
error: files may not have landed yet). The first problem raises the error that names the
source, the table and the setting; otherwise one line per table says what is in use.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from ..errors import ConfigurationError, UnknownIdentifierError
from ..lake import Lake
from ..redact import redact_url
from ..settings import ENV_DEMO_SOURCE_URL
from ..warehouse import SourceDatabase
from .sources import Source, SourceConfigError, SourcesConfig
from .sql import extraction_query

CONNECT_TIMEOUT_SECONDS = 5.0


def check_sources(config: SourcesConfig, lake: Lake) -> list[str]:
    """One line per declared table; raises on the first source that cannot be used."""
    lines = [f"sources file   {config.path} ({len(config.sources)} sources, {len(config.tables())} tables)"]
    for source in config.sources:
        lines += CHECKS[source.kind](source, lake)
    return lines


def _check_sql(source: Source, lake: Lake) -> list[str]:
    url = source.connection()
    db = SourceDatabase(url, setting=source.connection_env)
    db.check()
    lines = []
    for spec in source.tables:
        try:
            extraction_query(db, spec)  # every declared name looked up in the catalog
        except UnknownIdentifierError as exc:
            hint = (
                " — the demo's source system is created by `maestro seed`"
                if source.connection_env == (ENV_DEMO_SOURCE_URL)
                else ""
            )
            raise SourceConfigError(f"source {source.name!r} ({source.connection_env}): {exc}{hint}") from None
        what = f"by {spec.watermark}" if spec.watermark else "snapshot"
        lines.append(f"  {spec.qualified_name:<28} sql   {db.display_url} table {spec.catalog_name!r} ({what})")
    return lines


def _check_files(source: Source, lake: Lake) -> list[str]:
    lines = []
    for spec in source.tables:
        objects = lake.list(spec.prefix)
        state = f"{len(objects)} object(s)" if objects else "no objects yet"
        lines.append(f"  {spec.qualified_name:<28} files {lake.url.rstrip('/')}/{spec.prefix} ({spec.format}, {state})")
    return lines


def _check_rest(source: Source, lake: Lake) -> list[str]:
    url = source.connection()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(source.connection_env, f"{redact_url(url)!r} is not an http(s) URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=CONNECT_TIMEOUT_SECONDS).close()
    except OSError as exc:
        raise ConfigurationError(
            source.connection_env, f"cannot connect to {parts.hostname}:{port} ({exc.strerror or exc})"
        ) from None
    return [f"  {spec.qualified_name:<28} rest  {redact_url(url)}{spec.path}" for spec in source.tables]


CHECKS = {"sql": _check_sql, "files": _check_files, "rest": _check_rest}
