"""Dagster resources: thin ``ConfigurableResource`` wrappers around the Dagster-free ``lib`` clients.

Each field left unset falls back to its environment variable, then to the embedded default under
``MAESTRO_HOME`` (see :mod:`maestro_assets.lib.settings`). ``build_resources`` wires them with
``EnvVar`` where the variable is set, so the UI shows the variable's name, never its value.
"""

from __future__ import annotations

import os
from typing import Any

from dagster import ConfigurableResource, EnvVar
from pydantic import Field, PrivateAttr

from ..lib import settings
from ..lib.feature_store import open_feature_store
from ..lib.lake import DEFAULT_MULTIPART_THRESHOLD, Lake, open_lake
from ..lib.tracking import Tracking
from ..lib.warehouse import Warehouse


def _value(field: Any) -> Any:
    """A field's value; an ``EnvVar`` is read here when the resource is used outside a run (CLI)."""
    return field.get_value() if isinstance(field, EnvVar) else field


class WarehouseResource(ConfigurableResource):
    """The SQL warehouse (SQLAlchemy): SQLite under MAESTRO_HOME by default, PostgreSQL/MySQL by URL."""

    url: str | None = Field(default=None, description="SQLAlchemy URL; default MAESTRO_WAREHOUSE_URL or SQLite")
    pool_size: int = Field(default=5, description="connections kept in the pool")
    _warehouse: Warehouse | None = PrivateAttr(default=None)

    def client(self) -> Warehouse:
        if self._warehouse is None:
            self._warehouse = Warehouse(_value(self.url) or self.default_url(), self.pool_size, self.setting)
        return self._warehouse

    setting: str = Field(default=settings.ENV_WAREHOUSE_URL, description="the variable that holds the URL")

    @staticmethod
    def default_url() -> str:
        return settings.warehouse_url()


class DemoSourceDatabaseResource(WarehouseResource):
    """The demo's operational database (the source system ingestion reads from), apart from the warehouse."""

    setting: str = Field(default=settings.ENV_DEMO_SOURCE_URL, description="the variable that holds the URL")

    @staticmethod
    def default_url() -> str:
        return settings.demo_source_url()


class LakeResource(ConfigurableResource):
    """The lake: a local folder by default, ``s3://bucket/prefix`` through boto3 in production."""

    url: str | None = Field(default=None, description="folder or s3://bucket/prefix; default MAESTRO_LAKE_URL")
    endpoint_url: str | None = Field(default=None, description="S3 endpoint (MinIO etc.); default AWS_ENDPOINT_URL")
    multipart_threshold: int = Field(
        default=DEFAULT_MULTIPART_THRESHOLD, description="bytes above which uploads are multipart"
    )
    _lake: Lake | None = PrivateAttr(default=None)

    def client(self) -> Lake:
        if self._lake is None:
            self._lake = open_lake(
                _value(self.url) or settings.lake_url(),
                endpoint_url=_value(self.endpoint_url) or settings.s3_endpoint_url(),
                multipart_threshold=self.multipart_threshold,
            )
        return self._lake


class MlflowResource(ConfigurableResource):
    """MLflow tracking and registry: SQLite store under MAESTRO_HOME by default."""

    tracking_uri: str | None = Field(
        default=None, description="default MLFLOW_TRACKING_URI or SQLite under MAESTRO_HOME"
    )
    artifact_root: str | None = Field(default=None, description="where new experiments keep artifacts")
    _tracking: Tracking | None = PrivateAttr(default=None)

    def client(self) -> Tracking:
        if self._tracking is None:
            uri = _value(self.tracking_uri) or settings.mlflow_tracking_uri()
            root = _value(self.artifact_root)
            if root is None and uri == settings.default_mlflow_uri():
                root = settings.default_mlflow_artifact_root()
            self._tracking = Tracking(uri, artifact_root=root)
        return self._tracking


class FeatureStoreResource(ConfigurableResource):
    """Feast: ``feast.FeatureStore`` over the project's ``feature_repo/``."""

    repo_path: str | None = Field(default=None, description="default MAESTRO_FEATURE_REPO or ./feature_repo")
    _store: Any = PrivateAttr(default=None)

    def client(self):
        if self._store is None:
            self._store = open_feature_store(_value(self.repo_path) or settings.feature_repo_path())
        return self._store


def _env_or_none(name: str) -> Any:
    return EnvVar(name) if os.environ.get(name, "").strip() else None


def build_resources() -> dict[str, ConfigurableResource]:
    """The resources of the code location, configured from the environment."""
    return {
        "warehouse": WarehouseResource(url=_env_or_none(settings.ENV_WAREHOUSE_URL)),
        "lake": LakeResource(
            url=_env_or_none(settings.ENV_LAKE_URL), endpoint_url=_env_or_none(settings.ENV_S3_ENDPOINT)
        ),
        "mlflow": MlflowResource(tracking_uri=_env_or_none(settings.ENV_MLFLOW_URI)),
        "feature_store": FeatureStoreResource(repo_path=_env_or_none(settings.ENV_FEATURE_REPO)),
        "demo_source_db": DemoSourceDatabaseResource(url=_env_or_none(settings.ENV_DEMO_SOURCE_URL)),
    }
