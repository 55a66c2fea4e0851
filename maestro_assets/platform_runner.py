"""Running the platform from the command line: the Dagster instance under MAESTRO_HOME,
configuration checks before anything runs, and materializing assets with a readable summary."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .lib import settings
from .lib.errors import ConfigurationError


def ensure_dagster_home() -> Path:
    """``DAGSTER_HOME`` (default ``$MAESTRO_HOME/dagster``) exists and holds the project's dagster.yaml."""
    setting = "DAGSTER_HOME" if os.environ.get("DAGSTER_HOME") else settings.ENV_HOME
    home = Path(os.environ.get("DAGSTER_HOME") or settings.default_dagster_home()).expanduser().resolve()
    try:
        home.mkdir(parents=True, exist_ok=True)
        probe = home / ".maestro-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigurationError(
            setting, f"cannot write to {home}: {exc.strerror or exc}", "point it at a folder you can write"
        ) from None
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ.setdefault(settings.ENV_HOME, str(settings.maestro_home()))
    template = settings.PROJECT_ROOT / "dagster.yaml"
    if template.is_file() and not (home / "dagster.yaml").exists():
        shutil.copyfile(template, home / "dagster.yaml")
    return home


def preflight(resources: dict, sources: bool = True) -> list[str]:
    """Reach every store and every declared source once; the first bad setting raises a
    :class:`ConfigurationError` (or a sources error) naming it.

    Returns one line per store and per declared table, URLs redacted, for the user to see what is in use.
    """
    from .defs.config import SOURCES
    from .lib.ingestion.check import check_sources

    warehouse = resources["warehouse"].client()
    warehouse.check()
    lake = resources["lake"].client()
    lake.check()
    tracking = resources["mlflow"].client()
    tracking.check()
    return [
        f"warehouse      {warehouse.display_url}",
        f"lake           {lake.url}",
        f"mlflow         {tracking.display_uri}",
        f"dagster home   {os.environ.get('DAGSTER_HOME')}",
        *(check_sources(SOURCES, lake) if sources else []),
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

    from .definitions import defs
    from .defs.runs import partition_range_tags

    job = defs.resolve_implicit_global_asset_job_def()
    with DagsterInstance.get() as instance:
        # the run's full log (tracebacks included) is in the UI; the console shows it with --debug only
        level = "DEBUG" if os.environ.get("MAESTRO_DEBUG") else "CRITICAL"
        config = {"loggers": {"console": {"config": {"log_level": level}}}, **(run_config or {})}
        tags = dict(tags or {})
        if partition_range:
            tags.update(partition_range_tags(*partition_range))
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
        line = message[0] if message else "failed"
        if line.endswith(":") and len(message) > 1:  # "1 blocking asset check failed …:" names them next
            line += " " + ", ".join(m.strip() for m in message[1:4])
        summary.errors.append(f"{event.step_key}: {line}")
    return summary


def keys_in_groups(groups: Iterable[str], exclude: bool = False) -> list:
    from .definitions import defs

    wanted = set(groups)
    return [spec.key for spec in defs.resolve_all_asset_specs() if (spec.group_name in wanted) != exclude]


def run_stages(asset_keys: Sequence) -> list[tuple[list, object]]:
    """Split ``asset_keys`` into runs in dependency order: each run holds assets of one partitions
    definition (``None``: unpartitioned; daily and weekly assets run apart), and everything upstream
    of it ran in an earlier stage. Each stage: (keys, its partitions definition or None)."""
    from .definitions import defs

    graph = defs.resolve_asset_graph()
    remaining = set(asset_keys)
    ordered = sorted(remaining, key=lambda k: k.to_user_string())
    definitions: list = [None]
    for key in ordered:
        found = graph.get(key).partitions_def
        if found is not None and found not in definitions:
            definitions.append(found)
    stages: list[tuple[list, object]] = []
    while remaining:
        progressed = False
        for partitions_def in definitions:
            stage: list = []
            grew = True
            while grew:
                grew = False
                for key in [k for k in ordered if k in remaining]:
                    node = graph.get(key)
                    if node.partitions_def != partitions_def:
                        continue
                    if all(p not in remaining or p in stage for p in node.parent_keys):
                        stage.append(key)
                        remaining.discard(key)
                        grew = True
            if stage:
                stages.append((stage, partitions_def))
                progressed = True
        if not progressed:
            raise RuntimeError(f"cannot order the assets {sorted(k.to_user_string() for k in remaining)}")
    return stages


def partition_range_for(partitions_def, first_day: str, last_day: str) -> tuple[str, str] | None:
    """The first and last keys of ``partitions_def`` whose time window overlaps the days
    ``first_day..last_day`` (the same days for daily partitions, the weeks that hold them for weekly
    ones); None when no partition of it falls there."""
    from datetime import date, datetime, time, timedelta

    start = datetime.combine(date.fromisoformat(first_day), time.min)
    end = datetime.combine(date.fromisoformat(last_day) + timedelta(days=1), time.min)
    inside = []
    for key in partitions_def.get_partition_keys():
        window = partitions_def.time_window_for_partition_key(key)
        if window.start.replace(tzinfo=None) < end and window.end.replace(tzinfo=None) > start:
            inside.append(key)
    return (inside[0], inside[-1]) if inside else None
