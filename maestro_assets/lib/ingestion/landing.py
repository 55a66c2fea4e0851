"""Which landed objects are new: the landing sensor's cursor, free of Dagster.

The cursor keeps a high-water mark of last-modified times and the (key, ETag) pairs seen within
a look-back window before it. Objects are listed again from ``mark - lookback`` on every tick,
so an object whose last-modified time is older than the mark when it becomes visible (S3 dates a
multipart upload by its start; a slow writer lands late) is still found, and the seen-set makes
sure no object is reported twice. An object re-written with new content (new ETag) is new; the
same content delivered again (same ETag) is not. Objects that cannot be ingested yet (their
landing day has no partition yet: today's files) wait in ``pending`` until they can, however
long that takes. Objects modified less than the table's ``settle_seconds`` before the listing
are not taken yet: a file still being written (a local landing folder, a store that lists a PUT
in flight) is taken once it has stopped changing, whole, and so exactly once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ..lake import ObjectInfo

DEFAULT_LOOKBACK = timedelta(hours=6)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass
class LandingCursor:
    mark: datetime = EPOCH
    seen: dict[str, str] = field(default_factory=dict)  # "key" -> "etag@iso-last-modified"
    pending: dict[str, str] = field(default_factory=dict)  # "key" -> etag, reported but not ingestible yet

    @classmethod
    def parse(cls, text: str | None) -> LandingCursor:
        if not text:
            return cls()
        raw = json.loads(text)
        return cls(datetime.fromisoformat(raw["mark"]), dict(raw.get("seen", {})), dict(raw.get("pending", {})))

    def dump(self) -> str:
        return json.dumps({"mark": self.mark.isoformat(), "seen": self.seen, "pending": self.pending}, sort_keys=True)


def new_objects(
    objects: Iterable[ObjectInfo],
    cursor: LandingCursor,
    lookback: timedelta = DEFAULT_LOOKBACK,
    settled_before: datetime | None = None,
) -> tuple[list[ObjectInfo], LandingCursor]:
    """The objects not reported before, and the cursor that remembers them; objects modified after
    ``settled_before`` are left for a later call (not remembered)."""
    fresh, seen = [], dict(cursor.seen)
    mark = cursor.mark
    horizon = cursor.mark - lookback
    for obj in objects:
        modified = _utc(obj.last_modified)
        if modified < horizon:
            continue  # older than the window: reported by an earlier tick
        if settled_before is not None and modified > settled_before:
            continue  # still changing, perhaps: a later tick takes it
        previous = seen.get(obj.key)
        if previous is not None and previous.split("@", 1)[0] == obj.etag:
            continue  # the same content, seen already (also when delivered again)
        fresh.append(obj)
        seen[obj.key] = f"{obj.etag}@{modified.isoformat()}"
        mark = max(mark, modified)
    keep_from = mark - lookback
    seen = {k: v for k, v in seen.items() if datetime.fromisoformat(v.split("@", 1)[1]) >= keep_from}
    return fresh, LandingCursor(mark, seen, dict(cursor.pending))


def batch_run_key(table: str, day: str, objects: Iterable[ObjectInfo]) -> str:
    """A run key that names exactly this batch of object versions (Dagster never runs a key twice)."""
    digest = hashlib.sha256("\n".join(sorted(f"{o.key}:{o.etag}" for o in objects)).encode()).hexdigest()[:16]
    return f"landing:{table}:{day}:{digest}"


@dataclass
class LandingBatch:
    """New objects of one table and landing day: one run."""

    table: str  # the table's qualified name, <source>/<table>
    day: str
    objects: list[ObjectInfo]

    @property
    def run_key(self) -> str:
        return batch_run_key(self.table, self.day, self.objects)


@dataclass
class LandingPlan:
    batches: list[LandingBatch] = field(default_factory=list)
    cursors: dict[str, LandingCursor] = field(default_factory=dict)
    waiting: dict[str, int] = field(default_factory=dict)  # table -> objects waiting for their partition
    settling: dict[str, int] = field(default_factory=dict)  # table -> objects too recently modified to take
    skipped: list[str] = field(default_factory=list)  # objects that no partition will ever take, and why

    def dump_cursor(self) -> str:
        return json.dumps({table: c.dump() for table, c in self.cursors.items()}, sort_keys=True)


def plan_landing_runs(
    listings: dict[str, list[ObjectInfo]],
    cursor_text: str | None,
    first_day: str,
    last_day: str | None,
    lookback: timedelta = DEFAULT_LOOKBACK,
    settle: dict[str, timedelta] | None = None,
    now: datetime | None = None,
) -> LandingPlan:
    """The runs to start for the objects listed under each table's prefix (``listings``, by
    table), given the sensor's cursor; the partitions that exist are ``first_day..last_day``
    (``last_day`` None: none yet). Objects whose day has no partition yet (today's) wait in the
    cursor until it exists; objects before the first partition are skipped, with the reason.
    Objects modified within ``settle[table]`` before ``now`` (default: the current time) are
    left for a later tick."""
    from .files import landing_day  # files imports the sources models; landing stays light

    cursors = {k: LandingCursor.parse(v) for k, v in json.loads(cursor_text or "{}").items()}
    plan = LandingPlan(cursors=cursors)
    now = _utc(now or datetime.now(UTC))
    for table, listing in listings.items():
        wait = (settle or {}).get(table)
        settled_before = None if not wait else now - wait
        if settled_before is not None:
            young = sum(1 for o in listing if _utc(o.last_modified) > settled_before)
            if young:
                plan.settling[table] = young
        fresh, cursor = new_objects(listing, cursors.get(table, LandingCursor()), lookback, settled_before)
        waiting = [o for o in listing if cursor.pending.get(o.key) == o.etag and o not in fresh]
        cursor.pending = {}
        by_day: dict[str, list[ObjectInfo]] = {}
        for obj in fresh + waiting:
            day = landing_day(obj.key, obj.last_modified).isoformat()
            if last_day is None or day > last_day:  # today's (or a future) partition does not exist yet
                cursor.pending[obj.key] = obj.etag
            elif day < first_day:
                plan.skipped.append(f"{obj.key} (landing day {day} is before the first partition {first_day})")
            else:
                by_day.setdefault(day, []).append(obj)
        plan.batches += [LandingBatch(table, day, objects) for day, objects in sorted(by_day.items())]
        if cursor.pending:
            plan.waiting[table] = len(cursor.pending)
        plan.cursors[table] = cursor
    return plan
