"""One error policy: bad input and bugs fail at once (one attempt, the message in the UI);
failures of the database, the object store and the network are retried with backoff."""

import socket
import sqlite3
from pathlib import Path

import boto3
import pytest
import sqlalchemy as sa
import yaml
from botocore.config import Config
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    DagsterEventType,
    DagsterInstance,
    MaterializeResult,
    RetryPolicy,
    asset,
    materialize,
)

from maestro_assets.defs.failures import _failed_error_check, bad_input_fails_fast
from maestro_assets.lib.errors import ConfigurationError, MaestroError, is_transient


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


def s3_without_server(port: int):
    """A boto3 S3 client of an endpoint nothing listens on, trying once."""
    return boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="a",
        aws_secret_access_key="b",
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 0}, connect_timeout=1),
    )


def raised(fn) -> BaseException:
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001 - the test inspects what was raised
        return exc
    raise AssertionError("nothing was raised")


def test_real_failures_are_told_apart(tmp_path):
    port = closed_port()
    refused = raised(lambda: sa.create_engine(f"postgresql+psycopg2://u:p@127.0.0.1:{port}/x").connect())
    assert is_transient(refused), refused
    s3 = s3_without_server(port)
    assert is_transient(raised(lambda: s3.list_objects_v2(Bucket="lake")))
    locked_db = tmp_path / "locked.db"
    holder = sqlite3.connect(locked_db, isolation_level=None)
    holder.execute("CREATE TABLE t (x int)")
    holder.execute("BEGIN EXCLUSIVE")
    engine = sa.create_engine(f"sqlite:///{locked_db}", connect_args={"timeout": 0.05})
    assert is_transient(raised(lambda: engine.connect().execute(sa.text("SELECT * FROM t")).all()))
    holder.rollback()
    missing = raised(lambda: sa.create_engine("sqlite://").connect().execute(sa.text("SELECT * FROM nope")))
    assert not is_transient(missing)  # a missing table does not appear by waiting
    assert not is_transient(MaestroError("bad row"))
    assert not is_transient(ConfigurationError("MAESTRO_LAKE_URL", "no bucket"))
    assert not is_transient(raised(lambda: int("x")))  # a bug


def attempts_of(body) -> tuple[int, str]:
    @asset(retry_policy=RetryPolicy(max_retries=2, delay=0))
    @bad_input_fails_fast
    def guarded():
        body()

    with DagsterInstance.ephemeral() as instance:
        result = materialize([guarded], instance=instance, raise_on_error=False)
    assert not result.success
    retries = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    (failure,) = result.get_step_failure_events()
    error, texts = failure.step_failure_data.error, []
    while error is not None:  # the message and what it was raised from
        texts.append(error.message)
        error = error.cause
    return 1 + len(retries), " | ".join(texts)


@pytest.mark.parametrize(
    ("error", "attempts", "message"),
    [
        (
            MaestroError("source 'crm', table 'orders': a row of 2026-01-06 is outside 2026-01-05"),
            1,
            "table 'orders': a row of 2026-01-06",
        ),
        (KeyError("event_time"), 1, "KeyError"),  # a bug: retrying repeats it
        (ConnectionResetError("reset by peer"), 3, "reset by peer"),  # transient: tried 1 + 2 times
    ],
)
def test_assets_fail_fast_on_bad_input_and_retry_transient_failures(error, attempts, message):
    def body():
        raise error

    tried, text = attempts_of(body)
    assert tried == attempts
    assert message in text


def test_the_last_attempt_names_what_could_not_be_reached():
    port = closed_port()

    @asset(retry_policy=RetryPolicy(max_retries=2, delay=0))
    @bad_input_fails_fast
    def reads_the_lake(context: AssetExecutionContext):
        s3_without_server(port).list_objects_v2(Bucket="lake")

    with DagsterInstance.ephemeral() as instance:
        result = materialize([reads_the_lake], instance=instance, raise_on_error=False)
    retries = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    (failure,) = result.get_step_failure_events()
    error = failure.step_failure_data.error
    assert len(retries) == 2  # transient: retried as before, the message only on the last attempt
    assert f"Failure: S3 at http://127.0.0.1:{port} did not answer after 3 attempts: Could not connect" in error.message
    assert "EndpointConnectionError" in error.cause.message  # the driver's exception stays attached


def test_generator_assets_follow_the_same_policy():
    @asset(retry_policy=RetryPolicy(max_retries=2, delay=0))
    @bad_input_fails_fast
    def generating():
        yield from ()
        raise MaestroError("bad data")

    with DagsterInstance.ephemeral() as instance:
        result = materialize([generating], instance=instance, raise_on_error=False)
    retries = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    assert not result.success and not retries


DEPLOY_INSTANCE = Path(__file__).resolve().parents[2] / "deploy" / "dagster.yaml"
RUN_RETRIES = {"run_retries": yaml.safe_load(DEPLOY_INSTANCE.read_text())["run_retries"]}  # production's


def will_retry(*assets) -> tuple[str | None, str | None]:
    """Materialize ``assets`` on an instance that re-runs failed runs (as deploy/dagster.yaml); the
    failed run's (dagster/will_retry, dagster/retry_on_asset_or_op_failure) tags."""
    with DagsterInstance.ephemeral(settings=RUN_RETRIES) as instance:
        result = materialize(list(assets), instance=instance, raise_on_error=False)
        assert not result.success
        tags = instance.get_run_by_id(result.run_id).tags
    return tags.get("dagster/will_retry"), tags.get("dagster/retry_on_asset_or_op_failure")


def test_runs_failed_by_bad_data_are_not_rerun_and_others_are():
    @asset
    @bad_input_fails_fast
    def bad_data():
        raise MaestroError("source 'crm', table 'orders': bad rows")

    @asset(check_specs=[AssetCheckSpec("rows_valid", asset="checked", blocking=True)])
    @bad_input_fails_fast
    def checked():
        return MaterializeResult(check_results=[AssetCheckResult(check_name="rows_valid", passed=False)])

    @asset
    @bad_input_fails_fast
    def lake_down():  # transient, and the step's retries (none here) are used up
        s3_without_server(closed_port()).list_objects_v2(Bucket="lake")

    @asset
    def storage_hiccup():  # what Dagster's own storage raises around a step while PostgreSQL restarts
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))

    assert will_retry(bad_data) == ("false", "false")
    assert will_retry(checked) == ("false", "false")  # a blocking ERROR check: the same data fails it again
    assert will_retry(lake_down) == ("false", "false")
    assert will_retry(storage_hiccup) == ("true", None)  # no step policy saw it: the run is re-run
    warning = AssetCheckResult(check_name="looks_odd", passed=False, severity=AssetCheckSeverity.WARN)
    assert not _failed_error_check(MaterializeResult(check_results=[warning]))  # a WARN check does not stop a re-run
    assert _failed_error_check((warning, AssetCheckResult(check_name="rows_valid", passed=False)))
