"""A test-only second code location for the production topology test and the run-throughput
benchmark: a short job, and an every-minute schedule (Maestro's own schedules are daily/hourly,
too slow to see the daemon tick in a test)."""

import time

from dagster import Config, Definitions, OpExecutionContext, ScheduleDefinition, in_process_executor, job, op

LOCATION_NAME = "topology_extra"
SHORT_JOB = "short_job"
TICK_JOB = "tick_job"
EVERY_MINUTE_SCHEDULE = "every_minute_tick"


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


@op
def tick(context: OpExecutionContext) -> None:
    context.log.info("scheduled tick")


@job(name=TICK_JOB, executor_def=in_process_executor)
def tick_job():
    tick()


every_minute_tick = ScheduleDefinition(name=EVERY_MINUTE_SCHEDULE, job=tick_job, cron_schedule="* * * * *")

defs = Definitions(jobs=[short_job, tick_job], schedules=[every_minute_tick])
