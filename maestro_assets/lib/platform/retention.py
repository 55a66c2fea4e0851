"""Retention of old data: lake partitions of bronze/silver/gold/quarantine and MLflow runs with their artifacts.

Configured by a small YAML file named by ``MAESTRO_RETENTION`` (no file: nothing is deleted)::

    lake_days:            # a partition whose day is older than this many days is deleted (per layer)
      bronze: 400
      silver: 400
      gold: 730
      quarantine: 30
    mlflow_run_days: 180  # runs started longer ago than this, with their artifacts

A layer or MLflow left out keeps everything. A partition's age is its day (``day=2026-01-31``);
a partition whose value is not a day is aged by its newest object. An MLflow run's artifacts are
deleted through MLflow's artifact repository (a folder, an S3 prefix, the tracking server's proxy)
before the run itself — ``mlflow gc`` would leave them behind — and the run is then removed from the
backend store (when it is reachable as a database: the tracking URI or ``MAESTRO_MLFLOW_BACKEND_URL``).
A run that a registered model version was made from is kept: the registry still points at it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .. import settings
from ..errors import ConfigurationError, validation_problems
from ..lake import Lake
from ..redact import redact_url
from ..tracking import Tracking

LAYERS = ("bronze", "silver", "gold", "quarantine")


class RetentionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lake_days: dict[str, int] = Field(default_factory=dict)
    mlflow_run_days: int | None = Field(default=None, ge=1)

    def model_post_init(self, _context) -> None:
        for layer, days in self.lake_days.items():
            if layer not in LAYERS:
                raise ValueError(f"lake_days.{layer}: not a lake layer (one of {', '.join(LAYERS)})")
            if days < 1:
                raise ValueError(f"lake_days.{layer}: must be at least 1 day, not {days}")


def load_retention(path: Path | None = None) -> RetentionSettings:
    """The retention settings of the YAML file (default: MAESTRO_RETENTION; none: nothing is deleted)."""
    path = path or settings.retention_file()
    if path is None:
        return RetentionSettings()
    try:
        document = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as exc:
        raise ConfigurationError(settings.ENV_RETENTION, f"cannot read {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(settings.ENV_RETENTION, f"{path} is not valid YAML: {exc}") from None
    try:
        return RetentionSettings.model_validate(document)
    except (ValidationError, ValueError) as exc:
        problem = validation_problems(exc) if isinstance(exc, ValidationError) else str(exc)
        raise ConfigurationError(settings.ENV_RETENTION, f"{path}: {problem}") from None


@dataclass
class RetentionReport:
    deleted_partitions: dict[str, list[str]] = field(default_factory=dict)  # layer → partition prefixes
    deleted_objects: int = 0
    deleted_runs: list[dict] = field(default_factory=list)
    kept_runs: dict[str, str] = field(default_factory=dict)  # run id → why it stays

    def summary(self) -> dict:
        return {
            "deleted_partitions": {layer: len(found) for layer, found in self.deleted_partitions.items()},
            "deleted_objects": self.deleted_objects,
            "deleted_runs": len(self.deleted_runs),
            "kept_runs": self.kept_runs,
        }


def _partition_day(value: str) -> date | None:
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def delete_old_partitions(lake: Lake, layer: str, days: int, now: datetime) -> tuple[list[str], int]:
    """Delete the layer's partitions older than ``days``; returns (partition prefixes, objects deleted)."""
    partitions: dict[str, list] = {}
    for obj in lake.list(f"{layer}/"):
        parts = obj.key.split("/")
        index = next((i for i, part in enumerate(parts[:-1]) if "=" in part), None)
        if index is not None:  # an unpartitioned table has no "name=value" folder: never deleted
            partitions.setdefault("/".join(parts[: index + 1]), []).append(obj)
    cutoff = now - timedelta(days=days)
    deleted, objects = [], 0
    for prefix, found in sorted(partitions.items()):
        day = _partition_day(prefix.rsplit("=", 1)[1])
        old = day < cutoff.date() if day else max(o.last_modified for o in found) < cutoff
        if old:
            for obj in found:
                lake.delete(obj.key)
            deleted.append(prefix)
            objects += len(found)
    return deleted, objects


def _backend_store(tracking: Tracking):
    """MLflow's backend store as a database, to remove deleted runs for good (what ``mlflow gc`` does)."""
    url = tracking.tracking_uri if tracking.scheme in ("sqlite", "postgresql", "mysql", "mssql") else None
    url = url or settings.mlflow_backend_url()
    if not url or url.startswith(("http://", "https://")):
        return None
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    return SqlAlchemyStore(url, tracking.artifact_root or settings.default_mlflow_artifact_root())


def delete_old_runs(tracking: Tracking, days: int, now: datetime, report: RetentionReport) -> None:
    """Delete the runs started more than ``days`` ago: their artifacts first, then the runs."""
    from mlflow.entities import ViewType
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    client = tracking.client
    cutoff_ms = int((now - timedelta(days=days)).timestamp() * 1000)
    experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    runs = []
    for start in range(0, len(experiments), 100):
        token = None
        while True:
            page = client.search_runs(
                experiments[start : start + 100],
                filter_string=f"attributes.start_time < {cutoff_ms}",
                run_view_type=ViewType.ALL,
                max_results=1000,
                page_token=token,
            )
            runs.extend(page)
            token = page.token
            if not token:
                break
    store = _backend_store(tracking) if runs else None
    for run in runs:
        run_id = run.info.run_id
        if run.info.start_time is None or run.info.start_time >= cutoff_ms:
            continue  # never younger than the threshold, whatever the search returned
        versions = client.search_model_versions(f"run_id = '{run_id}'")
        if versions:
            report.kept_runs[run_id] = "registered as " + ", ".join(f"{v.name} v{v.version}" for v in versions)
            continue
        get_artifact_repository(run.info.artifact_uri).delete_artifacts()
        if run.info.lifecycle_stage != "deleted":
            client.delete_run(run_id)
        if store is not None:
            store._hard_delete_run(run_id)  # what `mlflow gc` does once the artifacts are gone
        report.deleted_runs.append(
            {
                "run_id": run_id,
                "experiment_id": run.info.experiment_id,
                "started": datetime.fromtimestamp(run.info.start_time / 1000, UTC).isoformat(),
                "artifacts": redact_url(run.info.artifact_uri),
                "purged": store is not None,
            }
        )


def apply_retention(
    lake: Lake, tracking: Tracking | None, retention: RetentionSettings, now: datetime | None = None
) -> RetentionReport:
    """Delete what the settings say is too old; returns what was deleted (nothing configured: nothing)."""
    now = now or datetime.now(UTC)
    report = RetentionReport()
    for layer, days in sorted(retention.lake_days.items()):
        report.deleted_partitions[layer], objects = delete_old_partitions(lake, layer, days, now)
        report.deleted_objects += objects
    if retention.mlflow_run_days is not None and tracking is not None:
        delete_old_runs(tracking, retention.mlflow_run_days, now, report)
    return report
