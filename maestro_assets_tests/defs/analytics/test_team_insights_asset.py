"""team_insights through Dagster on the demo at a tiny scale: the weekly git and CI/CD metrics of the
busiest week's window, then the team insights of those weeks in one run; the stored
recommendations are what the lib computes from the stored metrics, the metadata shows them, and a
re-run of a week replaces its rows. The asset is in the analytics_weekly job."""

from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa
from dagster import DagsterInstance, materialize

from maestro_assets.definitions import defs as code_location
from maestro_assets.defs.analytics.assets import cicd_weekly_metrics, git_weekly_metrics
from maestro_assets.defs.analytics.insights import team_insights_asset
from maestro_assets.defs.runs import partition_range_tags
from maestro_assets.lib.analytics.insights import RULES, WINDOW_WEEKS, read_recommendations, team_insights
from maestro_assets.lib.analytics.process_metrics import read_week
from maestro_assets.lib.analytics.store import StoredRecommendation
from maestro_assets_tests.defs.analytics.test_analytics_assets import (  # noqa: F401 (a fixture)
    REPOSITORY,
    busiest_week,
    demo_resources,
    seed,
)

WEEKLY_ASSETS = [git_weekly_metrics, cicd_weekly_metrics, team_insights_asset]


def test_team_insights_stores_what_the_lib_computes_from_the_stored_metrics(demo_resources):  # noqa: F811
    with DagsterInstance.ephemeral() as instance:
        seed(instance, demo_resources)
        week = busiest_week()
        window = [week - timedelta(days=7 * n) for n in range(WINDOW_WEEKS - 1, -1, -1)]
        keys = [w.isoformat() for w in window]
        result = materialize(  # the whole window in one run, as a single-run backfill does
            WEEKLY_ASSETS, resources=demo_resources, instance=instance, tags=partition_range_tags(keys[0], keys[-1])
        )
        assert result.success
        assert instance.get_materialized_partitions(team_insights_asset.key) == set(keys)
        rerun = materialize(  # the busiest week again, alone: its rows are replaced
            WEEKLY_ASSETS, resources=demo_resources, instance=instance, partition_key=week.isoformat()
        )
        assert rerun.success

    engine = demo_resources["warehouse"].client().engine
    stored = {w: read_recommendations(engine, w) for w in window}
    for w in window:
        assert stored[w] == team_insights(engine, w).recommendations
    insights = team_insights(engine, week)
    [efficiency] = insights.efficiency
    assert efficiency.name == REPOSITORY and efficiency.git_weeks == efficiency.ci_weeks == WINDOW_WEEKS
    assert efficiency.commits > 0 and efficiency.ci_success_rate is not None
    ci = read_week(engine, "repository", REPOSITORY, week, "ci.")
    failed = ci["ci.outcome.failure"] + ci["ci.outcome.timed_out"]
    assert failed > 0  # every failed run is one of its workflow's failures
    assert sum(v for k, v in ci.items() if k.startswith("ci.workflow_failures.")) == failed
    everything = [r for w in window for r in stored[w]]
    assert everything, "the demo's window gives at least one recommendation"
    with engine.connect() as conn:  # nothing left over from the first run of the week
        assert conn.execute(sa.select(sa.func.count()).select_from(StoredRecommendation)).scalar_one() == len(
            everything
        )

    events = result.asset_materializations_for_node("team_insights")
    assert {e.partition: e.metadata["dagster/row_count"].value for e in events} == {
        w.isoformat(): len(stored[w]) for w in window
    }
    metadata = events[-1].metadata
    assert metadata["rows_written"].value == len(everything)
    table = metadata["recommendations"].value
    for r in everything:
        assert r.rule in table and r.finding in table and json.dumps(r.evidence, sort_keys=True) in table
    by_severity = metadata["recommendations_by_severity"].value
    assert sum(by_severity.values()) == len(everything)
    assert all(by_severity[s] == sum(r.severity == s for r in everything) for s in by_severity)
    assert all(rule.id in metadata["rules"].value for rule in RULES)
    assert REPOSITORY in metadata["efficiency"].value and "change_failure_rate" in metadata["efficiency"].value
    rerun_metadata = rerun.asset_materializations_for_node("team_insights")[-1].metadata
    assert rerun_metadata["dagster/row_count"].value == len(stored[week])


def test_the_weekly_job_computes_the_insights_after_the_metrics():
    job = code_location.resolve_job_def("analytics_weekly")
    assert team_insights_asset.key in job.asset_layer.executable_asset_keys
    graph = code_location.resolve_asset_graph()
    assert graph.get(team_insights_asset.key).parent_keys == {git_weekly_metrics.key, cicd_weekly_metrics.key}
