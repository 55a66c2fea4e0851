"""Running the platform from the command line: the Dagster instance under MAESTRO_HOME,
configuration checks before anything runs, and materializing assets with a readable summary."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .lib import settings


def ensure_dagster_home() -> Path:
    """``DAGSTER_HOME`` (default ``$MAESTRO_HOME/dagster``) exists and holds the project's dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.default_dagster_home()).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ.setdefault(settings.ENV_HOME, str(settings.maestro_home()))
    template = settings.PROJECT_ROOT / "dagster.yaml"
    if template.is_file() and not (home / "dagster.yaml").exists():
        shutil.copyfile(template, home / "dagster.yaml")
    return home


def preflight(resources: dict) -> list[str]:
    """Reach every store once; the first bad setting raises :class:`ConfigurationError`.

    Returns one line per store, with URLs redacted, for the user to see what is in use.
    """
    warehouse = resources["warehouse"].get()
    warehouse.check()
    source = resources["demo_source_db"].get()
    source.check()
    lake = resources["lake"].get()
    lake.check()
    tracking = resources["mlflow"].get()
    tracking.check()
    return [
        f"warehouse      {warehouse.display_url}",
        f"demo source    {source.display_url}",
        f"lake           {lake.url}",
        f"mlflow         {tracking.display_uri}",
        f"dagster home   {os.environ.get('DAGSTER_HOME')}",
    ]


@dataclass
class RunSummary:
    run_id: str
    success: bool
    materialized: list[str] = field(default_factory=list)
    checks_passed: list[str] = field(default_factory=list)
    checks_failed: list[str] = field(default_factory=list)  # ERROR severity
    checks_warned: list[str] = field(default_factory=list)  # failed with WARN severity
    failed_steps: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def materialize(
    asset_keys: Sequence,
    run_config: dict | None = None,
    tags: dict | None = None,
    partition_range: tuple[str, str] | None = None,
) -> RunSummary:
    """Materialize ``asset_keys`` in one run through the instance in ``DAGSTER_HOME``
    (all partitions of ``partition_range`` at once, for partitioned assets)."""
    from dagster import DagsterInstance
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from .definitions import defs

    job = defs.resolve_implicit_global_asset_job_def()
    with DagsterInstance.get() as instance:
        config = {"loggers": {"console": {"config": {"log_level": "INFO"}}}, **(run_config or {})}
        tags = dict(tags or {})
        if partition_range:
            tags.update(
                {ASSET_PARTITION_RANGE_START_TAG: partition_range[0], ASSET_PARTITION_RANGE_END_TAG: partition_range[1]}
            )
        result = job.execute_in_process(
            instance=instance,
            asset_selection=list(asset_keys),
            run_config=config,
            tags=tags,
            raise_on_error=False,
        )
    summary = RunSummary(run_id=result.run_id, success=result.success)
    summary.materialized = [event.asset_key.to_user_string() for event in result.get_asset_materialization_events()]
    evaluations = [
        e.asset_check_evaluation_data
        for e in result.all_events  # also of failed steps
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    for evaluation in evaluations:
        name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        if evaluation.passed:
            summary.checks_passed.append(name)
        elif evaluation.severity.value == "WARN":
            summary.checks_warned.append(name)
        else:
            summary.checks_failed.append(name)
    for event in result.get_step_failure_events():
        summary.failed_steps.append(event.step_key)
        error = event.step_failure_data.error
        while error is not None and error.cause is not None and error.cls_name != "ConfigurationError":
            error = error.cause
        message = (error.message if error else str(event.message)).strip().splitlines()
        summary.errors.append(f"{event.step_key}: {message[0] if message else 'failed'}")
    return summary


def all_asset_keys() -> list:
    from .definitions import defs

    return list(defs.resolve_all_asset_keys())


def keys_in_groups(groups: Iterable[str], exclude: bool = False) -> list:
    from .definitions import defs

    wanted = set(groups)
    return [spec.key for spec in defs.resolve_all_asset_specs() if (spec.group_name in wanted) != exclude]


def run_stages(asset_keys: Sequence) -> list[tuple[list, bool]]:
    """Split ``asset_keys`` into runs in dependency order: each run holds assets that are all
    partitioned or all unpartitioned, and everything upstream of it ran in an earlier stage."""
    from .definitions import defs

    graph = defs.resolve_asset_graph()
    remaining = set(asset_keys)
    stages: list[tuple[list, bool]] = []
    while remaining:
        progressed = False
        for partitioned in (False, True):
            stage: list = []
            grew = True
            while grew:
                grew = False
                for key in sorted(remaining, key=lambda k: k.to_user_string()):
                    node = graph.get(key)
                    if (node.partitions_def is not None) != partitioned:
                        continue
                    if all(p not in remaining or p in stage for p in node.parent_keys):
                        stage.append(key)
                        remaining.discard(key)
                        grew = True
            if stage:
                stages.append((stage, partitioned))
                progressed = True
        if not progressed:
            raise RuntimeError(f"cannot order the assets {sorted(k.to_user_string() for k in remaining)}")
    return stages
