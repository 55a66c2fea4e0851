"""Gold feature tables in the lake: read silver, compute, write one partition per day and entity.

Which silver tables feed the features is declared (``FeatureInputs``; the demo's tables by
default, another mapping through the file named by ``MAESTRO_FEATURES``). Each table must hold
the columns listed in ``REQUIRED_COLUMNS``; a missing one is reported with the table, the columns
and the setting to change.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import LakeKeyError, MaestroError
from ..lake import Lake
from ..settings import ENV_FEATURES
from .catalog import TABLES
from .compute import GoldFeatures, SilverInputs, compute_features

LAYER_IN, LAYER_OUT, PARTITION = "silver", "gold", "date"
WRITE_THREADS = 4  # partitions written at once: parquet encoding and compression release the GIL


class FeatureInputs(BaseModel):
    """The silver tables (``source/table``, as in the sources file) the gold features read."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    events: str = "demo_db/task_events"
    tasks: str = "demo_db/tasks"
    users: str = "demo_db/users"
    projects: str = "demo_db/projects"
    teams: str = "demo_db/teams"

    def all(self) -> dict[str, str]:
        return {
            "events": self.events,
            "tasks": self.tasks,
            "users": self.users,
            "projects": self.projects,
            "teams": self.teams,
        }


REQUIRED_COLUMNS = {
    "events": ["task_id", "user_id", "event_type", "event_time", "hours_logged"],
    "tasks": [
        "task_id",
        "project_id",
        "priority",
        "complexity",
        "estimated_hours",
        "required_skill_backend",
        "required_skill_frontend",
        "required_skill_database",
        "required_skill_devops",
        "dependency_count",
        "created_at",
        "deadline",
    ],
    "users": [
        "user_id",
        "team_id",
        "years_experience",
        "skill_backend",
        "skill_frontend",
        "skill_database",
        "skill_devops",
        "capacity_hours_per_week",
        "hourly_rate",
    ],
    "projects": ["project_id", "team_id", "start_date", "planned_end_date", "budget"],
    "teams": ["team_id"],
}
OPTIONAL_COLUMNS = {"users": ["hired_at"], "teams": ["created_at"]}


class FeatureInputError(MaestroError):
    """A silver input of the gold features is missing or lacks a column."""


def load_feature_inputs(path: str | Path | None) -> FeatureInputs:
    if path is None:
        return FeatureInputs()
    try:
        document = yaml.safe_load(Path(path).read_text()) or {}
        return FeatureInputs.model_validate(document.get("inputs", {}))
    except (OSError, yaml.YAMLError, ValidationError, AttributeError) as exc:
        raise FeatureInputError(f"features file {path} ({ENV_FEATURES}): {exc}") from None


def _read(lake: Lake, role: str, table: str, last_day: date | None) -> pd.DataFrame:
    columns = REQUIRED_COLUMNS[role]
    try:
        if last_day is None:
            frame = lake.read_table(LAYER_IN, table)
        else:
            days = [d for d in lake.partitions(LAYER_IN, table) if d <= last_day.isoformat()]
            frame = lake.read_table(LAYER_IN, table, PARTITION, days).drop(columns=PARTITION, errors="ignore")
    except LakeKeyError as exc:
        raise FeatureInputError(
            f"the gold features read silver/{table} ({role}), which is not in the lake: materialize it first, "
            f"or name another table as `inputs.{role}` in the file {ENV_FEATURES} points to ({exc})"
        ) from None
    missing = [c for c in columns if c not in frame.columns]
    if missing and len(frame.columns):
        raise FeatureInputError(
            f"silver/{table} ({role} of the gold features) lacks the column(s) {', '.join(missing)}; "
            f"it has {', '.join(map(str, frame.columns))}. Rename them in its silver rules or name another "
            f"table as `inputs.{role}` in the file {ENV_FEATURES} points to"
        )
    if missing:  # no partition yet: an empty frame of the right columns
        frame = pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    keep = columns + [c for c in OPTIONAL_COLUMNS.get(role, []) if c in frame.columns]
    return frame[keep]


def read_silver_inputs(lake: Lake, inputs: FeatureInputs, last_day: date) -> SilverInputs:
    """Every silver row the features of days up to ``last_day`` need (events: all days to it)."""
    return SilverInputs(
        events=_read(lake, "events", inputs.events, last_day),
        tasks=_read(lake, "tasks", inputs.tasks, None),
        users=_read(lake, "users", inputs.users, None),
        projects=_read(lake, "projects", inputs.projects, None),
        teams=_read(lake, "teams", inputs.teams, None),
    )


@dataclass
class GoldRun:
    features: GoldFeatures
    rows: dict[str, dict[str, int]]  # entity -> day -> rows written


def gold_table(entity: str) -> str:
    return TABLES[entity].name


def materialize_gold(lake: Lake, inputs: FeatureInputs, days: list[date], created: datetime | None = None) -> GoldRun:
    """Compute the four tables for ``days`` and replace their gold partitions."""
    features = compute_features(read_silver_inputs(lake, inputs, max(days)), days, created)
    rows: dict[str, dict[str, int]] = {}
    writes = []
    for entity, table in TABLES.items():
        rows[entity] = {}
        frame = features.tables[entity]  # rows are in day order: each day is one slice
        arrow = pa.Table.from_pandas(frame[table.columns], preserve_index=False)
        values, starts, counts = np.unique(frame[PARTITION].to_numpy(dtype=str), return_index=True, return_counts=True)
        where = {v: (int(a), int(n)) for v, a, n in zip(values, starts, counts, strict=True)}
        for day in days:
            start, count = where.get(day.isoformat(), (0, 0))
            writes.append((table.name, (PARTITION, day.isoformat()), arrow.slice(start, count)))
            rows[entity][day.isoformat()] = count
    # each write is its own partition (its own prefix), so they do not touch one another
    with ThreadPoolExecutor(max_workers=WRITE_THREADS, thread_name_prefix="maestro-gold") as pool:
        for done in [pool.submit(lake.write_partition, LAYER_OUT, *write) for write in writes]:
            done.result()  # the first failure is raised, after the writes already running end
    return GoldRun(features, rows)
