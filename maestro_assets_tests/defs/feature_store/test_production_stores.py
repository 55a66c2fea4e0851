"""Feast on the production stores, by configuration only (deploy/feature_store.yaml): the SQL registry
on PostgreSQL, the Redis online store (a redis-server of the test session) and the offline store
reading gold on S3."""

import shutil

import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import free_port
from dagster import DagsterInstance, materialize

from maestro_assets.defs.feature_store.assets import HEALTH_CHECK, feast_online_store, feast_registry
from maestro_assets.defs.features.assets import gold_features
from maestro_assets.lib import settings
from maestro_assets.lib.feature_store.online import OnlineFeatures
from maestro_assets.lib.feature_store.training import historical_features
from maestro_assets.platform_topology import DEPLOY
from maestro_assets.resources import FeatureStoreResource, LakeResource
from maestro_assets_tests.defs.feature_store.test_feast_assets import run
from maestro_assets_tests.defs.features.test_gold_features import write_silver

pytestmark = [pytest.mark.postgres, pytest.mark.s3]


@pytest.fixture
def production(feast_repo, postgres_url, redis_server, s3_lake_url, s3_credentials, monkeypatch):
    # deploy/feature_store.yaml as it is, with the variables compose.yaml gives the code location
    registry = sa.engine.make_url(postgres_url).set(drivername="postgresql+psycopg")
    shutil.copyfile(DEPLOY / "feature_store.yaml", feast_repo / "feature_store.yaml")
    monkeypatch.setenv(settings.ENV_FEAST_REGISTRY_URL, registry.render_as_string(hide_password=False))
    monkeypatch.setenv("MAESTRO_FEAST_REDIS", redis_server)
    monkeypatch.setenv(settings.ENV_LAKE_URL, s3_lake_url)
    monkeypatch.setenv(settings.ENV_S3_ENDPOINT, s3_credentials["endpoint_url"])
    return {
        "lake": LakeResource(url=s3_lake_url, endpoint_url=s3_credentials["endpoint_url"]),
        "feature_store": FeatureStoreResource(repo_path=str(feast_repo)),
        "registry_url": postgres_url,
    }


def test_registry_in_postgres_online_in_redis_offline_on_s3(production):
    feast_resources = {k: v for k, v in production.items() if k != "registry_url"}
    write_silver(feast_resources["lake"])
    assert run([gold_features], feast_resources).success
    with DagsterInstance.ephemeral() as instance:
        assert materialize([feast_registry], resources=feast_resources, instance=instance).success
    engine = sa.create_engine(production["registry_url"])
    with engine.connect() as conn:  # the registry's rows are in PostgreSQL
        views = conn.execute(sa.text("SELECT feature_view_name FROM feature_views")).scalars().all()
    engine.dispose()
    assert set(views) == {"user_features", "task_features", "project_features", "team_features"}

    result = run([feast_online_store], feast_resources)
    assert result.success
    check = next(c for c in result.get_asset_check_evaluations() if c.check_name == HEALTH_CHECK)
    assert check.passed, check.description
    import redis

    host, port = production["feature_store"].client().config.online_store.connection_string.split(":")
    assert redis.Redis(host=host, port=int(port)).dbsize() > 0  # the rows are in Redis

    store = feast_resources["feature_store"].client()
    online = OnlineFeatures(store, "task_lateness").frame([{"task_id": 2, "user_id": 2}])
    assert online.loc[0, "task_features__hours_logged_7d"] == 4.0
    entities = pd.DataFrame(
        {"task_id": [1], "user_id": [1], "event_timestamp": pd.to_datetime(["2026-09-03 12:00"], utc=True)}
    )
    offline = historical_features(store, entities, "task_lateness")  # reads the gold parquet on S3
    assert offline.loc[0, "task_features__hours_logged_7d"] == 5.0  # the row of 09-02 (08-27..09-02)
    assert offline.loc[0, "user_features__current_workload_hours"] == 0.0  # t1 done on 09-02, t2 not assigned


def test_an_unreachable_registry_is_transient_and_named_without_its_password(feast_repo, maestro_home):
    from maestro_assets.lib.errors import is_transient
    from maestro_assets.lib.feature_store import open_feature_store
    from maestro_assets.lib.feature_store.apply import RegistryUnreachable, apply_repo

    dead = f"postgresql+psycopg://feast:secret-pw@127.0.0.1:{free_port()}/feast"
    yaml = (feast_repo / "feature_store.yaml").read_text()
    (feast_repo / "feature_store.yaml").write_text(
        yaml.replace("registry: ${MAESTRO_HOME}/feast/registry.db", f"registry:\n  registry_type: sql\n  path: {dead}")
    )
    with pytest.raises(RegistryUnreachable) as caught:
        apply_repo(open_feature_store(feast_repo), feast_repo)
    assert is_transient(caught.value)  # the asset's RETRY policy tries again: the server may come back
    message = str(caught.value)
    assert "the Feast registry (sql registry at postgresql+psycopg://feast:***@127.0.0.1" in message
    assert "cannot be reached" in message and "secret-pw" not in message
