"""Weekly process figures in ``analytics_process_metrics``: one row per (scope, name, week, metric).

Git and CI/CD both write scope ``repository`` under the same repository name and week, so each
family of metrics has its own prefix (``git.``, ``ci.``, ``dora.``) and a re-run of a week replaces
only its own family's rows (:func:`replace_week`): delete then insert in one transaction, so a
week is never half-written and a re-run never duplicates.

Contributor activity is in the same table, under the repository: ``git.contributor.<metric>.<who>``
(``who`` the mailmap-normalised e-mail) for the contributor's commits, merges and churn. So are
the week's failures of each failing workflow, ``ci.workflow_failures.<workflow>``, and job,
``ci.job_failures.<workflow>/<job>`` (from the failure patterns).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..errors import MaestroError
from .cicd import CicdMetrics
from .git_metrics import ContributorWeek, WeekMetrics
from .store import METRIC_SCOPES, ProcessMetric

GIT_PREFIX = "git."
CI_PREFIXES = ("ci.", "dora.")
CONTRIBUTOR_PREFIX = "git.contributor."
CONTRIBUTOR_METRICS = ("commits", "merges", "churn")
WORKFLOW_FAILURES_PREFIX = "ci.workflow_failures."
JOB_FAILURES_PREFIX = "ci.job_failures."
MAX_METRIC = 128
_NOT_FIGURES = ("week_start", "partition_key")


class ProcessMetricsError(MaestroError):
    pass


def git_week_values(week: WeekMetrics, contributors: list[ContributorWeek]) -> dict[str, float]:
    """The rows of one repository week: every figure of :class:`WeekMetrics` and each contributor's
    commits, merges and churn."""
    values = {f"{GIT_PREFIX}{k}": float(v) for k, v in asdict(week).items() if k not in _NOT_FIGURES}
    for person in contributors:
        for metric in CONTRIBUTOR_METRICS:
            values[f"{CONTRIBUTOR_PREFIX}{metric}.{person.contributor}"[:MAX_METRIC]] = float(getattr(person, metric))
    return values


def cicd_week_values(metrics: CicdMetrics) -> dict[str, float | None]:
    """The rows of one CI source week: runs, success rate, durations, outcome counts, the failures of
    each failing workflow and job, DORA figures."""
    values: dict[str, float | None] = {
        "ci.runs": float(metrics.runs),
        "ci.success_rate": metrics.success_rate,
        "ci.average_duration_seconds": metrics.average_duration_seconds,
        "ci.median_duration_seconds": metrics.median_duration_seconds,
        "ci.failure_patterns": float(len(metrics.failure_patterns)),
    }
    values |= {f"ci.outcome.{outcome}": float(n) for outcome, n in metrics.outcome_counts.items()}
    for pattern in metrics.failure_patterns:  # a workflow of two repositories of the source: summed
        where = (
            f"{WORKFLOW_FAILURES_PREFIX}{pattern.workflow}"
            if pattern.job is None
            else f"{JOB_FAILURES_PREFIX}{pattern.workflow}/{pattern.job}"
        )[:MAX_METRIC]
        values[where] = (values.get(where) or 0.0) + pattern.failures
    dora = asdict(metrics.dora)
    dora.pop("bands")
    values |= {f"dora.{k}": None if v is None else float(v) for k, v in dora.items()}
    return values


def replace_week(
    engine: Engine,
    scope: str,
    name: str,
    period_start: date,
    prefixes: tuple[str, ...] | str,
    values: Mapping[str, float | None],
) -> int:
    """Write ``values`` as the week's rows of the metric family ``prefixes``, replacing the
    family's rows of that (scope, name, week); the rows written."""
    if scope not in METRIC_SCOPES:
        raise ProcessMetricsError(f"process metrics of {name!r}: scope must be one of {METRIC_SCOPES}, not {scope!r}")
    prefixes = (prefixes,) if isinstance(prefixes, str) else prefixes
    outside = [m for m in values if not m.startswith(prefixes)]
    if outside:
        raise ProcessMetricsError(f"process metrics of {name!r}: {outside[:3]} do not start with {prefixes}")
    where = (ProcessMetric.scope == scope, ProcessMetric.name == name, ProcessMetric.period_start == period_start)
    with engine.begin() as conn:
        conn.execute(
            sa.delete(ProcessMetric).where(*where, sa.or_(*(ProcessMetric.metric.startswith(p) for p in prefixes)))
        )
        if values:
            conn.execute(
                sa.insert(ProcessMetric),
                [
                    {"scope": scope, "name": name, "period_start": period_start, "metric": m, "value": v}
                    for m, v in values.items()
                ],
            )
    return len(values)


def read_week(engine: Engine, scope: str, name: str, period_start: date, prefix: str = "") -> dict[str, float | None]:
    """The week's rows (of metrics starting with ``prefix``) as metric → value."""
    stmt = sa.select(ProcessMetric.metric, ProcessMetric.value).where(
        ProcessMetric.scope == scope,
        ProcessMetric.name == name,
        ProcessMetric.period_start == period_start,
        ProcessMetric.metric.startswith(prefix),
    )
    with engine.connect() as conn:
        return {row.metric: row.value for row in conn.execute(stmt)}


def read_weeks(engine: Engine, scope: str, first: date, last: date) -> dict[str, dict[date, dict[str, float | None]]]:
    """Every row of ``scope`` from the week ``first`` to the week ``last`` (inclusive), in one select,
    as name → week → metric → value; a (name, week) with no rows is absent."""
    stmt = sa.select(ProcessMetric.name, ProcessMetric.period_start, ProcessMetric.metric, ProcessMetric.value).where(
        ProcessMetric.scope == scope, ProcessMetric.period_start.between(first, last)
    )
    found: dict[str, dict[date, dict[str, float | None]]] = {}
    with engine.connect() as conn:
        for row in conn.execute(stmt):
            found.setdefault(row.name, {}).setdefault(row.period_start, {})[row.metric] = row.value
    return found
