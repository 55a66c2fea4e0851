"""The landing sensor: new objects under a files source's prefix start bronze runs.

One run per (table, landing day) batch of new objects per tick, with a run key naming the
batch's object versions; the cursor and the batching (lib/ingestion/landing.py) guarantee every
object is in exactly one batch, also across daemon restarts (Dagster persists the cursor).
"""

from datetime import timedelta

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from ...lib.ingestion.landing import plan_landing_runs
from ...resources import LakeResource
from ..config import DAILY, SOURCES
from .assets import bronze_key

FILE_TABLES = {spec.qualified_name: spec for spec in SOURCES.tables() if spec.kind == "files"}


def landing_sensor():
    """The sensor, when the sources declare files tables (a sensor needs something to select)."""
    if not FILE_TABLES:
        return []

    @sensor(
        name="landing_files_sensor",
        description="Starts bronze runs for objects that land under the files sources' prefixes.",
        asset_selection=[bronze_key(spec) for spec in FILE_TABLES.values()],
        minimum_interval_seconds=30,
        default_status=DefaultSensorStatus.STOPPED,
    )
    def landing_files_sensor(context: SensorEvaluationContext, lake: LakeResource):
        store = lake.client()
        listings = {name: store.list(spec.prefix) for name, spec in FILE_TABLES.items()}
        plan = plan_landing_runs(
            listings,
            context.cursor,
            DAILY.get_first_partition_key(),
            DAILY.get_last_partition_key(),
            settle={name: timedelta(seconds=spec.settle_seconds) for name, spec in FILE_TABLES.items()},
        )
        for table, count in plan.waiting.items():
            context.log.info(f"{count} object(s) under {FILE_TABLES[table].prefix} wait for their partition")
        for table, count in plan.settling.items():
            seconds = FILE_TABLES[table].settle_seconds
            context.log.info(f"{count} object(s) under {FILE_TABLES[table].prefix} changed in the last {seconds:g}s")
        for line in plan.skipped:
            context.log.warning(f"skipped {line}")
        requests = [
            RunRequest(
                run_key=batch.run_key,
                partition_key=batch.day,
                asset_selection=[bronze_key(FILE_TABLES[batch.table])],
                tags={"maestro/landing_objects": str(len(batch.objects))},
            )
            for batch in plan.batches
        ]
        if not requests:
            return SensorResult(skip_reason=SkipReason("no new objects"), cursor=plan.dump_cursor())
        context.log.info(f"{len(requests)} run(s) for new landed objects")
        return SensorResult(run_requests=requests, cursor=plan.dump_cursor())

    return [landing_files_sensor]


SENSORS = landing_sensor()
landing_files_sensor = SENSORS[0] if SENSORS else None
