"""Where Maestro keeps things: every default lives under one folder, ``MAESTRO_HOME``.

Production changes nothing but environment variables:

=========================  ============================================  =======================================
environment variable       embedded default                              production example
=========================  ============================================  =======================================
``MAESTRO_HOME``           ``./.maestro``                                ``/var/lib/maestro``
``MAESTRO_WAREHOUSE_URL``  ``sqlite:///$MAESTRO_HOME/warehouse.db``      ``postgresql+psycopg2://user@host/db``
``MAESTRO_LAKE_URL``       ``$MAESTRO_HOME/lake`` (a local folder)       ``s3://bucket/prefix``
``AWS_ENDPOINT_URL``       (AWS itself)                                  ``http://minio:9000``
``MLFLOW_TRACKING_URI``    ``sqlite:///$MAESTRO_HOME/mlflow/mlflow.db``  ``http://mlflow:5000``
``MAESTRO_FEATURE_REPO``   ``feature_repo/`` of the project              ``/opt/maestro/feature_repo``
``DAGSTER_HOME``           ``$MAESTRO_HOME/dagster``                     (the Helm chart sets it)
=========================  ============================================  =======================================
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]

ENV_HOME = "MAESTRO_HOME"
ENV_WAREHOUSE_URL = "MAESTRO_WAREHOUSE_URL"
ENV_LAKE_URL = "MAESTRO_LAKE_URL"
ENV_S3_ENDPOINT = "AWS_ENDPOINT_URL"
ENV_MLFLOW_URI = "MLFLOW_TRACKING_URI"
ENV_FEATURE_REPO = "MAESTRO_FEATURE_REPO"
ENV_SOURCES = "MAESTRO_SOURCES"
ENV_QUALITY_RULES = "MAESTRO_QUALITY_RULES"
ENV_FEATURES = "MAESTRO_FEATURES"
ENV_MODELS = "MAESTRO_MODELS"
ENV_ANALYTICS = "MAESTRO_ANALYTICS"
PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def maestro_home() -> Path:
    return Path(_env(ENV_HOME) or ".maestro").expanduser().resolve()


def default_warehouse_url() -> str:
    return f"sqlite:///{maestro_home() / 'warehouse.db'}"


def default_lake_url() -> str:
    return str(maestro_home() / "lake")


def default_mlflow_uri() -> str:
    return f"sqlite:///{maestro_home() / 'mlflow' / 'mlflow.db'}"


def default_mlflow_artifact_root() -> str:
    return (maestro_home() / "mlflow" / "artifacts").as_uri()


def default_feature_repo() -> str:
    return str(PROJECT_ROOT / "feature_repo")


def default_dagster_home() -> Path:
    return maestro_home() / "dagster"


def warehouse_url() -> str:
    return _env(ENV_WAREHOUSE_URL) or default_warehouse_url()


def lake_url() -> str:
    return _env(ENV_LAKE_URL) or default_lake_url()


def s3_endpoint_url() -> str | None:
    return _env(ENV_S3_ENDPOINT)


def mlflow_tracking_uri() -> str:
    return _env(ENV_MLFLOW_URI) or default_mlflow_uri()


def feature_repo_path() -> str:
    return _env(ENV_FEATURE_REPO) or default_feature_repo()


def sources_file() -> Path:
    """The declared sources (default: the demo's ``sources.yaml`` in the package)."""
    return Path(_env(ENV_SOURCES) or PACKAGE_ROOT / "sources.yaml")


def features_file() -> Path | None:
    """Which silver tables feed the gold features (default: none, the demo's tables)."""
    value = _env(ENV_FEATURES)
    return Path(value) if value else None


def models_file() -> Path:
    """The models' requirements (default: the demo's ``models.yaml`` in the package)."""
    return Path(_env(ENV_MODELS) or PACKAGE_ROOT / "models.yaml")


def analytics_file() -> Path:
    """The analytics sources: git repositories and CI runs (default: the demo's ``analytics.yaml``)."""
    return Path(_env(ENV_ANALYTICS) or PACKAGE_ROOT / "analytics.yaml")


def quality_rules_file() -> Path:
    """The silver rules (default: the demo's ``quality_rules.yaml`` in the package)."""
    return Path(_env(ENV_QUALITY_RULES) or PACKAGE_ROOT / "quality_rules.yaml")


ENV_DEMO_SOURCE_URL = "MAESTRO_DEMO_SOURCE_URL"
ENV_DEMO_SCALE = "MAESTRO_DEMO_SCALE"


def demo_source_url() -> str:
    """The demo's operational database (the "source system"), apart from the warehouse."""
    return _env(ENV_DEMO_SOURCE_URL) or f"sqlite:///{maestro_home() / 'demo_source.db'}"


def demo_scale() -> float:
    return float(_env(ENV_DEMO_SCALE) or 1.0)


def demo_git_path() -> Path:
    return maestro_home() / "demo" / "git" / "platform-service"


def env_default(name: str) -> str | None:
    """The embedded default of a connection variable a declared source names, if Maestro has one."""
    return {ENV_DEMO_SOURCE_URL: demo_source_url()}.get(name) if name else None


ENV_MLFLOW_UI = "MAESTRO_MLFLOW_UI_URL"
DEFAULT_MLFLOW_UI = "http://127.0.0.1:5000"  # `make ui` serves the local tracking store here


def mlflow_ui_url() -> str | None:
    """Where links to MLflow runs point when the tracking store is not an http(s) server."""
    return _env(ENV_MLFLOW_UI) or DEFAULT_MLFLOW_UI


ENV_ALERT_WEBHOOK_URL = "MAESTRO_ALERT_WEBHOOK_URL"
ENV_UI_URL = "MAESTRO_UI_URL"
DEFAULT_UI_URL = "http://localhost:3000"  # the Dagster UI of `make ui` and of deploy/compose.yaml


def alert_webhook_url() -> str | None:
    """Where alerts are POSTed (a Slack incoming webhook or anything taking its JSON); none: no alerts."""
    return _env(ENV_ALERT_WEBHOOK_URL)


def ui_url() -> str:
    """The Dagster UI's base URL, which links in alerts point to."""
    return (_env(ENV_UI_URL) or DEFAULT_UI_URL).rstrip("/")


# -- platform databases: backup, restore, retention (lib/platform/) -----------------------------
ENV_DAGSTER_PG = ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB")
ENV_MLFLOW_BACKEND_URL = "MAESTRO_MLFLOW_BACKEND_URL"  # the tracking server's --backend-store-uri
ENV_FEAST_REGISTRY_URL = "MAESTRO_FEAST_REGISTRY_URL"  # deploy/feature_store.yaml's SQL registry
ENV_PG_BIN_DIR = "MAESTRO_PG_BIN_DIR"  # folder of pg_dump/pg_restore (default: the ones on PATH)
ENV_BACKUP_KEEP_LAST = "MAESTRO_BACKUP_KEEP_LAST"
ENV_BACKUP_MAX_AGE_DAYS = "MAESTRO_BACKUP_MAX_AGE_DAYS"
ENV_RESTORE_DRILL_URL = "MAESTRO_RESTORE_DRILL_URL"  # a scratch server the weekly drill restores into
ENV_RETENTION = "MAESTRO_RETENTION"  # the retention YAML (default: none, nothing is deleted)


def dagster_storage_url() -> str | None:
    """The Dagster instance's PostgreSQL (deploy/dagster.yaml's DAGSTER_PG_* variables), if set."""
    host, port, user, password, database = (_env(name) for name in ENV_DAGSTER_PG)
    if not (host and database):
        return None
    from sqlalchemy.engine import URL

    url = URL.create(
        "postgresql+psycopg2", username=user, password=password, host=host, port=int(port or 5432), database=database
    )
    return url.render_as_string(hide_password=False)


def mlflow_backend_url() -> str | None:
    """MLflow's backend store: MAESTRO_MLFLOW_BACKEND_URL, or the tracking URI when it is a database."""
    return _env(ENV_MLFLOW_BACKEND_URL) or (None if "://" not in mlflow_tracking_uri() else mlflow_tracking_uri())


def feast_registry_url() -> str | None:
    return _env(ENV_FEAST_REGISTRY_URL)


def pg_bin_dir() -> str | None:
    return _env(ENV_PG_BIN_DIR)


def backup_keep_last() -> int:
    return int(_env(ENV_BACKUP_KEEP_LAST) or 7)


def backup_max_age_days() -> float:
    return float(_env(ENV_BACKUP_MAX_AGE_DAYS) or 30)


def restore_drill_url() -> str | None:
    return _env(ENV_RESTORE_DRILL_URL)


def retention_file() -> Path | None:
    value = _env(ENV_RETENTION)
    return Path(value) if value else None
