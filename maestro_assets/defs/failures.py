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
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

from dagster import Backoff, Failure, RetryPolicy

from ..lib.errors import MaestroError, is_transient, unreachable_service
from ..lib.redact import scrub

RETRY = RetryPolicy(max_retries=2, delay=5, backoff=Backoff.EXPONENTIAL)


def _attempts(args: tuple, kwargs: dict) -> tuple[int, int] | None:
    """(this attempt at the step: 1, 2, …; the attempts its retry policy allows), from the asset's context."""
    for value in (kwargs.get("context"), *args):
        retry_number = getattr(value, "retry_number", None)
        if isinstance(retry_number, int):
            policy = getattr(getattr(value, "op_def", None), "retry_policy", None)
            return retry_number + 1, 1 + (policy.max_retries if policy else 0)
    return None


def _fail_fast(exc: Exception, attempts: tuple[int, int] | None = None) -> Exception:
    if isinstance(exc, Failure):
        return exc
    if is_transient(exc):
        if attempts is None or attempts[0] < attempts[1]:
            return exc  # the policy tries again
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
                yield from fn(*args, **kwargs)
            except Exception as exc:
                converted = _fail_fast(exc, _attempts(args, kwargs))
                if converted is exc:
                    raise
                raise converted from exc

        return generating

    @functools.wraps(fn)
    def returning(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            converted = _fail_fast(exc, _attempts(args, kwargs))
            if converted is exc:
                raise
            raise converted from exc

    return returning
