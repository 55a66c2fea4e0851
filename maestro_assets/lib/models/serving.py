"""Serving a registered model through MLflow's scoring server, and a bounded load test.

:class:`ScoringServer` runs ``mlflow models serve --env-manager local`` for a model URI (for example
``models:/maestro-task-lateness@champion``) on a free port of 127.0.0.1, waits until ``/ping``
answers and stops the server's whole process group on exit. Its :meth:`ScoringServer.predict` posts
a DataFrame to ``/invocations`` as ``dataframe_split`` over one kept-alive HTTP connection.

:func:`load_test` times any callable, the server's ``predict`` or the loaded pyfunc's own
``predict`` in-process (the floor), over the same payloads, and returns a :class:`LatencyReport`.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import MaestroError
from ..redact import redact_url, scrub, url_password

HOST = "127.0.0.1"
LOG_TAIL_LINES = 25
STOP_GRACE_S = 10.0


class ServingError(MaestroError):
    """The scoring server did not start, stopped, or refused a request: the message names the model
    URI, what went wrong (MLflow's own error line, the tail of the server's log) and the fix."""


def free_port() -> int:
    """A TCP port of 127.0.0.1 nobody listens on now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def predictions_frame(predictions: Any) -> pd.DataFrame:
    """Predictions as a DataFrame, the same shape whether they come from the scoring server's JSON
    (``{"predictions": ...}``) or from a pyfunc's ``predict`` in-process: a vector becomes one
    column ``prediction``, a matrix columns ``0..n-1``, records or a frame their own columns."""
    if isinstance(predictions, pd.DataFrame):
        return predictions.reset_index(drop=True)
    if isinstance(predictions, pd.Series):
        return pd.DataFrame({"prediction": predictions.to_numpy()})
    if isinstance(predictions, dict):
        return pd.DataFrame(predictions)
    if isinstance(predictions, list) and predictions and isinstance(predictions[0], dict):
        return pd.DataFrame.from_records(predictions)
    values = np.asarray(predictions)
    if values.ndim == 1:
        return pd.DataFrame({"prediction": values})
    return pd.DataFrame(values.reshape(len(values), -1))


def _json_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp | np.datetime64):
        return pd.Timestamp(value).isoformat()
    raise TypeError(f"cannot send a {type(value).__name__} to the scoring server as JSON")


def dataframe_split_body(frame: pd.DataFrame) -> bytes:
    """The ``/invocations`` request body for ``frame``: ``{"dataframe_split": {columns, data}}``.

    Floats go as Python's shortest round-trip repr (pandas' ``to_json`` keeps 10 digits), so the
    server predicts on exactly the values given; missing values become ``null``."""
    if frame.isna().to_numpy().any():
        frame = frame.astype(object).where(frame.notna(), None)
    columns = [frame[c].tolist() for c in frame.columns]  # Python ints, floats, bools per column
    data = [list(row) for row in zip(*columns, strict=True)]
    body = {"dataframe_split": {"columns": [str(c) for c in frame.columns], "data": data}}
    return json.dumps(body, default=_json_value, allow_nan=False).encode()


class ScoringServer:
    """``mlflow models serve`` for ``model_uri`` as a context manager.

    ``tracking_uri`` is where ``models:/`` and ``runs:/`` URIs resolve (``MLFLOW_TRACKING_URI`` of the
    server). The first start takes ~20-40 s (MLflow downloads the model, uvicorn imports it)."""

    def __init__(
        self,
        model_uri: str,
        tracking_uri: str,
        port: int | None = None,
        workers: int = 1,
        startup_timeout_s: float = 120.0,
        request_timeout_s: float = 60.0,
    ):
        if workers < 1:
            raise ValueError(f"ScoringServer(workers={workers}): at least one uvicorn worker is needed")
        self.model_uri = model_uri
        self.tracking_uri = tracking_uri
        self.port = port or free_port()
        self.workers = workers
        self.startup_timeout_s = startup_timeout_s
        self.request_timeout_s = request_timeout_s
        self._process: subprocess.Popen | None = None
        self._log_path: Path | None = None
        self._session = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def command(self) -> list[str]:
        return [
            *(sys.executable, "-m", "mlflow", "models", "serve"),
            *("-m", self.model_uri, "--env-manager", "local"),
            *("-h", HOST, "-p", str(self.port), "-w", str(self.workers)),
        ]

    def environment(self) -> dict[str, str]:
        """This process's environment with the venv's ``bin`` first on ``PATH`` (MLflow execs
        ``uvicorn`` by name) and ``MLFLOW_TRACKING_URI`` set."""
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env["MLFLOW_TRACKING_URI"] = self.tracking_uri
        return env

    # -- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> ScoringServer:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> None:
        """Start the server and wait until ``/ping`` answers 200; stop it and raise
        :class:`ServingError` if it exits first or does not answer within ``startup_timeout_s``."""
        import requests

        if self._process is not None:
            raise ServingError(f"the scoring server for {self.model_uri} is already running at {self.url}")
        handle, log_name = tempfile.mkstemp(prefix="maestro-serving-", suffix=".log")
        self._log_path = Path(log_name)
        with os.fdopen(handle, "wb") as log:
            self._process = subprocess.Popen(
                self.command(),
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: the CLI, bash and uvicorn stop together
            )
        self._session = requests.Session()
        self._session.trust_env = False  # 127.0.0.1: no proxies, no .netrc lookups per request
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_until_ready(self) -> None:
        import requests

        deadline = time.monotonic() + self.startup_timeout_s
        while True:
            code = self._process.poll()
            if code is not None:
                raise ServingError(
                    f"the scoring server for {self.model_uri} exited with code {code} before answering "
                    f"/ping: {self._error_line()}\n{self._log_section()}\n"
                    f"Fix: check that {self.model_uri} resolves in the tracking store "
                    f"{redact_url(self.tracking_uri)} (the registered model, its alias or version, the run) "
                    "and that the model's flavour loads in this environment."
                )
            try:
                if self._session.get(f"{self.url}/ping", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() >= deadline:
                raise ServingError(
                    f"the scoring server for {self.model_uri} did not answer {self.url}/ping within "
                    f"{self.startup_timeout_s:g} s\n{self._log_section()}\n"
                    "Fix: raise startup_timeout_s if the machine is busy or the model is large."
                )
            time.sleep(0.25)

    def stop(self) -> None:
        """Stop the server's process group (SIGTERM, then SIGKILL after a grace period); idempotent."""
        if self._session is not None:
            self._session.close()
            self._session = None
        process, self._process = self._process, None
        if process is not None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
            _signal_group(process.pid, signal.SIGKILL)  # uvicorn, which outlives the CLI
            _wait_for_group_to_end(process.pid, STOP_GRACE_S)
        if self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
            self._log_path = None

    # -- requests -------------------------------------------------------------------------------
    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Predictions for ``frame`` from ``POST /invocations``, shaped by :func:`predictions_frame`."""
        import requests

        if self._session is None:
            raise ServingError(
                f"the scoring server for {self.model_uri} is not running: use `with ScoringServer(...) as server:`"
            )
        try:
            response = self._session.post(
                f"{self.url}/invocations",
                data=dataframe_split_body(frame),
                headers={"Content-Type": "application/json"},
                timeout=self.request_timeout_s,
            )
        except requests.RequestException as exc:
            raise ServingError(
                f"the scoring server for {self.model_uri} at {self.url} did not answer: {exc}\n{self._log_section()}"
            ) from exc
        if response.status_code != 200:
            raise ServingError(
                f"the scoring server for {self.model_uri} refused {len(frame)} rows with HTTP "
                f"{response.status_code}: {_server_message(response)}\n"
                "Fix: send the columns and types of the model's signature."
            )
        return predictions_frame(response.json()["predictions"])

    # -- the server's log -----------------------------------------------------------------------
    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        if self._log_path is None or not self._log_path.exists():
            return ""
        text = self._log_path.read_text(errors="replace")
        return scrub("\n".join(text.splitlines()[-lines:]), url_password(self.tracking_uri))

    def _log_section(self) -> str:
        return f"--- last lines of its log ---\n{self.log_tail()}\n--- end of log ---"

    def _error_line(self) -> str:
        """MLflow's own error line (``mlflow.exceptions.MlflowException: ...``), else the log's last line."""
        lines = [line.strip() for line in self.log_tail(200).splitlines() if line.strip()]
        for line in reversed(lines):
            head = line.split(":", 1)[0]
            if head.endswith(("Error", "Exception")) and " " not in head:
                return line
        return lines[-1] if lines else "(the server wrote nothing)"


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_for_group_to_end(pgid: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        except PermissionError:
            return
        time.sleep(0.05)


def _server_message(response) -> str:
    try:
        return str(response.json().get("message", response.text))[:2000]
    except ValueError:
        return response.text[:2000]


# -- load test ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LatencyReport:
    """Latency percentiles in milliseconds of the measured (not warm-up) requests, how many requests
    and rows they were, their wall seconds and rows per second."""

    p50_ms: float
    p95_ms: float
    p99_ms: float
    requests: int
    rows: int
    seconds: float
    throughput_rows_per_s: float

    def as_metadata(self) -> dict[str, float]:
        return {key: float(value) for key, value in asdict(self).items()}


def load_test(
    call: Callable[[Any], Any],
    payloads: Sequence[Any],
    max_requests: int,
    max_seconds: float,
    rows_per_request: int | None = None,
    warmup: int = 3,
) -> LatencyReport:
    """Call ``call(payload)`` one request after another, cycling through ``payloads``, until
    ``max_requests`` measured requests or ``max_seconds`` have passed, whichever comes first (at least
    one request is measured). The first ``warmup`` calls are not measured.

    ``rows_per_request`` is the rows each request predicts; by default ``len(payload)``. ``call`` is
    anything: ``server.predict`` over HTTP or ``model.predict`` in-process, so both are measured alike.
    """
    if not payloads:
        raise ValueError("load_test: payloads is empty; give at least one request payload (e.g. a DataFrame)")
    if max_requests < 1:
        raise ValueError(f"load_test: max_requests={max_requests}; it must be at least 1")
    if max_seconds <= 0:
        raise ValueError(f"load_test: max_seconds={max_seconds}; it must be positive")
    if warmup < 0:
        raise ValueError(f"load_test: warmup={warmup}; it must be 0 or more")
    cycle = itertools.cycle(payloads)
    for _ in range(warmup):
        call(next(cycle))
    latencies: list[float] = []
    rows = 0
    started = time.perf_counter()
    while len(latencies) < max_requests and (not latencies or time.perf_counter() - started < max_seconds):
        payload = next(cycle)
        before = time.perf_counter()
        call(payload)
        latencies.append(time.perf_counter() - before)
        rows += rows_per_request if rows_per_request is not None else len(payload)
    seconds = time.perf_counter() - started
    p50, p95, p99 = np.percentile(np.asarray(latencies) * 1000.0, [50, 95, 99])
    return LatencyReport(
        p50_ms=float(p50),
        p95_ms=float(p95),
        p99_ms=float(p99),
        requests=len(latencies),
        rows=rows,
        seconds=seconds,
        throughput_rows_per_s=rows / seconds if seconds > 0 else float("inf"),
    )
