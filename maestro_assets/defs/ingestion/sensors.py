"""The landing sensor: new objects under a files source's prefix start bronze runs.

One run per (table, landing day) batch of new objects per tick, with a run key naming the
batch's object versions; the cursor (see lib/ingestion/landing.py) guarantees every object is in
exactly one batch, also across daemon restarts (Dagster persists the cursor).
"""

import json
from collections import defaultdict

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from ...lib.ingestion.files import landing_day
from ...lib.ingestion.landing import LandingCursor, batch_run_key, new_objects
from ...resources import LakeResource
from .assets import bronze_key
from .partitions import DAILY, SOURCES

FILE_TABLES = [spec for spec in SOURCES.tables() if spec.kind == "files"]


@sensor(
    name="landing_files_sensor",
    description="Starts bronze runs for objects that land under the files sources' prefixes.",
    asset_selection=[bronze_key(spec) for spec in FILE_TABLES],
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.STOPPED,
)
def landing_files_sensor(context: SensorEvaluationContext, lake: LakeResource):
    store = lake.get()
    cursors = {k: LandingCursor.parse(v) for k, v in json.loads(context.cursor or "{}").items()}
    first, last = DAILY.get_first_partition_key(), DAILY.get_last_partition_key()
    requests, skipped = [], []
    for spec in FILE_TABLES:
        listing = store.list(spec.prefix)
        fresh, cursor = new_objects(listing, cursors.get(spec.table, LandingCursor()))
        waiting = [o for o in listing if cursor.pending.get(o.key) == o.etag and o not in fresh]
        cursor.pending = {}
        batches = defaultdict(list)
        for obj in fresh + waiting:
            day = landing_day(obj.key, obj.last_modified).isoformat()
            if last is None or day > last:  # today's (or a future) partition does not exist yet
                cursor.pending[obj.key] = obj.etag
            elif day < first:
                skipped.append(f"{obj.key} (landing day {day} is before the first partition {first})")
            else:
                batches[day].append(obj)
        for day, objects in sorted(batches.items()):
            requests.append(
                RunRequest(
                    run_key=batch_run_key(spec.table, day, objects),
                    partition_key=day,
                    asset_selection=[bronze_key(spec)],
                    tags={"maestro/landing_objects": str(len(objects))},
                )
            )
        if cursor.pending:
            context.log.info(f"{len(cursor.pending)} object(s) under {spec.prefix} wait for their partition")
        cursors[spec.table] = cursor
    for line in skipped:
        context.log.warning(f"skipped {line}")
    cursor = json.dumps({table: c.dump() for table, c in cursors.items()}, sort_keys=True)
    if not requests:
        return SensorResult(skip_reason=SkipReason("no new objects"), cursor=cursor)
    context.log.info(f"{len(requests)} run(s) for new landed objects")
    return SensorResult(run_requests=requests, cursor=cursor)
