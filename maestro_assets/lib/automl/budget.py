"""Time limits that hold: every fit runs in a worker process that is killed when its time is up.

Optuna's ``timeout`` only stops *starting* trials; a running fit (a kernel SVM, a big forest)
can overshoot the budget many times. So the engine never fits in its own process during a
search: a :class:`FitWorker` (one process, fed the training data once) fits one fold or one
final model per request, and the engine waits for the answer at most the time left. When the
wait runs out the process is killed (SIGKILL: nothing in the fit can delay it) and a fresh one
is started for the next request. The boosting families also stop themselves a little before
the limit (``time_limit_s``), keeping the rounds done so they still yield a score.

Workers come from a ``forkserver`` that has imported scikit-learn, LightGBM and XGBoost once,
so a restart costs a fork, not a Python start-up; and they never inherit OpenMP thread pools
from the caller (a plain ``fork`` after LightGBM has run in the parent can hang).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import threading
import time
from dataclasses import dataclass
from multiprocessing import popen_forkserver, spawn

import numpy as np

_CONTEXT = None
_PRELOAD = [
    "maestro_assets.lib.automl.threads",
    "maestro_assets.lib.automl.budget",
    "maestro_assets.lib.automl.families",
]
SOFT_LIMIT_SHARE = 0.85  # a self-stopping model stops at this share of its limit, before the kill
# set while a fit request is out (the search waits for the worker, holding no lock and no GIL):
# when the search's own thread has nothing to do, for background work that should not delay it
FIT_IN_FLIGHT = threading.Event()


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _context():
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = multiprocessing.get_context("forkserver")
        _CONTEXT.set_forkserver_preload(_PRELOAD)
    return _CONTEXT


def start_fit_server() -> None:
    """Start the forkserver (it imports the model libraries, seconds on a busy machine) without
    waiting for it: a fit calls this first, so the imports overlap its input checks."""
    from multiprocessing import forkserver

    _context()
    forkserver.ensure_running()


def warm_up() -> float:
    """Start the forkserver and wait until it serves a worker; the seconds it took (0 when warm)."""
    started = time.monotonic()
    worker = FitWorker(None, None, 1)
    worker._start()
    worker.close()
    return time.monotonic() - started


class _PopenWithoutMain(popen_forkserver.Popen):
    """multiprocessing re-runs the caller's ``__main__`` script in each child, which breaks a script
    without an ``if __name__ == "__main__"`` guard; the worker needs only this package, so the
    child is told nothing about ``__main__``."""

    def _launch(self, process_obj):
        prepare = spawn.get_preparation_data

        def without_main(name):
            data = prepare(name)
            data.pop("init_main_from_path", None)
            data.pop("init_main_from_name", None)
            return data

        popen_forkserver.spawn.get_preparation_data = without_main
        try:
            super()._launch(process_obj)
        finally:
            popen_forkserver.spawn.get_preparation_data = prepare


class _WorkerProcess(multiprocessing.context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj):
        return _PopenWithoutMain(process_obj)


class Clock:
    """Time since the start of a fit and what is left of its budget (None: no time budget)."""

    def __init__(self, budget_s: float | None):
        self.started = time.monotonic()
        self.budget_s = budget_s

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining(self) -> float | None:
        return None if self.budget_s is None else self.budget_s - self.elapsed()


@dataclass(frozen=True)
class FitRequest:
    """Fit the family's pipeline with ``params`` on rows ``train`` (None: all rows) and return the
    predictions for rows ``predict`` (class probabilities or values), or the fitted pipeline."""

    family: str
    params: dict
    context: object  # families.SearchContext
    train: np.ndarray | None
    predict: np.ndarray | None
    time_limit_s: float | None = None
    return_model: bool = False


@dataclass(frozen=True)
class FitResult:
    ok: bool
    seconds: float  # the wall time of the request, as the engine waited for it
    predictions: np.ndarray | None = None
    model: object = None
    error: str = ""
    timed_out: bool = False


class FitWorker:
    """One worker process holding the training data; :meth:`fit` sends it one request."""

    def __init__(self, X, y, n_jobs: int):
        self._X, self._y, self._n_jobs = X, y, n_jobs
        self._process = None
        self._conn = None
        self.restarts = 0
        self.startup_s = 0.0  # starting processes and sending them the data: not any fit's time

    def _start(self) -> None:
        ctx = _context()
        parent, child = ctx.Pipe()
        self._process = _WorkerProcess(
            target=_serve, args=(child, self._n_jobs), daemon=True, name="maestro-automl-fit"
        )
        self._process.start()
        child.close()
        self._conn = parent
        self._conn.send((self._X, self._y))

    def fit(self, request: FitRequest, wait_s: float | None) -> FitResult:
        """Run ``request``; wait at most ``wait_s`` seconds after it is sent (None: as long as it takes)."""
        if self._process is None or not self._process.is_alive():
            starting = time.monotonic()
            self._start()
            self.startup_s += time.monotonic() - starting
        started = time.monotonic()
        self._conn.send(request)
        remaining = None if wait_s is None else max(0.0, wait_s - (time.monotonic() - started))
        FIT_IN_FLIGHT.set()
        try:
            answered = self._conn.poll(remaining)
        finally:
            FIT_IN_FLIGHT.clear()
        if not answered:
            self._kill()
            return FitResult(False, time.monotonic() - started, error="time limit", timed_out=True)
        try:
            status, payload = self._conn.recv()
        except (EOFError, OSError):
            code = self._process.exitcode if self._process else None
            self._kill()
            return FitResult(False, time.monotonic() - started, error=f"the fit process died (exit code {code})")
        seconds = time.monotonic() - started
        if status != "ok":
            return FitResult(False, seconds, error=payload)
        if request.return_model:
            return FitResult(True, seconds, model=payload)
        return FitResult(True, seconds, predictions=payload)

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join(5)
            self.restarts += 1
        if self._conn is not None:
            self._conn.close()
        self._process, self._conn = None, None

    def close(self) -> None:
        if self._process is not None and self._process.is_alive():
            try:
                self._conn.send(None)
                self._process.join(2)
            except (BrokenPipeError, OSError):
                pass
        if self._process is not None and self._process.is_alive():
            self._process.kill()
            self._process.join(5)
        if self._conn is not None:
            self._conn.close()
        self._process, self._conn = None, None


def _serve(conn, n_jobs: int) -> None:
    """The worker's loop: receive the data once, then fit requests until told to stop."""
    import warnings

    from threadpoolctl import threadpool_limits

    from .families import FAMILIES

    warnings.filterwarnings("ignore")  # convergence and feature-name chatter; scores tell what matters
    by_key = {(f.name, f.task): f for f in FAMILIES}
    X, y = conn.recv()
    with threadpool_limits(limits=n_jobs):
        while True:
            try:
                request = conn.recv()
            except EOFError:
                return
            if request is None:
                return
            try:
                conn.send(("ok", _fit(request, by_key, X, y)))
            except Exception as exc:  # a failed fit is the trial's result, not the worker's end
                conn.send(("error", f"{type(exc).__name__}: {exc}"[:500]))


def _fit(request: FitRequest, by_key: dict, X, y):
    family = by_key[(request.family, request.context.task)]
    pipeline = family.pipeline(request.params, request.context)
    if family.time_limited and request.time_limit_s:
        pipeline.set_params(model__time_limit_s=request.time_limit_s * SOFT_LIMIT_SHARE)
    X_train = X if request.train is None else X.iloc[request.train]
    y_train = y if request.train is None else y[request.train]
    pipeline.fit(X_train, y_train)
    if family.time_limited:
        pipeline.set_params(model__time_limit_s=None)  # a limit for this search, not for a refit by the user
    if request.return_model:
        return pipeline
    X_predict = X.iloc[request.predict]
    if request.context.task == "classification":
        return aligned_probabilities(pipeline, X_predict, request.context.classes)
    return np.asarray(pipeline.predict(X_predict), dtype=np.float64)


def aligned_probabilities(model, X, classes) -> np.ndarray:
    """``predict_proba`` with one column per class of the whole training target, in order, even
    when the rows a model was fitted on lacked a class (a time-series or grouped fold)."""
    proba = np.asarray(model.predict_proba(X), dtype=np.float64)
    seen = list(model.classes_)
    if seen == list(classes):
        return proba
    out = np.zeros((len(proba), len(classes)))
    out[:, np.searchsorted(np.asarray(classes), np.asarray(seen))] = proba
    return out
