"""The platform's maintenance jobs: back up the databases, rehearse a restore, delete what is too old.

Each is one op (no assets: nothing here is data a model or a person reads). What was dumped,
restored or deleted is the op's output metadata; no URL in it carries a password.
"""

from dagster import Config, MetadataValue, OpExecutionContext, Output, job, op
from pydantic import Field

from ...lib import settings
from ...lib.errors import ConfigurationError
from ...lib.platform.backup import backup_databases, drop_databases, read_manifest, restore
from ...lib.platform.retention import apply_retention, load_retention
from ...resources import LakeResource, MlflowResource
from ..failures import RETRY, bad_input_fails_fast

DRILL_PREFIX = "restore_drill_"


class PlatformBackupConfig(Config):
    table_checksums: bool = Field(
        default=False,
        description="also keep an md5 of every table's rows in the manifest "
        "(reads every row; the drill then compares them)",
    )


def _table(rows: dict[str, dict], columns: tuple[str, ...]) -> MetadataValue:
    lines = ["| name | " + " | ".join(columns) + " |", "|" + " --- |" * (len(columns) + 1)]
    lines += [f"| {name} | " + " | ".join(str(row[c]) for c in columns) + " |" for name, row in rows.items()]
    return MetadataValue.md("\n".join(lines) if rows else "_nothing_")


@op(retry_policy=RETRY, description="pg_dump every configured platform database into backups/<id>/ of the lake")
@bad_input_fails_fast
def back_up_platform_databases(context: OpExecutionContext, config: PlatformBackupConfig, lake: LakeResource):
    report = backup_databases(lake.client(), with_checksums=config.table_checksums, log=context.log.info)
    summary = report.summary()
    return Output(
        summary,
        metadata={
            "backup_id": report.backup_id,
            "databases_dumped": len(report.dumps),
            "bytes": sum(d.size for d in report.dumps),
            "dumped": _table(summary["dumped"], ("file", "bytes", "tables", "rows")),
            "skipped": MetadataValue.json(report.skipped),
            "deleted_backups": MetadataValue.json(report.deleted),
        },
    )


@op(retry_policy=RETRY, description="restore the newest backup into scratch databases, verify it, drop them")
@bad_input_fails_fast
def rehearse_restore(context: OpExecutionContext, lake: LakeResource):
    target = settings.restore_drill_url()
    if not target:
        raise ConfigurationError(
            settings.ENV_RESTORE_DRILL_URL,
            "not set",
            "point it at a scratch PostgreSQL server's maintenance database (postgresql://user:pass@host/postgres)",
        )
    manifest = read_manifest(lake.client())
    scratch = [f"{DRILL_PREFIX}{entry['database']}" for entry in manifest["databases"]]
    drop_databases(target, scratch)  # what an interrupted drill left behind
    try:
        report = restore(
            lake.client(), target, manifest["backup_id"], database_prefix=DRILL_PREFIX, log=context.log.info
        )
    finally:
        drop_databases(target, scratch)
    summary = report.summary()
    checksums = sum(bool(entry.get("checksums")) for entry in manifest["databases"])
    return Output(
        summary,
        metadata={
            "backup_id": report.backup_id,
            "databases_restored": len(report.databases),
            "restored": _table(summary["restored"], ("database", "tables", "rows")),
            "verified": MetadataValue.md(
                f"sha256 of {len(report.databases)} dump(s) before, row counts of every table after"
                + (f", table checksums of {checksums} database(s)" if checksums else "")
            ),
        },
    )


@op(description="delete lake partitions and MLflow runs older than the MAESTRO_RETENTION thresholds")
@bad_input_fails_fast
def delete_expired_data(context: OpExecutionContext, lake: LakeResource, mlflow: MlflowResource):
    retention = load_retention()
    if not retention.lake_days and retention.mlflow_run_days is None:
        context.log.info(f"no retention configured ({settings.ENV_RETENTION}): nothing deleted")
    report = apply_retention(lake.client(), mlflow.client(), retention)
    for prefixes in report.deleted_partitions.values():
        for prefix in prefixes:
            context.log.info(f"deleted {prefix}")
    for run in report.deleted_runs:
        context.log.info(f"deleted MLflow run {run['run_id']} (started {run['started']}) and {run['artifacts']}")
    return Output(
        report.summary(),
        metadata={
            "settings": MetadataValue.json(retention.model_dump()),
            "partitions_deleted": sum(len(p) for p in report.deleted_partitions.values()),
            "objects_deleted": report.deleted_objects,
            "mlflow_runs_deleted": len(report.deleted_runs),
            "deleted": MetadataValue.json(
                {"partitions": report.deleted_partitions, "mlflow_runs": report.deleted_runs}
            ),
            "kept_runs": MetadataValue.json(report.kept_runs),
        },
    )


@job(description="Back up the platform databases (warehouse, Dagster, MLflow, Feast registry) into the lake.")
def platform_backup():
    back_up_platform_databases()


@job(description="Restore the newest backup into a scratch server (MAESTRO_RESTORE_DRILL_URL) and verify it.")
def platform_restore_drill():
    rehearse_restore()


@job(description="Delete lake partitions and MLflow runs (with their artifacts) older than MAESTRO_RETENTION says.")
def platform_retention():
    delete_expired_data()
