"""Team efficiency and recommendations, from the weekly process metrics of the warehouse.

For each repository (scope ``repository`` of ``analytics_process_metrics``) and week, the
**window** is that week and the ``WINDOW_WEEKS - 1`` weeks before it (Mondays, inclusive), read in
one select (:func:`~maestro_assets.lib.analytics.process_metrics.read_weeks`). Only the weeks that
were computed count: a week with no ``git.*`` rows is not a week of zero commits, it is no data.

**Team efficiency** (:class:`TeamEfficiency`) over the window: commits per week (mean over the git
weeks), churn per commit (window churn ÷ window commits), commits per contributor (window commits
÷ distinct contributors with a commit), the mean collaboration score of the weeks with commits, the
top contributor's share of the window's commits, the CI success rate (window successes ÷ judged
runs, from the outcome counts), the median duration and the lead time (the median of the weeks'
medians), deployments per week (mean over the CI weeks), the change failure rate (window failed ÷
completed deployments) and, for commits, deployments and churn per commit, the **trend**: this
week against the window's earlier weeks (:class:`Trend`).

**Recommendations** come from the named rules of :data:`RULES` (their thresholds are the module
constants below; the README's *Recommendations* table lists them). Each carries its rule's id,
the figures that triggered it and the threshold. A rule whose figure is missing (None: no commits,
no judged CI run, no deployment, no earlier week) does not fire — there is no "not enough data"
finding. A repository with no rows in the week itself is not judged that week.

Recommendations are stored in ``analytics_recommendations``; a re-run of a week replaces all of
that week's rows (:func:`replace_recommendations`).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..errors import MaestroError
from .cicd import DORA_THRESHOLDS, JUDGED_OUTCOMES, SUCCESS, dora_band
from .process_metrics import CONTRIBUTOR_PREFIX, JOB_FAILURES_PREFIX, WORKFLOW_FAILURES_PREFIX, read_weeks
from .store import METRIC_SCOPES, SEVERITIES, StoredRecommendation

WINDOW_WEEKS = 4
SCOPE = "repository"
ONE_WEEK = timedelta(days=7)

# -- the rules' thresholds ----------------------------------------------------------------------
LOW_COLLABORATION_SCORE = 40.0  # mean weekly collaboration score (0–100) below this
BUS_FACTOR_SHARE = 0.6  # one contributor's share of the window's commits above this
BUS_FACTOR_MIN_COMMITS = 10  # ... of at least this many commits (two commits by one person is no bus factor)
LOW_CI_SUCCESS_RATE = 0.8  # the window's CI success rate below this
CHANGE_FAILURE_RATE_HIGH = DORA_THRESHOLDS["change_failure_rate"][1]  # 10 %: the top of the DORA "high" band
LEAD_TIME_LOW_HOURS = DORA_THRESHOLDS["lead_time_for_changes"][2]  # 720 h (a month): the DORA "low" band
DEPLOYMENT_FALL = 0.5  # this week's deployments more than 50 % below the earlier weeks' mean
CHURN_RISE = 2.0  # this week's churn per commit more than twice the earlier weeks'

COMMITS_PREFIX = f"{CONTRIBUTOR_PREFIX}commits."


class InsightsError(MaestroError):
    pass


@dataclass(frozen=True)
class Trend:
    """A figure this week and over the window's earlier weeks (their mean, or their pooled ratio)."""

    this_week: float | None
    earlier: float | None

    @property
    def ratio(self) -> float | None:
        """``this_week / earlier``; None when either is missing or ``earlier`` is 0."""
        if self.this_week is None or not self.earlier:
            return None
        return self.this_week / self.earlier

    @property
    def change(self) -> float | None:
        """The relative change, ``ratio - 1`` (0.25: up 25 %)."""
        return None if self.ratio is None else self.ratio - 1.0


@dataclass(frozen=True)
class TeamEfficiency:
    """One repository's efficiency over the window ending at ``week`` (see the module docstring)."""

    name: str
    week: date
    git_weeks: int  # weeks of the window with git figures
    ci_weeks: int  # weeks of the window with CI figures
    commits: float  # over the window
    commits_per_week: float | None
    churn_per_commit: float | None
    commits_per_contributor: float | None
    contributors: int
    collaboration_score: float | None
    top_contributor: str | None
    top_contributor_share: float | None
    judged_runs: float
    ci_success_rate: float | None
    median_duration_seconds: float | None
    deployments_per_week: float | None
    lead_time_median_hours: float | None
    completed_deployments: float
    change_failure_rate: float | None
    commits_trend: Trend
    deployments_trend: Trend
    churn_per_commit_trend: Trend
    workflow_failures: Mapping[str, float]  # the window's failures per failing workflow
    job_failures: Mapping[str, float]  # ... per failing "<workflow>/<job>"

    def summary(self) -> dict[str, float | int | str | None]:
        """The efficiency as one flat row (trends as their relative change), for a table."""
        return {
            "name": self.name,
            "week": self.week.isoformat(),
            "git_weeks": self.git_weeks,
            "ci_weeks": self.ci_weeks,
            "commits_per_week": self.commits_per_week,
            "churn_per_commit": self.churn_per_commit,
            "commits_per_contributor": self.commits_per_contributor,
            "collaboration_score": self.collaboration_score,
            "top_contributor_share": self.top_contributor_share,
            "ci_success_rate": self.ci_success_rate,
            "median_duration_s": self.median_duration_seconds,
            "deployments_per_week": self.deployments_per_week,
            "lead_time_median_h": self.lead_time_median_hours,
            "change_failure_rate": self.change_failure_rate,
            "commits_trend": self.commits_trend.change,
            "deployments_trend": self.deployments_trend.change,
            "churn_per_commit_trend": self.churn_per_commit_trend.change,
        }


@dataclass(frozen=True)
class Recommendation:
    scope: str
    name: str
    week: date
    rule: str  # the id of the rule of RULES that produced it
    severity: str
    finding: str
    action: str
    evidence: dict[str, float | str]  # the figures that triggered it, and "threshold"


Finding = tuple[str, dict[str, float | str]]  # what a rule found, and its figures


@dataclass(frozen=True)
class Rule:
    """A named rule: ``check`` gives the finding and its figures when the rule fires, else None;
    the recommendation's evidence is those figures and the rule's ``threshold``."""

    id: str
    severity: str
    threshold: float
    when: str
    action: str
    check: Callable[[TeamEfficiency], Finding | None]


# -- window figures -----------------------------------------------------------------------------
def window_of(week: date, weeks: int = WINDOW_WEEKS) -> tuple[date, date]:
    """The first and last Monday of the window of ``weeks`` weeks ending at the Monday ``week``."""
    if week.weekday() != 0:
        raise InsightsError(f"team insights: the week must be a Monday (a weekly partition), not {week.isoformat()}")
    if weeks < 1:
        raise InsightsError(f"team insights: the window must be at least one week, not {weeks}")
    return week - (weeks - 1) * ONE_WEEK, week


def _sum(rows: Iterable[Mapping[str, float | None]], metric: str) -> float:
    return sum(row.get(metric) or 0.0 for row in rows)


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _median(rows: Iterable[Mapping[str, float | None]], metric: str) -> float | None:
    values = [row[metric] for row in rows if row.get(metric) is not None]
    return statistics.median(values) if values else None


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _by_suffix(rows: Iterable[Mapping[str, float | None]], prefix: str) -> dict[str, float]:
    totals: Counter = Counter()
    for row in rows:
        for metric, value in row.items():
            if metric.startswith(prefix) and value:
                totals[metric.removeprefix(prefix)] += value
    return dict(totals)


def _most(totals: Mapping[str, float]) -> tuple[str, float] | None:
    """The key of the largest total (ties: the first by name)."""
    return min(totals.items(), key=lambda item: (-item[1], item[0])) if totals else None


def efficiency_of(name: str, week: date, weeks: Mapping[date, Mapping[str, float | None]]) -> TeamEfficiency:
    """The efficiency of ``name`` over the window's ``weeks`` (week → metric → value) ending at ``week``."""
    git = [weeks[w] for w in sorted(weeks) if weeks[w].get("git.commits") is not None]
    ci = [weeks[w] for w in sorted(weeks) if weeks[w].get("ci.runs") is not None]
    this = weeks.get(week, {})
    git_earlier = [row for w, row in sorted(weeks.items()) if w < week and row.get("git.commits") is not None]
    ci_earlier = [row for w, row in sorted(weeks.items()) if w < week and row.get("ci.runs") is not None]

    commits, churn = _sum(git, "git.commits"), _sum(git, "git.churn")
    per_contributor = _by_suffix(git, COMMITS_PREFIX)
    top = _most(per_contributor)
    judged = sum(_sum(ci, f"ci.outcome.{o}") for o in JUDGED_OUTCOMES)
    completed = _sum(ci, "dora.completed_deployments")
    this_commits = this.get("git.commits")
    this_churn_per_commit = _ratio(this.get("git.churn") or 0.0, this_commits) if this_commits else None
    return TeamEfficiency(
        name=name,
        week=week,
        git_weeks=len(git),
        ci_weeks=len(ci),
        commits=commits,
        commits_per_week=_mean([row["git.commits"] for row in git]),
        churn_per_commit=_ratio(churn, commits),
        commits_per_contributor=_ratio(commits, len(per_contributor)),
        contributors=len(per_contributor),
        collaboration_score=_mean(
            [
                row["git.collaboration_score"]
                for row in git
                if row.get("git.commits") and row.get("git.collaboration_score") is not None
            ]
        ),
        top_contributor=top[0] if top and commits else None,
        top_contributor_share=_ratio(top[1], commits) if top else None,
        judged_runs=judged,
        ci_success_rate=_ratio(_sum(ci, f"ci.outcome.{SUCCESS}"), judged),
        median_duration_seconds=_median(ci, "ci.median_duration_seconds"),
        deployments_per_week=_mean([row.get("dora.deployments") or 0.0 for row in ci]),
        lead_time_median_hours=_median(ci, "dora.lead_time_median_hours"),
        completed_deployments=completed,
        change_failure_rate=_ratio(_sum(ci, "dora.failed_deployments"), completed),
        commits_trend=Trend(this_commits, _mean([row["git.commits"] for row in git_earlier])),
        deployments_trend=Trend(
            this.get("dora.deployments") if this.get("ci.runs") is not None else None,
            _mean([row.get("dora.deployments") or 0.0 for row in ci_earlier]),
        ),
        churn_per_commit_trend=Trend(
            this_churn_per_commit, _ratio(_sum(git_earlier, "git.churn"), _sum(git_earlier, "git.commits"))
        ),
        workflow_failures=_by_suffix(ci, WORKFLOW_FAILURES_PREFIX),
        job_failures=_by_suffix(ci, JOB_FAILURES_PREFIX),
    )


# -- the rules ----------------------------------------------------------------------------------
def _percent(share: float) -> str:
    return f"{100 * share:.0f} %"


def _low_collaboration(e: TeamEfficiency) -> Finding | None:
    score = e.collaboration_score
    if score is None or score >= LOW_COLLABORATION_SCORE:
        return None
    return (
        f"mean weekly collaboration score {score:.1f} (weeks with commits), below {LOW_COLLABORATION_SCORE:g}",
        {"collaboration_score": score, "git_weeks": float(e.git_weeks)},
    )


def _bus_factor(e: TeamEfficiency) -> Finding | None:
    share = e.top_contributor_share
    if share is None or e.top_contributor is None or e.commits < BUS_FACTOR_MIN_COMMITS or share <= BUS_FACTOR_SHARE:
        return None
    return (
        f"{e.top_contributor} made {_percent(share)} of the window's {e.commits:g} commits "
        f"(more than {_percent(BUS_FACTOR_SHARE)})",
        {
            "top_contributor": e.top_contributor,
            "top_contributor_share": share,
            "commits": e.commits,
            "contributors": float(e.contributors),
            "min_commits": float(BUS_FACTOR_MIN_COMMITS),
        },
    )


def _low_ci_success(e: TeamEfficiency) -> Finding | None:
    rate = e.ci_success_rate
    if rate is None or rate >= LOW_CI_SUCCESS_RATE:
        return None
    evidence: dict[str, float | str] = {
        "ci_success_rate": rate,
        "judged_runs": e.judged_runs,
    }
    finding = (
        f"CI success rate {_percent(rate)} of {e.judged_runs:g} judged runs, below {_percent(LOW_CI_SUCCESS_RATE)}"
    )
    for kind, totals in (("workflow", e.workflow_failures), ("job", e.job_failures)):
        most = _most(totals)
        if most is not None:
            evidence[f"most_failing_{kind}"], evidence[f"{kind}_failures"] = most
            finding += f"; most failing {kind}: {most[0]} ({most[1]:g} failures)"
    return finding, evidence


def _change_failure_rate(e: TeamEfficiency) -> Finding | None:
    rate = e.change_failure_rate
    if rate is None or rate <= CHANGE_FAILURE_RATE_HIGH:
        return None
    band = dora_band("change_failure_rate", rate)
    return (
        f"change failure rate {_percent(rate)} of {e.completed_deployments:g} completed deployments: "
        f"DORA band {band}, above the high band's {_percent(CHANGE_FAILURE_RATE_HIGH)}",
        {
            "change_failure_rate": rate,
            "completed_deployments": e.completed_deployments,
            "band": str(band),
        },
    )


def _slow_lead_time(e: TeamEfficiency) -> Finding | None:
    hours = e.lead_time_median_hours
    if hours is None or dora_band("lead_time_for_changes", hours) != "low":
        return None
    return (
        f"median lead time for changes {hours:.0f} h: DORA band low (at least {LEAD_TIME_LOW_HOURS:g} h)",
        {"lead_time_median_hours": hours, "band": "low"},
    )


def _trend_evidence(figure: str, trend: Trend) -> dict[str, float | str]:
    return {
        f"{figure}_this_week": float(trend.this_week or 0.0),
        f"{figure}_earlier": float(trend.earlier or 0.0),  # the earlier weeks' mean or pooled ratio
        "ratio": float(trend.ratio or 0.0),
    }


def _deployments_falling(e: TeamEfficiency) -> Finding | None:
    trend = e.deployments_trend
    if trend.ratio is None or trend.ratio >= 1.0 - DEPLOYMENT_FALL:
        return None
    return (
        f"{trend.this_week:g} deployment(s) this week against {trend.earlier:.2f} a week in the earlier weeks: "
        f"down {_percent(1.0 - trend.ratio)} (more than {_percent(DEPLOYMENT_FALL)})",
        _trend_evidence("deployments", trend),
    )


def _churn_rising(e: TeamEfficiency) -> Finding | None:
    trend = e.churn_per_commit_trend
    if trend.ratio is None or trend.ratio <= CHURN_RISE:
        return None
    return (
        f"{trend.this_week:.0f} lines changed per commit this week against {trend.earlier:.0f} before: "
        f"× {trend.ratio:.1f} (more than × {CHURN_RISE:g})",
        _trend_evidence("churn_per_commit", trend),
    )


RULES: tuple[Rule, ...] = (
    Rule(
        "git.low_collaboration",
        "info",
        LOW_COLLABORATION_SCORE,
        "the window's mean collaboration score (weeks with commits) < 40",
        "Pair on changes and review across areas: have people change and review files others own.",
        _low_collaboration,
    ),
    Rule(
        "git.bus_factor",
        "warning",
        BUS_FACTOR_SHARE,
        "one contributor made > 60 % of the window's commits (at least 10 commits)",
        "Share the knowledge: pair with the main contributor, spread reviews and write down how things work.",
        _bus_factor,
    ),
    Rule(
        "ci.low_success_rate",
        "warning",
        LOW_CI_SUCCESS_RATE,
        "the window's CI success rate < 80 % (success ÷ success + failure + timed_out)",
        "Fix or quarantine the most failing workflow and job first; keep the main branch green.",
        _low_ci_success,
    ),
    Rule(
        "dora.change_failure_rate",
        "critical",
        CHANGE_FAILURE_RATE_HIGH,
        "the window's change failure rate > 10 % (worse than the DORA high band)",
        "Ship smaller changes and add tests (and checks before deployment) where the failures came from.",
        _change_failure_rate,
    ),
    Rule(
        "dora.slow_lead_time",
        "warning",
        LEAD_TIME_LOW_HOURS,
        "the window's median lead time in the DORA low band (≥ 720 h)",
        "Work in smaller batches: merge and deploy smaller changes more often.",
        _slow_lead_time,
    ),
    Rule(
        "dora.deployments_falling",
        "info",
        DEPLOYMENT_FALL,
        "this week's deployments > 50 % below the mean of the window's earlier weeks",
        "Find what blocks deployments (a red pipeline, a freeze, large pending changes) and unblock it.",
        _deployments_falling,
    ),
    Rule(
        "git.churn_rising",
        "info",
        CHURN_RISE,
        "this week's churn per commit > 2 × the window's earlier weeks'",
        "Split large changes into smaller commits and reviews; check for rewrites or generated files.",
        _churn_rising,
    ),
)
assert all(rule.severity in SEVERITIES for rule in RULES)


def rules_table() -> list[dict[str, str | float]]:
    """The rules as rows: id, severity, threshold, when it fires, what it recommends."""
    return [
        {"rule": r.id, "severity": r.severity, "threshold": r.threshold, "when": r.when, "action": r.action}
        for r in RULES
    ]


def recommend(efficiency: TeamEfficiency, scope: str = SCOPE) -> list[Recommendation]:
    """The recommendations of every rule of :data:`RULES` that fires on ``efficiency``, in the table's order."""
    found = []
    for rule in RULES:
        fired = rule.check(efficiency)
        if fired is not None:
            finding, figures = fired
            evidence = {**figures, "threshold": rule.threshold}
            found.append(
                Recommendation(
                    scope, efficiency.name, efficiency.week, rule.id, rule.severity, finding, rule.action, evidence
                )
            )
    return found


@dataclass(frozen=True)
class TeamInsights:
    week: date
    efficiency: list[TeamEfficiency]  # one per repository with figures in the week, by name
    recommendations: list[Recommendation]


def team_insights(engine: Engine, week: date, window_weeks: int = WINDOW_WEEKS, scope: str = SCOPE) -> TeamInsights:
    """The efficiency and the recommendations of every ``scope`` name with figures in ``week``, over
    the window of ``window_weeks`` weeks ending there (one select); empty when the week has none."""
    if scope not in METRIC_SCOPES:
        raise InsightsError(f"team insights: scope must be one of {METRIC_SCOPES}, not {scope!r}")
    first, last = window_of(week, window_weeks)
    efficiency = [
        efficiency_of(name, week, weeks)
        for name, weeks in sorted(read_weeks(engine, scope, first, last).items())
        if week in weeks
    ]
    return TeamInsights(week, efficiency, [r for e in efficiency for r in recommend(e, scope)])


# -- storage ------------------------------------------------------------------------------------
def replace_recommendations(
    engine: Engine, week: date, recommendations: Sequence[Recommendation], now: datetime | None = None
) -> int:
    """Write ``recommendations`` as the week's, replacing every row of that week (delete then insert
    in one transaction); the rows written."""
    other = [r for r in recommendations if r.week != week]
    if other:
        first = other[0]
        raise InsightsError(
            f"recommendations of {week.isoformat()}: {first.rule} of {first.name} is of {first.week.isoformat()}"
        )
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(sa.delete(StoredRecommendation).where(StoredRecommendation.period_start == week))
        if recommendations:
            conn.execute(
                sa.insert(StoredRecommendation),
                [
                    {
                        "scope": r.scope,
                        "name": r.name,
                        "period_start": r.week,
                        "rule": r.rule,
                        "severity": r.severity,
                        "finding": r.finding,
                        "action": r.action,
                        "evidence": r.evidence,
                        "created_at": now,
                    }
                    for r in recommendations
                ],
            )
    return len(recommendations)


def read_recommendations(engine: Engine, week: date) -> list[Recommendation]:
    """The week's stored recommendations, in the order they were written."""
    table = StoredRecommendation
    stmt = (
        sa.select(table.scope, table.name, table.period_start, table.rule, table.severity)
        .add_columns(table.finding, table.action, table.evidence)
        .where(table.period_start == week)
        .order_by(table.id)
    )
    with engine.connect() as conn:
        return [Recommendation(*row) for row in conn.execute(stmt)]
