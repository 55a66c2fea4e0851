"""CI/CD runs from the GitHub API (a real local HTTP server), GitHub and GitLab exports, and the
pipeline and DORA metrics over hand-built runs whose every figure is worked out here."""

from __future__ import annotations

import json
import math
import statistics
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest

from maestro_assets.lib import demo
from maestro_assets.lib.analytics.cicd import (
    OUTCOMES,
    CicdInputError,
    GitHubActionsApi,
    GitHubActionsExport,
    GitLabPipelinesExport,
    JobRun,
    PipelineRun,
    cicd_metrics,
    dora_band,
    github_run,
    week_window,
)
from maestro_assets.lib.errors import MaestroError

pytestmark = pytest.mark.timeout(30)

TOKEN = "ghp_cicdTestToken0123456789abcdef"
RUNS_PATH = "/repos/maestro-demo/widgets/actions/runs"


@pytest.fixture(scope="module")
def demo_data() -> demo.DemoData:
    return demo.generate(scale=0.02, seed=7)


@pytest.fixture(scope="module")
def demo_export(demo_data) -> dict:
    return demo.ci_runs_export(demo_data)


# --- the GitHub REST API on 127.0.0.1 ---------------------------------------------------------


class _GitHub(BaseHTTPRequestHandler):
    """Pages of runs chained by Link headers; each page's first request fails as scripted."""

    def do_GET(self) -> None:
        api = self.server.api
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        page = int(query.get("page", "1"))
        with api["lock"]:
            api["hits"].append((page, query, self.headers.get("Authorization"), time.time()))
            first_hit = sum(hit[0] == page for hit in api["hits"]) == 1
        status, headers, body = 200, {}, None
        failure = api["failures"].get(page) if first_hit else None
        if failure is not None:
            status, headers = failure()
            body = {"message": "API rate limit exceeded" if status != 500 else "Server Error"}
        else:
            pages = api["pages"]
            body = {"total_count": sum(map(len, pages)), "workflow_runs": pages[page - 1]}
            if page < len(pages):
                next_url = f"{api['base']}{parts.path}?per_page=100&page={page + 1}"
                headers["Link"] = f'<{next_url}>; rel="next", <{api["base"]}{parts.path}?page={len(pages)}>; rel="last"'
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def github():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _GitHub)
    server.daemon_threads = True
    server.api = {
        "base": f"http://127.0.0.1:{server.server_address[1]}",
        "hits": [],
        "lock": threading.Lock(),
        "pages": [],
        "failures": {},
    }
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.api
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_github_api_pages_rate_limits_and_retries(github, demo_export, monkeypatch):
    runs = demo_export["workflow_runs"][:250]
    github["pages"] = [runs[:100], runs[100:200], runs[200:]]
    reset_at: list[int] = []

    def rate_limited():
        reset_at.append(math.ceil(time.time()) + 1)  # the reset is whole epoch seconds, 1-2 s ahead
        return 403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset_at[0])}

    github["failures"] = {1: rate_limited, 2: lambda: (429, {"Retry-After": "1"}), 3: lambda: (500, {})}
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    api = GitHubActionsApi("maestro-demo", "widgets", api_url=github["base"], created_from=date(2026, 8, 1))
    api.backoff_seconds = 0.05

    read = api.runs()

    assert sorted(run.run_id for run in read) == sorted(str(run["id"]) for run in runs)  # each once
    assert [hit[0] for hit in github["hits"]] == [1, 1, 2, 2, 3, 3]
    assert {hit[2] for hit in github["hits"]} == {f"Bearer {TOKEN}"}
    assert github["hits"][0][1] == {"per_page": "100", "created": ">=2026-08-01"}
    times = [hit[3] for hit in github["hits"]]
    assert times[1] >= reset_at[0]  # waited until the reset
    assert times[3] - times[2] >= 1.0  # Retry-After: 1
    assert 0.0 < times[5] - times[4] < 1.0  # a short backoff after the 500
    assert api.stats.retries == 3 and api.stats.requests == 6
    deploys = [run for run in read if run.workflow == "deploy"]
    assert deploys and all(run.is_deployment for run in deploys)
    assert not any(run.is_deployment for run in read if run.workflow != "deploy")


def test_github_api_refuses_a_wait_beyond_the_max(github, monkeypatch):
    github["pages"] = [[]]
    github["failures"] = {
        1: lambda: (403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 3600)})
    }
    monkeypatch.setenv("MAESTRO_CI_TOKEN", TOKEN)
    api = GitHubActionsApi(
        "maestro-demo", "widgets", api_url=github["base"], token_env="MAESTRO_CI_TOKEN", max_rate_limit_wait_seconds=60
    )

    started = time.monotonic()
    with pytest.raises(MaestroError) as caught:
        api.runs()

    assert time.monotonic() - started < 1.0
    message = str(caught.value)
    assert "max_rate_limit_wait_seconds=60" in message and "rate limited" in message and "HTTP 403" in message
    assert "github:maestro-demo/widgets" in message and TOKEN not in message
    assert len(github["hits"]) == 1


def test_github_api_without_the_token_names_the_variable(github, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    with pytest.raises(MaestroError, match="GITHUB_TOKEN"):
        GitHubActionsApi("maestro-demo", "widgets", api_url=github["base"]).runs()
    assert github["hits"] == []


# --- exports ----------------------------------------------------------------------------------


def test_demo_export_file_and_its_metrics(demo_data, demo_export, tmp_path):
    path = tmp_path / "github_actions_runs.json"
    path.write_text(json.dumps(demo_export))
    runs = GitHubActionsExport(path).runs()

    frame = demo_data.ci_runs
    assert len(runs) == len(frame)
    assert Counter(run.outcome for run in runs) == Counter(frame["conclusion"])
    assert sum(run.is_deployment for run in runs) == len(demo_data.deployments)
    assert all(run.created_at.tzinfo is UTC and run.duration_seconds >= 0 for run in runs)
    by_id = {run.run_id: run for run in runs}
    first = frame.iloc[0]
    assert by_id[str(first["run_id"])].duration_seconds == (first["updated_at"] - first["started_at"]).total_seconds()

    # the same runs as a list of pages and as a bare list
    pages = [{"total_count": 2, "workflow_runs": demo_export["workflow_runs"][i : i + 40]} for i in range(0, 120, 40)]
    (tmp_path / "pages.json").write_text(json.dumps(pages))
    (tmp_path / "bare.json").write_text(json.dumps(demo_export["workflow_runs"][:120]))
    assert GitHubActionsExport(tmp_path / "pages.json").runs() == runs[:120]
    assert GitHubActionsExport(tmp_path / "bare.json").runs() == runs[:120]

    day = frame["created_at"].iloc[len(frame) // 2].date()
    start, end = week_window(day)
    metrics = cicd_metrics(runs, start, end)
    week = frame[(frame["created_at"] >= start) & (frame["created_at"] < end)]
    assert metrics.runs == len(week) > 0
    counted = week["conclusion"].value_counts()
    judged = counted.drop("cancelled", errors="ignore").sum()  # the demo has success, failure, cancelled
    assert metrics.success_rate == pytest.approx(counted.get("success", 0) / judged)
    assert metrics.median_duration_seconds == pytest.approx(week["duration_seconds"].median())
    deploys = week[week["workflow"] == "deploy"]
    assert metrics.dora.deployments == (deploys["conclusion"] == "success").sum()
    assert metrics.dora.failed_deployments == (deploys["conclusion"] == "failure").sum()
    assert metrics.dora.lead_time_fallbacks == metrics.dora.deployments  # no commit times given


def test_malformed_exports_name_the_file_run_and_field(demo_export, tmp_path):
    runs = json.loads(json.dumps(demo_export["workflow_runs"][:5]))
    runs[3]["created_at"] = "yesterday"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"total_count": 5, "workflow_runs": runs}))
    with pytest.raises(CicdInputError) as caught:
        GitHubActionsExport(path).runs()
    assert (caught.value.index, caught.value.field_name) == (3, "created_at")
    assert str(path) in str(caught.value) and "run 3" in str(caught.value) and "yesterday" in str(caught.value)

    runs[3]["created_at"] = runs[2]["created_at"]
    runs[1]["conclusion"] = "exploded"
    path.write_text(json.dumps(runs))
    with pytest.raises(CicdInputError, match=r"run 1, field 'conclusion': unknown conclusion 'exploded'"):
        GitHubActionsExport(path).runs()

    del runs[1]["repository"]
    runs[1]["conclusion"] = "success"
    path.write_text(json.dumps(runs))
    with pytest.raises(CicdInputError, match=r"run 1, field 'repository.full_name': missing"):
        GitHubActionsExport(path).runs()

    path.write_text('{"workflow_runs": [')
    with pytest.raises(CicdInputError, match="not valid JSON"):
        GitHubActionsExport(path).runs()
    path.write_text('{"runs": []}')
    with pytest.raises(CicdInputError, match="workflow_runs"):
        GitHubActionsExport(path).runs()


def github_object(status: str, conclusion: str | None, name: str = "build", event: str = "push") -> dict:
    return {
        "id": 9001,
        "name": name,
        "head_branch": "main",
        "head_sha": "a" * 40,
        "event": event,
        "status": status,
        "conclusion": conclusion,
        "created_at": "2026-11-30T10:00:00Z",
        "run_started_at": "2026-11-30T10:00:30Z",
        "updated_at": "2026-11-30T10:05:30Z",
        "html_url": "https://github.com/acme/api/actions/runs/9001",
        "repository": {"full_name": "acme/api"},
    }


@pytest.mark.parametrize(
    "status, conclusion, outcome",
    [
        ("queued", None, "in_progress"),
        ("waiting", None, "in_progress"),
        ("requested", None, "in_progress"),
        ("pending", None, "in_progress"),
        ("in_progress", None, "in_progress"),
        ("completed", "action_required", "action_required"),
        ("completed", "cancelled", "cancelled"),
        ("completed", "skipped", "skipped"),
        ("completed", "neutral", "neutral"),
        ("completed", "stale", "stale"),
        ("completed", "timed_out", "timed_out"),
        ("completed", "startup_failure", "failure"),
        ("completed", "success", "success"),
    ],
)
def test_github_status_and_conclusion_become_one_outcome(status, conclusion, outcome):
    run = github_run(github_object(status, conclusion), "test", 0)
    assert run.outcome == outcome
    if outcome in ("in_progress", "action_required"):
        assert run.finished_at is None and run.duration_seconds is None
    else:
        assert run.finished_at == datetime(2026, 11, 30, 10, 5, 30, tzinfo=UTC) and run.duration_seconds == 300


def test_github_deployment_predicate():
    assert github_run(github_object("completed", "success", "Deploy to production"), "t", 0).is_deployment
    assert github_run(github_object("completed", "success", "cd-deployment"), "t", 0).is_deployment
    assert github_run(github_object("completed", "success", "ci", event="deployment_status"), "t", 0).is_deployment
    assert not github_run(github_object("completed", "success", "undeployable lint"), "t", 0).is_deployment
    custom = github_run(github_object("completed", "success", "release"), "t", 0, lambda r: r.workflow == "release")
    assert custom.is_deployment


def gitlab_pipeline_object(pid: int, status: str, created: str, **detail) -> dict:
    return {
        "id": pid,
        "iid": pid - 1000,
        "project_id": 42,
        "sha": f"{pid:040x}",
        "ref": detail.pop("ref", "main"),
        "status": status,
        "source": "push",
        "created_at": created,
        "updated_at": detail.pop("updated_at", created),
        "web_url": f"https://gitlab.example.com/acme/platform/api/-/pipelines/{pid}",
        **detail,
    }


def test_gitlab_pipelines_file(tmp_path):
    pipelines = [
        gitlab_pipeline_object(
            1001,
            "success",
            "2026-11-30T09:00:00.123Z",
            started_at="2026-11-30T09:00:10.000Z",
            finished_at="2026-11-30T09:06:10.000Z",
            duration=350,
        ),
        gitlab_pipeline_object(1002, "failed", "2026-11-30T10:00:00Z", updated_at="2026-11-30T10:04:00Z"),
        gitlab_pipeline_object(1003, "canceled", "2026-11-30T11:00:00Z", updated_at="2026-11-30T11:00:30Z"),
        gitlab_pipeline_object(1004, "skipped", "2026-11-30T12:00:00Z"),
        gitlab_pipeline_object(1005, "running", "2026-11-30T13:00:00Z", started_at="2026-11-30T13:00:05Z"),
        gitlab_pipeline_object(1006, "manual", "2026-11-30T14:00:00Z"),
        gitlab_pipeline_object(1007, "pending", "2026-11-30T15:00:00Z"),
        gitlab_pipeline_object(
            1008,
            "success",
            "2026-12-01T09:00:00Z",
            started_at="2026-12-01T09:00:00Z",
            finished_at="2026-12-01T09:10:00Z",
            duration=600,
            jobs=[
                {"name": "compile", "stage": "build", "status": "success"},
                {"name": "release", "stage": "deploy", "status": "success"},
            ],
        ),
        gitlab_pipeline_object(1009, "failed", "2026-12-01T10:00:00Z", ref="deploy/production", duration=90),
    ]
    path = tmp_path / "pipelines.json"
    path.write_text(json.dumps([pipelines[:5], pipelines[5:]]))  # two pages

    runs = GitLabPipelinesExport(path).runs()

    assert [run.outcome for run in runs] == [
        "success",
        "failure",
        "cancelled",
        "skipped",
        "in_progress",
        "action_required",
        "in_progress",
        "success",
        "failure",
    ]
    assert {run.repository for run in runs} == {"acme/platform/api"}
    assert [run.duration_seconds for run in runs] == [350, 240, 30, 0, None, None, None, 600, 90]
    assert [run.is_deployment for run in runs] == [False] * 7 + [True, True]
    assert runs[7].jobs == (JobRun("compile", "build", "success"), JobRun("release", "deploy", "success"))
    assert runs[0].created_at == datetime(2026, 11, 30, 9, 0, 0, 123000, tzinfo=UTC)
    assert GitLabPipelinesExport(path, project="acme/api").runs()[0].repository == "acme/api"

    metrics = cicd_metrics(runs, *week_window(date(2026, 12, 2)))
    assert metrics.success_rate == 2 / 4  # cancelled, skipped, running, manual and pending are not judged
    assert metrics.outcome_counts["in_progress"] == 2 and metrics.outcome_counts["failure"] == 2
    assert metrics.dora.change_failure_rate == 1 / 2

    pipelines[6]["status"] = "exploded"
    path.write_text(json.dumps(pipelines))
    with pytest.raises(CicdInputError, match=r"pipelines.json, run 6, field 'status': unknown status 'exploded'"):
        GitLabPipelinesExport(path).runs()
    pipelines[6]["status"] = "success"
    pipelines[7]["jobs"][1]["status"] = 3
    path.write_text(json.dumps(pipelines))
    with pytest.raises(CicdInputError, match=r"run 7, field 'jobs\[1\]\.status'"):
        GitLabPipelinesExport(path).runs()


# --- metrics over hand-built runs ---------------------------------------------------------------

MONDAY = datetime(2026, 11, 30, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A time in the week of MONDAY (day 0) — day 7 is the next Monday."""
    return MONDAY + timedelta(days=day, hours=hour, minutes=minute)


def make_run(
    workflow: str,
    outcome: str,
    created: datetime,
    seconds: float | None,
    sha: str = "x",
    repository: str = "acme/api",
    jobs: tuple[JobRun, ...] = (),
) -> PipelineRun:
    finished = None if seconds is None else created + timedelta(seconds=seconds)
    return PipelineRun(
        provider="github",
        repository=repository,
        workflow=workflow,
        run_id=f"{workflow}-{created.isoformat()}",
        head_sha=sha,
        branch="main",
        event="push",
        status=outcome,
        outcome=outcome,
        created_at=created,
        started_at=created,
        finished_at=finished,
        duration_seconds=seconds,
        url=None,
        is_deployment=workflow == "deploy",
        jobs=jobs,
    )


def hand_built_runs() -> list[PipelineRun]:
    unit, integration = JobRun("unit", "test", "success"), JobRun("integration", "test", "failure")
    return [
        make_run("build", "success", at(0, 9), 300),
        make_run("build", "failure", at(0, 10), 120),
        make_run("test", "success", at(1, 9), 600, sha="s3"),
        make_run("test", "failure", at(1, 10), 240, jobs=(unit, integration)),
        make_run("test", "timed_out", at(2, 9), 3600, jobs=(unit, JobRun("integration", "test", "timed_out"))),
        make_run("build", "in_progress", at(3, 9), None),
        make_run("build", "cancelled", at(3, 10), 30),
        make_run("build", "skipped", at(3, 11), 0),
        make_run("deploy", "action_required", at(4, 9), None),
        make_run("deploy", "cancelled", at(4, 10), 60),
        make_run("deploy", "success", at(0, 12), 600, sha="s1"),  # lead 4 h 10 min
        make_run("deploy", "failure", at(1, 12), 300, sha="s2"),  # restored by the next: 3 h
        make_run("deploy", "success", at(1, 15), 300, sha="s3"),  # sha unknown: from the test run, 6 h 05
        make_run("deploy", "success", at(2, 10), 600, sha="s4"),  # lead 24 h 10 min
        make_run("deploy", "failure", at(5, 20), 360, sha="s5"),  # never restored in acme/api
        make_run("deploy", "success", at(6, 23), 600, sha="w1", repository="acme/web"),  # lead 1 h 10 min
        make_run("deploy", "failure", at(6, 23, 30), 300, sha="w2", repository="acme/web"),  # restored 1 h 35
        make_run("deploy", "success", at(7, 1), 600, sha="w3", repository="acme/web"),  # next week
        make_run("build", "failure", at(-1, 12), 100),  # last week
    ]


COMMIT_TIMES = {"s1": at(0, 8), "s4": at(1, 10), "w1": at(6, 22), "s2": at(1, 11)}


def test_pipeline_metrics_count_only_real_failures():
    metrics = cicd_metrics(hand_built_runs(), *week_window(date(2026, 12, 3)))

    assert (metrics.window_start, metrics.window_end) == (MONDAY, at(7, 0))
    assert metrics.runs == 17
    assert metrics.outcome_counts == {
        **dict.fromkeys(OUTCOMES, 0),
        "success": 6,
        "failure": 5,
        "timed_out": 1,
        "in_progress": 1,
        "cancelled": 2,
        "skipped": 1,
        "action_required": 1,
    }
    assert metrics.success_rate == 6 / 12
    durations = [300, 120, 600, 240, 3600, 30, 0, 60, 600, 300, 300, 600, 360, 600, 300]
    assert metrics.average_duration_seconds == pytest.approx(sum(durations) / len(durations))
    assert metrics.median_duration_seconds == statistics.median(durations) == 300

    patterns = [(p.repository, p.workflow, p.job, p.failures, p.judged_runs) for p in metrics.failure_patterns]
    assert patterns == [
        ("acme/api", "test", None, 2, 3),
        ("acme/api", "deploy", None, 2, 5),
        ("acme/api", "build", None, 1, 2),
        ("acme/web", "deploy", None, 1, 2),
        ("acme/api", "test", "integration", 2, 2),
    ]
    assert [p.share_of_failures for p in metrics.failure_patterns] == [2 / 6, 2 / 6, 1 / 6, 1 / 6, 1.0]
    assert [p.failure_rate for p in metrics.failure_patterns] == [2 / 3, 2 / 5, 1 / 2, 1 / 2, 1.0]


def test_dora_metrics_over_hand_built_deployments():
    dora = cicd_metrics(hand_built_runs(), *week_window(date(2026, 11, 30)), COMMIT_TIMES).dora

    assert (dora.deployments, dora.deployments_per_week, dora.deployments_per_day) == (4, 4.0, 4 / 7)
    lead_hours = [4 + 10 / 60, 6 + 5 / 60, 24 + 10 / 60, 1 + 10 / 60]
    assert dora.lead_time_median_hours == pytest.approx(statistics.median(lead_hours))
    assert dora.lead_time_p90_hours == pytest.approx(np.percentile(lead_hours, 90))
    assert dora.lead_time_fallbacks == 1
    assert (dora.failed_deployments, dora.completed_deployments) == (3, 7)
    assert dora.change_failure_rate == 3 / 7
    assert (dora.restored_failures, dora.unrestored_failures) == (2, 1)
    assert dora.time_to_restore_median_hours == pytest.approx(statistics.median([3.0, 1 + 35 / 60]))
    assert dora.bands == {
        "deployment_frequency": "high",
        "lead_time_for_changes": "elite",
        "change_failure_rate": "low",
        "time_to_restore_service": "high",
    }

    later = cicd_metrics(hand_built_runs(), *week_window(date(2026, 12, 7)), COMMIT_TIMES).dora
    assert (later.deployments, later.lead_time_fallbacks, later.change_failure_rate) == (1, 1, 0.0)
    assert later.time_to_restore_median_hours is None and later.unrestored_failures == 0


def test_an_empty_week_has_no_rates():
    metrics = cicd_metrics(hand_built_runs(), *week_window(date(2026, 10, 5)))
    assert metrics.runs == 0 and metrics.success_rate is None and metrics.median_duration_seconds is None
    assert metrics.dora.deployments_per_week == 0 and metrics.dora.change_failure_rate is None
    assert metrics.dora.bands == {
        "deployment_frequency": "low",
        "lead_time_for_changes": None,
        "change_failure_rate": None,
        "time_to_restore_service": None,
    }


@pytest.mark.parametrize(
    "metric, value, band",
    [
        ("deployment_frequency", 7, "elite"),
        ("deployment_frequency", 6.9, "high"),
        ("deployment_frequency", 1, "high"),
        ("deployment_frequency", 0.5, "medium"),
        ("deployment_frequency", 0.2, "low"),
        ("lead_time_for_changes", 23.9, "elite"),
        ("lead_time_for_changes", 24, "high"),
        ("lead_time_for_changes", 200, "medium"),
        ("lead_time_for_changes", 720, "low"),
        ("change_failure_rate", 0.05, "elite"),
        ("change_failure_rate", 0.1, "high"),
        ("change_failure_rate", 0.15, "medium"),
        ("change_failure_rate", 0.16, "low"),
        ("time_to_restore_service", 0.5, "elite"),
        ("time_to_restore_service", 1, "high"),
        ("time_to_restore_service", 100, "medium"),
        ("time_to_restore_service", 168, "low"),
    ],
)
def test_dora_bands(metric, value, band):
    assert dora_band(metric, value) == band


def test_week_window_and_bad_windows():
    assert week_window(date(2026, 12, 6)) == (MONDAY, at(7, 0))  # a Sunday
    assert week_window(date(2026, 11, 30)) == (MONDAY, at(7, 0))
    with pytest.raises(MaestroError, match="must end after it starts"):
        cicd_metrics([], at(7, 0), MONDAY)
    with pytest.raises(MaestroError, match="unknown DORA metric"):
        dora_band("mttr", 1.0)
