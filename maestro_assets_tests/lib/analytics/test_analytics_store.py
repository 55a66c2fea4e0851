"""The analytics tables' migrations on SQLite, PostgreSQL and MariaDB: head builds exactly the models, a
database made by revision 0001 keeps its rows when upgraded (through 0002's cursors and indexes and
0003's recommendations), the version table is Alembic's own for analytics only, constraints hold,
times come back as the same UTC instant, cursors are saved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from maestro_assets.lib.analytics import store
from maestro_assets.lib.warehouse import dispose_engines, get_engine

QUERY_INDEXES = {
    "analytics_artifact_usage": {
        "ix_analytics_artifact_usage_used_at",
        "ix_analytics_artifact_usage_project_id",
        "ix_analytics_artifact_usage_consumer",
    },
    "analytics_artifacts": {"ix_analytics_artifacts_owner"},
    "analytics_predictions": {"ix_analytics_predictions_project_predicted_at"},
}


@pytest.fixture(params=["sqlite", "postgres", "mysql"])
def warehouse_engine(request, tmp_path):
    """An empty warehouse: a SQLite file, a fresh PostgreSQL database and a fresh MariaDB database
    (the root conftest's servers)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    else:
        url = request.getfixturevalue("postgres_url" if request.param == "postgres" else "mysql_url")
    yield get_engine(url)
    dispose_engines()


def schema_differences(engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "version_table": store.VERSION_TABLE})
        return compare_metadata(context, store.metadata)


def test_head_builds_exactly_the_models(warehouse_engine):
    assert store.current_revision(warehouse_engine) is None
    assert store.upgrade(warehouse_engine) == store.head_revision() == "0003"
    assert store.current_revision(warehouse_engine) == "0003"
    # what the migrations made is what the models describe: no table, column, type or index apart
    assert schema_differences(warehouse_engine) == []
    assert store.upgrade(warehouse_engine) == "0003"  # a second upgrade is a no-op
    names = set(sa.inspect(warehouse_engine).get_table_names())
    assert {t.name for t in store.metadata.sorted_tables} | {store.VERSION_TABLE} == names
    assert all(name.startswith("analytics_") for name in names)


def test_a_database_of_revision_0001_keeps_its_rows_through_the_upgrade(warehouse_engine):
    assert store.upgrade(warehouse_engine, "0001") == "0001"
    assert schema_differences(warehouse_engine) != []  # the comparison sees what 0002 adds
    inspector = sa.inspect(warehouse_engine)
    assert not {"analytics_cursors", "analytics_recommendations"} & set(inspector.get_table_names())
    assert (
        not {i["name"] for i in inspector.get_indexes("analytics_artifact_usage")}
        & QUERY_INDEXES["analytics_artifact_usage"]
    )
    used_at = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    with warehouse_engine.begin() as conn:
        conn.execute(sa.insert(store.Project).values(id=1, name="churn", success_score=72.5, created_at=used_at))
        artifact = {"id": 1, "kind": "dataset", "name": "silver/orders", "tags": ["pii"], "created_at": used_at}
        conn.execute(sa.insert(store.Artifact).values(**artifact))
        conn.execute(
            sa.insert(store.ArtifactVersion).values(
                id=1, artifact_id=1, version="v1", source="dagster", details={"rows": 3}, created_at=used_at
            )
        )
        conn.execute(
            sa.insert(store.ArtifactUsage).values(
                artifact_version_id=1,
                consumer_kind="project",
                consumer_name="churn",
                project_id=1,
                used_at=used_at,
                how="manual",
            )
        )

    assert store.upgrade(warehouse_engine) == "0003"

    with warehouse_engine.connect() as conn:
        assert conn.execute(sa.select(store.Project.name, store.Project.success_score)).all() == [("churn", 72.5)]
        assert conn.execute(sa.select(store.Artifact.name, store.Artifact.tags)).all() == [("silver/orders", ["pii"])]
        assert conn.execute(sa.select(store.ArtifactVersion.details)).scalar_one() == {"rows": 3}
        assert conn.execute(sa.select(store.ArtifactUsage.used_at)).scalar_one() == used_at
    inspector = sa.inspect(warehouse_engine)
    for table, indexes in QUERY_INDEXES.items():
        assert indexes <= {i["name"] for i in inspector.get_indexes(table)}, table
    store.set_cursor(warehouse_engine, "mlflow_registry", "42")
    assert store.get_cursor(warehouse_engine, "mlflow_registry") == "42"
    assert schema_differences(warehouse_engine) == []


def test_another_alembic_history_in_the_same_database_is_left_alone(warehouse_engine):
    """MLflow's tracking store keeps its revision in ``alembic_version``; it may share the database."""
    with warehouse_engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('mlflow_head')"))
    assert store.upgrade(warehouse_engine) == "0003"
    with warehouse_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == "mlflow_head"


def test_upgrade_takes_a_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    try:
        assert store.upgrade(url) == "0003"
        assert store.current_revision(url) == "0003"
    finally:
        dispose_engines()


def test_checks_refuse_values_outside_the_lists(warehouse_engine):
    store.upgrade(warehouse_engine)
    now = datetime.now(UTC)
    recommendation = {
        "scope": "repository",
        "name": "x",
        "period_start": now.date(),
        "rule": "git.bus_factor",
        "severity": "warning",
        "finding": "f",
        "action": "a",
        "evidence": {},
        "created_at": now,
    }
    with warehouse_engine.begin() as conn:  # the row itself is valid: only the bad values below are refused
        conn.execute(sa.insert(store.StoredRecommendation).values(**recommendation))
    bad_rows = [
        (store.Artifact, {"kind": "table", "name": "x", "tags": [], "created_at": now}),
        (store.Project, {"name": "p", "success_score": 101.0, "created_at": now}),
        (store.ProcessMetric, {"scope": "company", "name": "x", "period_start": now.date(), "metric": "m", "value": 1}),
        (store.StoredRecommendation, {**recommendation, "severity": "urgent"}),
        (store.StoredRecommendation, {**recommendation, "scope": "company"}),
    ]
    # MariaDB reports a failed CHECK as an OperationalError (4025), the others as an IntegrityError
    refused = (
        sa.exc.OperationalError if warehouse_engine.dialect.name in ("mysql", "mariadb") else sa.exc.IntegrityError
    )
    for model, values in bad_rows:
        with pytest.raises(refused):
            with warehouse_engine.begin() as conn:
                conn.execute(sa.insert(model).values(**values))
    with pytest.raises(sa.exc.IntegrityError):  # (kind, name) is unique
        with warehouse_engine.begin() as conn:
            for _ in range(2):
                conn.execute(sa.insert(store.Artifact).values(kind="code", name="etl", tags=[], created_at=now))


def test_times_come_back_as_the_same_utc_instant(warehouse_engine):
    store.upgrade(warehouse_engine)
    paris = datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    with warehouse_engine.begin() as conn:
        conn.execute(sa.insert(store.Project).values(name="p", started_at=paris, created_at=datetime(2026, 12, 1)))
    with warehouse_engine.connect() as conn:
        started, created = conn.execute(sa.select(store.Project.started_at, store.Project.created_at)).one()
    assert started == paris and started.tzinfo == UTC and started.hour == 9
    assert created == datetime(2026, 12, 1, tzinfo=UTC)  # a naive time is taken as UTC


def test_cursors_insert_then_replace(warehouse_engine):
    store.upgrade(warehouse_engine)
    assert store.get_cursor(warehouse_engine, "git") is None
    store.set_cursor(warehouse_engine, "git", "a")
    store.set_cursor(warehouse_engine, "git", "b")
    store.set_cursor(warehouse_engine, "ci", "c")
    assert (store.get_cursor(warehouse_engine, "git"), store.get_cursor(warehouse_engine, "ci")) == ("b", "c")
    with warehouse_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(store.Cursor)).scalar_one() == 2
