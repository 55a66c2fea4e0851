"""The analytics domain's assets: the artifact library fed from the platform's own materializations
and the MLflow registry, the impact ranking, and weekly git and CI/CD metrics.

The logic is in :mod:`maestro_assets.lib.analytics`; these assets only read their inputs (the
Dagster instance, the lake, the git repositories of ``analytics.yaml``) and write through the
warehouse resource. Every asset that writes runs the analytics Alembic migrations first
(:func:`~maestro_assets.lib.analytics.store.upgrade`, a no-op on a database already at head):
there is no separate store asset to forget to materialize, and any one of them can run first.
"""

from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetRecordsFilter,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    asset,
)
from dagster_shared.check import CheckError  # what a run without a repository definition raises

from ...lib.analytics import store
from ...lib.analytics.artifacts import MLFLOW_CURSOR, ArtifactLibrary, register_mlflow_models
from ...lib.analytics.cicd import cicd_metrics, week_window
from ...lib.analytics.config import ci_runs
from ...lib.analytics.git_metrics import commit_times, repository_week
from ...lib.analytics.materializations import Materialization, Upstream, register_materializations
from ...lib.analytics.plots import usage_plot
from ...lib.analytics.process_metrics import (
    CI_PREFIXES,
    GIT_PREFIX,
    cicd_week_values,
    git_week_values,
    replace_week,
)
from ...lib.models.plots import markdown_image
from ...resources import LakeResource, MlflowResource, WarehouseResource
from ..config import ANALYTICS, MODELS, WEEKLY
from ..demo.assets import CI_KEY, GIT_KEY
from ..failures import RETRY, bad_input_fails_fast
from ..models.assets import predictions_key

GROUP = "analytics"
OWNER = "team:platform"
EVENTS_CURSOR = "dagster_materializations"  # the storage id of the last materialization read
PAGE = 500
TOP = 10
DATA_VERSION_TAG = "dagster/data_version"
INPUT_DATA_VERSION_TAG = "dagster/input_data_version/"
MODEL_OF_PREDICTIONS = {predictions_key(name): name for name in MODELS}


def analytics_library(warehouse: WarehouseResource) -> ArtifactLibrary:
    """The artifact library on the warehouse, its tables migrated to head first."""
    engine = warehouse.client().engine
    store.upgrade(engine)
    return ArtifactLibrary(engine)


def _md(frame: pd.DataFrame) -> MetadataValue:
    return MetadataValue.md(frame.to_markdown(index=False) if len(frame) else "_empty_")


def _materializations(context: AssetExecutionContext, after: int | None) -> list[Materialization]:
    """The materializations stored after ``after`` of every asset of the code location, oldest first."""
    graph = _asset_graph(context)
    found = []
    for key in graph.materializable_asset_keys:
        node = graph.get(key)
        cursor = None
        while True:
            page = context.instance.fetch_materializations(
                AssetRecordsFilter(asset_key=key, after_storage_id=after), limit=PAGE, cursor=cursor, ascending=True
            )
            for record in page.records:
                found.append(_materialization(record, node, graph))
            if not page.has_more:
                break
            cursor = page.cursor
    return sorted(found, key=lambda m: m.storage_id)


def _asset_graph(context: AssetExecutionContext):
    """The code location's asset graph: the run's repository's, or — a run outside a code location
    (``materialize()`` in a test or a script), whose job knows only the selected assets — the one
    of Maestro's merged definitions."""
    try:
        return context.repository_def.asset_graph
    except CheckError:
        from ...definitions import defs  # imported here: the merged definitions import this module

        return defs.resolve_asset_graph()


def _materialization(record, node, graph) -> Materialization:
    event = record.asset_materialization
    tags = event.tags or {}
    upstream = tuple(
        Upstream(
            parent.to_user_string(),
            graph.get(parent).group_name if graph.has(parent) else None,
            tags.get(f"{INPUT_DATA_VERSION_TAG}{parent.to_user_string()}"),
        )
        for parent in sorted(node.parent_keys, key=AssetKey.to_user_string)
    )
    model = None
    if node.key in MODEL_OF_PREDICTIONS:
        stated = event.metadata.get("model_version")
        version = str(stated.value) if stated is not None and str(stated.value) != "none" else None
        model = (MODEL_OF_PREDICTIONS[node.key], version)
    return Materialization(
        storage_id=record.storage_id,
        asset_key=node.key.to_user_string(),
        group=node.group_name,
        version=tags.get(DATA_VERSION_TAG),
        run_id=record.run_id,
        partition=event.partition,
        timestamp=datetime.fromtimestamp(record.timestamp, UTC),
        owners=tuple(node.owners),
        description=node.description,
        upstream=upstream,
        model=model,
    )


@asset(
    name="artifact_library",
    group_name=GROUP,
    owners=[OWNER],
    kinds={"sql", "python"},
    retry_policy=RETRY,
    description="Every dataset, feature view and model the platform made, as artifact versions: the "
    "Dagster instance's new materializations (a cursor in analytics_cursors) with their lineage usage, "
    "batch predictions' use of their model, and the MLflow registry's new model versions.",
)
@bad_input_fails_fast
def artifact_library(context: AssetExecutionContext, warehouse: WarehouseResource, mlflow: MlflowResource):
    library = analytics_library(warehouse)
    # the registry first: a batch-predictions event is a use of a model version, which must be known
    registry = register_mlflow_models(library, mlflow.client().client, library.cursor(MLFLOW_CURSOR))
    library.set_cursor(MLFLOW_CURSOR, registry.cursor)
    saved = library.cursor(EVENTS_CURSOR)
    events = register_materializations(library, _materializations(context, int(saved) if saved else None))
    if events.last_storage_id is not None:
        library.set_cursor(EVENTS_CURSOR, str(events.last_storage_id))
    context.log.info(
        f"{events.read} materialization(s) read, {len(events.registered)} new version(s); "
        f"{len(registry.read)} MLflow version(s) read, {len(registry.registered)} new"
    )
    top = library.top_artifacts(TOP)[["kind", "name", "latest_version", "versions", "uses", "impact_score"]]
    return MaterializeResult(
        metadata={
            "materializations_read": events.read,
            "versions_registered": len(events.registered),
            "registered": MetadataValue.json(events.registered[:100]),
            "not_artifacts": events.not_artifacts,
            "usage_recorded": events.usage_recorded,
            "mlflow_versions_read": len(registry.read),
            "mlflow_versions_registered": len(registry.registered),
            "events_cursor": library.cursor(EVENTS_CURSOR) or "none",
            "mlflow_cursor": registry.cursor,
            "catalogue_top": _md(top),
        }
    )


@asset(
    name="top_artifacts",
    group_name=GROUP,
    owners=[OWNER],
    kinds={"python"},
    deps=[artifact_library],
    retry_policy=RETRY,
    description="The artifacts of highest impact score, with the score's terms, and their usage per week.",
)
@bad_input_fails_fast
def top_artifacts(context: AssetExecutionContext, warehouse: WarehouseResource):
    library = analytics_library(warehouse)
    top = library.top_artifacts(TOP)
    columns = ["kind", "name", "impact_score", "breadth", "volume", "recency", "success", "uses", "consumers"]
    usage = {f"{row.kind}:{row.name}": library.usage_over_time(row.name, row.kind) for row in top.itertuples()}
    return MaterializeResult(
        metadata={
            "artifacts": len(top),
            "impact": _md(top[columns].round(4)),
            "usage_over_time": MetadataValue.md(markdown_image(usage_plot(usage), "usage of the top artifacts")),
        }
    )


def _weeks_and_engine(context: AssetExecutionContext, warehouse: WarehouseResource) -> tuple[list[date], Any]:
    """The Mondays of the run's partitions (one, or a range in one run), and the migrated warehouse
    a weekly asset writes its rows to."""
    return [date.fromisoformat(key) for key in context.partition_keys], analytics_library(warehouse).engine


def weekly_asset(name: str, kinds: set[str], upstream: AssetKey, description: str):
    """The decorator of a weekly metrics asset of the group, downstream of what it reads; a range
    of weeks (a backfill) is one run, each week computed and replaced on its own."""
    return asset(
        name=name,
        kinds=kinds,
        deps=[upstream],
        description=description,
        group_name=GROUP,
        owners=[OWNER],
        partitions_def=WEEKLY,
        backfill_policy=BackfillPolicy.single_run(),
        retry_policy=RETRY,
    )


def _row_counts(context: AssetExecutionContext, written: dict[str, int]) -> None:
    for key, rows in written.items():  # the UI's partition view shows each week's own count
        context.add_asset_metadata({"dagster/row_count": rows}, partition_key=key)


@weekly_asset(
    "git_weekly_metrics",
    {"git", "sql"},
    GIT_KEY,
    "Per configured git repository and week (committer date): commits, contributors, churn, "
    "active branches, contributor activity and the collaboration score, in analytics_process_metrics.",
)
@bad_input_fails_fast
def git_weekly_metrics(context: AssetExecutionContext, warehouse: WarehouseResource):
    weeks, engine = _weeks_and_engine(context, warehouse)
    rows, people, written = [], [], dict.fromkeys(context.partition_keys, 0)
    for week in weeks:
        for repository in ANALYTICS.repositories:
            metrics, contributors = repository_week(repository.local_path(), week)
            values = git_week_values(metrics, contributors)
            written[week.isoformat()] += replace_week(engine, "repository", repository.name, week, GIT_PREFIX, values)
            rows.append({"repository": repository.name, **vars(metrics)})
            people += [{"repository": repository.name, **vars(c)} for c in contributors]
    table = pd.DataFrame(rows).drop(columns=["week_start"])
    score = ["partition_key", "repository", "collaboration_score", "evenness", "shared_files", "integration"]
    _row_counts(context, written)
    return MaterializeResult(
        metadata={
            "rows_written": sum(written.values()),
            "repositories": len(ANALYTICS.repositories),
            "weeks": len(weeks),
            "week": _md(table.drop(columns=score[2:])),
            "collaboration_score": _md(table[score]),
            "contributors": _md(pd.DataFrame(people).drop(columns=["week_start"], errors="ignore")),
        }
    )


@weekly_asset(
    "cicd_weekly_metrics",
    {"github", "sql"},
    CI_KEY,
    "Per configured CI source and week (run creation time): success rate, durations, outcomes, "
    "failure patterns and the four DORA metrics with their bands, in analytics_process_metrics.",
)
@bad_input_fails_fast
def cicd_weekly_metrics(context: AssetExecutionContext, warehouse: WarehouseResource, lake: LakeResource):
    weeks, engine = _weeks_and_engine(context, warehouse)
    predicate = ANALYTICS.deployment_predicate()
    rows, bands, patterns, written = [], [], [], dict.fromkeys(context.partition_keys, 0)
    span = (week_window(weeks[0])[0], week_window(weeks[-1])[1])
    for source in ANALYTICS.ci_sources:
        runs = ci_runs(source, lake.client(), span, predicate)
        repository = ANALYTICS.repository(source.repository)
        times = commit_times(repository.local_path()) if repository is not None else None
        for week in weeks:
            metrics = cicd_metrics(runs, *week_window(week), commit_times=times)
            values = cicd_week_values(metrics)
            written[week.isoformat()] += replace_week(engine, "repository", source.name, week, CI_PREFIXES, values)
            dora = metrics.dora
            rows.append(
                {
                    "week": week.isoformat(),
                    "source": source.name,
                    "runs": metrics.runs,
                    "success_rate": metrics.success_rate,
                    "average_duration_s": metrics.average_duration_seconds,
                    "median_duration_s": metrics.median_duration_seconds,
                    "deployments": dora.deployments,
                    "lead_time_median_h": dora.lead_time_median_hours,
                    "change_failure_rate": dora.change_failure_rate,
                    "time_to_restore_median_h": dora.time_to_restore_median_hours,
                }
            )
            bands.append({"week": week.isoformat(), "source": source.name, **dora.bands})
            patterns += [
                {"week": week.isoformat(), "source": source.name, **vars(p)} for p in metrics.failure_patterns[:5]
            ]
    _row_counts(context, written)
    return MaterializeResult(
        metadata={
            "rows_written": sum(written.values()),
            "sources": len(ANALYTICS.ci_sources),
            "weeks": len(weeks),
            "week": _md(pd.DataFrame(rows)),
            "dora_bands": _md(pd.DataFrame(bands)),
            "failure_patterns": _md(pd.DataFrame(patterns)),
        }
    )


ANALYTICS_ASSETS = [artifact_library, top_artifacts, git_weekly_metrics, cicd_weekly_metrics]
