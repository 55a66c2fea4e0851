"""The bulk online writes and planned lookups (lib/feature_store/bulk) against Feast's own, on the
SQLite online store and on Redis (the test session's redis-server): for every view of the catalog
(float64 and int64 features; nulls, NaN, nullable integers, a feature null on every row; duplicate keys
in a frame; a newer day, then an older one) the stored rows / hashes are byte for byte what
``write_to_online_store`` stores, Feast's own ``get_online_features(...).to_dict()`` reads them back
identically, and the feature services' lookups answer as Feast's ``get_online_features`` does."""

import sqlite3
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import redis
from feast import FeatureStore
from feast.protos.feast.types.Value_pb2 import Value
from feast.type_map import python_values_to_proto_values
from feast.value_type import ValueType

from maestro_assets.lib.feature_store import bulk
from maestro_assets.lib.feature_store.online import OnlineFeatures
from maestro_assets.lib.feature_store.repo import repo_objects
from maestro_assets.lib.feature_store.services import FEATURE_SERVICES
from maestro_assets.lib.features.catalog import CREATED_TIMESTAMP, EVENT_TIMESTAMP, TABLES

DAY = datetime(2026, 9, 3, tzinfo=UTC)


def gold_frame(table, day: datetime, keys, seed: int) -> pd.DataFrame:
    """A gold-like day of ``table``, with the awkward values of every dtype the catalog uses."""
    rng = np.random.default_rng(seed)
    n = len(keys)
    frame = pd.DataFrame({table.key: np.asarray(keys, dtype=np.int64)})
    frame[EVENT_TIMESTAMP] = pd.Timestamp(day + timedelta(days=1))
    frame[CREATED_TIMESTAMP] = pd.Timestamp(day + timedelta(days=1, hours=2, microseconds=123456))
    ints = floats = 0
    for feature in table.features:
        if feature.dtype == "int64":
            values = rng.integers(-3, 400, n).astype(np.int64)
            values[0], values[-1] = 2**40 + 7, -(2**62)  # a wide varint, a negative (ten-byte) one
            kind = ints % 3
            ints += 1
            if kind == 0:
                frame[feature.name] = values
            elif kind == 1:  # pandas' nullable integers
                frame[feature.name] = pd.array(values, dtype="Int64")
                frame.loc[frame.index[2::7], feature.name] = pd.NA
            else:  # integers with NaN, as pandas makes them
                column = values.astype(np.float64)
                column[0], column[-1] = 3.0, -5.0
                column[3::5] = np.nan
                frame[feature.name] = column
        else:
            values = rng.normal(0, 1e3, n)
            if n > 6:
                values[1:6] = [0.0, -0.0, 1e-7, 12345678901234567.0, np.inf]
            values[6::4] = np.nan
            if floats == 1:
                values[:] = np.nan  # a feature null on every row of the day
            floats += 1
            frame[feature.name] = values
    return frame


def make_store(root, online_yaml: str) -> FeatureStore:
    root.mkdir()
    (root / "feature_store.yaml").write_text(
        f"project: maestro\nprovider: local\nregistry: {root}/registry.db\n{online_yaml}\n"
        "offline_store:\n  type: duckdb\nentity_key_serialization_version: 3\n"
    )
    store = FeatureStore(repo_path=str(root))
    store.apply(repo_objects(str(root / "lake")))
    return store


@pytest.fixture(params=["sqlite", "redis", "redis_pipelines", "redis_ttl_no_dedup", "redis_scripts_refused"])
def stores(request, tmp_path, maestro_home):
    """Two stores of Maestro's repository on the same kind of online store: one written by Feast, one
    by the bulk path. ``redis_pipelines``: the bulk path without Lua scripts (as on Redis Cluster);
    ``redis_ttl_no_dedup``: hashes that expire, written without the staleness check;
    ``redis_scripts_refused``: the bulk store connects as a user whose ACL refuses scripts."""
    if request.param == "sqlite":
        yamls = [f"online_store:\n  type: sqlite\n  path: {tmp_path}/{who}.db" for who in ("feast", "bulk")]
    else:
        server = request.getfixturevalue("redis_server")
        host, port = server.split(":")
        for db in (1, 2):
            redis.Redis(host=host, port=int(port), db=db).flushdb()
        extra = "\n  key_ttl_seconds: 3600\n  skip_dedup: true" if request.param == "redis_ttl_no_dedup" else ""
        yamls = [f"online_store:\n  type: redis\n  connection_string: '{server},db={db}'{extra}" for db in (1, 2)]
        if request.param == "redis_scripts_refused":
            user = "maestro_no_scripts"
            admin = redis.Redis(host=host, port=int(port))
            admin.acl_setuser(user, enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all", "-@scripting"])
            request.addfinalizer(lambda: admin.acl_deluser(user))
            yamls[1] = f"online_store:\n  type: redis\n  connection_string: '{server},db=2,username={user},password=pw'"
    feast_store, bulk_store = (make_store(tmp_path / who, y) for who, y in zip(("feast", "bulk"), yamls, strict=True))
    return request.param, feast_store, bulk_store


def stored(kind: str, store: FeatureStore) -> dict:
    """Everything the online store holds, raw (Redis: each hash and whether it expires)."""
    if kind == "sqlite":
        conn = sqlite3.connect(store.config.online_store.path)
        out = {
            t.name: conn.execute(
                "SELECT entity_key, feature_name, value, value_text, vector_value, event_ts, typeof(event_ts), "
                f'created_ts, typeof(created_ts) FROM "maestro_{t.name}" ORDER BY entity_key, feature_name'
            ).fetchall()
            for t in TABLES.values()
        }
        conn.close()
        return out
    client = store._get_provider().online_store._get_client(store.config.online_store)
    return {key: (client.hgetall(key), 0 < client.ttl(key) <= 3600) for key in client.scan_iter(count=1000)}


def write_days(store: FeatureStore, use_bulk: bool, scripts: bool = True, refused: bool = False) -> None:
    def write(name: str, frame: pd.DataFrame) -> None:
        if use_bulk:
            writer = bulk.online_writer(store, name)
            assert isinstance(writer, (bulk.SqliteWriter, bulk.RedisWriter))  # not Feast's own write
            if isinstance(writer, bulk.RedisWriter):
                assert writer.scripts
                writer.scripts = scripts
            written = writer.write(frame)
            if isinstance(writer, bulk.RedisWriter) and refused and written:
                assert not writer.scripts  # the server said no: pipelines from then on
        else:
            store.write_to_online_store(name, frame)

    for seed, table in enumerate(TABLES.values()):
        first = gold_frame(table, DAY, range(1, 61), seed)
        # the same keys again within the day: 7 with a later stamp, 5 and 6 with the same stamp
        extra = gold_frame(table, DAY, [5, 6, 7], seed + 100)
        extra.loc[2, EVENT_TIMESTAMP] += pd.Timedelta(seconds=1, microseconds=5)
        write(table.name, pd.concat([first, extra], ignore_index=True))
        write(table.name, gold_frame(table, DAY + timedelta(days=1), range(30, 91), seed + 200))  # newer day
        write(table.name, gold_frame(table, DAY - timedelta(days=1), range(1, 41), seed + 300))  # older day
        empty = gold_frame(table, DAY + timedelta(days=2), range(1, 5), seed)
        empty[table.feature_names] = np.nan
        write(table.name, empty)  # every feature null: Feast writes nothing


def entity_rows(service: str) -> list[dict]:
    keys = [TABLES[e].key for e in FEATURE_SERVICES[service]]
    ids = [1, 5, 7, 33, 60, 90, 999, 5]  # 999: never written; 5 twice
    return [{k: i if j == 0 else ids[-1 - n] for j, k in enumerate(keys)} for n, i in enumerate(ids)]


def test_bulk_writes_store_what_feast_stores_and_read_back_the_same(stores):
    kind, feast_store, bulk_store = stores
    write_days(feast_store, use_bulk=False)
    write_days(bulk_store, use_bulk=True, scripts=kind != "redis_pipelines", refused=kind == "redis_scripts_refused")
    feast_rows, bulk_rows = stored(kind, feast_store), stored(kind, bulk_store)
    assert sum(map(len, feast_rows.values())) > 1000 if kind == "sqlite" else len(feast_rows) > 300
    if kind == "redis_ttl_no_dedup":
        assert all(expires for _, expires in feast_rows.values())
    assert bulk_rows == feast_rows

    for service in FEATURE_SERVICES:
        rows = entity_rows(service)
        theirs = feast_store.get_online_features(
            features=feast_store.get_feature_service(service), entity_rows=rows, full_feature_names=True
        ).to_dict()
        ours = bulk_store.get_online_features(
            features=bulk_store.get_feature_service(service), entity_rows=rows, full_feature_names=True
        ).to_dict()
        assert ours == theirs
        assert any(None in v for c, v in theirs.items() if "__" in c)  # nulls are there

        planned = OnlineFeatures(bulk_store, service)
        assert isinstance(planned.reader, bulk.SqliteReader if kind == "sqlite" else bulk.RedisReader)
        through_feast = OnlineFeatures(feast_store, service)
        through_feast.reader = None  # Feast's get_online_features, as before the planned reader
        expected = through_feast.get(rows)
        got = planned.get(rows)
        assert got == expected
        # in the service's order (Feast's own order within a view is a set's, from one process to the next)
        assert list(got) == [*rows[0], *planned.columns]
        first_view = f"{TABLES[FEATURE_SERVICES[service][0]].name}__"
        assert all(v[6] is None for c, v in got.items() if c.startswith(first_view))  # entity 999: nulls


def test_values_encode_and_decode_as_protobuf_does():
    cases = {
        ValueType.DOUBLE: pd.Series([0.0, -0.0, 1.5, np.nan, np.inf, -1e-300, 1e16, 3]),
        ValueType.INT64: pd.Series([0, 1, 127, 128, 2**63 - 1, -1, -(2**63), 300], dtype=np.int64),
    }
    for value_type, series in cases.items():
        encoded = bulk.encode_column(series, value_type)
        protos = python_values_to_proto_values(series.to_numpy(), value_type)
        assert encoded.values == [p.SerializeToString() for p in protos]
        assert [bulk.decode_value(v) for v in encoded.values] == [
            getattr(p, k) if (k := p.WhichOneof("val")) else None for p in protos
        ]
    nullable = pd.Series(pd.array([3, None, -4], dtype="Int64"))
    assert bulk.encode_column(nullable, ValueType.INT64).values == [
        Value(int64_val=3).SerializeToString(),
        b"",
        Value(int64_val=-4).SerializeToString(),
    ]
    with pytest.raises(ValueError, match="column hours: 1e\\+19 is out of range of an int64 feature"):
        bulk.encode_column(pd.Series([1.0, 1e19], name="hours"), ValueType.INT64)  # as Feast's int(x) fails
    assert bulk.decode_value(Value(string_val="x").SerializeToString()) == "x"  # other kinds: through the proto
    assert bulk.decode_value(None) is None and bulk.decode_value(b"") is None
