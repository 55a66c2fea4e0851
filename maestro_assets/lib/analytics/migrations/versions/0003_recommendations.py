"""The weekly recommendations of the team-insights rules.

``analytics_recommendations`` keeps, per (scope, name, week), each recommendation with the id of
the rule that produced it, its severity, what it found, what it recommends and the figures (with
the threshold) that triggered it. A re-run of a week replaces that week's rows; the index on the
week serves that delete and the reads of one week.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# with a time zone on PostgreSQL; MySQL/MariaDB's DATETIME with microseconds
TIMESTAMP = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "analytics_recommendations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("finding", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("scope IN ('repository', 'team', 'project')", name="ck_analytics_recommendations_scope"),
        sa.CheckConstraint("severity IN ('info', 'warning', 'critical')", name="ck_analytics_recommendations_severity"),
    )
    op.create_index("ix_analytics_recommendations_period_start", "analytics_recommendations", ["period_start"])


def downgrade() -> None:
    op.drop_index("ix_analytics_recommendations_period_start", table_name="analytics_recommendations")
    op.drop_table("analytics_recommendations")
