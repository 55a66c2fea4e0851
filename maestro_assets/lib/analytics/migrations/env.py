"""Alembic's environment for the analytics tables, run from code only (``store.upgrade``).

There is no alembic.ini: :func:`maestro_assets.lib.analytics.store.alembic_config` builds the
configuration and hands over an open connection (inside the caller's transaction), so a migration
and whatever the caller does around it share one transaction. The version table is
``analytics_alembic_version``, never MLflow's ``alembic_version``. SQLite gets batch mode (it
cannot ALTER most things in place).
"""

from alembic import context

from maestro_assets.lib.analytics.store import VERSION_TABLE, metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "the analytics migrations run on a connection given by maestro_assets.lib.analytics.store.upgrade"
    )
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
