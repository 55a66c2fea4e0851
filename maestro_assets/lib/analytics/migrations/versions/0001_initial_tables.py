"""The analytics tables: projects, team members, artifacts and their versions and usage, weekly
process metrics, success predictions.

Written out in full rather than imported from ``store.py``: a revision is a record of what the
schema was at that step and must not change when the models change later. The CHECK lists are
the values ``store.py`` allows at this revision.

Revision ID: 0001
Revises: (none)
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# with a time zone on PostgreSQL; MySQL/MariaDB's DATETIME with microseconds
TIMESTAMP = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def timestamp(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, TIMESTAMP, nullable=nullable)


def foreign_key(name: str, table: str, ondelete: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.Integer, sa.ForeignKey(f"{table}.id", ondelete=ondelete), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "analytics_projects",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("team", sa.String(255)),
        sa.Column("description", sa.Text),
        sa.Column("status", sa.String(32)),
        timestamp("started_at", nullable=True),
        timestamp("finished_at", nullable=True),
        sa.Column("success_score", sa.Double),
        sa.Column("duration_days", sa.Double),
        sa.Column("cost", sa.Double),
        timestamp("created_at"),
        sa.UniqueConstraint("name", name="uq_analytics_projects_name"),
        sa.CheckConstraint(
            "success_score IS NULL OR (success_score >= 0 AND success_score <= 100)",
            name="ck_analytics_projects_success_score",
        ),
    )
    op.create_table(
        "analytics_team_members",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("handle", sa.String(255), nullable=False),
        sa.Column("display_name", sa.String(255)),
        sa.Column("team", sa.String(255)),
        sa.Column("role", sa.String(64)),
        foreign_key("project_id", "analytics_projects", "SET NULL"),
        timestamp("created_at"),
        sa.UniqueConstraint("handle", name="uq_analytics_team_members_handle"),
    )
    op.create_table(
        "analytics_artifacts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("owner", sa.String(255)),
        sa.Column("tags", sa.JSON, nullable=False),
        timestamp("created_at"),
        sa.UniqueConstraint("kind", "name", name="uq_analytics_artifacts_kind_name"),
        sa.CheckConstraint("kind IN ('dataset', 'feature_view', 'model', 'code')", name="ck_analytics_artifacts_kind"),
    )
    op.create_table(
        "analytics_artifact_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        foreign_key("artifact_id", "analytics_artifacts", "CASCADE", nullable=False),
        sa.Column("version", sa.String(255), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("reference", sa.String(1024)),
        sa.Column("run_id", sa.String(255)),
        sa.Column("partition_key", sa.String(255)),
        sa.Column("metadata", sa.JSON, nullable=False),
        timestamp("created_at"),
        sa.UniqueConstraint("artifact_id", "version", name="uq_analytics_artifact_versions_artifact_version"),
        sa.CheckConstraint("source IN ('dagster', 'mlflow', 'manual')", name="ck_analytics_artifact_versions_source"),
    )
    op.create_table(
        "analytics_artifact_usage",
        sa.Column("id", sa.Integer, primary_key=True),
        foreign_key("artifact_version_id", "analytics_artifact_versions", "CASCADE", nullable=False),
        sa.Column("consumer_kind", sa.String(32), nullable=False),
        sa.Column("consumer_name", sa.String(255), nullable=False),
        foreign_key("project_id", "analytics_projects", "SET NULL"),
        timestamp("used_at"),
        sa.Column("how", sa.String(16), nullable=False),
        sa.UniqueConstraint(
            "artifact_version_id",
            "consumer_kind",
            "consumer_name",
            "used_at",
            name="uq_analytics_artifact_usage_use",
        ),
        sa.CheckConstraint(
            "consumer_kind IN ('asset', 'model', 'project')", name="ck_analytics_artifact_usage_consumer_kind"
        ),
        sa.CheckConstraint("how IN ('lineage', 'predictions', 'manual')", name="ck_analytics_artifact_usage_how"),
    )
    op.create_table(
        "analytics_process_metrics",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("metric", sa.String(128), nullable=False),
        sa.Column("value", sa.Double),
        sa.UniqueConstraint("scope", "name", "period_start", "metric", name="uq_analytics_process_metrics_point"),
        sa.CheckConstraint("scope IN ('repository', 'team', 'project')", name="ck_analytics_process_metrics_scope"),
    )
    op.create_table(
        "analytics_predictions",
        sa.Column("id", sa.Integer, primary_key=True),
        foreign_key("project_id", "analytics_projects", "CASCADE", nullable=False),
        sa.Column("target", sa.String(32), nullable=False),
        sa.Column("value", sa.Double, nullable=False),
        sa.Column("lower", sa.Double),
        sa.Column("upper", sa.Double),
        sa.Column("model_version", sa.String(255)),
        timestamp("predicted_at"),
        sa.CheckConstraint(
            "target IN ('success_score', 'duration_days', 'cost')", name="ck_analytics_predictions_target"
        ),
    )


def downgrade() -> None:
    for table in (
        "analytics_predictions",
        "analytics_process_metrics",
        "analytics_artifact_usage",
        "analytics_artifact_versions",
        "analytics_artifacts",
        "analytics_team_members",
        "analytics_projects",
    ):
        op.drop_table(table)
