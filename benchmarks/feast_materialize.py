"""``feast_materialize``: materializing feature rows (10 Float64 features) to Feast's SQLite and Redis
online stores the way Maestro does it — one gold day at a time, each day's frame handed to
``lib.feature_store.bulk.write_online(store, view, frame)`` (what
``lib.feature_store.online.write_partition_online`` does after reading the day from the lake; the lake
read is left out here: the rows Feast's ``store.write_to_online_store`` would write, in bulk) — against
the floors:

* **sqlite**: ``sqlite3`` ``executemany`` of the same rows, values already serialized, into a table
  shaped and indexed like Feast's SQLite online table (primary key (entity_key, feature_name) and the
  entity_key index), with the same upsert, one transaction per day;
* **redis**: redis-py pipelined ``HSET`` of one hash per entity (the 10 feature fields and the
  timestamp field, already serialized), pipelines of ``--batch`` commands.

Only the write is timed for the floors (serializing is done before the clock starts). Rows are
entities x days: ``--entities`` per day, each entity once per day; the contenders take turns, day by day.

Memory: each size of ``--rows`` is written by Maestro's path to a fresh SQLite online store in a
fresh subprocess (hidden ``--worker``; the sizes side by side), each day's frame generated just
before it is written, and the figure compares their peak RSS (the per-day frame is the same size,
so this checks that the memory does not grow with the number of days written).

The Redis server is started by the benchmark on a free port (Debian's ``redis-server``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from .harness import feature_store, figure, note, redis_server

N_FEATURES = 10
PROJECT = "maestro_bench"
VIEW = "bench_features"
FEATURES = [f"f{i:02d}" for i in range(N_FEATURES)]
FIRST_DAY = datetime(2026, 1, 1, tzinfo=UTC)


def _store(root: Path, online: str):
    return feature_store(root, PROJECT, online, VIEW, "entity", "entity_id", FEATURES)


def day_frame(n_entities: int, day: int) -> pd.DataFrame:
    """One gold-like day: every entity once, 10 float features, the day's end as event timestamp."""
    rng = np.random.default_rng(day)
    frame = pd.DataFrame(rng.random((n_entities, N_FEATURES)), columns=FEATURES)
    frame.insert(0, "entity_id", np.arange(1, n_entities + 1, dtype=np.int64))
    frame["event_timestamp"] = pd.Timestamp(FIRST_DAY + timedelta(days=day + 1))
    return frame


def _entity_keys(n_entities: int) -> list[bytes]:
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    return [
        serialize_entity_key(EntityKey(join_keys=["entity_id"], entity_values=[Value(int64_val=k)]), 3)
        for k in range(1, n_entities + 1)
    ]


def _redis_keys(n_entities: int) -> list[bytes]:
    from feast.infra.online_stores.helpers import _redis_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    return [
        _redis_key(PROJECT, EntityKey(join_keys=["entity_id"], entity_values=[Value(int64_val=k)]), 3)
        for k in range(1, n_entities + 1)
    ]


def _double_values(frame: pd.DataFrame) -> list[list[bytes]]:
    """Each feature column as serialized ``Value(double_val=…)`` protos (field 5, fixed64)."""
    out = []
    for name in FEATURES:
        raw = np.ascontiguousarray(frame[name].to_numpy(np.float64)).view(np.uint8).reshape(-1, 8)
        records = np.empty((len(raw), 9), np.uint8)
        records[:, 0] = 0x29
        records[:, 1:] = raw
        blob = records.tobytes()
        out.append([blob[i : i + 9] for i in range(0, len(blob), 9)])
    return out


class SqliteFloor:
    def __init__(self, path: Path, n_entities: int):
        self.conn = sqlite3.connect(path)
        self.conn.execute(
            "CREATE TABLE t (entity_key BLOB, feature_name TEXT, value BLOB, value_text TEXT, vector_value BLOB, "
            "event_ts timestamp, created_ts timestamp, PRIMARY KEY(entity_key, feature_name))"
        )
        self.conn.execute("CREATE INDEX t_ek ON t (entity_key)")
        self.conn.commit()
        self.keys = _entity_keys(n_entities)

    def prepare(self, frame: pd.DataFrame) -> list[tuple]:
        ts = frame["event_timestamp"].iloc[0].tz_convert(None).to_pydatetime()
        values = _double_values(frame)
        return [
            (key, name, values[j][i], None, ts, None)
            for i, key in enumerate(self.keys)
            for j, name in enumerate(FEATURES)
        ]

    def write(self, rows: list[tuple]) -> None:
        with self.conn:
            self.conn.executemany(
                "INSERT INTO t (entity_key, feature_name, value, value_text, event_ts, created_ts) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(entity_key, feature_name) DO UPDATE SET "
                "value = excluded.value, value_text = excluded.value_text, event_ts = excluded.event_ts, "
                "created_ts = excluded.created_ts",
                rows,
            )


class RedisFloor:
    def __init__(self, port: int, n_entities: int, batch: int):
        import redis
        from feast.infra.online_stores.helpers import _mmh3

        self.client = redis.Redis(host="127.0.0.1", port=port, db=1)  # its own database: both start empty
        self.keys = _redis_keys(n_entities)
        self.fields = [_mmh3(f"{VIEW}:{name}") for name in FEATURES]
        self.ts_field = f"_ts:{VIEW}"
        self.batch = batch

    def prepare(self, frame: pd.DataFrame) -> list[tuple[bytes, dict]]:
        from google.protobuf.timestamp_pb2 import Timestamp

        ts = Timestamp()
        ts.FromDatetime(frame["event_timestamp"].iloc[0].to_pydatetime())
        ts_bytes = ts.SerializeToString()
        values = _double_values(frame)
        return [
            (key, {self.ts_field: ts_bytes, **{f: values[j][i] for j, f in enumerate(self.fields)}})
            for i, key in enumerate(self.keys)
        ]

    def write(self, rows: list[tuple[bytes, dict]]) -> None:
        for start in range(0, len(rows), self.batch):
            pipe = self.client.pipeline(transaction=False)
            for key, mapping in rows[start : start + self.batch]:
                pipe.hset(key, mapping=mapping)
            pipe.execute()


def _check_fields(port: int, floor: RedisFloor) -> bool:
    """The floor writes the same hash fields as Feast (checked on one entity Feast wrote)."""
    import redis

    got = redis.Redis(host="127.0.0.1", port=port).hkeys(floor.keys[0])
    return set(got) == {*floor.fields, floor.ts_field.encode()}


def run_worker(rows: int, entities: int) -> int:
    """Maestro's path at one size, in this (fresh) process: peak RSS and time to stdout as JSON."""
    from maestro_assets.lib.feature_store.bulk import write_online

    tmp = Path(tempfile.mkdtemp(prefix="maestro-bench-feastmat-w-"))
    try:
        store = _store(tmp / "repo", f"online_store:\n  type: sqlite\n  path: {tmp}/online.db")
        days = max(1, rows // entities)
        start = time.perf_counter()
        for day in range(days):
            write_online(store, VIEW, day_frame(entities, day))
        elapsed = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"rows": days * entities, "days": days, "seconds": elapsed, "peak_rss_mb": peak}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _workers(sizes: list[int], entities: int) -> list[dict]:
    """One fresh subprocess per size, run side by side (only their peak RSS is compared)."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks", "feast_materialize", "--worker", str(n), "--entities", str(entities)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in sizes
    ]
    out = []
    for proc in procs:
        stdout, _ = proc.communicate()
        if proc.returncode:
            raise RuntimeError(f"feast_materialize worker failed with exit status {proc.returncode}")
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks feast_materialize", description=__doc__)
    parser.add_argument(
        "--rows",
        default="1000000,10000000",
        help="comma-separated row counts; the first is timed against the floors, all are run for peak RSS",
    )
    parser.add_argument("--entities", type=int, default=100_000, help="entities per day (rows = entities x days)")
    parser.add_argument("--batch", type=int, default=1000, help="HSET commands per pipeline (the Redis floor)")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        return run_worker(args.worker, args.entities)

    from maestro_assets.lib.feature_store.bulk import write_online

    sizes = [int(s) for s in args.rows.split(",")]
    entities = min(args.entities, sizes[0])
    days = max(1, sizes[0] // entities)
    rows = entities * days
    tmp = Path(tempfile.mkdtemp(prefix="maestro-bench-feastmat-"))
    servers = contextlib.ExitStack()
    port = servers.enter_context(redis_server())
    try:
        stores = {
            "sqlite": _store(tmp / "sqlite", f"online_store:\n  type: sqlite\n  path: {tmp}/online.db"),
            "redis": _store(tmp / "redis", f"online_store:\n  type: redis\n  connection_string: 127.0.0.1:{port}"),
        }
        floors = {"sqlite": SqliteFloor(tmp / "floor.db", entities), "redis": RedisFloor(port, entities, args.batch)}
        seconds = {(s, who): 0.0 for s in stores for who in ("maestro", "floor")}
        per_day = {(s, who): [] for s in stores for who in ("maestro", "floor")}
        load = []
        for day in range(days):
            load.append([round(x, 2) for x in os.getloadavg()])
            frame = day_frame(entities, day)
            for name, store in stores.items():
                prepared = floors[name].prepare(frame)
                order = ("maestro", "floor") if day % 2 == 0 else ("floor", "maestro")
                for who in order:
                    start = time.perf_counter()
                    if who == "maestro":
                        write_online(store, VIEW, frame)
                    else:
                        floors[name].write(prepared)
                    took = time.perf_counter() - start
                    seconds[(name, who)] += took
                    per_day[(name, who)].append(round(took, 3))
                del prepared
            note(f"feast_materialize: day {day + 1}/{days} written")
        sqlite_rows = sqlite3.connect(tmp / "online.db").execute(f'SELECT count(*) FROM "{PROJECT}_{VIEW}"').fetchone()
        floor_rows = floors["sqlite"].conn.execute("SELECT count(*) FROM t").fetchone()
        fields_same = _check_fields(port, floors["redis"])

        memory = _workers(sizes, args.entities)
        common = {
            "rows": rows,
            "entities": entities,
            "days": days,
            "features": N_FEATURES,
            "maestro_path": "lib.feature_store.bulk.write_online(store, view, day_frame) per day — the call "
            "write_partition_online makes after reading the gold day from the lake (lake read not timed)",
            "load_average_by_day": load,
        }
        for name, floor_desc in (
            ("sqlite", "sqlite3 executemany upsert, pre-serialized values, table indexed as Feast's, 1 txn per day"),
            ("redis", f"redis-py pipelined HSET per entity (10 fields + ts), pipelines of {args.batch}"),
        ):
            mine = rows / seconds[(name, "maestro")]
            floor = rows / seconds[(name, "floor")]
            params = {
                **common,
                "floor": floor_desc,
                "maestro_s": round(seconds[(name, "maestro")], 3),
                "floor_s": round(seconds[(name, "floor")], 3),
                "maestro_s_by_day": per_day[(name, "maestro")],
                "floor_s_by_day": per_day[(name, "floor")],
            }
            if name == "sqlite":
                params["stored_cells"] = {"maestro": sqlite_rows[0], "floor": floor_rows[0]}
            else:
                params["floor_fields_equal_feast"] = fields_same
                params["redis_batch"] = args.batch
            figure(
                f"feast_materialize.{name}.rows_per_s",
                mine,
                "rows/s",
                f"{name}_floor_rows_per_s",
                floor,
                ">= 0.5",
                params,
                target_of="ratio",
            )
        small, large = memory[0], memory[-1]
        label = "peak_rss_10m_vs_1m" if (small["rows"], large["rows"]) == (1_000_000, 10_000_000) else None
        label = label or "peak_rss_large_vs_1m"
        figure(
            f"feast_materialize.{label}",
            large["peak_rss_mb"],
            "MiB",
            f"peak_rss_at_{small['rows']}_rows",
            small["peak_rss_mb"],
            "<= 1.2",
            {
                "sizes": [m["rows"] for m in memory],
                "runs": memory,
                "entities_per_day": args.entities,
                "store": "sqlite (Maestro's path, one fresh subprocess per size, the sizes run side by side)",
                "note": "sizes reached by writing more days of the same entities",
            },
            target_of="ratio",
        )
    finally:
        servers.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0
