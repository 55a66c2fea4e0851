"""The weekly team insights: each repository's team efficiency over the trailing window of weeks of
process metrics, and the recommendations of the named rules, stored in analytics_recommendations.

The logic is in :mod:`maestro_assets.lib.analytics.insights`; this asset reads the metrics the git
and CI/CD weekly assets wrote for the window (the week and the three before it) and writes the
week's recommendations through the warehouse resource, replacing a re-run's.
"""

import json

import pandas as pd
from dagster import (
    AssetDep,
    AssetExecutionContext,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    TimeWindowPartitionMapping,
    asset,
)

from ...lib.analytics.insights import (
    WINDOW_WEEKS,
    Recommendation,
    replace_recommendations,
    rules_table,
    team_insights,
)
from ...lib.analytics.store import SEVERITIES
from ...resources import WarehouseResource
from ..config import WEEKLY
from ..failures import RETRY, bad_input_fails_fast
from .assets import GROUP, OWNER, _md, _row_counts, _weeks_and_engine, cicd_weekly_metrics, git_weekly_metrics

# each week reads the metrics of its window: that week and the WINDOW_WEEKS - 1 before it
WINDOW = TimeWindowPartitionMapping(start_offset=-(WINDOW_WEEKS - 1))


def recommendation_rows(recommendations: list[Recommendation]) -> pd.DataFrame:
    """The recommendations as a table: week, repository, rule, severity, finding, action, evidence."""
    return pd.DataFrame(
        [
            {
                "week": r.week.isoformat(),
                "name": r.name,
                "rule": r.rule,
                "severity": r.severity,
                "finding": r.finding,
                "action": r.action,
                "evidence": json.dumps(r.evidence, sort_keys=True),
            }
            for r in recommendations
        ]
    )


@asset(
    name="team_insights",
    kinds={"python", "sql"},
    deps=[
        AssetDep(git_weekly_metrics, partition_mapping=WINDOW),
        AssetDep(cicd_weekly_metrics, partition_mapping=WINDOW),
    ],
    description=f"Per repository and week, the team efficiency over the {WINDOW_WEEKS} weeks ending there "
    "(commits, churn per commit, commits per contributor, CI success rate and duration, deployments, lead "
    "time, change failure rate, trends) and the recommendations of the named rules, with the figures "
    "that triggered each, in analytics_recommendations.",
    group_name=GROUP,
    owners=[OWNER],
    partitions_def=WEEKLY,
    backfill_policy=BackfillPolicy.single_run(),
    retry_policy=RETRY,
)
@bad_input_fails_fast
def team_insights_asset(context: AssetExecutionContext, warehouse: WarehouseResource):
    weeks, engine = _weeks_and_engine(context, warehouse)
    efficiency, recommendations, written = [], [], dict.fromkeys(context.partition_keys, 0)
    for week in weeks:
        insights = team_insights(engine, week)
        written[week.isoformat()] = replace_recommendations(engine, week, insights.recommendations)
        efficiency += [e.summary() for e in insights.efficiency]
        recommendations += insights.recommendations
    by_severity = {severity: sum(r.severity == severity for r in recommendations) for severity in SEVERITIES}
    context.log.info(f"{len(recommendations)} recommendation(s) over {len(weeks)} week(s): {by_severity}")
    _row_counts(context, written)
    return MaterializeResult(
        metadata={
            "rows_written": sum(written.values()),
            "weeks": len(weeks),
            "window_weeks": WINDOW_WEEKS,
            "recommendations_by_severity": MetadataValue.json(by_severity),
            "efficiency": _md(pd.DataFrame(efficiency).round(4)),
            "recommendations": _md(recommendation_rows(recommendations)),
            "rules": _md(pd.DataFrame(rules_table())),
        }
    )


INSIGHTS_ASSETS = [team_insights_asset]
