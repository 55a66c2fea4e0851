"""Backups of the platform's PostgreSQL databases into the lake, restores from them, and retention.

* :func:`platform_databases` — the databases the environment configures: the warehouse
  (``MAESTRO_WAREHOUSE_URL``, which also holds the Optuna studies), the Dagster instance
  (``DAGSTER_PG_*``), MLflow's backend store and the Feast SQL registry.
* :func:`backup_databases` — ``pg_dump --format=custom`` of each one, taken from a snapshot exported
  by a REPEATABLE READ transaction in which the manifest's per-table row counts are read too, so
  the counts describe exactly what was dumped. The dumps go to ``backups/<backup id>/<name>.dump``
  with ``backups/<backup id>/manifest.json`` written last (a folder without a manifest is an
  unfinished backup), then :func:`apply_backup_retention` deletes the backups that are too old.
* :func:`restore` — checks every dump's sha256 against the manifest before anything is created,
  creates each database on the target server (refusing one that exists), ``pg_restore``s it and
  compares the restored tables' row counts (and checksums, where the manifest has them).

Passwords reach ``pg_dump``/``pg_restore`` through ``PGPASSWORD`` only: never on a command line,
in a log line, in the manifest or in an error message (:mod:`maestro_assets.lib.redact`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from .. import settings
from ..errors import BackupError, ConfigurationError, CorruptBackupError, RestoreVerificationError, is_transient
from ..lake import Lake
from ..redact import redact_url, scrub

BACKUP_PREFIX = "backups"
MANIFEST = "manifest.json"
BACKUP_ID_FORMAT = "%Y%m%dT%H%M%SZ"
LATEST = "latest"
Log = Callable[[str], None]


@dataclass(frozen=True)
class PlatformDatabase:
    """One database of the platform: its name in the backup, its URL (None: not configured), its setting."""

    name: str
    url: str | None
    setting: str


def platform_databases() -> list[PlatformDatabase]:
    """The platform's databases as the environment configures them (the Optuna studies live in the warehouse)."""
    return [
        PlatformDatabase("warehouse", settings.warehouse_url(), settings.ENV_WAREHOUSE_URL),
        PlatformDatabase("dagster", settings.dagster_storage_url(), "DAGSTER_PG_HOST/…/DAGSTER_PG_DB"),
        PlatformDatabase("mlflow", settings.mlflow_backend_url(), settings.ENV_MLFLOW_BACKEND_URL),
        PlatformDatabase("feast_registry", settings.feast_registry_url(), settings.ENV_FEAST_REGISTRY_URL),
        PlatformDatabase("optuna", settings.warehouse_url(), "the warehouse (Optuna's study storage)"),
    ]


# -- connections -------------------------------------------------------------------------------
def _postgres_url(url: str, setting: str) -> URL:
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigurationError(setting, f"not a database URL: {redact_url(url)}") from exc
    if parsed.get_backend_name() != "postgresql":
        raise ConfigurationError(setting, f"not a PostgreSQL URL: {redact_url(url)}")
    return parsed.set(drivername="postgresql+psycopg2")


def _query_value(url: URL, key: str) -> str | None:
    value = url.query.get(key)
    if isinstance(value, tuple):
        value = value[-1] if value else None
    return value or None


def _address(url: URL) -> tuple:
    """Which database a URL names, whatever the driver or the password."""
    return (url.host or _query_value(url, "host"), url.port or 5432, url.database)


def _libpq_value(value: object) -> str:
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def _conninfo(url: URL, database: str | None = None) -> str:
    """A libpq connection string WITHOUT the password (that goes through PGPASSWORD)."""
    parts = {
        "dbname": database or url.database,
        "host": url.host or _query_value(url, "host"),
        "port": url.port or _query_value(url, "port"),
        "user": url.username,
    }
    for key in url.query:
        if key not in ("host", "port", "password"):
            parts[key] = _query_value(url, key)
    return " ".join(f"{key}={_libpq_value(value)}" for key, value in parts.items() if value)


def _client_env(url: URL) -> dict[str, str]:
    """The environment of pg_dump/pg_restore: the URL's password as PGPASSWORD (without one in the
    URL, libpq's own PGPASSWORD or ~/.pgpass apply, as for the connections Maestro opens itself)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    return env


def _engine(url: URL, database: str | None = None, **kwargs) -> sa.Engine:
    return sa.create_engine(url.set(database=database or url.database), poolclass=NullPool, **kwargs)


def postgres_binary(name: str) -> str:
    """``pg_dump``/``pg_restore``/… from MAESTRO_PG_BIN_DIR, else from PATH (it must not be older than the server)."""
    folder = settings.pg_bin_dir()
    found = shutil.which(name, path=folder) if folder else shutil.which(name)
    if not found:
        where = f"in {settings.ENV_PG_BIN_DIR}={folder}" if folder else "on PATH"
        raise ConfigurationError(
            settings.ENV_PG_BIN_DIR,
            f"{name} not found {where}",
            "install the PostgreSQL client of the server's version",
        )
    return found


def _run(command: list[str], url: URL, what: str) -> None:
    result = subprocess.run(command, env=_client_env(url), capture_output=True, text=True)
    if result.returncode != 0:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        problem = scrub("; ".join(lines) or f"exit status {result.returncode}", url.password)
        hint = ""
        if "version mismatch" in problem:
            hint = f" (the client is older than the server: point {settings.ENV_PG_BIN_DIR} at a newer one)"
        raise BackupError(f"{what}: {Path(command[0]).name} failed: {problem}{hint}")


# -- what a database holds ----------------------------------------------------------------------
_TABLES = sa.text(
    "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' ORDER BY 1, 2"
)


def _quoted(schema: str, table: str) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in (schema, table))


def table_row_counts(conn: sa.Connection) -> dict[str, int]:
    """``{"schema.table": rows}`` of every user table, in the connection's transaction."""
    return {
        f"{schema}.{table}": conn.execute(sa.text(f"SELECT count(*) FROM {_quoted(schema, table)}")).scalar_one()
        for schema, table in conn.execute(_TABLES)
    }


def table_checksums(conn: sa.Connection) -> dict[str, str]:
    """``{"schema.table": md5}`` of every user table's rows as text, in byte order (the same on any server)."""
    return {
        f"{schema}.{table}": conn.execute(
            sa.text(
                "SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text COLLATE \"C\"), '')) "
                f"FROM {_quoted(schema, table)} t"
            )
        ).scalar_one()
        for schema, table in conn.execute(_TABLES)
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# -- backup -------------------------------------------------------------------------------------
@dataclass
class DatabaseDump:
    name: str
    database: str
    source: str  # the redacted URL
    key: str
    sha256: str
    size: int
    server_version: str
    row_counts: dict[str, int]
    checksums: dict[str, str] | None = None


@dataclass
class BackupReport:
    backup_id: str
    dumps: list[DatabaseDump]
    skipped: dict[str, str]
    deleted: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        """What was dumped, skipped and deleted (no URL with a password: sources are redacted)."""
        return {
            "backup_id": self.backup_id,
            "dumped": {
                d.name: {
                    "file": d.key,
                    "bytes": d.size,
                    "tables": len(d.row_counts),
                    "rows": sum(d.row_counts.values()),
                }
                for d in self.dumps
            },
            "skipped": self.skipped,
            "deleted_backups": self.deleted,
        }


def _connect(url: URL, what: str, **kwargs) -> sa.Connection:
    """A connection; a permanent failure (no such database, a wrong password) names what it was for."""
    try:
        return _engine(url, **kwargs).connect()
    except sa.exc.OperationalError as exc:
        if is_transient(exc):
            raise
        problem = scrub(str(exc.orig).strip(), url.password)
        raise BackupError(f"{what} ({url.render_as_string(hide_password=True)}): {problem}") from None


def _dump_one(db: PlatformDatabase, url: URL, lake: Lake, key: str, folder: Path, checksums: bool) -> DatabaseDump:
    path = folder / f"{db.name}.dump"
    with _connect(url, f"backup of {db.name}", isolation_level="REPEATABLE READ") as conn, conn.begin():
        snapshot = conn.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one()
        version = conn.execute(sa.text("SHOW server_version")).scalar_one()
        counts = table_row_counts(conn)
        sums = table_checksums(conn) if checksums else None
        _run(
            [
                postgres_binary("pg_dump"),
                "--format=custom",
                "--compress=6",
                f"--snapshot={snapshot}",
                f"--file={path}",
                f"--dbname={_conninfo(url)}",
            ],
            url,
            f"backup of {db.name} ({url.render_as_string(hide_password=True)})",
        )
    lake.put_file(key, path)
    return DatabaseDump(
        name=db.name,
        database=url.database,
        source=url.render_as_string(hide_password=True),
        key=key,
        sha256=_sha256(path),
        size=path.stat().st_size,
        server_version=version,
        row_counts=counts,
        checksums=sums,
    )


def backup_databases(
    lake: Lake,
    databases: Iterable[PlatformDatabase] | None = None,
    *,
    keep_last: int | None = None,
    max_age_days: float | None = None,
    now: datetime | None = None,
    with_checksums: bool = False,
    log: Log | None = None,
) -> BackupReport:
    """Dump each configured PostgreSQL database into ``backups/<id>/`` of the lake, write the manifest,
    then apply retention. A database not configured, not PostgreSQL or already dumped under another
    name is skipped with the reason. ``with_checksums`` adds an md5 per table (reads every row)."""
    log = log or (lambda _line: None)
    now = now or datetime.now(UTC)
    backup_id = now.astimezone(UTC).strftime(BACKUP_ID_FORMAT)
    if lake.list(f"{BACKUP_PREFIX}/{backup_id}/"):
        raise BackupError(f"backup {backup_id} already exists in the lake ({lake.url}); try again in a second")
    report = BackupReport(backup_id, [], {})
    seen: dict[tuple, str] = {}
    with tempfile.TemporaryDirectory(prefix="maestro-backup-") as tmp:
        for db in platform_databases() if databases is None else databases:
            if not db.url:
                report.skipped[db.name] = f"not configured ({db.setting} is not set)"
                continue
            try:
                url = _postgres_url(db.url, db.setting)
            except ConfigurationError:
                report.skipped[db.name] = f"not PostgreSQL ({redact_url(db.url)})"
                continue
            if _address(url) in seen:
                report.skipped[db.name] = f"the same database as {seen[_address(url)]}, dumped once"
                continue
            seen[_address(url)] = db.name
            dump = _dump_one(db, url, lake, f"{BACKUP_PREFIX}/{backup_id}/{db.name}.dump", Path(tmp), with_checksums)
            log(f"dumped {db.name} ({dump.source}): {len(dump.row_counts)} tables, {dump.size} bytes → {dump.key}")
            report.dumps.append(dump)
    for name, reason in report.skipped.items():
        log(f"skipped {name}: {reason}")
    manifest = {
        "backup_id": backup_id,
        "created_at": now.astimezone(UTC).isoformat(),
        "databases": [asdict(d) for d in report.dumps],
        "skipped": report.skipped,
    }
    lake.put(f"{BACKUP_PREFIX}/{backup_id}/{MANIFEST}", json.dumps(manifest, indent=2).encode())
    report.deleted = apply_backup_retention(
        lake,
        settings.backup_keep_last() if keep_last is None else keep_last,
        settings.backup_max_age_days() if max_age_days is None else max_age_days,
        now=now,
    )
    for backup in report.deleted:
        log(f"retention: deleted backup {backup}")
    return report


# -- the backups in the lake ----------------------------------------------------------------------
def _folders(lake: Lake) -> dict[str, set[str]]:
    """``{backup id: file names}`` of every folder under backups/ whose name is a backup id."""
    folders: dict[str, set[str]] = {}
    for obj in lake.list(f"{BACKUP_PREFIX}/"):
        parts = obj.key.split("/")
        if len(parts) == 3 and _backup_time(parts[1]) is not None:
            folders.setdefault(parts[1], set()).add(parts[2])
    return folders


def _backup_time(backup_id: str) -> datetime | None:
    try:
        return datetime.strptime(backup_id, BACKUP_ID_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def list_backups(lake: Lake) -> list[str]:
    """The complete backups (those with a manifest), oldest first."""
    return sorted(backup for backup, files in _folders(lake).items() if MANIFEST in files)


def read_manifest(lake: Lake, backup_id: str = LATEST) -> dict:
    backups = list_backups(lake)
    if not backups:
        raise BackupError(f"no backup in the lake ({lake.url}/{BACKUP_PREFIX}): run `maestro backup` first")
    if backup_id == LATEST:
        backup_id = backups[-1]
    elif backup_id not in backups:
        raise BackupError(f"no backup {backup_id!r} in the lake ({lake.url}); there are: {', '.join(backups)}")
    return json.loads(lake.get(f"{BACKUP_PREFIX}/{backup_id}/{MANIFEST}"))


def apply_backup_retention(lake: Lake, keep_last: int, max_age_days: float, now: datetime | None = None) -> list[str]:
    """Delete the backup folders that are neither among the ``keep_last`` newest complete backups nor
    younger than ``max_age_days``; returns the deleted backup ids. Unfinished folders (no manifest) take
    no place among the newest and go once they are old; a folder not named like a backup is never touched."""
    if keep_last < 1:
        raise ConfigurationError(settings.ENV_BACKUP_KEEP_LAST, f"must be at least 1, not {keep_last}")
    now = now or datetime.now(UTC)
    folders = _folders(lake)
    newest = set(sorted(b for b, files in folders.items() if MANIFEST in files)[-keep_last:])
    deleted = []
    for backup in sorted(folders):
        if backup in newest or now - _backup_time(backup) < timedelta(days=max_age_days):
            continue
        lake.delete_prefix(f"{BACKUP_PREFIX}/{backup}/")
        deleted.append(backup)
    return deleted


# -- restore -----------------------------------------------------------------------------------
@dataclass
class RestoreReport:
    backup_id: str
    databases: dict[str, str]  # backup name → database created on the target
    row_counts: dict[str, dict[str, int]]

    def summary(self) -> dict:
        return {
            "backup_id": self.backup_id,
            "restored": {
                name: {"database": self.databases[name], "tables": len(c), "rows": sum(c.values())}
                for name, c in self.row_counts.items()
            },
        }


def existing_databases(server: URL) -> set[str]:
    with _connect(server, "the restore target") as conn:
        return set(conn.execute(sa.text("SELECT datname FROM pg_database")).scalars())


def drop_databases(target_server_url: str, names: Iterable[str]) -> None:
    """Drop these databases of the target server (the restore drill's scratch databases)."""
    server = _postgres_url(target_server_url, "the restore target")
    with _engine(server, isolation_level="AUTOCOMMIT").connect() as conn:
        for name in names:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _compare(name: str, expected: dict, actual: dict, what: str) -> list[str]:
    return [
        f"{name}.{table}: {what} {actual.get(table)} after the restore, {value} in the backup"
        for table, value in sorted(expected.items())
        if actual.get(table) != value
    ] + [f"{name}.{table}: not in the backup" for table in sorted(set(actual) - set(expected))]


def restore(
    lake: Lake,
    target_server_url: str,
    backup_id: str = LATEST,
    *,
    database_prefix: str = "",
    log: Log | None = None,
) -> RestoreReport:
    """Restore a backup (default: the newest) into new databases ``<prefix><source database>`` of the
    target server. Every dump's checksum is verified before anything is created; a database that
    already exists on the target is refused; row counts (and checksums) are compared afterwards."""
    log = log or (lambda _line: None)
    manifest = read_manifest(lake, backup_id)
    backup_id = manifest["backup_id"]
    server = _postgres_url(target_server_url, "the restore target (--target)")
    targets = {entry["name"]: f"{database_prefix}{entry['database']}" for entry in manifest["databases"]}
    clash = sorted(set(targets.values()) & existing_databases(server))
    if clash:
        raise BackupError(
            f"the restore target {redact_url(target_server_url)} already has database(s) {', '.join(clash)}: "
            "restore into an empty server (or drop them first)"
        )
    with tempfile.TemporaryDirectory(prefix="maestro-restore-") as tmp:
        files = {}
        for entry in manifest["databases"]:
            path = Path(tmp) / f"{entry['name']}.dump"
            lake.get_file(entry["key"], path)
            actual = _sha256(path)
            if actual != entry["sha256"]:
                raise CorruptBackupError(
                    f"{entry['key']}: sha256 {actual} differs from the manifest's {entry['sha256']}: "
                    f"the dump is corrupt, nothing of backup {backup_id} was restored"
                )
            files[entry["name"]] = path
        report = RestoreReport(backup_id, targets, {})
        problems = []
        for entry in manifest["databases"]:
            name, database = entry["name"], targets[entry["name"]]
            with _engine(server, isolation_level="AUTOCOMMIT").connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{database}" TEMPLATE template0'))
            try:
                _run(
                    [
                        postgres_binary("pg_restore"),
                        "--no-owner",
                        "--no-acl",
                        "--exit-on-error",
                        f"--dbname={_conninfo(server, database)}",
                        str(files[name]),
                    ],
                    server,
                    f"restore of {name} into {database}",
                )
            except BackupError as exc:
                raise BackupError(
                    f"{exc}; {database} is incomplete on the target: drop it before trying again"
                ) from None
            with _engine(server, database).connect() as conn:
                counts = table_row_counts(conn)
                problems += _compare(name, entry["row_counts"], counts, "rows")
                if entry.get("checksums"):
                    problems += _compare(name, entry["checksums"], table_checksums(conn), "md5")
            report.row_counts[name] = counts
            log(f"restored {name} into {database}: {len(counts)} tables, {sum(counts.values())} rows")
    if problems:
        raise RestoreVerificationError(f"backup {backup_id} restored with differences: " + "; ".join(problems))
    return report
