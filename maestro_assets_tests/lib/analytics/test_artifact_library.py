"""The artifact library on SQLite, PostgreSQL and MariaDB: idempotent registering with merged tags and
metadata, search, usage, the catalogue, usage over time, top artifacts, the impact score (the
module's worked example, recency, project success), and the incremental reader of a real MLflow
registry (a SQLite tracking store)."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa
from mlflow.tracking import MlflowClient

from maestro_assets.lib.analytics import store
from maestro_assets.lib.analytics.artifacts import (
    ArtifactLibrary,
    ArtifactLibraryError,
    UnknownArtifact,
    UnknownProject,
    kind_for_group,
    register_mlflow_models,
)
from maestro_assets.lib.analytics.impact import HALF_LIFE_DAYS, decay_weight, impact_score
from maestro_assets_tests.lib.analytics.test_analytics_store import warehouse_engine  # noqa: F401 (a fixture)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def library(warehouse_engine):  # noqa: F811
    store.upgrade(warehouse_engine)
    return ArtifactLibrary(warehouse_engine)


def count(library: ArtifactLibrary, model) -> int:
    with library.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def versions_of(library: ArtifactLibrary, name: str) -> list[tuple]:
    with library.engine.connect() as conn:
        return conn.execute(
            sa.select(
                store.ArtifactVersion.version,
                store.ArtifactVersion.source,
                store.ArtifactVersion.reference,
                store.ArtifactVersion.run_id,
                store.ArtifactVersion.partition_key,
                store.ArtifactVersion.details,
            )
            .join(store.Artifact)
            .where(store.Artifact.name == name)
            .order_by(store.ArtifactVersion.id)
        ).all()


# -- registering ------------------------------------------------------------------------------------
def test_register_twice_is_one_version_with_tags_and_metadata_merged(library):
    first = library.register(
        "dataset",
        "silver/orders",
        "dv-1",
        source="dagster",
        owner="data-eng",
        tags=["pii"],
        metadata={"rows": 10, "columns": 4},
        created_at=NOW,
        partition="2026-12-01",
    )
    again = library.register(
        "dataset",
        "silver/orders",
        "dv-1",
        source="dagster",
        reference="silver/orders",
        tags={"layer": "silver"},
        metadata={"rows": 12},
        run_id="run-1",
    )
    assert first.created and not again.created
    assert (first.artifact_id, first.version_id) == (again.artifact_id, again.version_id)
    assert count(library, store.Artifact) == 1 and count(library, store.ArtifactVersion) == 1
    [record] = library.search()
    assert record.tags == ["layer=silver", "pii"]  # merged, never dropped
    assert record.owner == "data-eng"  # not given the second time: kept
    assert record.created_at == NOW
    assert versions_of(library, "silver/orders") == [
        ("dv-1", "dagster", "silver/orders", "run-1", "2026-12-01", {"rows": 12, "columns": 4})
    ]
    library.register("dataset", "silver/orders", "dv-2", source="dagster", created_at=NOW + DAY)
    [record] = library.search()
    assert (record.latest_version, record.versions) == ("dv-2", 2)


def test_register_refuses_what_the_tables_cannot_hold(library):
    with pytest.raises(ArtifactLibraryError, match="kind must be one of dataset, feature_view, model, code"):
        library.register("table", "x", "1")
    with pytest.raises(ArtifactLibraryError, match="source must be one of"):
        library.register("dataset", "x", "1", source="airflow")
    with pytest.raises(ArtifactLibraryError, match="version must be a non-empty text"):
        library.register("dataset", "x", " ")
    with pytest.raises(ArtifactLibraryError, match="tags must be non-empty texts"):
        library.register("dataset", "x", "1", tags=["ok", ""])
    with pytest.raises(ArtifactLibraryError, match="needs an owner"):
        library.register_by_hand("code", "etl.py", "abc123", owner="")
    assert count(library, store.Artifact) == 0


def test_register_by_hand_is_a_manual_version_with_its_owner(library):
    library.register_by_hand("code", "scoring/etl.py", "abc123", owner="ana", description="the ETL", tags=["python"])
    [record] = library.search(kind="code")
    assert (record.owner, record.description, record.tags) == ("ana", "the ETL", ["python"])
    assert versions_of(library, "scoring/etl.py")[0][:2] == ("abc123", "manual")


def test_dagster_groups_map_to_kinds():
    assert [kind_for_group(g) for g in ("silver", "quality", "gold", "feature_store", "models", "monitoring")] == [
        "dataset",
        "dataset",
        "dataset",
        "feature_view",
        "model",
        None,
    ]


def test_search_by_text_tag_and_kind(library):
    library.register("dataset", "silver/orders", "1", description="Orders after the quality rules", tags=["pii"])
    library.register("dataset", "gold/customer_features", "1", owner="Risk Team", tags=["pii", "gold"])
    library.register("feature_view", "customer_stats", "1", tags=["gold"])
    library.register("model", "churn_100%", "1")
    names = lambda records: [r.name for r in records]  # noqa: E731
    assert names(library.search(text="ORDERS")) == ["silver/orders"]  # any case
    assert names(library.search(text="quality rules")) == ["silver/orders"]  # the description
    assert names(library.search(text="risk")) == ["gold/customer_features"]  # the owner
    assert names(library.search(text="customer")) == ["gold/customer_features", "customer_stats"]
    assert names(library.search(text="100%")) == ["churn_100%"]  # % is a character, not a wildcard
    assert names(library.search(text="_")) == ["gold/customer_features", "customer_stats", "churn_100%"]
    assert names(library.search(tag="pii")) == ["gold/customer_features", "silver/orders"]
    assert names(library.search(tag="gold", kind="feature_view")) == ["customer_stats"]
    assert names(library.search(text="customer", tag="pii")) == ["gold/customer_features"]
    assert names(library.search(tag="nothing")) == []
    with pytest.raises(ArtifactLibraryError, match="search: kind"):
        library.search(kind="models")


# -- usage ------------------------------------------------------------------------------------------
def test_record_usage_is_idempotent_and_uses_the_latest_version_by_default(library):
    library.register("dataset", "silver/orders", "1", created_at=NOW - 2 * DAY)
    library.register("dataset", "silver/orders", "2", created_at=NOW - DAY)
    library.register_project("churn", success_score=80)
    assert library.record_usage("dataset", "silver/orders", "asset", "gold/features", used_at=NOW)
    assert not library.record_usage("dataset", "silver/orders", "asset", "gold/features", used_at=NOW)
    assert library.record_usage("dataset", "silver/orders", "project", "churn", version="1", used_at=NOW, how="manual")
    with library.engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                store.ArtifactVersion.version,
                store.ArtifactUsage.consumer_name,
                store.ArtifactUsage.project_id.is_not(None),
                store.ArtifactUsage.how,
            )
            .join(store.ArtifactVersion)
            .order_by(store.ArtifactUsage.id)
        ).all()
    assert rows == [("2", "gold/features", False, "lineage"), ("1", "churn", True, "manual")]
    with pytest.raises(UnknownProject, match="no project 'nope'"):
        library.record_usage("dataset", "silver/orders", "asset", "x", project="nope")
    with pytest.raises(UnknownArtifact, match="close names: silver/orders"):
        library.record_usage("dataset", "silver/order", "asset", "x")
    with pytest.raises(UnknownArtifact, match="has no version '9'"):
        library.record_usage("dataset", "silver/orders", "asset", "x", version="9")
    with pytest.raises(ArtifactLibraryError, match="how must be one of lineage, predictions, manual"):
        library.record_usage("dataset", "silver/orders", "asset", "x", how="read")
    assert count(library, store.ArtifactUsage) == 2


def worked_example(library: ArtifactLibrary) -> None:
    """impact.py's worked example as rows: 4 uses by 3 consumers aged 0, 30, 30, 60 days, two
    projects with success 80 and 60 among them."""
    library.register_project("churn", success_score=80)
    library.register_project("pricing", success_score=60)
    library.register("dataset", "silver/orders", "1", created_at=NOW - 90 * DAY)
    for consumer_kind, consumer, age, project in [
        ("asset", "gold/features", 0, None),
        ("asset", "gold/features", 30, None),
        ("project", "churn", 30, None),
        ("model", "churn_model", 60, "pricing"),
    ]:
        library.record_usage(
            "dataset", "silver/orders", consumer_kind, consumer, used_at=NOW - age * DAY, project=project
        )


def test_catalogue_reproduces_the_worked_example(library):
    worked_example(library)
    library.register("model", "unused", "1", owner="ml", tags=["x"], created_at=NOW)
    catalogue = library.catalogue(as_of=NOW)
    assert list(catalogue["name"]) == ["silver/orders", "unused"]
    used = catalogue.iloc[0]
    assert (used.latest_version, used.versions, used.uses, used.consumers, used.projects) == ("1", 1, 4, 3, 2)
    assert used.last_used == pd.Timestamp(NOW)
    assert used.impact_score == 53.35
    assert (used.breadth, used.volume, used.recency, used.success) == pytest.approx((0.5, 4 / 14, 0.5625, 0.7))
    one = library.impact("silver/orders", as_of=NOW)
    assert round(one.score, 2) == 53.35 and (one.consumers, one.uses, one.projects_with_success) == (3, 4, 2)
    unused = catalogue.iloc[1]
    assert (unused.uses, unused.consumers, unused.owner, unused.tags) == (0, 0, "ml", ["x"])
    assert pd.isna(unused.last_used) and unused.impact_score == 12.5  # the neutral success term alone


def test_impact_worked_example_exactly():
    impact = impact_score(
        consumers=3,
        used_at=[NOW, NOW - 30 * DAY, NOW - 30 * DAY, NOW - 60 * DAY],
        project_success_scores=[80, 60],
        as_of=NOW,
    )
    assert impact.score == pytest.approx(100 * (0.35 * 0.5 + 0.15 * 4 / 14 + 0.25 * 0.5625 + 0.25 * 0.7), abs=1e-12)
    assert round(impact.score, 2) == 53.35
    assert impact.components() == {
        "score": impact.score,
        "breadth": 0.5,
        "volume": 4 / 14,
        "recency": 0.5625,
        "success": pytest.approx(0.7),
        "consumers": 3,
        "uses": 4,
        "projects_with_success": 2,
    }


def test_recent_use_scores_higher_with_a_30_day_half_life():
    assert decay_weight(NOW - HALF_LIFE_DAYS * DAY, NOW) == pytest.approx(0.5)
    assert decay_weight(NOW + DAY, NOW) == 1.0  # a use after as_of counts as now
    fresh = impact_score(2, [NOW, NOW - DAY], [], as_of=NOW)
    stale = impact_score(2, [NOW - 200 * DAY, NOW - 201 * DAY], [], as_of=NOW)
    assert fresh.score > stale.score
    assert (fresh.breadth, fresh.volume, fresh.success) == (stale.breadth, stale.volume, stale.success)
    assert fresh.recency > 0.97 and stale.recency < 0.01


def test_successful_projects_raise_the_score_and_unknown_success_is_neutral(library):
    library.register_project("winner", success_score=90)
    library.register_project("loser", success_score=10)
    library.register_project("unknown")
    for name, project in [("a", "winner"), ("b", "loser"), ("c", "unknown")]:
        library.register("feature_view", name, "1", created_at=NOW)
        library.record_usage("feature_view", name, "project", project, used_at=NOW)
    scores = library.catalogue(as_of=NOW).set_index("name")
    assert list(scores.index) == ["a", "c", "b"]
    assert (scores.loc["a", "success"], scores.loc["b", "success"], scores.loc["c", "success"]) == pytest.approx(
        (0.9, 0.1, 0.5)
    )
    assert scores.loc["a", "impact_score"] - scores.loc["b", "impact_score"] == pytest.approx(
        100 * 0.25 * 0.8, abs=0.01
    )


def test_top_artifacts_are_the_most_reused(library):
    for name, consumers in [("few", 1), ("many", 5), ("some", 3), ("none", 0)]:
        library.register("dataset", name, "1", created_at=NOW)
        for i in range(consumers):
            library.record_usage("dataset", name, "asset", f"consumer_{i}", used_at=NOW)
    top = library.top_artifacts(2, as_of=NOW)
    assert list(top["name"]) == ["many", "some"]
    assert list(top["consumers"]) == [5, 3]


def test_usage_over_time_per_week_with_empty_weeks(library):
    library.register("dataset", "silver/orders", "1", created_at=NOW)
    library.register("model", "silver/orders", "1", created_at=NOW)  # the same name, another kind
    monday = datetime(2026, 11, 2, 8, tzinfo=UTC)
    for when, consumer in [
        (monday, "a"),
        (monday + 6 * DAY, "a"),  # Sunday: the same week
        (monday + 6 * DAY + timedelta(hours=1), "b"),
        (monday + 21 * DAY, "c"),  # two empty weeks before it
    ]:
        library.record_usage("dataset", "silver/orders", "asset", consumer, used_at=when)
    weekly = library.usage_over_time("silver/orders", kind="dataset")
    assert list(weekly["period_start"]) == [
        pd.Timestamp("2026-11-02", tz="UTC") + pd.Timedelta(weeks=i) for i in range(4)
    ]
    assert list(weekly["uses"]) == [3, 0, 0, 1]
    assert list(weekly["consumers"]) == [2, 0, 0, 1]
    daily = library.usage_over_time("silver/orders", kind="dataset", freq="D")
    assert len(daily) == 22 and daily["uses"].sum() == 4
    assert library.usage_over_time("silver/orders", kind="model").empty
    with pytest.raises(ArtifactLibraryError, match="several kinds \\(dataset, model\\): pass kind="):
        library.usage_over_time("silver/orders")
    with pytest.raises(ArtifactLibraryError, match="is not a pandas frequency"):
        library.usage_over_time("silver/orders", kind="dataset", freq="fortnight")


def test_library_cursors(library):
    assert library.cursor("dagster_materializations") is None
    library.set_cursor("dagster_materializations", "123")
    assert library.cursor("dagster_materializations") == "123"


# -- the MLflow registry reader ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory):
    """A SQLite MLflow tracking and registry store with one run that logged a model folder."""
    root = tmp_path_factory.mktemp("mlflow")
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.create_experiment("analytics_test", artifact_location=(root / "artifacts").as_uri())
    run = client.create_run(experiment, tags={"owner": "ana", "dagster_run_id": "d-42", "mlflow.user": "root"})
    client.log_text(run.info.run_id, "flavors: {}\n", "model/MLmodel")
    client.set_terminated(run.info.run_id)
    return client, run.info.run_id


def new_version(client: MlflowClient, run_id: str, name: str, **tags: str):
    return client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id, tags=tags or None)


def test_mlflow_reader_registers_only_what_is_new(library, mlflow_store):
    client, run_id = mlflow_store
    name = f"churn_{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name, tags={"team": "risk"}, description="Churn classifier")
    new_version(client, run_id, name)
    new_version(client, run_id, name, stage="candidate")

    def mine(read) -> list[tuple[str, str]]:  # the store is the module's: other tests' models are in it too
        return [(r.name, r.version) for r in read.registered if r.name == name]

    first = register_mlflow_models(library, client, cursor=None)
    assert mine(first) == [(name, "1"), (name, "2")]
    [record] = library.search(kind="model", text=name)
    assert (record.owner, record.description, record.latest_version, record.versions) == (
        "ana",
        "Churn classifier",
        "2",
        2,
    )
    assert record.tags == ["stage=candidate", "team=risk"]
    version, source, reference, run, _, details = versions_of(library, name)[0]
    assert (version, source, reference, run) == ("1", "mlflow", f"models:/{name}/1", run_id)
    assert {k: details["run_tags"][k] for k in ("owner", "dagster_run_id")} == {
        "owner": "ana",
        "dagster_run_id": "d-42",
    }
    assert "mlflow.user" not in details["run_tags"]  # MLflow's own tags are left out
    assert details["status"] == "READY" and details["source"] == f"runs:/{run_id}/model"

    again = register_mlflow_models(library, client, cursor=first.cursor)
    assert (again.read, again.registered, again.cursor) == ([], [], first.cursor)  # nothing read at all

    new_version(client, run_id, name)
    third = register_mlflow_models(library, client, cursor=first.cursor)
    assert third.read == [f"{name}/3"]  # only the new version is read
    assert [(r.name, r.version) for r in third.registered] == [(name, "3")]
    assert [v[0] for v in versions_of(library, name)] == ["1", "2", "3"]

    from_scratch = register_mlflow_models(library, client, cursor=None)  # everything again: nothing twice
    assert {f"{name}/1", f"{name}/2", f"{name}/3"} <= set(from_scratch.read) and from_scratch.registered == []
    assert len(versions_of(library, name)) == 3

    # a change MLflow dates (a new description) brings version 2 back: merged, not added
    client.update_model_version(name, "2", description="retrained on December")
    changed = register_mlflow_models(library, client, cursor=third.cursor)
    assert (changed.read, changed.registered) == ([f"{name}/2"], [])
    assert versions_of(library, name)[1][5]["version_description"] == "retrained on December"
    assert len(versions_of(library, name)) == 3


def test_mlflow_reader_refuses_a_cursor_it_did_not_write(library, mlflow_store):
    client, _ = mlflow_store
    with pytest.raises(ArtifactLibraryError, match="is not one register_mlflow_models wrote"):
        register_mlflow_models(library, client, cursor="1700000000")


def test_mlflow_reader_keeps_versions_changed_in_the_same_millisecond_apart(library, mlflow_store):
    """The cursor is a millisecond plus the versions read at it: one more version at that very
    millisecond is still new, the others are not read again."""
    client, run_id = mlflow_store
    name = f"same_ms_{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    registry = sa.create_engine(client.tracking_uri)
    with registry.connect() as conn:  # later than every version in the store (other tests' too)
        stamp = (
            conn.execute(sa.text("SELECT COALESCE(MAX(last_updated_time), 0) FROM model_versions")).scalar_one() + 1000
        )

    def at_stamp(version: str) -> None:  # what two writes in one millisecond look like in MLflow's table
        with registry.begin() as conn:
            conn.execute(
                sa.text("UPDATE model_versions SET last_updated_time = :t WHERE name = :n AND version = :v"),
                {"t": stamp, "n": name, "v": int(version)},
            )

    for _ in range(2):
        at_stamp(new_version(client, run_id, name).version)
    first = register_mlflow_models(library, client, cursor=None)
    assert first.read[-2:] == [f"{name}/1", f"{name}/2"]
    at_stamp(new_version(client, run_id, name).version)
    second = register_mlflow_models(library, client, cursor=first.cursor)
    assert second.read == [f"{name}/3"]
    assert [r.version for r in second.registered] == ["3"]
    assert register_mlflow_models(library, client, cursor=second.cursor).read == []
    registry.dispose()


def test_concurrent_registrations_of_the_same_artifact_make_one_row(library):
    """Writers that all find the artifact missing and insert it at once: the losers' unique-key
    violation sends them round once more, where they find the winner's row."""
    names = [f"silver/t{i}" for i in range(4)]
    barrier = threading.Barrier(6)

    def register_all() -> list[int]:
        barrier.wait()
        return [library.register("dataset", n, "1", tags=[f"w{threading.get_ident()}"]).artifact_id for n in names]

    with ThreadPoolExecutor(6) as pool:
        results = [f.result() for f in [pool.submit(register_all) for _ in range(6)]]
    assert all(ids == results[0] for ids in results)  # every writer got the same rows back
    assert count(library, store.Artifact) == 4 and count(library, store.ArtifactVersion) == 4
