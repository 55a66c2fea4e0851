"""Declarative sources: a YAML file declares what to ingest; each table becomes a bronze asset.

    start_date: "2026-08-01"          # first daily partition of timestamped tables
    sources:
      - name: demo_db
        kind: sql                     # sql | files | rest
        connection_env: MAESTRO_DEMO_SOURCE_URL   # the URL comes from this environment variable
        schedule: "0 2 * * *"         # cron of the source's daily ingestion schedule
        tables:
          - table: task_events
            keys: [event_id]
            watermark: event_time     # incremental by this column, one daily partition per day
            columns: {hours_logged: hours}   # optional renaming, source name → bronze name
          - table: users              # no watermark: a full snapshot, unpartitioned
            keys: [user_id]
      - name: landing
        kind: files
        tables:
          - {table: task_events_drop, prefix: landing/task_events/, format: csv, keys: [event_id],
             watermark: event_time}
      - name: github
        kind: rest
        connection_env: MAESTRO_GITHUB_API_URL
        auth_env: MAESTRO_GITHUB_TOKEN
        tables:
          - {table: workflow_runs, path: /actions/runs, pagination: link, records_path: workflow_runs, keys: [id]}

Every name that will reach SQL, a lake key or an asset key is checked here, so a declared table
such as ``users; DROP TABLE users`` is refused with a message naming the file, source and table.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from ..errors import MaestroError
from ..settings import env_default

ENV_SOURCES = "MAESTRO_SOURCES"
DEFAULT_SOURCES_FILE = Path(__file__).resolve().parents[2] / "sources.yaml"
KINDS = ("sql", "files", "rest")
FORMATS = ("csv", "jsonl", "parquet")
NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
PREFIX = re.compile(r"^[A-Za-z0-9_=.\-/]+/$")
TABLE_KEYS = {
    "table",
    "keys",
    "watermark",
    "columns",
    "prefix",
    "format",
    "path",
    "pagination",
    "upstream",
    "records_path",
    "params",
    "page_size",
    "rate_limit_per_second",
    "delimiter",
    "encoding",
    "header",
    "timezone",
}
SOURCE_KEYS = {"name", "kind", "connection_env", "auth_env", "schedule", "tables", "description", "owner"}


class SourceConfigError(MaestroError):
    """The sources file is wrong: the message names the file, the source and the table."""


@dataclass(frozen=True)
class TableSource:
    source: str
    kind: str
    table: str
    keys: tuple[str, ...] = ()
    watermark: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    prefix: str | None = None
    format: str | None = None
    delimiter: str = ","
    encoding: str = "utf-8"  # landed CSV / JSON-lines files are decoded with this codec
    header: bool = True  # False: the CSV has no header line; columns are named column_1, column_2 …
    timezone: str = "UTC"  # the zone of naive (offset-less) watermark values
    path: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)  # REST pagination options
    upstream: tuple[str, ...] = ()  # asset keys ("demo/task_events") the source reads from, for lineage

    @property
    def partitioned(self) -> bool:
        """Daily partitions: by the watermark (sql, rest) or by landing day (files)."""
        return self.watermark is not None or self.kind == "files"

    @property
    def asset_name(self) -> str:
        return f"{self.source}__{self.table}"

    def bronze_name(self, column: str) -> str:
        return self.columns.get(column, column)


@dataclass(frozen=True)
class Source:
    name: str
    kind: str
    tables: tuple[TableSource, ...]
    connection_env: str | None = None
    auth_env: str | None = None
    schedule: str = "0 2 * * *"
    description: str = ""
    owner: str = "team:data-platform"

    def connection(self, default: str | None = None) -> str:
        """The connection URL from the source's environment variable (never from the file)."""
        value = os.environ.get(self.connection_env or "", "").strip() if self.connection_env else ""
        if value:
            return value
        default = default or env_default(self.connection_env or "")
        if default:
            return default
        raise SourceConfigError(
            f"source {self.name!r}: environment variable {self.connection_env} is not set (it holds the connection URL)"
        )


@dataclass(frozen=True)
class SourcesConfig:
    path: Path
    start_date: date
    sources: tuple[Source, ...]

    def tables(self) -> list[TableSource]:
        return [t for s in self.sources for t in s.tables]

    def source(self, name: str) -> Source:
        return next(s for s in self.sources if s.name == name)


def sources_file() -> Path:
    return Path(os.environ.get(ENV_SOURCES) or DEFAULT_SOURCES_FILE)


def load_sources(path: str | Path | None = None) -> SourcesConfig:
    path = Path(path) if path else sources_file()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourceConfigError(f"{ENV_SOURCES}: the sources file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise SourceConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_sources(raw, path)


def parse_sources(raw: Any, path: Path) -> SourcesConfig:
    where = str(path)
    if not isinstance(raw, dict) or not isinstance(raw.get("sources"), list):
        raise SourceConfigError(f"{where}: expected a mapping with a 'sources' list")
    try:
        start = date.fromisoformat(str(raw.get("start_date", "2026-01-01")))
    except ValueError:
        raise SourceConfigError(f"{where}: start_date {raw.get('start_date')!r} is not YYYY-MM-DD") from None
    sources = [_parse_source(entry, where) for entry in raw["sources"]]
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise SourceConfigError(f"{where}: source names repeat: {sorted(n for n in names if names.count(n) > 1)}")
    return SourcesConfig(path, start, tuple(sources))


def _check(pattern: re.Pattern, value: Any, what: str, where: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise SourceConfigError(f"{where}: {what} {value!r} is not allowed (must match {pattern.pattern})")
    return value


def _named_entry(entry: Any, what: str, name_key: str, allowed: set[str], where: str) -> tuple[str, str]:
    """Check a source or table entry's shape and name; return (name, where-it-is for messages)."""
    if not isinstance(entry, dict):
        raise SourceConfigError(f"{where}: each {what} must be a mapping, got {entry!r}")
    name = _check(NAME, entry.get(name_key), f"{what} name", where)
    here = f"{where}, {what} {name!r}"
    unknown = set(entry) - allowed
    if unknown:
        raise SourceConfigError(f"{here}: unknown settings {sorted(unknown)}")
    return name, here


def _parse_source(entry: Any, where: str) -> Source:
    name, here = _named_entry(entry, "source", "name", SOURCE_KEYS, where)
    kind = entry.get("kind")
    if kind not in KINDS:
        raise SourceConfigError(f"{here}: kind {kind!r} is not one of {KINDS}")
    for env_key in ("connection_env", "auth_env"):
        if entry.get(env_key) is not None:
            _check(re.compile(r"^[A-Z_][A-Z0-9_]*$"), entry[env_key], env_key, here)
    if kind in ("sql", "rest") and not entry.get("connection_env"):
        raise SourceConfigError(f"{here}: a {kind} source needs connection_env (the variable holding its URL)")
    tables = entry.get("tables")
    if not isinstance(tables, list) or not tables:
        raise SourceConfigError(f"{here}: 'tables' must be a non-empty list")
    parsed = tuple(_parse_table(name, kind, t, here) for t in tables)
    table_names = [t.table for t in parsed]
    if len(set(table_names)) != len(table_names):
        raise SourceConfigError(f"{here}: table names repeat")
    return Source(
        name=name,
        kind=kind,
        tables=parsed,
        connection_env=entry.get("connection_env"),
        auth_env=entry.get("auth_env"),
        schedule=str(entry.get("schedule", "0 2 * * *")),
        description=str(entry.get("description", "")),
        owner=str(entry.get("owner", "team:data-platform")),
    )


def _parse_table(source: str, kind: str, entry: Any, where: str) -> TableSource:
    table, here = _named_entry(entry, "table", "table", TABLE_KEYS, where)
    keys = tuple(_check(COLUMN, k, "key column", here) for k in entry.get("keys", []))
    watermark = entry.get("watermark")
    if watermark is not None:
        _check(COLUMN, watermark, "watermark column", here)
    columns = entry.get("columns") or {}
    if not isinstance(columns, dict):
        raise SourceConfigError(f"{here}: 'columns' must map source names to bronze names")
    for old, new in columns.items():
        _check(COLUMN, old, "source column", here)
        _check(COLUMN, new, "bronze column", here)
    prefix = entry.get("prefix")
    fmt = entry.get("format")
    if kind == "files":
        _check(PREFIX, prefix, "prefix (ending in /)", here)
        if fmt not in FORMATS:
            raise SourceConfigError(f"{here}: format {fmt!r} is not one of {FORMATS}")
    delimiter = entry.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise SourceConfigError(f"{here}: delimiter must be one character")
    options = {
        k: entry[k]
        for k in ("pagination", "records_path", "params", "page_size", "rate_limit_per_second")
        if k in entry
    }
    path = entry.get("path")
    if kind == "rest" and not isinstance(path, str):
        raise SourceConfigError(f"{here}: a rest table needs 'path' (appended to the source URL)")
    upstream = tuple(
        _check(re.compile(r"^[a-z_][a-z0-9_]*(/[a-z_][a-z0-9_]*)*$"), u, "upstream asset key", here)
        for u in entry.get("upstream", [])
    )
    return TableSource(
        source=source,
        kind=kind,
        table=table,
        keys=keys,
        watermark=watermark,
        columns=dict(columns),
        prefix=prefix,
        format=fmt,
        delimiter=delimiter,
        encoding=str(entry.get("encoding", "utf-8")),
        header=bool(entry.get("header", True)),
        timezone=str(entry.get("timezone", "UTC")),
        path=path,
        options=options,
        upstream=upstream,
    )
