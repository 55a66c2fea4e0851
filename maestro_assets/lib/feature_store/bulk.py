"""Bulk writes to and reads from Feast's SQLite and Redis online stores, byte for byte what Feast
itself writes and reads.

Feast's ``write_to_online_store`` turns a frame into ``ValueProto`` objects one value at a time and
its online stores then serialize and write them row by row (SQLite: one ``execute`` per cell); its
``get_online_features`` resolves the feature service's views and types again on every call. Here the
same rows are built column by column — entity keys and ``ValueProto`` bytes in bulk, checked against
Feast's own serializers — and written in large batches (SQLite: one ``executemany`` in one
transaction per frame; Redis: per batch of entities one Lua script reading the stored timestamps for
the staleness check Feast makes and one writing the hashes kept — pipelines on Redis Cluster), and a
feature service's lookups are planned once and read with one query / one pipeline per call.

What is written stays Feast's: the same tables and hashes, keys, field names, value and timestamp
encodings, so Feast's own ``get_online_features`` and the ``feast`` CLI read it as they read their
own writes. Anything this module does not reproduce exactly (another online store, value types other
than the gold tables' float64 / int64, vector features, versioned feature views, on-demand views, the
GLIDE Redis client) is left to Feast: :func:`online_writer` and :func:`service_reader` return
``None`` and the callers take Feast's own path.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import redis
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.helpers import _mmh3, compute_table_id
from feast.infra.online_stores.redis import RedisOnlineStore
from feast.infra.online_stores.sqlite import SqliteOnlineStore, _quote_id
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.type_map import python_values_to_proto_values
from feast.utils import make_tzaware, to_naive_utc
from feast.value_type import ValueType
from google.protobuf.timestamp_pb2 import Timestamp

from .online import proto_value

CHUNK = 10_000  # rows encoded at a time: bounds the memory of one write, whatever the frame's size
REDIS_BATCH = 1_000  # entities per Redis pipeline
# what a server that refuses scripts answers: an ACL without them, EVAL renamed or disabled
SCRIPTS_REFUSED = ("noperm", "unknown command", "not allowed", "disabled", "no permissions")

# ValueProto's one-byte tags of the scalars written here, taken from protobuf itself
_DOUBLE_TAG = ValueProto(double_val=1.0).SerializeToString()[:1]
_INT64_TAG = ValueProto(int64_val=1).SerializeToString()[:1]
_DOUBLE_TAG_BYTE, _INT64_TAG_BYTE = _DOUBLE_TAG[0], _INT64_TAG[0]
_UNPACK_DOUBLE = struct.Struct("<d").unpack_from
_SUPPORTED = (ValueType.DOUBLE, ValueType.INT64)


# -- encoding ------------------------------------------------------------------------------------
class EntityKeys:
    """Serialized entity keys of a view's join keys (``serialize_entity_key``, plus ``suffix``: Redis
    appends the project). A single int64 join key — every Maestro entity — is encoded in bulk with
    the layout read off Feast's own serializer; any other key goes through the serializer row by row."""

    def __init__(self, join_keys: dict[str, ValueType], version: int, suffix: bytes = b""):
        self.join_keys, self.version, self.suffix = join_keys, version, suffix
        self.prefix = None
        if len(join_keys) == 1 and next(iter(join_keys.values())) == ValueType.INT64:
            name = next(iter(join_keys))
            zero, one = (self._feast_key({name: ValueProto(int64_val=v)}) for v in (0, -2))
            head = zero[: -8 - len(suffix)]
            if zero == head + struct.pack("<q", 0) + suffix and one == head + struct.pack("<q", -2) + suffix:
                self.prefix = head  # the key is head + little-endian int64 + suffix

    def _feast_key(self, values: dict[str, ValueProto]) -> bytes:
        proto = EntityKeyProto(join_keys=list(values), entity_values=list(values.values()))
        return serialize_entity_key(proto, entity_key_serialization_version=self.version) + self.suffix

    def serialize(self, columns: dict[str, np.ndarray]) -> list[bytes]:
        if self.prefix is not None:
            (ints,) = columns.values()
            width = len(self.prefix) + 8 + len(self.suffix)
            records = np.empty((len(ints), width), np.uint8)
            records[:, : len(self.prefix)] = np.frombuffer(self.prefix, np.uint8)
            records[:, len(self.prefix) : len(self.prefix) + 8] = (
                np.ascontiguousarray(ints, dtype="<i8").view(np.uint8).reshape(-1, 8)
            )
            records[:, len(self.prefix) + 8 :] = np.frombuffer(self.suffix, np.uint8)
            blob = records.tobytes()
            return [blob[i : i + width] for i in range(0, len(blob), width)]
        protos = {k: python_values_to_proto_values(list(columns[k]), t) for k, t in self.join_keys.items()}
        return [self._feast_key({k: protos[k][i] for k in protos}) for i in range(len(next(iter(protos.values()))))]

    def of_rows(self, rows: list[dict]) -> list[bytes]:
        """Keys of entity rows (``{join key: int}``), for lookups."""
        if self.prefix is not None:
            ((name, _),) = self.join_keys.items()
            pack, prefix, suffix = struct.Struct("<q").pack, self.prefix, self.suffix
            return [prefix + pack(row[name]) + suffix for row in rows]
        return self.serialize({k: np.array([row[k] for row in rows]) for k in self.join_keys})


@dataclass
class EncodedColumn:
    """One feature's ``ValueProto`` bytes (``b""``: null) and the text Feast's SQLite store keeps."""

    values: list[bytes]
    texts: list[str | None]
    numbers: list[float | None]


_FLOAT_OR_INT = {"float64", "int64", "Float64", "Int64"}  # numpy's and pandas' nullable ones


def _float_or_int(series: pd.Series) -> bool:
    return str(series.dtype) in _FLOAT_OR_INT


def _integer_key(series: pd.Series) -> bool:
    return pd.api.types.is_integer_dtype(series.dtype) and not series.isna().any()


def encode_column(series: pd.Series, value_type: ValueType, texts: bool = True) -> EncodedColumn:
    """The ``ValueProto`` bytes Feast writes for ``series`` declared as ``value_type`` (DOUBLE or
    INT64; nulls and NaN are Feast's empty ``Value``), with ``str(value)`` and ``float(value)`` (the
    SQLite store's value_text and value_num; empty lists unless ``texts``)."""
    floats = series.to_numpy(dtype=np.float64, na_value=np.nan)
    null = np.isnan(floats)
    if value_type == ValueType.DOUBLE:
        records = np.empty((len(floats), 9), np.uint8)
        records[:, 0] = _DOUBLE_TAG_BYTE
        records[:, 1:] = np.ascontiguousarray(floats, dtype="<f8").view(np.uint8).reshape(-1, 8)
        blob = records.tobytes()
        values = [blob[i : i + 9] for i in range(0, len(blob), 9)]
        numbers = floats.tolist() if texts else []
        text = list(map(repr, numbers))  # str() of a float is its repr
    else:
        if pd.api.types.is_integer_dtype(series.dtype) and not null.any():
            ints = series.to_numpy(dtype=np.int64)  # exact beyond 2**53, where the floats are not
        else:
            floats = np.where(null, 0.0, floats)
            if (np.abs(floats) >= 2.0**63).any():  # Feast's int(x) fails on these too
                bad = floats[np.abs(floats) >= 2.0**63][0]
                raise ValueError(f"column {series.name}: {bad} is out of range of an int64 feature")
            ints = np.trunc(floats).astype(np.int64)  # Feast's int(x) of a float
        distinct, inverse = np.unique(ints, return_inverse=True)
        distinct = distinct.tolist()
        encoded = [ValueProto(int64_val=v).SerializeToString() for v in distinct]
        positions = inverse.tolist()
        values = [encoded[i] for i in positions]
        text = [str(distinct[i]) for i in positions] if texts else []
        numbers = [float(distinct[i]) for i in positions] if texts else []
    if null.any():
        for i in np.flatnonzero(null).tolist():
            values[i] = b""
            if texts:
                text[i] = numbers[i] = None
    return EncodedColumn(values, text, numbers)


def _naive_utc(series: pd.Series) -> pd.Series:
    """Timestamps as Feast hands them to its online stores: naive, UTC."""
    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        series = pd.to_datetime(series)
    return series.dt.tz_convert("UTC").dt.tz_localize(None) if series.dt.tz is not None else series


# -- writing -------------------------------------------------------------------------------------
class OnlineWriter:
    """Writes frames of one feature view (columns: join keys, the source's timestamp columns and the
    view's features) to the online store as Feast's ``write_to_online_store`` would."""

    texts = True  # whether the store keeps value_text / value_num

    def __init__(self, store, view):
        self.store, self.view = store, view
        self.config = store.config
        self.online_store = store._get_provider().online_store
        self.features = [(f.name, f.dtype.to_value_type()) for f in view.features]
        self.join_keys = {c.name: c.dtype.to_value_type() for c in view.entity_columns}
        self.timestamp = view.batch_source.timestamp_field
        self.created = view.batch_source.created_timestamp_column or None
        self.mapping = view.batch_source.field_mapping or {}

    def supports(self, frame: pd.DataFrame) -> bool:
        """Whether this frame's columns are of types written here exactly as Feast would."""
        return (
            all(_float_or_int(frame[name]) for name, _ in self.features)
            and all(_integer_key(frame[k]) for k, t in self.join_keys.items() if t == ValueType.INT64)
            and all(not frame[c].isna().any() for c in (self.timestamp, self.created) if c)
        )

    def write(self, frame: pd.DataFrame) -> int:
        """Write ``frame``; returns the rows written (0 when Feast would skip it: no rows, or every
        feature null). Falls back to Feast's own write for frames of other column types."""
        if self.mapping:
            frame = frame.rename(columns=self.mapping)
        names = [name for name, _ in self.features]
        if frame.empty or (names and frame[names].isna().all().all()):
            return 0  # Feast's write_to_online_store warns and writes nothing
        if not self.supports(frame):
            self.store.write_to_online_store(self.view.name, frame)
            return len(frame)
        self._write(frame)
        return len(frame)

    def _chunks(self, frame: pd.DataFrame, key_suffix: bytes = b"") -> Iterator[tuple]:
        keys = EntityKeys(self.join_keys, self.config.entity_key_serialization_version, key_suffix)
        events = _naive_utc(frame[self.timestamp])
        created = _naive_utc(frame[self.created]) if self.created else None
        for start in range(0, len(frame), CHUNK):
            part = frame.iloc[start : start + CHUNK]
            entity = keys.serialize({k: part[k].to_numpy() for k in self.join_keys})
            columns = [encode_column(part[name], value_type, self.texts) for name, value_type in self.features]
            yield (
                entity,
                columns,
                events.iloc[start : start + CHUNK],
                created.iloc[start : start + CHUNK] if created is not None else None,
            )

    def _write(self, frame: pd.DataFrame) -> None:
        raise NotImplementedError


def _mapped(series: pd.Series, convert) -> list:
    """``convert`` of each distinct value of ``series`` (timestamps: a day's rows share a handful)."""
    codes, distinct = pd.factorize(series)
    converted = [convert(v.to_pydatetime()) for v in distinct]
    return [converted[i] for i in codes.tolist()]


class SqliteWriter(OnlineWriter):
    """One ``executemany`` upsert per frame in one transaction, rows as Feast's ``online_write_batch``
    makes them (entity key, feature name, value, value_text[, value_num], event_ts, created_ts)."""

    def __init__(self, store, view):
        super().__init__(store, view)
        conn = self.online_store._get_conn(self.config)
        self.table = compute_table_id(self.config.project, view, False)
        self.value_num = bool(getattr(self.config.online_store, "enable_openai_compatible_store", False)) and (
            self.online_store._check_table_has_value_num(conn, self.table)
        )
        columns = ["entity_key", "feature_name", "value", "value_text"]
        columns += ["value_num"] if self.value_num else []
        columns += ["event_ts", "created_ts"]
        update = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in ("entity_key", "feature_name"))
        self.sql = (
            f"INSERT INTO {_quote_id(self.table)} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
            f"ON CONFLICT(entity_key, feature_name) DO UPDATE SET {update};"
        )
        # the value sqlite3 stores for a datetime: the adapter Feast's module registers
        self.adapt = sqlite3.adapters.get((datetime, sqlite3.PrepareProtocol), lambda v: v)

    def _rows(self, frame: pd.DataFrame) -> Iterator[tuple]:
        names = [name for name, _ in self.features]
        for entity, columns, events, created in self._chunks(frame):
            event_ts = _mapped(events, lambda t: self.adapt(to_naive_utc(t)))
            created_ts = _mapped(created, lambda t: self.adapt(to_naive_utc(t))) if created is not None else None
            for i, key in enumerate(entity):
                ts, cts = event_ts[i], created_ts[i] if created_ts is not None else None
                for name, column in zip(names, columns, strict=True):
                    if self.value_num:
                        yield key, name, column.values[i], column.texts[i], column.numbers[i], ts, cts
                    else:
                        yield key, name, column.values[i], column.texts[i], ts, cts

    def _write(self, frame: pd.DataFrame) -> None:
        conn = self.online_store._get_conn(self.config)
        with conn:
            conn.executemany(self.sql, self._rows(frame))


class RedisWriter(OnlineWriter):
    """One hash per entity, as Feast writes it: the ``_ts:<view>`` field (a protobuf ``Timestamp``)
    and a murmur3 field per feature; like Feast, a row no newer than what the hash holds (or than an
    earlier row of the frame) is skipped, unless ``skip_dedup`` is configured, and ``key_ttl_seconds``
    sets the hashes' expiry.

    A batch of entities costs two small Lua scripts: one reads the batch's stored ``_ts`` fields
    (``HGET`` each), one writes the rows kept (``HSET`` each, with its ``EXPIRE``) — one command and
    one reply per batch instead of one per entity. On Redis Cluster, whose scripts cannot span
    slots, and on a server that refuses scripts (an ACL without ``@scripting``, a managed Redis
    with ``EVAL`` disabled: found on the first batch), pipelined ``HMGET`` and ``HSET`` as Feast does."""

    texts = False  # value_text is the SQLite store's
    READ_STAMPS = (
        "local out = {} for i, key in ipairs(KEYS) do out[i] = redis.call('HGET', key, ARGV[1]) end return out"
    )
    # ARGV: field count n, ttl seconds (0: none), the n field names, then n values per key of KEYS
    WRITE_HASHES = """
local n, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local at = 2 + n
local args = {}
for i, key in ipairs(KEYS) do
  for j = 1, n do
    args[2 * j - 1] = ARGV[2 + j]
    args[2 * j] = ARGV[at + j]
  end
  at = at + n
  redis.call('HSET', key, unpack(args))
  if ttl > 0 then redis.call('EXPIRE', key, ttl) end
end
return #KEYS
"""

    def __init__(self, store, view):
        super().__init__(store, view)
        from redis.cluster import RedisCluster

        self.options = self.config.online_store
        self.client = self.online_store._get_client(self.options)
        self.ts_key = f"_ts:{view.name}"
        self.fields = [_mmh3(f"{view.name}:{name}") for name, _ in self.features]
        self.scripts = not isinstance(self.client, RedisCluster)
        if self.scripts:
            self.read_stamps = self.client.register_script(self.READ_STAMPS)
            self.write_hashes = self.client.register_script(self.WRITE_HASHES)

    @staticmethod
    def _stamp(t: datetime) -> tuple[bytes, int]:
        ts = Timestamp()
        ts.FromDatetime(make_tzaware(t))
        return ts.SerializeToString(), ts.seconds * 1_000_000_000 + ts.nanos

    def _scripts_refused(self, exc: Exception) -> None:
        """Go on with pipelines if ``exc`` says the server refuses scripts; else raise it."""
        text = str(exc).lower()
        if not any(sign in text for sign in SCRIPTS_REFUSED):
            raise exc
        self.scripts = False

    def _stored(self, keys: list[bytes]) -> list[bytes | None]:
        if self.scripts:
            try:
                return self.read_stamps(keys=keys, args=[self.ts_key])
            except redis.exceptions.ResponseError as exc:
                self._scripts_refused(exc)
        with self.client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hmget(key, self.ts_key)
            return [r[0] for r in pipe.execute()]

    def _hset(self, keys: list[bytes], rows: list[tuple]) -> None:
        """``rows``: per key, the values of ``_ts`` and of each feature's field."""
        ttl = self.options.key_ttl_seconds or 0
        if not keys:
            return
        if self.scripts:
            args = [len(self.fields) + 1, ttl, self.ts_key, *self.fields]
            for row in rows:
                args += row
            try:
                self.write_hashes(keys=keys, args=args)
                return
            except redis.exceptions.ResponseError as exc:
                self._scripts_refused(exc)
        names = [self.ts_key, *self.fields]
        with self.client.pipeline(transaction=False) as pipe:
            for key, row in zip(keys, rows, strict=True):
                pipe.hset(key, mapping=dict(zip(names, row, strict=True)))
                if ttl:
                    pipe.expire(name=key, time=ttl)
            pipe.execute()

    def _write(self, frame: pd.DataFrame) -> None:
        dedup = not self.options.skip_dedup
        latest: dict[bytes, int] = {}  # newest stamp written so far per key: Feast's batch_latest_nanos
        parsed: dict[bytes, int] = {}  # stored stamp bytes -> nanoseconds (a frame meets a few)
        suffix = self.config.project.encode("utf-8")
        for entity, columns, events, _ in self._chunks(frame, suffix):
            stamps = _mapped(events, self._stamp)
            rows = list(zip([s for s, _ in stamps], *(c.values for c in columns)))
            for start in range(0, len(entity), REDIS_BATCH):
                keys = entity[start : start + REDIS_BATCH]
                batch = rows[start : start + REDIS_BATCH]
                if dedup:
                    kept = []
                    for j, (key, previous) in enumerate(zip(keys, self._stored(keys), strict=True)):
                        nanos = stamps[start + j][1]
                        seen = max(_nanos(previous, parsed) if previous else 0, latest.get(key, 0))
                        if seen and nanos <= seen:
                            continue
                        latest[key] = nanos
                        kept.append(j)
                    if len(kept) < len(keys):
                        keys, batch = [keys[j] for j in kept], [batch[j] for j in kept]
                self._hset(keys, batch)


def _nanos(stamp: bytes, cache: dict[bytes, int]) -> int:
    if (found := cache.get(stamp)) is None:
        ts = Timestamp()
        ts.ParseFromString(stamp)
        found = cache[stamp] = ts.seconds * 1_000_000_000 + ts.nanos
    return found


def _plain_view(store, view) -> bool:
    """A batch feature view of scalar float64 / int64 features with entities, on an unversioned
    registry: what the writers and readers here reproduce exactly."""
    from feast.feature_view import FeatureView
    from feast.on_demand_feature_view import OnDemandFeatureView

    return (
        isinstance(view, FeatureView)
        and not isinstance(view, OnDemandFeatureView)
        and view.batch_source is not None
        and bool(view.entity_columns)
        and all(f.dtype.to_value_type() in _SUPPORTED for f in view.features)
        and not store.config.registry.enable_online_feature_view_versioning
        and not getattr(store.config.online_store, "vector_enabled", False)
    )


def _kind(store) -> str | None:
    online_store = store._get_provider().online_store
    if isinstance(online_store, SqliteOnlineStore):
        return "sqlite"
    if isinstance(online_store, RedisOnlineStore) and getattr(store.config.online_store, "client", "redis") == "redis":
        return "redis"
    return None


def online_writer(store, view_name: str) -> OnlineWriter | None:
    """The bulk writer of ``view_name`` for this store, or ``None`` where Feast's own write is needed."""
    view = store.get_feature_view(view_name)
    kind = _kind(store)
    if kind is None or not _plain_view(store, view):
        return None
    return SqliteWriter(store, view) if kind == "sqlite" else RedisWriter(store, view)


def write_online(store, view_name: str, frame: pd.DataFrame) -> None:
    """``store.write_to_online_store(view_name, frame)``, in bulk where this module can."""
    writer = online_writer(store, view_name)
    if writer is None:
        store.write_to_online_store(view_name, frame)
    else:
        writer.write(frame)


# -- reading -------------------------------------------------------------------------------------
def decode_value(data: bytes | None):
    """The Python value of serialized ``ValueProto`` bytes (``None`` for a null or missing value):
    doubles and int64s decoded directly, anything else through the proto."""
    if not data:
        return None
    tag = data[0]
    if tag == _DOUBLE_TAG_BYTE and len(data) == 9:
        return _UNPACK_DOUBLE(data, 1)[0]
    if tag == _INT64_TAG_BYTE and len(data) <= 11:
        result, shift = 0, 0
        for i in range(1, len(data)):
            byte = data[i]
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                if i == len(data) - 1:
                    return result - (1 << 64) if result >= 1 << 63 else result
                break
    return proto_value(ValueProto.FromString(data))


@dataclass
class _ViewPlan:
    view: object
    keys: EntityKeys
    features: list[str]  # requested feature names, in the service's order
    columns: list[str]  # their response names, <view>__<feature>


class ServiceReader:
    """A feature service's online lookups, planned once: its views, entity key encodings, tables or
    hash fields. :meth:`read` answers like ``get_online_features(service, rows,
    full_feature_names=True)`` with its values read off the proto (join keys, then the features)."""

    key_suffix = False  # Redis keys end with the project's name

    def __init__(self, store, service, views: dict):
        self.store = store
        self.config = store.config
        self.online_store = store._get_provider().online_store
        self.join_keys: list[str] = []
        self.plans = []
        for projection in service.feature_view_projections:
            view = views[projection.name]
            join_keys = {c.name: c.dtype.to_value_type() for c in view.entity_columns}
            self.join_keys += [k for k in join_keys if k not in self.join_keys]
            suffix = self.config.project.encode("utf-8") if self.key_suffix else b""
            names = [f.name for f in projection.features]
            self.plans.append(
                _ViewPlan(
                    view,
                    EntityKeys(join_keys, self.config.entity_key_serialization_version, suffix),
                    names,
                    [f"{projection.name_to_use()}__{n}" for n in names],
                )
            )

    def read(self, rows: list[dict]) -> dict[str, list]:
        order = [k for k in rows[0] if k in self.join_keys] if rows else []
        out = {k: [int(row[k]) for row in rows] for k in order}
        int_rows = [{k: int(row[k]) for k in self.join_keys} for row in rows]
        for plan, cells in zip(self.plans, self._fetch(int_rows), strict=True):
            for column, values in zip(plan.columns, cells, strict=True):
                out[column] = [decode_value(v) for v in values]
        return out

    def _fetch(self, rows: list[dict]) -> list[list[list[bytes | None]]]:
        """Per view, per requested feature, the stored bytes of each row (``None``: not stored)."""
        raise NotImplementedError


class SqliteReader(ServiceReader):
    """One ``SELECT … WHERE entity_key IN (…)`` per view on the online store's table."""

    def __init__(self, store, service, views):
        super().__init__(store, service, views)
        self.tables = [_quote_id(compute_table_id(self.config.project, p.view, False)) for p in self.plans]
        self.queries: dict[tuple[int, int], str] = {}

    def _fetch(self, rows):
        conn = self.online_store._get_conn(self.config)
        out = []
        for v, plan in enumerate(self.plans):
            keys = plan.keys.of_rows(rows)
            distinct = list(dict.fromkeys(keys))
            sql = self.queries.get((v, len(distinct)))
            if sql is None:
                sql = (
                    f"SELECT entity_key, feature_name, value FROM {self.tables[v]} "
                    f"WHERE entity_key IN ({','.join('?' * len(distinct))})"
                )
                if len(distinct) <= 256:  # the lookup sizes a service sees again and again
                    self.queries[(v, len(distinct))] = sql
            found = {(key, name): value for key, name, value in conn.execute(sql, distinct)}
            out.append([[found.get((key, name)) for key in keys] for name in plan.features])
        return out


class RedisReader(ServiceReader):
    """One pipeline of ``HMGET`` (the requested features' fields of each entity's hash) for all views."""

    key_suffix = True

    def __init__(self, store, service, views):
        super().__init__(store, service, views)
        self.client = self.online_store._get_client(self.config.online_store)
        self.fields = [[_mmh3(f"{p.view.name}:{n}") for n in p.features] for p in self.plans]

    def _fetch(self, rows):
        keys = [plan.keys.of_rows(rows) for plan in self.plans]
        commands = [(key, fields) for view_keys, fields in zip(keys, self.fields, strict=True) for key in view_keys]
        if len(commands) == 1:
            replies = [self.client.execute_command("HMGET", commands[0][0], *commands[0][1])]
        else:
            with self.client.pipeline(transaction=False) as pipe:
                for key, fields in commands:
                    pipe.execute_command("HMGET", key, *fields)
                replies = pipe.execute()
        out, at = [], 0
        for plan, view_keys in zip(self.plans, keys, strict=True):
            view_replies = replies[at : at + len(view_keys)]
            at += len(view_keys)
            out.append([[reply[f] for reply in view_replies] for f in range(len(plan.features))])
        return out


def service_reader(store, service, views: dict) -> ServiceReader | None:
    """The planned reader of ``service`` (``views``: its feature views by name), or ``None`` where
    Feast's own ``get_online_features`` is needed (another store, aliased or key-mapped projections)."""
    kind = _kind(store)
    if kind is None:
        return None
    for projection in service.feature_view_projections:
        view = views[projection.name]
        if projection.join_key_map or not _plain_view(store, view):
            return None
        if any(f.dtype.to_value_type() not in _SUPPORTED for f in projection.features):
            return None
    return (SqliteReader if kind == "sqlite" else RedisReader)(store, service, views)
