"""One error policy for every asset: bad input fails at once, transient failures are retried.

:func:`~maestro_assets.lib.errors.is_transient` decides. A failure of the database, the object
store or the network is re-raised as it is, so the asset's ``RETRY`` policy tries again with
exponential backoff. Anything else — bad data or configuration (a ``MaestroError``, which names
the place to fix) or a bug — becomes a ``Failure`` with ``allow_retries=False``: trying again
would only repeat it, and the run fails at once with the message in the UI.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

from dagster import Backoff, Failure, RetryPolicy

from ..lib.errors import MaestroError, is_transient

RETRY = RetryPolicy(max_retries=2, delay=5, backoff=Backoff.EXPONENTIAL)


def _fail_fast(exc: Exception) -> Exception:
    if isinstance(exc, Failure) or is_transient(exc):
        return exc
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
                converted = _fail_fast(exc)
                if converted is exc:
                    raise
                raise converted from exc

        return generating

    @functools.wraps(fn)
    def returning(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            converted = _fail_fast(exc)
            if converted is exc:
                raise
            raise converted from exc

    return returning
