"""``feast_online``: online lookups through Maestro's feature service (``OnlineFeatures``), 1 entity
and 100 entities x 50 features, on Feast's SQLite and Redis online stores, against the same rows
read directly — plain ``sqlite3`` on the online store's file, and a pipelined ``HGETALL`` with
redis-py — in the same run, the contenders taking turns.

The Redis server is started by the benchmark on a free port (Debian's ``redis-server``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from .harness import feature_store, figure, redis_server

N_FEATURES = 50
PROJECT = "maestro_bench"


def _store(root: Path, online: str):
    return feature_store(
        root,
        PROJECT,
        online,
        "bench_features",
        "user",
        "user_id",
        [f"f{i:02d}" for i in range(N_FEATURES)],
        service="bench_service",
    )


def _rows(n_entities: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.random((n_entities, N_FEATURES)), columns=[f"f{i:02d}" for i in range(N_FEATURES)])
    frame.insert(0, "user_id", np.arange(1, n_entities + 1, dtype=np.int64))
    frame["event_timestamp"] = pd.Timestamp(datetime.now(UTC).date(), tz="UTC")
    return frame


def _percentiles(samples: list[float]) -> dict:
    p50, p95, p99 = np.percentile(samples, [50, 95, 99])
    return {"p50": round(float(p50), 4), "p95": round(float(p95), 4), "p99": round(float(p99), 4)}


def _serialized_keys(keys: list[int]) -> list[bytes]:
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    return [serialize_entity_key(EntityKey(join_keys=["user_id"], entity_values=[Value(int64_val=k)]), 3) for k in keys]


def _sqlite_floor(path: Path):
    conn = sqlite3.connect(path)
    table = f"{PROJECT}_bench_features"

    def read(keys: list[bytes]):
        return conn.execute(
            f'SELECT entity_key, feature_name, value, event_ts FROM "{table}" '
            f"WHERE entity_key IN ({','.join('?' * len(keys))}) ORDER BY entity_key",
            keys,
        ).fetchall()

    return read


def _redis_floor(host: str, port: int):
    import redis
    from feast.infra.online_stores.helpers import _redis_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    client = redis.Redis(host=host, port=port)

    def keys_of(ids: list[int]) -> list[bytes]:
        return [
            _redis_key(PROJECT, EntityKey(join_keys=["user_id"], entity_values=[Value(int64_val=k)]), 3) for k in ids
        ]

    def read(keys: list[bytes]):
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        return pipe.execute()

    return keys_of, read


def _measure(call, repeats: int) -> list[float]:
    call()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


TARGETS = {  # (store, entities): p95 target in ms (None: only the 10x-floor bound)
    ("redis", 1): 2.0,
    ("redis", 100): 15.0,
    ("sqlite", 1): 3.0,
    ("sqlite", 100): None,
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks feast_online", description=__doc__)
    parser.add_argument("--entities", type=int, default=10_000, help="rows in the online store")
    parser.add_argument("--repeat", type=int, default=300, help="lookups per contender and size")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds (samples pooled)")
    args = parser.parse_args(argv)

    from maestro_assets.lib.feature_store.online import OnlineFeatures

    tmp = Path(tempfile.mkdtemp(prefix="maestro-bench-feast-"))
    servers = contextlib.ExitStack()
    port = servers.enter_context(redis_server())
    try:
        rows = _rows(args.entities)
        stores = {
            "sqlite": _store(tmp / "sqlite", f"online_store:\n  type: sqlite\n  path: {tmp}/online.db"),
            "redis": _store(tmp / "redis", f"online_store:\n  type: redis\n  connection_string: 127.0.0.1:{port}"),
        }
        for store in stores.values():
            store.write_to_online_store("bench_features", rows)
        rng = np.random.default_rng(1)
        ids = {n: [int(k) for k in rng.choice(rows["user_id"], n, replace=False)] for n in (1, 100)}
        sqlite_read = _sqlite_floor(tmp / "online.db")
        redis_keys, redis_read = _redis_floor("127.0.0.1", port)
        online = {name: OnlineFeatures(store, "bench_service") for name, store in stores.items()}
        sqlite_keys = {n: _serialized_keys(ids[n]) for n in ids}  # keys encoded once: the floor only reads
        redis_key_bytes = {n: redis_keys(ids[n]) for n in ids}
        floors = {
            "sqlite": {n: (lambda k=sqlite_keys[n]: sqlite_read(k)) for n in ids},
            "redis": {n: (lambda k=redis_key_bytes[n]: redis_read(k)) for n in ids},
        }
        samples = {(s, n, who): [] for s in stores for n in ids for who in ("maestro", "floor")}
        load = []
        for _ in range(args.rounds):
            load.append(os.getloadavg())
            for name in stores:
                for n in ids:
                    entity_rows = [{"user_id": k} for k in ids[n]]
                    got = online[name].get(entity_rows)
                    assert all(len(v) == n and None not in v for k, v in got.items() if "__f" in k)
                    samples[(name, n, "maestro")] += _measure(
                        lambda r=entity_rows, o=online[name]: o.get(r), args.repeat
                    )
                    samples[(name, n, "floor")] += _measure(floors[name][n], args.repeat)
        for (name, n), target in TARGETS.items():
            mine, floor = _percentiles(samples[(name, n, "maestro")]), _percentiles(samples[(name, n, "floor")])
            params = {
                "entities_in_store": args.entities,
                "features": N_FEATURES,
                "lookups": len(samples[(name, n, "maestro")]),
                "maestro_ms": mine,
                "floor_ms": floor,
                "floor": "sqlite3 SELECT on the online store's table" if name == "sqlite" else "pipelined HGETALL",
                "load_average_by_round": [list(map(lambda x: round(x, 2), la)) for la in load],
            }
            figure(
                f"feast_online.{name}.{n}x{N_FEATURES}.p95_vs_floor",
                mine["p95"],
                "ms",
                f"{name}_direct_read_p95",
                floor["p95"],
                "<= 10",
                params,
                target_of="ratio",
            )
            if target is not None:
                figure(
                    f"feast_online.{name}.{n}x{N_FEATURES}.p95",
                    mine["p95"],
                    "ms",
                    "target_ms",
                    target,
                    f"<= {target}",
                    params,
                )
    finally:
        servers.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0
