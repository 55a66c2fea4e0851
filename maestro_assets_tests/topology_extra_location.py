"""A test-only second code location for the production topology test, the local stack test and
the run-throughput benchmark: a short job, a job that writes many events quickly, an every-minute
schedule and a sensor that ticks every second (Maestro's own schedules are daily/hourly and its
sensors tick every 30 s, too slow to see the daemon at work in a test)."""

import time

from dagster import (
    AssetKey,
    AssetMaterialization,
    Config,
    DefaultSensorStatus,
    Definitions,
    OpExecutionContext,
    ScheduleDefinition,
    SensorEvaluationContext,
    SkipReason,
    in_process_executor,
    job,
    op,
    sensor,
)

LOCATION_NAME = "topology_extra"
SHORT_JOB = "short_job"
CHATTY_JOB = "chatty_job"
TICK_JOB = "tick_job"
EVERY_MINUTE_SCHEDULE = "every_minute_tick"
BUSY_SENSOR = "every_second_sensor"
CHATTY_ASSETS = [AssetKey(["local_stack", f"chatty_{n}"]) for n in range(4)]


class ShortRunConfig(Config):
    seconds: float = 1.0


@op
def sleep_briefly(context: OpExecutionContext, config: ShortRunConfig) -> float:
    time.sleep(config.seconds)
    context.log.info(f"slept {config.seconds}s")
    return config.seconds


@job(name=SHORT_JOB, executor_def=in_process_executor)  # one process per run: the run is the unit here
def short_job():
    sleep_briefly()


class ChattyConfig(Config):
    materializations: int = 40  # spread over CHATTY_ASSETS: each is written to the run's and the index database
    logs_per_materialization: int = 3
    seconds: float = 0.0  # the least time the writes take: the run stays open that long, so runs overlap


@op
def write_events(context: OpExecutionContext, config: ChattyConfig) -> int:
    """Log lines and asset materializations as fast as the storage takes them, in bursts paced so
    that they take at least ``seconds``."""
    started = time.monotonic()
    for n in range(config.materializations):
        for line in range(config.logs_per_materialization):
            context.log.info(f"event {n}.{line}")
        key = CHATTY_ASSETS[n % len(CHATTY_ASSETS)]
        context.log_event(AssetMaterialization(asset_key=key, metadata={"n": n, "run": context.run_id}))
        ahead = started + config.seconds * (n + 1) / config.materializations - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    return config.materializations


@job(name=CHATTY_JOB, executor_def=in_process_executor)
def chatty_job():
    write_events()


@op
def tick(context: OpExecutionContext) -> None:
    context.log.info("scheduled tick")


@job(name=TICK_JOB, executor_def=in_process_executor)
def tick_job():
    tick()


every_minute_tick = ScheduleDefinition(name=EVERY_MINUTE_SCHEDULE, job=tick_job, cron_schedule="* * * * *")


@sensor(name=BUSY_SENSOR, job=tick_job, minimum_interval_seconds=1, default_status=DefaultSensorStatus.STOPPED)
def every_second_sensor(context: SensorEvaluationContext):
    """Reads the instance (the newest chatty materialization) and writes a cursor every tick; starts nothing."""
    event = context.instance.get_latest_materialization_event(CHATTY_ASSETS[0])
    seen = f"{event.timestamp:.6f}" if event is not None else "none"
    context.update_cursor(seen)
    return SkipReason(f"newest {CHATTY_ASSETS[0].to_user_string()} materialization: {seen}")


defs = Definitions(jobs=[short_job, chatty_job, tick_job], schedules=[every_minute_tick], sensors=[every_second_sensor])
