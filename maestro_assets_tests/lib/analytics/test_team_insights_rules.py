"""Team efficiency and the recommendation rules on hand-built weekly metrics in a real warehouse
(SQLite, and PostgreSQL for the store): each rule fires just beyond its threshold and not at it
(the lead-time rule: at it and not just before), carries its figures and threshold, and stays
silent when its metric is missing; a week with no metrics gives nothing; a re-run of a week
replaces its recommendations."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from maestro_assets.lib.analytics import store
from maestro_assets.lib.analytics.insights import (
    RULES,
    InsightsError,
    Recommendation,
    read_recommendations,
    replace_recommendations,
    team_insights,
)
from maestro_assets.lib.analytics.process_metrics import replace_week
from maestro_assets.lib.warehouse import dispose_engines, get_engine

WEEK = date(2026, 10, 5)  # a Monday: the week judged
WINDOW = [WEEK - timedelta(days=7 * n) for n in (3, 2, 1, 0)]  # oldest first
REPOSITORY = "svc"
FAMILIES = ("git.", "ci.", "dora.")


def git_week(commits=4.0, churn=40.0, score=80.0, by=None) -> dict[str, float]:
    by = by if by is not None else {"ana@x.org": commits / 2, "ben@x.org": commits / 2}
    return {
        "git.commits": commits,
        "git.churn": churn,
        "git.collaboration_score": score,
        "git.contributors": float(sum(1 for n in by.values() if n)),
        **{f"git.contributor.commits.{who}": n for who, n in by.items()},
    }


def ci_week(success=10, failure=0, timed_out=0, deployments=2, failed=0, lead=10.0, workflows=None, jobs=None):
    judged = success + failure + timed_out
    return {
        "ci.runs": float(judged),
        "ci.outcome.success": float(success),
        "ci.outcome.failure": float(failure),
        "ci.outcome.timed_out": float(timed_out),
        "ci.outcome.cancelled": 0.0,
        "ci.success_rate": success / judged if judged else None,
        "ci.median_duration_seconds": 60.0 if judged else None,
        "dora.deployments": float(deployments),
        "dora.failed_deployments": float(failed),
        "dora.completed_deployments": float(deployments + failed),
        "dora.change_failure_rate": failed / (deployments + failed) if deployments + failed else None,
        "dora.lead_time_median_hours": lead if deployments else None,
        **{f"ci.workflow_failures.{w}": float(n) for w, n in (workflows or {}).items()},
        **{f"ci.job_failures.{j}": float(n) for j, n in (jobs or {}).items()},
    }


@pytest.fixture
def engine(tmp_path):
    engine = get_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")
    store.upgrade(engine)
    yield engine
    dispose_engines()


def write(engine, weeks: dict[date, dict[str, float | None]], name: str = REPOSITORY) -> None:
    for week, values in weeks.items():
        replace_week(engine, "repository", name, week, FAMILIES, values)


def window(git=None, ci=None, this_git=None, this_ci=None) -> dict[date, dict[str, float | None]]:
    """Four weeks of ``git`` and ``ci`` figures (neutral by default), the judged week's own if given."""
    git, ci = git or {}, ci or {}
    weeks = {w: git_week(**git) | ci_week(**ci) for w in WINDOW}
    weeks[WEEK] = git_week(**(this_git or git)) | ci_week(**(this_ci or ci))
    return weeks


def fired(engine, weeks) -> dict[str, Recommendation]:
    write(engine, weeks)
    found = team_insights(engine, WEEK).recommendations
    assert all(r.week == WEEK and r.name == REPOSITORY and r.scope == "repository" for r in found)
    return {r.rule: r for r in found}


# (rule, the window at its threshold (or just short of it), the window beyond it, evidence expected)
CASES = [
    (
        "git.low_collaboration",
        window(git={"score": 40.0}),
        window(git={"score": 39.9}),
        {"collaboration_score": 39.9, "threshold": 40.0},
    ),
    (
        "git.bus_factor",
        window(git={"commits": 5.0, "by": {"ana@x.org": 3.0, "ben@x.org": 2.0}}),  # 12 of 20: 60 %
        window(git={"commits": 5.0, "by": {"ana@x.org": 4.0, "ben@x.org": 1.0}}),  # 16 of 20: 80 %
        {"top_contributor": "ana@x.org", "top_contributor_share": 0.8, "commits": 20.0, "threshold": 0.6},
    ),
    (
        "ci.low_success_rate",
        window(ci={"success": 8, "failure": 2, "workflows": {"build": 2}}),  # 32 of 40: 80 %
        window(
            ci={"success": 8, "failure": 2, "workflows": {"build": 2}, "jobs": {"build/test": 2}},
            this_ci={"success": 7, "failure": 2, "timed_out": 1, "workflows": {"build": 2, "deploy": 1}},
        ),  # 31 of 40
        {
            "ci_success_rate": 31 / 40,
            "judged_runs": 40.0,
            "most_failing_workflow": "build",
            "workflow_failures": 8.0,
            "most_failing_job": "build/test",
            "job_failures": 6.0,
            "threshold": 0.8,
        },
    ),
    (
        "dora.change_failure_rate",
        window(ci={"deployments": 9, "failed": 1}),  # 4 of 40: 10 %, the top of the high band
        window(ci={"deployments": 8, "failed": 2}),  # 8 of 40: 20 %
        {"change_failure_rate": 0.2, "completed_deployments": 40.0, "band": "low", "threshold": 0.1},
    ),
    (
        "dora.slow_lead_time",
        window(ci={"lead": 719.9}),  # the medium band
        window(ci={"lead": 720.0}),  # the low band starts at a month
        {"lead_time_median_hours": 720.0, "band": "low", "threshold": 720.0},
    ),
    (
        "dora.deployments_falling",
        window(ci={"deployments": 4}, this_ci={"deployments": 2}),  # down 50 %
        window(ci={"deployments": 4}, this_ci={"deployments": 1}),  # down 75 %
        {"deployments_this_week": 1.0, "deployments_earlier": 4.0, "ratio": 0.25, "threshold": 0.5},
    ),
    (
        "git.churn_rising",
        window(git={"churn": 40.0}, this_git={"churn": 80.0}),  # 20 against 10 lines a commit: × 2
        window(git={"churn": 40.0}, this_git={"churn": 84.0}),  # × 2.1
        {"churn_per_commit_this_week": 21.0, "churn_per_commit_earlier": 10.0, "ratio": 2.1, "threshold": 2.0},
    ),
]


def test_every_rule_of_the_table_is_tested():
    assert [case[0] for case in CASES] == [rule.id for rule in RULES]


@pytest.mark.parametrize(("rule", "at_threshold", "beyond", "evidence"), CASES, ids=[c[0] for c in CASES])
def test_each_rule_fires_only_beyond_its_threshold_with_its_evidence(engine, rule, at_threshold, beyond, evidence):
    assert fired(engine, window()) == {}  # the neutral window: nothing to recommend
    assert rule not in fired(engine, at_threshold)
    found = fired(engine, beyond)
    assert list(found) == [rule]  # only this rule: the others' figures did not move
    recommendation = found[rule]
    assert {k: recommendation.evidence[k] for k in evidence} == pytest.approx(evidence)
    spec = next(r for r in RULES if r.id == rule)
    assert (recommendation.severity, recommendation.action) == (spec.severity, spec.action)
    assert recommendation.finding


def test_no_rule_fires_on_missing_metrics(engine):
    """No commits, no judged CI run, no deployment, no earlier week: nothing is judged, no fake finding."""
    silent_git = git_week(commits=0.0, churn=0.0, score=0.0, by={})
    silent_ci = ci_week(success=0, deployments=0)
    write(engine, {WEEK: silent_git | silent_ci})
    insights = team_insights(engine, WEEK)
    [efficiency] = insights.efficiency
    assert efficiency.collaboration_score is None and efficiency.ci_success_rate is None
    assert efficiency.change_failure_rate is None and efficiency.lead_time_median_hours is None
    assert efficiency.churn_per_commit_trend.ratio is None and efficiency.deployments_trend.ratio is None
    assert insights.recommendations == []


def test_a_week_without_commits_does_not_lower_the_collaboration_score_and_few_commits_are_no_bus_factor(engine):
    weeks = window(git={"score": 40.0})
    weeks[WINDOW[0]] = git_week(commits=0.0, churn=0.0, score=0.0, by={}) | ci_week()  # scored 0: no commits
    assert fired(engine, weeks) == {}
    lonely = window(git={"commits": 0.0, "churn": 0.0, "by": {}}, this_git={"commits": 9.0, "by": {"ana@x.org": 9.0}})
    assert fired(engine, lonely) == {}  # one person, 9 commits: under the 10 the rule needs
    lonely[WEEK] = git_week(commits=10.0, churn=40.0, by={"ana@x.org": 10.0}) | ci_week()
    assert fired(engine, lonely)["git.bus_factor"].evidence["top_contributor_share"] == 1.0


def test_the_efficiency_of_a_window_counts_only_the_weeks_computed(engine):
    weeks = {
        WINDOW[1]: git_week(commits=2.0, churn=30.0, by={"ana@x.org": 2.0}) | ci_week(success=3, failure=1, lead=20.0),
        WEEK: git_week(commits=6.0, churn=30.0, by={"ana@x.org": 3.0, "ben@x.org": 3.0})
        | ci_week(success=5, failure=1, deployments=3, failed=1, lead=40.0),
    }
    write(engine, weeks)
    write(engine, {WEEK: git_week(commits=100.0)}, name="other")  # another repository: its own row
    write(engine, {WEEK - timedelta(days=28): git_week(commits=100.0)})  # before the window: not read
    insights = team_insights(engine, WEEK)
    assert [e.name for e in insights.efficiency] == ["other", REPOSITORY]
    e = insights.efficiency[1]
    assert (e.git_weeks, e.ci_weeks, e.commits) == (2, 2, 8.0)
    assert e.commits_per_week == 4.0  # the two weeks computed, not four
    assert e.churn_per_commit == 60.0 / 8.0
    assert (e.contributors, e.commits_per_contributor) == (2, 4.0)
    assert (e.top_contributor, e.top_contributor_share) == ("ana@x.org", 5.0 / 8.0)
    assert e.ci_success_rate == 8.0 / 10.0
    assert e.deployments_per_week == 2.5
    assert e.lead_time_median_hours == 30.0
    assert e.change_failure_rate == 1.0 / 6.0
    assert (e.commits_trend.this_week, e.commits_trend.earlier, e.commits_trend.change) == (6.0, 2.0, 2.0)
    assert e.churn_per_commit_trend.ratio == (30.0 / 6.0) / (30.0 / 2.0)
    assert e.summary()["commits_trend"] == 2.0


def test_a_week_with_no_metrics_gives_an_empty_result(engine):
    assert team_insights(engine, WEEK).recommendations == []
    write(engine, {WINDOW[0]: git_week(score=10.0) | ci_week(success=1, failure=9)})  # only an earlier week
    insights = team_insights(engine, WEEK)
    assert (insights.efficiency, insights.recommendations) == ([], [])
    with pytest.raises(InsightsError, match="must be a Monday.*2026-10-06"):
        team_insights(engine, WEEK + timedelta(days=1))


@pytest.fixture(params=["sqlite", "postgres"])
def any_engine(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    engine = get_engine(url)
    store.upgrade(engine)
    yield engine
    dispose_engines()


def test_a_rerun_of_a_week_replaces_its_recommendations(any_engine):
    engine = any_engine
    write(engine, window(git={"score": 39.9}, ci={"success": 7, "failure": 3, "workflows": {"build": 3}}))
    first = team_insights(engine, WEEK).recommendations
    assert [r.rule for r in first] == ["git.low_collaboration", "ci.low_success_rate"]
    assert replace_recommendations(engine, WEEK, first) == 2
    assert read_recommendations(engine, WEEK) == first  # evidence, dates and text come back as written
    earlier = [Recommendation("repository", REPOSITORY, WINDOW[0], "git.bus_factor", "warning", "f", "a", {})]
    replace_recommendations(engine, WINDOW[0], earlier)

    write(engine, window(git={"score": 39.9}))  # CI fixed: the re-run finds one
    second = team_insights(engine, WEEK).recommendations
    for _ in range(2):
        assert replace_recommendations(engine, WEEK, second) == 1
    assert read_recommendations(engine, WEEK) == second  # replaced, not added to
    assert read_recommendations(engine, WINDOW[0]) == earlier  # another week is left alone
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(store.StoredRecommendation)).scalar_one() == 2
    with pytest.raises(InsightsError, match="git.bus_factor of svc is of 2026-09-14"):
        replace_recommendations(engine, WEEK, earlier)
