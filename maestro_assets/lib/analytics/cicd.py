"""CI/CD runs from GitHub Actions or GitLab CI, normalised, and the delivery metrics over them.

Why one normalised :class:`PipelineRun`: GitHub describes a run with ``status`` + ``conclusion``,
GitLab a pipeline with one ``status``, and the two disagree on names (``cancelled``/``canceled``,
``failure``/``failed``). Every metric below is computed once, over runs whose ``outcome`` is one of
:data:`OUTCOMES`. A run that is still going, was cancelled, skipped or waits for an approval is
counted as what it is and NEVER as a failure: only ``failure`` and ``timed_out`` are failures.

Sources (one :class:`RunSource` interface, ``runs() -> list[PipelineRun]``):

* :class:`GitHubActionsApi` — ``GET {api}/repos/{owner}/{repo}/actions/runs?per_page=100``, through
  the bronze REST reader (:func:`maestro_assets.lib.ingestion.rest.fetch_pages`: ``Link`` pagination,
  ``Retry-After``, the ``X-RateLimit-*`` headers, bounded 5xx retries), token from an environment
  variable that is never logged.
* :class:`GitHubActionsExport` — a JSON file of that response (``{"total_count", "workflow_runs"}``),
  a list of such pages, or a bare list of runs (the demo's ``ci_runs_export`` writes the first).
* :class:`GitLabPipelinesExport` — a JSON file of ``GET /projects/:id/pipelines`` (a list of
  pipelines, or a list of such pages), optionally with the per-pipeline detail fields
  (``started_at``, ``finished_at``, ``duration``) and a ``jobs`` list.

GitHub gives no finish time for a run: a completed run's ``updated_at`` is taken as its finish
(GitHub updates a run for the last time when it completes), its duration as ``updated_at`` minus
``run_started_at``. A run belongs to the window its ``created_at`` falls in — the rule GitHub's
``created`` filter applies, so fetching a week with that filter gives exactly the week's runs.

Metrics: :func:`cicd_metrics` over one window (a weekly partition, :func:`week_window`).
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from ..dates import as_utc, start_of_day
from ..errors import MaestroError
from ..ingestion.rest import FetchStats, RestSource, fetch_pages

SUCCESS = "success"
FAILURE = "failure"
TIMED_OUT = "timed_out"
CANCELLED = "cancelled"
SKIPPED = "skipped"
ACTION_REQUIRED = "action_required"
IN_PROGRESS = "in_progress"
NEUTRAL = "neutral"
STALE = "stale"
OUTCOMES = (SUCCESS, FAILURE, TIMED_OUT, CANCELLED, SKIPPED, ACTION_REQUIRED, IN_PROGRESS, NEUTRAL, STALE)
FAILED_OUTCOMES = frozenset({FAILURE, TIMED_OUT})  # the only outcomes that count as failures
JUDGED_OUTCOMES = frozenset({SUCCESS}) | FAILED_OUTCOMES  # the success rate's denominator
_WAITING = frozenset({IN_PROGRESS, ACTION_REQUIRED})  # not finished: no finish time, no duration

# GitHub: a run's ``status`` while it is not completed, and its ``conclusion`` once it is.
_GITHUB_PENDING = frozenset({"queued", "waiting", "requested", "pending", "in_progress"})
_GITHUB_CONCLUSIONS = {
    "success": SUCCESS,
    "failure": FAILURE,
    "startup_failure": FAILURE,  # the workflow file itself is broken: the change failed
    "timed_out": TIMED_OUT,
    "cancelled": CANCELLED,
    "skipped": SKIPPED,
    "action_required": ACTION_REQUIRED,
    "neutral": NEUTRAL,
    "stale": STALE,
}
# GitLab: one ``status`` for pipelines and jobs alike.
_GITLAB_STATUSES = {
    "success": SUCCESS,
    "failed": FAILURE,
    "canceled": CANCELLED,
    "canceling": CANCELLED,
    "skipped": SKIPPED,
    "manual": ACTION_REQUIRED,  # waits for someone to start a manual job
    "created": IN_PROGRESS,
    "waiting_for_resource": IN_PROGRESS,
    "waiting_for_callback": IN_PROGRESS,
    "preparing": IN_PROGRESS,
    "pending": IN_PROGRESS,
    "running": IN_PROGRESS,
    "scheduled": IN_PROGRESS,
}
DEPLOYMENT_EVENTS = frozenset({"deployment", "deployment_status"})
DEPLOY_STAGE = "deploy"
_DEPLOY_WORD = re.compile(r"(?:^|[^a-z])deploy", re.IGNORECASE)  # deploy, Deploy to prod, cd-deployment


class CicdInputError(MaestroError):
    """A CI export or API answer that cannot be read: names the file, the run index and the field."""

    def __init__(self, where: str, problem: str, index: int | None = None, field_name: str | None = None):
        self.where, self.problem, self.index, self.field_name = where, problem, index, field_name
        place = [where, *([f"run {index}"] if index is not None else [])]
        place += [f"field {field_name!r}"] if field_name is not None else []
        super().__init__(f"{', '.join(place)}: {problem}")


@dataclass(frozen=True)
class JobRun:
    """One job of a run (GitHub job, GitLab job), where the export carries them."""

    name: str
    stage: str | None
    outcome: str


@dataclass(frozen=True)
class PipelineRun:
    """One CI run (GitHub workflow run, GitLab pipeline) in provider-neutral terms.

    ``outcome`` is one of :data:`OUTCOMES`; ``finished_at`` and ``duration_seconds`` are None while a
    run is not finished; all datetimes are aware UTC."""

    provider: str  # "github" or "gitlab"
    repository: str  # owner/name (GitHub), the project path (GitLab)
    workflow: str  # the workflow name (GitHub), the pipeline name or else its ref (GitLab)
    run_id: str
    head_sha: str
    branch: str | None
    event: str | None  # push, pull_request, schedule… (GitHub event, GitLab source)
    status: str  # the provider's own words, e.g. "completed/failure" or "failed"
    outcome: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    url: str | None
    is_deployment: bool = False
    jobs: tuple[JobRun, ...] = ()


DeploymentPredicate = Callable[[PipelineRun], bool]


def looks_like_deployment(run: PipelineRun, deploy_stage: str = DEPLOY_STAGE) -> bool:
    """The default deployment predicate: a run is a deployment when its workflow (pipeline) name has
    a word starting with ``deploy`` (``deploy``, ``Deploy to production``, ``cd-deployment``), its event is
    GitHub's ``deployment``/``deployment_status``, a job of it is in the stage ``deploy_stage``, or —
    GitLab — its ref has such a word (``deploy/production``). Another stage name:
    ``functools.partial(looks_like_deployment, deploy_stage="release")``; any other rule: a function
    of the run, passed as ``deployment_predicate`` to a source."""
    if _DEPLOY_WORD.search(run.workflow) or (run.event or "") in DEPLOYMENT_EVENTS:
        return True
    if any((job.stage or "").lower() == deploy_stage.lower() for job in run.jobs):
        return True
    return run.provider == "gitlab" and bool(_DEPLOY_WORD.search(run.branch or ""))


class RunSource(Protocol):
    """Where CI runs come from: an API or an exported file."""

    def runs(self) -> list[PipelineRun]: ...


# --- reading one record -----------------------------------------------------------------------


class _Fields:
    """Typed reads of one run object; every error names the source, the run index and the field."""

    def __init__(self, record: Any, where: str, index: int):
        self.where, self.index = where, index
        if not isinstance(record, dict):
            raise CicdInputError(where, f"a run must be a JSON object, not {type(record).__name__}", index)
        self.record = record

    def fail(self, name: str, problem: str) -> CicdInputError:
        return CicdInputError(self.where, problem, self.index, name)

    def raw(self, name: str, required: bool) -> Any:
        value = self.record
        for key in name.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        if value is None and required:
            raise self.fail(name, "missing (or null)")
        return value

    def text(self, name: str, required: bool = True) -> str | None:
        value = self.raw(name, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self.fail(name, f"must be text, not {json.dumps(value)[:60]}")
        return str(value)

    def number(self, name: str) -> float | None:
        value = self.raw(name, False)
        if value is None:
            return None
        try:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)  # a JsonNumber from the REST reader is its text
        except (TypeError, ValueError):
            raise self.fail(name, f"must be a number, not {json.dumps(value)[:60]}") from None
        if number < 0:
            raise self.fail(name, f"must not be negative, not {number:g}")
        return number

    def moment(self, name: str, required: bool = True) -> datetime | None:
        value = self.text(name, required)
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise self.fail(name, f"{value!r} is not an ISO 8601 timestamp") from None
        if moment.tzinfo is None:
            raise self.fail(name, f"{value!r} has no UTC offset (expected e.g. 2026-11-30T09:15:00Z)")
        return moment.astimezone(UTC)

    def jobs(self, outcome_of: Callable[[_Fields], str]) -> tuple[JobRun, ...]:
        listed = self.raw("jobs", False)
        if listed is None:
            return ()
        if not isinstance(listed, list):
            raise self.fail("jobs", "must be a list of job objects")
        jobs = []
        for number, job in enumerate(listed):
            prefix = f"jobs[{number}]"
            if not isinstance(job, dict):
                raise self.fail(prefix, "a job must be a JSON object")
            one = _Fields(job, self.where, self.index)
            try:
                jobs.append(JobRun(one.text("name") or "", one.text("stage", False), outcome_of(one)))
            except CicdInputError as exc:
                raise self.fail(f"{prefix}.{exc.field_name}", exc.problem) from None
        return tuple(jobs)


def _github_outcome(fields: _Fields) -> str:
    status = fields.text("status")
    if status in _GITHUB_PENDING:
        return IN_PROGRESS
    if status != "completed":
        raise fields.fail("status", f"unknown status {status!r} (expected completed or {sorted(_GITHUB_PENDING)})")
    conclusion = fields.text("conclusion")
    if conclusion not in _GITHUB_CONCLUSIONS:
        raise fields.fail(
            "conclusion", f"unknown conclusion {conclusion!r} (expected one of {sorted(_GITHUB_CONCLUSIONS)})"
        )
    return _GITHUB_CONCLUSIONS[conclusion]


def _gitlab_outcome(fields: _Fields) -> str:
    status = fields.text("status")
    if status not in _GITLAB_STATUSES:
        raise fields.fail("status", f"unknown status {status!r} (expected one of {sorted(_GITLAB_STATUSES)})")
    return _GITLAB_STATUSES[status]


def _seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else max(0.0, (end - start).total_seconds())


def github_run(
    record: Any, where: str, index: int, deployment_predicate: DeploymentPredicate = looks_like_deployment
) -> PipelineRun:
    """One GitHub Actions run object (as ``/actions/runs`` lists it) as a :class:`PipelineRun`; a run
    not completed, or completed as ``action_required`` (waiting for an approval), has no finish time."""
    fields = _Fields(record, where, index)
    outcome = _github_outcome(fields)
    created = fields.moment("created_at")
    started = fields.moment("run_started_at", False) or created
    finished = fields.moment("updated_at") if outcome not in _WAITING else None
    if finished is not None and finished < started:
        raise fields.fail("updated_at", f"{finished.isoformat()} is before run_started_at {started.isoformat()}")
    status = fields.text("status")
    run = PipelineRun(
        provider="github",
        repository=fields.text("repository.full_name"),
        workflow=fields.text("name"),
        run_id=fields.text("id"),
        head_sha=fields.text("head_sha"),
        branch=fields.text("head_branch", False),
        event=fields.text("event", False),
        status=f"{status}/{fields.text('conclusion', False)}" if status == "completed" else status,
        outcome=outcome,
        created_at=created,
        started_at=started,
        finished_at=finished,
        duration_seconds=_seconds_between(started, finished),
        url=fields.text("html_url", False),
        jobs=fields.jobs(_github_outcome),
    )
    return replace(run, is_deployment=deployment_predicate(run))


def gitlab_pipeline(
    record: Any,
    where: str,
    index: int,
    project: str | None = None,
    deployment_predicate: DeploymentPredicate = looks_like_deployment,
) -> PipelineRun:
    """One GitLab pipeline object (``/projects/:id/pipelines``, optionally with the detail fields
    ``started_at``/``finished_at``/``duration`` and a ``jobs`` list) as a :class:`PipelineRun`.
    The repository is ``project`` if given, else the project path in the pipeline's ``web_url``.
    Without the detail fields, a finished pipeline's ``updated_at`` is its finish time and its duration
    runs from ``created_at``, queueing included."""
    fields = _Fields(record, where, index)
    outcome = _gitlab_outcome(fields)
    created = fields.moment("created_at")
    started = fields.moment("started_at", False)
    finished = fields.moment("finished_at", False)
    if finished is None and outcome not in _WAITING:
        finished = fields.moment("updated_at", False)  # the list endpoint has no finished_at
    duration = fields.number("duration")
    if duration is None:
        duration = _seconds_between(started or created, finished)
    url = fields.text("web_url", False)
    repository = project or _gitlab_project_path(url)
    if repository is None:
        raise fields.fail("web_url", "no project given and no web_url to read the project path from")
    ref = fields.text("ref", False)
    run = PipelineRun(
        provider="gitlab",
        repository=repository,
        workflow=fields.text("name", False) or ref or "pipeline",
        run_id=fields.text("id"),
        head_sha=fields.text("sha"),
        branch=ref,
        event=fields.text("source", False),
        status=fields.text("status"),
        outcome=outcome,
        created_at=created,
        started_at=started,
        finished_at=finished if outcome not in _WAITING else None,
        duration_seconds=duration if outcome not in _WAITING else None,
        url=url,
        jobs=fields.jobs(_gitlab_outcome),
    )
    return replace(run, is_deployment=deployment_predicate(run))


def _gitlab_project_path(web_url: str | None) -> str | None:
    """``group/sub/project`` of ``https://gitlab.example.com/group/sub/project/-/pipelines/7``."""
    if not web_url or "/-/" not in web_url:
        return None
    return urlsplit(web_url.split("/-/")[0]).path.strip("/") or None


# --- sources ----------------------------------------------------------------------------------


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CicdInputError(str(path), "no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CicdInputError(str(path), f"not valid JSON: {exc}") from None


def github_export_records(export: Any, where: str) -> list[Any]:
    """The run objects of a GitHub export: one ``{"workflow_runs": [...]}`` page, a list of pages,
    or a bare list of runs."""
    pages = (
        export
        if isinstance(export, list) and export and all(isinstance(p, dict) and "workflow_runs" in p for p in export)
        else [export]
    )
    records: list[Any] = []
    for number, page in enumerate(pages):
        if isinstance(page, list):
            records.extend(page)
        elif isinstance(page, dict) and isinstance(page.get("workflow_runs"), list):
            records.extend(page["workflow_runs"])
        else:
            label = f"page {number}" if len(pages) > 1 else "the file"
            raise CicdInputError(where, f'{label} must be {{"workflow_runs": [...]}} or a list of runs')
    return records


@dataclass(frozen=True)
class GitHubActionsExport:
    """Runs from a JSON file in the shape of GitHub's ``/actions/runs`` response."""

    path: Path
    deployment_predicate: DeploymentPredicate = looks_like_deployment

    def runs(self) -> list[PipelineRun]:
        where = str(self.path)
        records = github_export_records(_load_json(Path(self.path)), where)
        return [github_run(record, where, index, self.deployment_predicate) for index, record in enumerate(records)]


@dataclass(frozen=True)
class GitLabPipelinesExport:
    """Pipelines from a JSON file: a list of GitLab pipeline objects, or a list of such pages."""

    path: Path
    project: str | None = None  # the project path; None: read from each pipeline's web_url
    deployment_predicate: DeploymentPredicate = looks_like_deployment

    def runs(self) -> list[PipelineRun]:
        where = str(self.path)
        export = _load_json(Path(self.path))
        if not isinstance(export, list):
            raise CicdInputError(where, "must be a list of pipelines (or a list of pages of them)")
        records = (
            [p for page in export for p in page] if export and all(isinstance(p, list) for p in export) else export
        )
        return [
            gitlab_pipeline(record, where, index, self.project, self.deployment_predicate)
            for index, record in enumerate(records)
        ]


@dataclass
class GitHubActionsApi:
    """Runs from the GitHub Actions REST API, one repository.

    ``created_from``/``created_until`` (inclusive days) become the ``created`` filter
    (``>=2026-11-30`` or ``2026-11-30..2026-12-06``). GitHub answers a filtered query with at most
    1,000 runs: keep windows to a week. The token is read from ``token_env`` at request time."""

    owner: str
    repo: str
    api_url: str = "https://api.github.com"
    token_env: str = "GITHUB_TOKEN"
    created_from: date | None = None
    created_until: date | None = None
    deployment_predicate: DeploymentPredicate = looks_like_deployment
    max_rate_limit_wait_seconds: float = 900.0
    max_retries: int = 5
    backoff_seconds: float = 1.0
    timeout_seconds: float = 30.0
    stats: FetchStats = field(default_factory=FetchStats)

    def source(self) -> RestSource:
        params = {"per_page": "100"}
        if self.created_from and self.created_until:
            params["created"] = f"{self.created_from.isoformat()}..{self.created_until.isoformat()}"
        elif self.created_from:
            params["created"] = f">={self.created_from.isoformat()}"
        elif self.created_until:
            params["created"] = f"<={self.created_until.isoformat()}"
        return RestSource(
            name=f"github:{self.owner}/{self.repo}",
            url=f"{self.api_url.rstrip('/')}/repos/{self.owner}/{self.repo}/actions/runs",
            pagination="link",
            records_path="workflow_runs",
            params=params,
            headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"},
            auth_env=self.token_env,
            auth_prefix="Bearer ",
            max_rate_limit_wait_seconds=self.max_rate_limit_wait_seconds,
            max_retries=self.max_retries,
            backoff_seconds=self.backoff_seconds,
            timeout_seconds=self.timeout_seconds,
        )

    def runs(self) -> list[PipelineRun]:
        source = self.source()
        runs: list[PipelineRun] = []
        seen: set[str] = set()
        for page_number, page in enumerate(fetch_pages(source, stats=self.stats), start=1):
            where = f"{source.name}, page {page_number}"
            for index, record in enumerate(page):
                run = github_run(record, where, index, self.deployment_predicate)
                if run.run_id not in seen:  # a run listed again when new runs shift the pages
                    seen.add(run.run_id)
                    runs.append(run)
        return runs


# --- metrics ----------------------------------------------------------------------------------


def week_window(day: date) -> tuple[datetime, datetime]:
    """The weekly partition holding ``day``: Monday 00:00 UTC to the next Monday 00:00 UTC."""
    monday = start_of_day(day - timedelta(days=day.weekday()))
    return monday, monday + timedelta(days=7)


def _quantile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile with linear interpolation between order statistics (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class FailurePattern:
    """A workflow (or one of its jobs) and how often it failed in the window.

    ``failure_rate`` is its failures over its judged runs (success + failure + timed_out);
    ``share_of_failures`` its failures over all failures of the same kind (workflow or job) in the window."""

    repository: str
    workflow: str
    job: str | None  # None: the workflow as a whole
    failures: int
    judged_runs: int
    failure_rate: float
    share_of_failures: float


@dataclass(frozen=True)
class DoraMetrics:
    """The four DORA metrics over successful and failed deployments (``is_deployment`` runs).

    * **Deployment frequency** — the successful deployments created in the window, per week
      (``deployments_per_week`` = count ÷ window length in weeks) and per day (÷ window days).
      Failed, cancelled and unfinished deployment runs do not count.
    * **Lead time for changes** — for each successful deployment in the window, its finish time minus
      the commit time of the sha it deployed. Commit times come from git (the ``commit_times``
      mapping); a sha git does not know falls back to the creation time of the earliest run of
      that sha among all runs given (``lead_time_fallbacks`` counts these — they understate the lead
      time by the time the commit waited before its first CI run). Reported as the median and the
      90th percentile (linear interpolation) in hours; a negative difference (clock skew) counts as 0.
    * **Change failure rate** — failed deployments (``failure``, ``timed_out``) over completed
      deployments (``success``, ``failure``, ``timed_out``) in the window; cancelled, skipped and
      unfinished deployments are in neither count.
    * **Time to restore service** — for each failed deployment in the window, the time from its finish
      to the finish of the next successful deployment of the same repository, looked for among all runs
      given (also after the window); the median in hours. A failure with no later successful
      deployment is counted in ``unrestored_failures`` and not in the median.

    Each metric has a performance band (:func:`dora_band`); None when there is nothing to judge."""

    deployments: int  # successful deployments in the window
    deployments_per_week: float
    deployments_per_day: float
    lead_time_median_hours: float | None
    lead_time_p90_hours: float | None
    lead_time_fallbacks: int
    change_failure_rate: float | None
    failed_deployments: int
    completed_deployments: int
    time_to_restore_median_hours: float | None
    restored_failures: int
    unrestored_failures: int
    bands: Mapping[str, str | None]


@dataclass(frozen=True)
class CicdMetrics:
    """Pipeline metrics over the runs created in ``[window_start, window_end)``.

    * ``success_rate`` = success ÷ (success + failure + timed_out); runs in progress, cancelled,
      skipped, waiting for approval (action_required), neutral or stale are in neither count. None
      when no run was judged.
    * ``average_duration_seconds``/``median_duration_seconds`` over runs with a finish time and a
      duration (everything but in_progress and action_required).
    * ``outcome_counts`` — every outcome of :data:`OUTCOMES`, zeros included.
    * ``failure_patterns`` — workflows (and jobs, where runs carry jobs) with at least one failure,
      most failures first."""

    window_start: datetime
    window_end: datetime
    runs: int
    outcome_counts: Mapping[str, int]
    success_rate: float | None
    average_duration_seconds: float | None
    median_duration_seconds: float | None
    failure_patterns: tuple[FailurePattern, ...]
    dora: DoraMetrics


# Upper bounds of elite, high and medium (anything beyond is low), from the clusters of the 2023
# Accelerate State of DevOps report, made contiguous (the report leaves gaps between clusters).
DORA_THRESHOLDS = {
    # successful deployments per week, lower bounds: on demand (daily or more), weekly, monthly
    "deployment_frequency": (7.0, 1.0, 7.0 / 30.0),
    "lead_time_for_changes": (24.0, 24.0 * 7, 24.0 * 30),  # hours: a day, a week, a month
    "change_failure_rate": (0.05, 0.10, 0.15),
    "time_to_restore_service": (1.0, 24.0, 24.0 * 7),  # hours: an hour, a day, a week
}
BANDS = ("elite", "high", "medium", "low")


def dora_band(metric: str, value: float | None) -> str | None:
    """The DORA band (elite, high, medium, low) of one metric's value; None for no value.

    Deployment frequency (successful deployments per week): elite ≥ 7 (on demand, daily or more),
    high ≥ 1 (weekly), medium ≥ 7/30 (monthly), else low. Lead time for changes (median hours):
    elite < 24 (a day), high < 168 (a week), medium < 720 (a month), else low. Change failure rate:
    elite ≤ 5 %, high ≤ 10 %, medium ≤ 15 %, else low. Time to restore service (median hours):
    elite < 1, high < 24, medium < 168, else low."""
    if metric not in DORA_THRESHOLDS:
        raise MaestroError(f"unknown DORA metric {metric!r}; expected one of {sorted(DORA_THRESHOLDS)}")
    if value is None:
        return None
    bounds = DORA_THRESHOLDS[metric]
    if metric == "deployment_frequency":
        return next((band for band, low in zip(BANDS, bounds) if value >= low), "low")
    if metric == "change_failure_rate":
        return next((band for band, high in zip(BANDS, bounds) if value <= high), "low")
    return next((band for band, high in zip(BANDS, bounds) if value < high), "low")


def _hours(delta: timedelta) -> float:
    return max(0.0, delta.total_seconds()) / 3600.0


def _failure_patterns(judged: list[PipelineRun]) -> tuple[FailurePattern, ...]:
    def patterns(keys: Iterable[tuple[tuple[str, str, str | None], bool]]) -> list[FailurePattern]:
        judged_count: Counter = Counter()
        failed_count: Counter = Counter()
        for key, failed in keys:
            judged_count[key] += 1
            failed_count[key] += failed
        total = sum(failed_count.values())
        return [
            FailurePattern(
                *key,
                failed_count[key],
                judged_count[key],
                failed_count[key] / judged_count[key],
                failed_count[key] / total,
            )
            for key in judged_count
            if failed_count[key]
        ]

    workflows = patterns(((run.repository, run.workflow, None), run.outcome in FAILED_OUTCOMES) for run in judged)
    jobs = patterns(
        ((run.repository, run.workflow, job.name), job.outcome in FAILED_OUTCOMES)
        for run in judged
        for job in run.jobs
        if job.outcome in JUDGED_OUTCOMES
    )
    order = lambda p: (-p.failures, -p.failure_rate, p.repository, p.workflow, p.job or "")  # noqa: E731
    return tuple(sorted(workflows, key=order) + sorted(jobs, key=order))


def dora_metrics(
    runs: Sequence[PipelineRun],
    window_start: datetime,
    window_end: datetime,
    commit_times: Mapping[str, datetime] | None = None,
) -> DoraMetrics:
    """The four DORA metrics of the deployments created in ``[window_start, window_end)``; see
    :class:`DoraMetrics` for each definition. ``runs`` may hold runs outside the window: they supply
    restoring deployments and the fallback commit times."""
    start, end = as_utc(window_start), as_utc(window_end)
    if end <= start:
        raise MaestroError(f"the window must end after it starts: {start.isoformat()} .. {end.isoformat()}")
    commit_times = {sha: as_utc(moment) for sha, moment in (commit_times or {}).items()}
    first_seen: dict[str, datetime] = {}
    for run in runs:
        if run.head_sha not in first_seen or run.created_at < first_seen[run.head_sha]:
            first_seen[run.head_sha] = run.created_at

    deployments = [run for run in runs if run.is_deployment and run.finished_at is not None]
    in_window = [run for run in deployments if start <= run.created_at < end]
    succeeded = [run for run in in_window if run.outcome == SUCCESS]
    failed = [run for run in in_window if run.outcome in FAILED_OUTCOMES]

    lead_times, fallbacks = [], 0
    for run in succeeded:
        committed = commit_times.get(run.head_sha)
        if committed is None:
            committed, fallbacks = first_seen[run.head_sha], fallbacks + 1
        lead_times.append(_hours(run.finished_at - committed))

    successes_by_repository: dict[str, list[datetime]] = {}
    for run in deployments:
        if run.outcome == SUCCESS:
            successes_by_repository.setdefault(run.repository, []).append(run.finished_at)
    restore_times, unrestored = [], 0
    for run in failed:
        later = [moment for moment in successes_by_repository.get(run.repository, []) if moment > run.finished_at]
        if later:
            restore_times.append(_hours(min(later) - run.finished_at))
        else:
            unrestored += 1

    days = (end - start).total_seconds() / 86400.0
    completed = len(succeeded) + len(failed)
    per_week = len(succeeded) / (days / 7.0)
    lead_median = statistics.median(lead_times) if lead_times else None
    change_failure_rate = len(failed) / completed if completed else None
    restore_median = statistics.median(restore_times) if restore_times else None
    return DoraMetrics(
        deployments=len(succeeded),
        deployments_per_week=per_week,
        deployments_per_day=len(succeeded) / days,
        lead_time_median_hours=lead_median,
        lead_time_p90_hours=_quantile(lead_times, 0.9),
        lead_time_fallbacks=fallbacks,
        change_failure_rate=change_failure_rate,
        failed_deployments=len(failed),
        completed_deployments=completed,
        time_to_restore_median_hours=restore_median,
        restored_failures=len(restore_times),
        unrestored_failures=unrestored,
        bands={
            "deployment_frequency": dora_band("deployment_frequency", per_week),
            "lead_time_for_changes": dora_band("lead_time_for_changes", lead_median),
            "change_failure_rate": dora_band("change_failure_rate", change_failure_rate),
            "time_to_restore_service": dora_band("time_to_restore_service", restore_median),
        },
    )


def cicd_metrics(
    runs: Sequence[PipelineRun],
    window_start: datetime,
    window_end: datetime,
    commit_times: Mapping[str, datetime] | None = None,
) -> CicdMetrics:
    """Success rate, durations, outcome counts, failure patterns and the DORA metrics of the runs
    created in ``[window_start, window_end)`` (see :class:`CicdMetrics` and :class:`DoraMetrics`)."""
    dora = dora_metrics(runs, window_start, window_end, commit_times)
    start, end = as_utc(window_start), as_utc(window_end)
    in_window = [run for run in runs if start <= run.created_at < end]
    counts = Counter(run.outcome for run in in_window)
    judged = [run for run in in_window if run.outcome in JUDGED_OUTCOMES]
    durations = [
        run.duration_seconds for run in in_window if run.finished_at is not None and run.duration_seconds is not None
    ]
    return CicdMetrics(
        window_start=start,
        window_end=end,
        runs=len(in_window),
        outcome_counts={outcome: counts.get(outcome, 0) for outcome in OUTCOMES},
        success_rate=counts[SUCCESS] / len(judged) if judged else None,
        average_duration_seconds=statistics.fmean(durations) if durations else None,
        median_duration_seconds=statistics.median(durations) if durations else None,
        failure_patterns=_failure_patterns(judged),
        dora=dora,
    )
