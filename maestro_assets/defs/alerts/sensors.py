"""The alert sensors: every failed run, and every failed blocking asset check, posted to the webhook.

Both are run-failure sensors (Dagster keeps their cursor: each failed run is seen once) and both are
RUNNING by default, so a deployment alerts as soon as ``MAESTRO_ALERT_WEBHOOK_URL`` is set, with no
switch to flip in the UI; without the variable they post nothing (logged once per process) and
cost one cheap evaluation every 30 s. A blocking check that fails fails its run, so the failed run's
check evaluations are where the failed blocking checks are (a blocking check of WARN severity does
not fail its run, and is not alerted).

They return nothing: a run-status sensor that returns a value ends its tick after that run, so
one returning a ``SkipReason`` would handle one failed run per tick; what was sent is in the log.
"""

from dagster import (
    AssetCheckEvaluation,
    DagsterEventType,
    DagsterInstance,
    DefaultSensorStatus,
    RunFailureSensorContext,
    run_failure_sensor,
)
from dagster._core.storage.tags import WILL_RETRY_TAG

from ...lib.platform.alerts import (
    CheckFailure,
    RunFailure,
    check_failure_payload,
    run_failure_payload,
    send_alert,
)

INTERVAL_SECONDS = 30


def _root_cause(error):
    """The user code's error inside Dagster's wrappers ("Error occurred while executing op …")."""
    while error.cause is not None:
        error = error.cause
    return error


def run_failure(context: RunFailureSensorContext) -> RunFailure:
    """The failed run as plain values: its failed steps and the first step's error (the error the
    asset's code raised, not Dagster's wrapper), else the run's own error."""
    steps = context.get_step_failure_events()
    errors = [event.event_specific_data.error for event in steps if event.event_specific_data is not None]
    error = next((_root_cause(e).message for e in errors if e is not None), None)
    if error is None:
        run_error = getattr(context.failure_event.event_specific_data, "error", None)
        error = run_error.message if run_error is not None else context.failure_event.message
    run_id = context.dagster_run.run_id
    stored = context.instance.get_run_by_id(run_id) or context.dagster_run  # its tags as of now
    return RunFailure(
        run_id=run_id,
        job=context.dagster_run.job_name,
        error=error or "",
        failed_steps=tuple(event.step_key for event in steps if event.step_key),
        assets_not_materialized=assets_not_materialized(context.instance, run_id),
        will_retry=stored.tags.get(WILL_RETRY_TAG) == "true",  # set by the instance as the run failed
    )


def _run_asset_keys(instance: DagsterInstance, run_id: str, event_type: DagsterEventType) -> set[str]:
    records = instance.get_records_for_run(run_id, of_type=event_type).records
    return {record.asset_key.to_user_string() for record in records if record.asset_key is not None}


def assets_not_materialized(instance: DagsterInstance, run_id: str) -> tuple[str, ...]:
    """The assets the run planned and did not materialize, sorted."""
    planned = _run_asset_keys(instance, run_id, DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
    return tuple(sorted(planned - _run_asset_keys(instance, run_id, DagsterEventType.ASSET_MATERIALIZATION)))


def _metadata_text(value) -> str:
    return str(getattr(value, "value", value))


def failed_blocking_checks(instance: DagsterInstance, run_id: str, job: str) -> list[CheckFailure]:
    """The blocking asset checks evaluated in the run that did not pass."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION).records
    failures = []
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if not isinstance(evaluation, AssetCheckEvaluation) or evaluation.passed or not evaluation.blocking:
            continue
        failures.append(
            CheckFailure(
                run_id=run_id,
                job=job,
                asset=evaluation.asset_key.to_user_string(),
                check=evaluation.check_name,
                severity=evaluation.severity.value,
                description=evaluation.description,
                metadata={key: _metadata_text(value) for key, value in evaluation.metadata.items()},
            )
        )
    return failures


def alert_sensor(what: str):
    """A run-failure sensor (RUNNING by default) that posts ``what`` of each failed run."""
    return run_failure_sensor(
        description=f"POSTs {what} to MAESTRO_ALERT_WEBHOOK_URL (Slack-compatible JSON, with a link to the "
        "run). Without the variable it sends nothing.",
        minimum_interval_seconds=INTERVAL_SECONDS,
        default_status=DefaultSensorStatus.RUNNING,
    )


@alert_sensor("every failed run: its job, failed steps and the error's first line")
def alert_on_run_failure(context: RunFailureSensorContext):
    send_alert(run_failure_payload(run_failure(context)), log=context.log)


@alert_sensor("every failed blocking asset check of a failed run: the check, its asset, severity and metadata")
def alert_on_blocking_check_failure(context: RunFailureSensorContext):
    run = context.dagster_run
    failures = failed_blocking_checks(context.instance, run.run_id, run.job_name)
    for failure in failures:
        send_alert(check_failure_payload(failure), log=context.log)


ALERT_SENSORS = [alert_on_run_failure, alert_on_blocking_check_failure]
