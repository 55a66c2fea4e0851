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
          - table: public.SeattleWeather    # schema-qualified, mixed case: bronze name seattle_weather
          - table: users              # no watermark: a full snapshot, unpartitioned
            keys: [user_id]
      - name: landing
        kind: files
        tables:
          - {table: task_events_drop, prefix: landing/task_events/, format: csv, keys: [event_id]}
      - name: github
        kind: rest
        connection_env: MAESTRO_GITHUB_API_URL
        auth_env: MAESTRO_GITHUB_TOKEN
        tables:
          - {table: workflow_runs, path: /actions/runs, pagination: link, records_path: workflow_runs, keys: [id]}

The models below are the file's format (``extra="forbid"``: an unknown setting is an error), and
:func:`sources_json_schema` is the JSON Schema editors use to check the YAML. Every error names
the file, the source and table entry, and the setting.

Names: a SQL table is declared as the source database calls it (``table: public.Weather``) and
is looked up in the live catalog and quoted by the dialect, never formatted into SQL. Its bronze
name — the asset key ``bronze/<source>/<name>`` and the lake path — is ``name`` if given, else
the table's name in snake case (``public.SeattleWeather`` → ``seattle_weather``).
"""

from __future__ import annotations

import codecs
import os
import re
from datetime import date
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import MaestroError
from ..settings import ENV_SOURCES, env_default, sources_file

NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
# a database object's name as the catalog spells it: no quotes, separators or control characters
CATALOG_NAME = re.compile(r"^[^\x00-\x1f\"'`;\\/]{1,128}$")
PREFIX = re.compile(r"^[A-Za-z0-9_=.\-/]+/$")
ENV_VAR = re.compile(r"^[A-Z_][A-Z0-9_]*$")
ASSET_PATH = re.compile(r"^[a-z_][a-z0-9_]*(/[a-z_][a-z0-9_]*)*$")
REST_OPTIONS = ("pagination", "records_path", "params", "page_size", "rate_limit_per_second")
Kind = Literal["sql", "files", "rest"]


class SourceConfigError(MaestroError):
    """The sources file is wrong: the message names the file, the source, the table and the setting."""


def _matches(pattern: re.Pattern, value: str, what: str) -> str:
    if not pattern.fullmatch(value):  # not match(): its $ also matches before a final newline
        raise ValueError(f"{what} {value!r} is not allowed (must match {pattern.pattern})")
    return value


def _unique(names: list[str], what: str, hint: str = "") -> None:
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{what} repeat: {repeated}{hint}")


def snake_case(name: str) -> str:
    """``SeattleWeather`` → ``seattle_weather``; ``Order Details`` → ``order_details``."""
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    name = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return f"t_{name}" if name[:1].isdigit() else name


class TableSource(BaseModel):
    """One declared table: where it comes from, how it is read, what it is called in the lake."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(description="the source's name (set from the enclosing source entry)")
    kind: Kind = Field(description="the source's kind (set from the enclosing source entry)")
    source_table: str = Field(
        alias="table",
        description="the table as the source names it: a SQL table ([schema.]name, any case, checked against "
        "the live catalog) or, for files and rest sources, a lower-case name",
    )
    table: str = Field(
        default="",
        alias="name",
        description="bronze name (asset key bronze/<source>/<name>, lake path); "
        "default: the table's name in snake case",
    )
    db_schema: str | None = Field(default=None, alias="schema", description="SQL schema, if not in `table`")
    keys: tuple[str, ...] = Field(default=(), description="columns that identify a row (deduplication)")
    watermark: str | None = Field(default=None, description="timestamp column: daily partitions by its day")
    timezone: str = Field(default="UTC", description="zone of watermark values written without an offset")
    columns: dict[str, str] = Field(default_factory=dict, description="renames, source column → bronze column")
    prefix: str | None = Field(default=None, description="files: the landing prefix in the lake, ending in /")
    format: Literal["csv", "jsonl", "parquet"] | None = Field(default=None, description="files: the file format")
    delimiter: str = Field(default=",", min_length=1, max_length=1, description="csv: the field delimiter")
    encoding: str = Field(default="utf-8", description="csv/jsonl: the text encoding (a Python codec name)")
    header: bool = Field(default=True, description="csv: False when the first line is data (columns column_1 …)")
    settle_seconds: float = Field(
        default=10.0,
        ge=0,
        description="files: the landing sensor takes an object once it was last modified this long ago "
        "(a file still being written waits for a later tick)",
    )
    bad_files: Literal["ERROR", "WARNING"] = Field(
        default="ERROR",
        description="files: severity of the check that fails when a landed file cannot be read "
        "(ERROR blocks downstream assets; the day's good files land either way)",
    )
    path: str | None = Field(default=None, description="rest: path appended to the source URL")
    pagination: Literal["page", "offset", "cursor", "link"] | None = Field(
        default=None, description="rest: page (default), offset, cursor or link"
    )
    records_path: str | None = Field(default=None, description="rest: where the records are in a page")
    params: dict[str, Any] | None = Field(default=None, description="rest: query parameters ({start}, {end})")
    page_size: int | None = Field(default=None, gt=0)
    rate_limit_per_second: float | None = Field(default=None, gt=0)
    upstream: tuple[str, ...] = Field(default=(), description="asset keys (a/b) the source reads from, for lineage")

    @model_validator(mode="before")
    @classmethod
    def _derive_names(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        raw = dict(raw)
        declared = raw.get("table")
        if isinstance(declared, str) and raw.get("kind") == "sql":
            _matches(CATALOG_NAME, declared, "table")
            if raw.get("schema") is None and "." in declared:
                raw["schema"], raw["table"] = declared.split(".", 1)
                declared = raw["table"]
        if isinstance(declared, str) and not raw.get("name"):
            raw["name"] = snake_case(declared) if raw.get("kind") == "sql" else declared
        return raw

    @model_validator(mode="after")
    def _check(self) -> TableSource:
        _matches(NAME, self.table, "bronze name" if self.kind == "sql" else "table name")
        if self.kind == "sql":
            _matches(CATALOG_NAME, self.source_table, "table")
            if self.db_schema is not None:
                _matches(CATALOG_NAME, self.db_schema, "schema")
        if self.kind == "files":
            if self.prefix is None or not PREFIX.fullmatch(self.prefix):
                raise ValueError(f"a files table needs prefix, a lake prefix ending in / (got {self.prefix!r})")
            if self.format is None:
                raise ValueError("a files table needs format: csv, jsonl or parquet")
        if self.kind == "rest" and not self.path:
            raise ValueError("a rest table needs path (appended to the source URL)")
        for what, names in (
            ("key column", self.keys),
            ("source column", self.columns),
            ("bronze column", self.columns.values()),
        ):
            for name in names:
                _matches(COLUMN, name, what)
        if self.watermark is not None:
            _matches(COLUMN, self.watermark, "watermark column")
        for key in self.upstream:
            _matches(ASSET_PATH, key, "upstream asset key")
        return self

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone {value!r} is not an IANA time zone (e.g. UTC, Europe/Berlin)") from None
        return value

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"encoding {value!r} is not a known codec (e.g. utf-8, utf-16, latin-1)") from None
        return value

    @property
    def partitioned(self) -> bool:
        """Daily partitions: by the watermark (sql, rest) or by landing day (files)."""
        return self.watermark is not None or self.kind == "files"

    @property
    def options(self) -> dict[str, Any]:
        """The REST pagination options that are set."""
        return {k: getattr(self, k) for k in REST_OPTIONS if getattr(self, k) is not None}

    @property
    def catalog_name(self) -> str:
        """The table as the source's catalog names it: ``schema.table`` when a schema is set."""
        return f"{self.db_schema}.{self.source_table}" if self.db_schema else self.source_table

    @property
    def qualified_name(self) -> str:
        """``source/table``: how the table is named in the lake, the rules and messages."""
        return f"{self.source}/{self.table}"

    def bronze_name(self, column: str) -> str:
        return self.columns.get(column, column)


class Source(BaseModel):
    """One declared source: a database, a landing prefix or a REST API, and its tables."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: Kind
    tables: tuple[TableSource, ...] = Field(min_length=1)
    connection_env: str | None = Field(default=None, description="environment variable holding the URL")
    auth_env: str | None = Field(default=None, description="rest: variable holding the Authorization header")
    schedule: str = Field(default="0 2 * * *", description="cron (UTC) of the daily ingestion schedule")
    description: str = ""
    owner: str = "team:data-platform"

    @model_validator(mode="before")
    @classmethod
    def _tables_know_their_source(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and isinstance(raw.get("tables"), list):
            for entry in raw["tables"]:
                if isinstance(entry, dict) and ({"source", "kind"} & set(entry)):
                    raise ValueError("a table entry takes its source and kind from the source it is listed under")
            raw = {
                **raw,
                "tables": [
                    {**t, "source": raw.get("name"), "kind": raw.get("kind")} if isinstance(t, dict) else t
                    for t in raw["tables"]
                ],
            }
        return raw

    @model_validator(mode="after")
    def _check(self) -> Source:
        _matches(NAME, self.name, "source name")
        for setting in ("connection_env", "auth_env"):
            value = getattr(self, setting)
            if value is not None:
                _matches(ENV_VAR, value, setting)
        if self.kind in ("sql", "rest") and not self.connection_env:
            raise ValueError(f"a {self.kind} source needs connection_env (the variable holding its URL)")
        _unique([t.table for t in self.tables], "bronze names", " (give one of the tables a `name:`)")
        return self

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


class SourcesConfig(BaseModel):
    """The sources file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path = Field(default=Path("sources.yaml"), exclude=True)
    start_date: date = Field(default=date(2026, 1, 1), description="first daily partition (YYYY-MM-DD)")
    end_date: date | None = Field(
        default=None,
        description="the day after the last daily partition (exclusive, YYYY-MM-DD); "
        "default: none, a new partition every day up to yesterday",
    )
    sources: tuple[Source, ...]

    @model_validator(mode="after")
    def _check(self) -> SourcesConfig:
        if self.end_date is not None and self.end_date <= self.start_date:
            raise ValueError(f"end_date {self.end_date} must be after start_date {self.start_date}")
        _unique([s.name for s in self.sources], "source names")
        return self

    def tables(self) -> list[TableSource]:
        return [t for s in self.sources for t in s.tables]

    def source(self, name: str) -> Source:
        return next(s for s in self.sources if s.name == name)


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
    if not isinstance(raw, dict) or not isinstance(raw.get("sources"), list):
        raise SourceConfigError(f"{path}: expected a mapping with a 'sources' list")
    try:
        return SourcesConfig.model_validate({**raw, "path": path})
    except ValidationError as exc:
        raise SourceConfigError(_explain(exc, raw, path)) from None


def _explain(exc: ValidationError, raw: dict, path: Path) -> str:
    """The first error as one sentence: file, source entry, table entry, setting, problem."""
    error = exc.errors()[0]
    loc = list(error["loc"])
    where = [str(path)]
    node: Any = raw
    setting = []
    while loc:
        step = loc.pop(0)
        if isinstance(node, dict) and step in node:
            node = node[step]
            if step not in ("sources", "tables") or not loc:  # list names are settings only at the end
                setting.append(str(step))
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
            if isinstance(node, dict):
                what = "source" if "kind" in node and "tables" in node else "table"
                label = node.get("name") if what == "source" else node.get("table")
                where.append(f"{what} {label!r}" if isinstance(label, str) else f"{what} #{step + 1}")
        else:
            if isinstance(step, str) and not step.startswith(("function-", "model")):
                setting.append(step)
            break
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown setting"
    elif error["type"] == "missing":
        message = "missing (required)"
    text = ", ".join(where)
    return f"{text}: {'.'.join(setting) + ': ' if setting else ''}{message}"


def sources_json_schema() -> dict:
    """The JSON Schema of the sources file (what editors check the YAML against)."""
    schema = SourcesConfig.model_json_schema(by_alias=True)
    table = schema["$defs"]["TableSource"]
    for injected in ("source", "kind"):  # set from the enclosing source entry, not written in the file
        table["properties"].pop(injected, None)
        table["required"] = [r for r in table.get("required", []) if r != injected]
    schema["$defs"]["Source"]["properties"]["tables"]["items"] = {"$ref": "#/$defs/TableSource"}
    schema["title"] = "Maestro sources file"
    return schema
