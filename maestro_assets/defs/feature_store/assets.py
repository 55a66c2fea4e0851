"""Feast assets: the registry (``feast apply`` with its diff) and the online store, filled one
gold partition at a time, with online latency and a health check on every materialization."""

import random
from datetime import UTC, datetime

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AutomationCondition,
    BackfillPolicy,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from ...lib.dates import days_of_window, end_of_day
from ...lib.feature_store.apply import apply_repo
from ...lib.feature_store.online import (
    OnlineFeatures,
    measure_latency,
    missing_entities,
    newest_online_timestamp,
    write_partition_online,
)
from ...lib.feature_store.services import FEATURE_SERVICES
from ...lib.features.catalog import TABLES
from ...lib.settings import feature_repo_path
from ...resources import FeatureStoreResource, LakeResource
from ..config import DAILY
from ..failures import RETRY, bad_input_fails_fast
from ..features.assets import gold_key

GROUP = "feature_store"
REGISTRY_KEY = AssetKey("feast_registry")
ONLINE_KEY = AssetKey("feast_online_store")
HEALTH_CHECK = "online_store_health"
SAMPLE_ENTITIES = 100


@asset(
    key=REGISTRY_KEY,
    description=(
        "Feast registry: `feast apply` of feature_repo/ (entities user, task, project, team; a feature view "
        "per gold table; the task_lateness and project_success feature services). The metadata shows what "
        "was added, changed or removed."
    ),
    group_name=GROUP,
    owners=["team:ml-platform"],
    kinds={"feast"},
    deps=[gold_key(entity) for entity in TABLES],
    retry_policy=RETRY,
)
@bad_input_fails_fast
def feast_registry(feature_store: FeatureStoreResource) -> MaterializeResult:
    store = feature_store.client()
    result = apply_repo(store, feature_store.repo_path or feature_repo_path())
    return MaterializeResult(
        metadata={
            "diff": MetadataValue.md(result.markdown()),
            "added": result.count("added"),
            "changed": result.count("changed"),
            "removed": result.count("removed"),
            "feature_views": len(store.list_feature_views()),
            "feature_services": len(store.list_feature_services()),
        }
    )


class OnlineStoreConfig(Config):
    every_partition: bool = Field(
        default=False,
        description="Re-materialize every gold partition in the lake (one day at a time), not just this run's.",
    )


@asset(
    key=ONLINE_KEY,
    description=(
        "Feast online store: each gold day written to the online store (SQLite here, Redis in production), "
        "one partition window per write, so a failed run resumes where it stopped. Records the online "
        "latency (p50/p95/p99, 1 and 100 entities) of each feature service."
    ),
    group_name=GROUP,
    owners=["team:ml-platform"],
    kinds={"feast", "sqlite"},
    deps=[REGISTRY_KEY, *(gold_key(entity) for entity in TABLES)],
    partitions_def=DAILY,
    backfill_policy=BackfillPolicy.single_run(),
    retry_policy=RETRY,
    automation_condition=AutomationCondition.eager(),
    check_specs=[
        AssetCheckSpec(
            HEALTH_CHECK,
            asset=ONLINE_KEY,
            description="The registry loads, the online store answers for a sample of entities, and its newest "
            "row is the one just written.",
        )
    ],
)
@bad_input_fails_fast
def feast_online_store(
    context: AssetExecutionContext, config: OnlineStoreConfig, lake: LakeResource, feature_store: FeatureStoreResource
):
    store, data = feature_store.client(), lake.client()
    if config.every_partition:
        days = sorted({d for t in TABLES.values() for d in data.partitions("gold", t.name)})
        days = [datetime.fromisoformat(d).date() for d in days]
    else:
        days = days_of_window(*context.partition_time_window)
    rows = {t.name: 0 for t in TABLES.values()}
    for day in days:  # one window at a time; each day's progress is on record as it completes
        written = {t.name: write_partition_online(store, data, t, day) for t in TABLES.values()}
        for name, count in written.items():
            rows[name] += count
        context.log.info(f"online store: {day} written ({written})")
        if day.isoformat() in context.partition_keys:
            context.add_asset_metadata(
                {"dagster/row_count": sum(written.values()), "window": day.isoformat()},
                asset_key=ONLINE_KEY,
                partition_key=day.isoformat(),
            )
    metadata = {
        "windows_done": len(days),
        "first_window": days[0].isoformat() if days else "",
        "last_window": days[-1].isoformat() if days else "",
        **{f"rows_{name}": count for name, count in rows.items()},
    }
    health = {}
    last_keys = _keys_of_day(data, days[-1]) if days else {}  # each table's keys on the last day, read once
    for service in FEATURE_SERVICES:
        online = OnlineFeatures(store, service)
        keys = _sample_keys(last_keys, service)
        if not keys:
            continue
        one = [{k: v[0] for k, v in keys.items()}]
        many = [{k: v[i % len(v)] for k, v in keys.items()} for i in range(SAMPLE_ENTITIES)]
        for label, sample in (("1", one), ("100", many)):
            latency = measure_latency(online, sample, repeats=20)
            metadata[f"latency_{service}_{label}_p50_ms"] = latency.p50_ms
            metadata[f"latency_{service}_{label}_p95_ms"] = latency.p95_ms
            metadata[f"latency_{service}_{label}_p99_ms"] = latency.p99_ms
        frame = online.get(many)
        health[f"missing_entities_{service}"] = missing_entities(frame, online.columns)
    yield MaterializeResult(asset_key=ONLINE_KEY, metadata=metadata)
    yield _health(store, days, last_keys, health)


def _keys_of_day(data, day) -> dict[str, list[int]]:
    """Per gold table, the entity keys of its partition of ``day``."""
    return {
        table.name: data.read_partition("gold", table.name, ("date", day.isoformat()), columns=[table.key])
        .column(table.key)
        .to_pylist()
        for table in TABLES.values()
    }


def _sample_keys(last_keys: dict[str, list[int]], service: str) -> dict[str, list[int]]:
    """A sample of the keys of each of the service's views (none if a view has no rows)."""
    keys = {}
    for entity in FEATURE_SERVICES[service]:
        table = TABLES[entity]
        values = last_keys[table.name]
        if not values:
            return {}
        keys[table.key] = random.Random(0).sample(values, min(len(values), SAMPLE_ENTITIES))
    return keys


def _health(store, days, last_keys: dict[str, list[int]], health: dict) -> AssetCheckResult:
    problems, newest = [], {}
    try:
        views = {v.name for v in store.list_feature_views()}
    except Exception as exc:  # a registry that cannot be read is the finding, not a crash
        return AssetCheckResult(check_name=HEALTH_CHECK, passed=False, description=f"the registry does not load: {exc}")
    for table in TABLES.values():
        if table.name not in views:
            problems.append(f"{table.name} is not in the registry")
            continue
        if not days:
            continue
        keys = last_keys[table.name][:SAMPLE_ENTITIES]
        if not keys:
            problems.append(
                f"{table.name}: gold partition {days[-1]} has zero rows — check the silver tables it reads for "
                f"that day, then re-materialize gold/{table.name} for {days[-1]}"
            )
            continue
        stamp = newest_online_timestamp(store, table, keys)
        newest[table.name] = stamp.isoformat() if stamp else "none"
        if stamp is None or stamp < end_of_day(days[-1]):
            problems.append(f"{table.name}: newest online row {stamp} is older than the end of {days[-1]}")
    return AssetCheckResult(
        check_name=HEALTH_CHECK,
        passed=not problems,
        severity=AssetCheckSeverity.WARN,
        description="; ".join(problems) or "registry, online store and freshness OK",
        metadata={
            **health,
            "newest_online_row": MetadataValue.json(newest),
            "checked_at": datetime.now(UTC).isoformat(),
        },
    )


FEATURE_STORE_ASSETS = [feast_registry, feast_online_store]
