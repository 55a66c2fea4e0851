"""The analytics data model in the warehouse, and the migrations that build it.

The analytics tables live in the same database as the bronze, silver and gold tables, so every name
starts with ``analytics_`` and the models have a ``MetaData`` of their own: nothing here can collide
with a table another domain writes, and ``metadata.create_all`` is never needed — the tables are
made by Alembic migrations (``migrations/versions``), run from code with :func:`upgrade`. Alembic's
own bookkeeping table is ``analytics_alembic_version`` (not ``alembic_version``: MLflow's tracking
store, which may share the database in production, keeps its revision there).

Tables:

* ``analytics_projects`` — a project with its outcome (success score 0–100, duration, cost);
* ``analytics_team_members`` — who works on what (a git e-mail or CI login is the ``handle``);
* ``analytics_artifacts`` — a dataset, feature view, model or piece of code, unique by (kind, name);
* ``analytics_artifact_versions`` — one row per version of an artifact (a Dagster data version, an
  MLflow model version, a hand-given label) with where it came from;
* ``analytics_artifact_usage`` — a version consumed by an asset, a model or a project, and how;
* ``analytics_process_metrics`` — weekly figures (git, CI/CD) per repository, team or project;
* ``analytics_predictions`` — the success meta-model's predictions per project, with intervals;
* ``analytics_cursors`` — where each incremental reader stopped (revision 0002);
* ``analytics_recommendations`` — the weekly recommendations of the team-insights rules, each with
  the rule that produced it and the figures that triggered it (revision 0003).

Every time is stored as UTC; SQLite and MySQL/MariaDB, which keep no time zone, get naive UTC
values and hand them back as aware UTC datetimes (:class:`UTCDateTime`), so every backend reads
the same instants, to the microsecond.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ..dates import as_utc
from ..warehouse import get_engine

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "analytics_alembic_version"

ARTIFACT_KINDS = ("dataset", "feature_view", "model", "code")
VERSION_SOURCES = ("dagster", "mlflow", "manual")
CONSUMER_KINDS = ("asset", "model", "project")
USAGE_HOW = ("lineage", "predictions", "manual")
METRIC_SCOPES = ("repository", "team", "project")
PREDICTION_TARGETS = ("success_score", "duration_days", "cost")
SEVERITIES = ("info", "warning", "critical")


def one_of(column: str, values: tuple[str, ...]) -> str:
    """The SQL of a CHECK that ``column`` holds one of ``values`` (the same text in the migrations)."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


# a timestamp column: with a time zone where the database has one (PostgreSQL), else naive UTC;
# MySQL/MariaDB's DATETIME keeps microseconds only when asked (fsp=6), and usage is unique per instant
TIMESTAMP = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
NAIVE_DIALECTS = ("sqlite", "mysql", "mariadb")


class UTCDateTime(sa.TypeDecorator):
    """A timestamp stored in UTC and read back as an aware UTC datetime on every backend."""

    impl = TIMESTAMP
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        moment = as_utc(value)
        return moment.replace(tzinfo=None) if dialect.name in NAIVE_DIALECTS else moment

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else as_utc(value)


class Base(DeclarativeBase):
    metadata = sa.MetaData()


class Project(Base):
    __tablename__ = "analytics_projects"
    __table_args__ = (
        sa.UniqueConstraint("name", name="uq_analytics_projects_name"),
        sa.CheckConstraint(
            "success_score IS NULL OR (success_score >= 0 AND success_score <= 100)",
            name="ck_analytics_projects_success_score",
        ),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    team: Mapped[str | None] = mapped_column(sa.String(255))
    description: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str | None] = mapped_column(sa.String(32))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    success_score: Mapped[float | None] = mapped_column(sa.Double)
    duration_days: Mapped[float | None] = mapped_column(sa.Double)
    cost: Mapped[float | None] = mapped_column(sa.Double)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TeamMember(Base):
    __tablename__ = "analytics_team_members"
    __table_args__ = (sa.UniqueConstraint("handle", name="uq_analytics_team_members_handle"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    handle: Mapped[str] = mapped_column(sa.String(255))
    display_name: Mapped[str | None] = mapped_column(sa.String(255))
    team: Mapped[str | None] = mapped_column(sa.String(255))
    role: Mapped[str | None] = mapped_column(sa.String(64))
    project_id: Mapped[int | None] = mapped_column(sa.ForeignKey("analytics_projects.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Artifact(Base):
    __tablename__ = "analytics_artifacts"
    __table_args__ = (
        sa.UniqueConstraint("kind", "name", name="uq_analytics_artifacts_kind_name"),
        sa.CheckConstraint(one_of("kind", ARTIFACT_KINDS), name="ck_analytics_artifacts_kind"),
        sa.Index("ix_analytics_artifacts_owner", "owner"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    name: Mapped[str] = mapped_column(sa.String(255))
    description: Mapped[str | None] = mapped_column(sa.Text)
    owner: Mapped[str | None] = mapped_column(sa.String(255))
    tags: Mapped[list[str]] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ArtifactVersion(Base):
    __tablename__ = "analytics_artifact_versions"
    __table_args__ = (
        sa.UniqueConstraint("artifact_id", "version", name="uq_analytics_artifact_versions_artifact_version"),
        sa.CheckConstraint(one_of("source", VERSION_SOURCES), name="ck_analytics_artifact_versions_source"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    artifact_id: Mapped[int] = mapped_column(sa.ForeignKey("analytics_artifacts.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(sa.String(255))
    source: Mapped[str] = mapped_column(sa.String(16))
    # where the version came from: an asset key or a models:/<name>/<version> URI, the run, the partition
    reference: Mapped[str | None] = mapped_column(sa.String(1024))
    run_id: Mapped[str | None] = mapped_column(sa.String(255))
    partition_key: Mapped[str | None] = mapped_column(sa.String(255))
    details: Mapped[dict[str, Any]] = mapped_column("metadata", sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ArtifactUsage(Base):
    __tablename__ = "analytics_artifact_usage"
    __table_args__ = (
        sa.UniqueConstraint(
            "artifact_version_id",
            "consumer_kind",
            "consumer_name",
            "used_at",
            name="uq_analytics_artifact_usage_use",
        ),
        sa.CheckConstraint(one_of("consumer_kind", CONSUMER_KINDS), name="ck_analytics_artifact_usage_consumer_kind"),
        sa.CheckConstraint(one_of("how", USAGE_HOW), name="ck_analytics_artifact_usage_how"),
        sa.Index("ix_analytics_artifact_usage_used_at", "used_at"),
        sa.Index("ix_analytics_artifact_usage_project_id", "project_id"),
        sa.Index("ix_analytics_artifact_usage_consumer", "consumer_kind", "consumer_name"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    artifact_version_id: Mapped[int] = mapped_column(
        sa.ForeignKey("analytics_artifact_versions.id", ondelete="CASCADE")
    )
    consumer_kind: Mapped[str] = mapped_column(sa.String(32))
    consumer_name: Mapped[str] = mapped_column(sa.String(255))
    project_id: Mapped[int | None] = mapped_column(sa.ForeignKey("analytics_projects.id", ondelete="SET NULL"))
    used_at: Mapped[datetime] = mapped_column(UTCDateTime)
    how: Mapped[str] = mapped_column(sa.String(16))


class ProcessMetric(Base):
    __tablename__ = "analytics_process_metrics"
    __table_args__ = (
        sa.UniqueConstraint("scope", "name", "period_start", "metric", name="uq_analytics_process_metrics_point"),
        sa.CheckConstraint(one_of("scope", METRIC_SCOPES), name="ck_analytics_process_metrics_scope"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(sa.String(255))  # the repository, team or project
    period_start: Mapped[date] = mapped_column(sa.Date)  # the first day of the week
    metric: Mapped[str] = mapped_column(sa.String(128))
    value: Mapped[float | None] = mapped_column(sa.Double)


class Prediction(Base):
    __tablename__ = "analytics_predictions"
    __table_args__ = (
        sa.CheckConstraint(one_of("target", PREDICTION_TARGETS), name="ck_analytics_predictions_target"),
        sa.Index("ix_analytics_predictions_project_predicted_at", "project_id", "predicted_at"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("analytics_projects.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(sa.String(32))
    value: Mapped[float] = mapped_column(sa.Double)
    lower: Mapped[float | None] = mapped_column(sa.Double)
    upper: Mapped[float | None] = mapped_column(sa.Double)
    model_version: Mapped[str | None] = mapped_column(sa.String(255))
    predicted_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Cursor(Base):
    """Where an incremental reader (the MLflow registry, Dagster events, git, CI) stopped."""

    __tablename__ = "analytics_cursors"

    name: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    cursor: Mapped[str] = mapped_column(sa.Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StoredRecommendation(Base):
    """One recommendation of a week for a repository, team or project: the rule that produced it,
    what it found, what to do, and the figures (and threshold) that triggered it."""

    __tablename__ = "analytics_recommendations"
    __table_args__ = (
        sa.CheckConstraint(one_of("scope", METRIC_SCOPES), name="ck_analytics_recommendations_scope"),
        sa.CheckConstraint(one_of("severity", SEVERITIES), name="ck_analytics_recommendations_severity"),
        sa.Index("ix_analytics_recommendations_period_start", "period_start"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(sa.String(255))
    period_start: Mapped[date] = mapped_column(sa.Date)  # the Monday of the week judged
    rule: Mapped[str] = mapped_column(sa.String(64))
    severity: Mapped[str] = mapped_column(sa.String(16))
    finding: Mapped[str] = mapped_column(sa.Text)
    action: Mapped[str] = mapped_column(sa.Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


metadata = Base.metadata


# -- migrations ---------------------------------------------------------------------------------
def engine_of(engine_or_url: Engine | str) -> Engine:
    """The engine itself, or the process's pooled engine for a warehouse URL."""
    return get_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration built in code (there is no alembic.ini): the scripts are the package's
    ``migrations`` folder, and ``env.py`` runs them on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the analytics migrations have no head revision"
    return head


def upgrade(engine_or_url: Engine | str, revision: str = "head") -> str | None:
    """Bring the analytics tables to ``revision`` (the latest by default) in one transaction; returns
    the revision the database is at afterwards. Safe to call on every start: a database at the
    revision already is left alone. On PostgreSQL a transaction-scoped advisory lock makes two
    processes that upgrade at once take turns instead of racing on ``CREATE TABLE``."""
    engine = engine_of(engine_or_url)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": VERSION_TABLE})
        command.upgrade(alembic_config(connection), revision)
        return _revision_on(connection)


def current_revision(engine_or_url: Engine | str) -> str | None:
    """The revision the analytics tables are at (None: never migrated)."""
    with engine_of(engine_or_url).connect() as connection:
        return _revision_on(connection)


def _revision_on(connection: Connection) -> str | None:
    return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()


# -- cursors ------------------------------------------------------------------------------------
def get_cursor(engine: Engine, name: str) -> str | None:
    """The cursor the reader ``name`` saved last (None: it never ran)."""
    with engine.connect() as connection:
        return connection.execute(sa.select(Cursor.cursor).where(Cursor.name == name)).scalar_one_or_none()


def set_cursor(engine: Engine, name: str, value: str, now: datetime | None = None) -> None:
    """Save the reader ``name``'s cursor (insert or replace)."""
    now = now or datetime.now(UTC)
    with engine.begin() as connection:
        updated = connection.execute(
            sa.update(Cursor).where(Cursor.name == name).values(cursor=value, updated_at=now)
        ).rowcount
        if not updated:
            connection.execute(sa.insert(Cursor).values(name=name, cursor=value, updated_at=now))
