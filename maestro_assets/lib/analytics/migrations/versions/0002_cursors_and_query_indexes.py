"""The cursors of the incremental readers, and the indexes the library's queries need.

``analytics_cursors`` keeps, per reader (the MLflow registry, Dagster events, git, CI), where it
stopped, so each run reads only what is new. The indexes serve what the catalogue and the
dashboards ask: usage over time (``used_at``), usage per project (the impact score's project
success), who consumed what (consumer), artifacts per owner (search), a project's latest
predictions. Lookups by artifact + version and by version are covered by the unique constraints
of revision 0001 already.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# with a time zone on PostgreSQL; MySQL/MariaDB's DATETIME with microseconds
TIMESTAMP = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

INDEXES = (
    ("ix_analytics_artifact_usage_used_at", "analytics_artifact_usage", ["used_at"]),
    ("ix_analytics_artifact_usage_project_id", "analytics_artifact_usage", ["project_id"]),
    ("ix_analytics_artifact_usage_consumer", "analytics_artifact_usage", ["consumer_kind", "consumer_name"]),
    ("ix_analytics_artifacts_owner", "analytics_artifacts", ["owner"]),
    ("ix_analytics_predictions_project_predicted_at", "analytics_predictions", ["project_id", "predicted_at"]),
)


def upgrade() -> None:
    op.create_table(
        "analytics_cursors",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("cursor", sa.Text, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_table("analytics_cursors")
