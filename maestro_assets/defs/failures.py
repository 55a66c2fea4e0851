"""One error policy for every asset: bad input fails at once, transient failures are retried.

:func:`~maestro_assets.lib.errors.is_transient` decides. A failure of the database, the object
store or the network is re-raised as it is, so the asset's ``RETRY`` policy tries again with
exponential backoff. Anything else — bad data or configuration (a ``MaestroError``, which names
the place to fix) or a bug — becomes a ``Failure`` with ``allow_retries=False``: trying again
would only repeat it, and the run fails at once with the message in the UI.

A transient failure on the last attempt the policy allows becomes a ``Failure`` too, whose
message says what could not be reached after how many attempts (``S3 at http://host:port did
not answer after 3 attempts: …``; passwords in URLs masked), instead of the bare driver
exception; the original stays attached as its cause.

Runs, too: the instance re-runs a run whose step failed (``run_retries`` with
``retry_on_asset_or_op_failure: true`` in deploy/dagster.yaml), for the failures no step policy
sees — Dagster's own storage calls around a step while PostgreSQL restarts, say. A step that fails
for a reason a re-run would only repeat — every ``Failure`` above, and a blocking check that fails
with ERROR severity — first tags its run ``dagster/retry_on_asset_or_op_failure: false``, so bad
data is never re-run.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    Backoff,
    Failure,
    MaterializeResult,
    OpExecutionContext,
    RetryPolicy,
)
from dagster._core.storage.tags import RETRY_ON_ASSET_OR_OP_FAILURE_TAG

from ..lib.errors import MaestroError, is_transient, unreachable_service
from ..lib.redact import scrub

RETRY = RetryPolicy(max_retries=2, delay=5, backoff=Backoff.EXPONENTIAL)


def no_run_retry() -> None:
    """Tag the current run so that the instance does not re-run it when it fails (outside a run: nothing)."""
    context = _current_context()
    if context is not None and context.run.tags.get(RETRY_ON_ASSET_OR_OP_FAILURE_TAG) != "false":
        context.instance.add_run_tags(context.run_id, {RETRY_ON_ASSET_OR_OP_FAILURE_TAG: "false"})


def _failed_error_check(value) -> bool:
    """Whether ``value`` (what an asset returns or yields: a result, a check result, or a tuple of
    them) holds a check result failing with ERROR. Both results are named tuples: looked at first."""
    if isinstance(value, AssetCheckResult):
        return not value.passed and value.severity == AssetCheckSeverity.ERROR
    if isinstance(value, MaterializeResult):
        return any(_failed_error_check(r) for r in value.check_results or [])
    return isinstance(value, tuple | list) and any(_failed_error_check(v) for v in value)


def _current_context():
    try:
        return OpExecutionContext.get()
    except Exception:  # noqa: BLE001 - a sensor or a plain call: no step
        return None


def _attempts() -> tuple[int, int] | None:
    """(this attempt at the step: 1, 2, …; the attempts its retry policy allows); None outside a step."""
    context = _current_context()
    if context is None:
        return None
    policy = context.op_def.retry_policy
    return context.retry_number + 1, 1 + (policy.max_retries if policy else 0)


def _fail_fast(exc: Exception, attempts: tuple[int, int] | None = None) -> Exception:
    if is_transient(exc) and not isinstance(exc, Failure) and (attempts is None or attempts[0] < attempts[1]):
        return exc  # the policy tries again
    no_run_retry()
    if isinstance(exc, Failure):
        return exc
    if is_transient(exc):
        attempt = attempts[0]
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return Failure(
            description=f"{unreachable_service(exc)} did not answer after {attempt} attempts: {scrub(first_line)}",
            allow_retries=False,
        )
    text = str(exc) if isinstance(exc, MaestroError) else f"{type(exc).__name__}: {exc}"
    return Failure(description=text, allow_retries=False)


def bad_input_fails_fast(fn: Callable) -> Callable:
    """Decorate an asset (or sensor) body with the policy; generator bodies too."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generating(*args, **kwargs):
            try:
                for event in fn(*args, **kwargs):
                    if _failed_error_check(event):
                        no_run_retry()
                    yield event
            except Exception as exc:
                converted = _fail_fast(exc, _attempts())
                if converted is exc:
                    raise
                raise converted from exc

        return generating

    @functools.wraps(fn)
    def returning(*args, **kwargs):
        try:
            value = fn(*args, **kwargs)
        except Exception as exc:
            converted = _fail_fast(exc, _attempts())
            if converted is exc:
                raise
            raise converted from exc
        if _failed_error_check(value):
            no_run_retry()
        return value

    return returning
