"""``generate()``: a deterministic, seeded engineering organisation's operational data.

Nine tables (``TABLES``, parents before children) over a 90-day window ending at
``end_date``: teams, users, projects, tasks, task events, artifacts and their reuse,
deployments and CI runs. Sizes scale linearly with ``scale`` (1.0 ≈ 2,000 users, 200 projects,
60,000 tasks, 1,000,000 task events) and never fall below a small coherent minimum. The same
``(scale, seed, end_date)`` gives identical frames. Task lateness and project success carry
planted, noisy signal (see ``_work``), so models trained on them learn something real.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from ._common import Window, scaled
from ._delivery import build_artifact_usage, build_artifacts, build_ci_runs, build_deployments
from ._events import build_events
from ._org import build_organisation
from ._work import build_projects, build_work, plan_projects

TABLES = (
    "teams",
    "users",
    "projects",
    "tasks",
    "task_events",
    "artifacts",
    "artifact_usage",
    "deployments",
    "ci_runs",
)
WINDOW_DAYS = 90
DEFAULT_END_DATE = date(2026, 11, 1)  # the demo's 90 days end here; sources.yaml's start_date is their first


def demo_days(end_date: date = DEFAULT_END_DATE) -> tuple[date, date]:
    """The first and last day the demo holds data for (the daily partitions it fills)."""
    return end_date - timedelta(days=WINDOW_DAYS), end_date - timedelta(days=1)


# rows at scale 1.0 and the floor every scale keeps
SIZES = {
    "teams": (40, 3),
    "users": (2_000, 10),
    "projects": (200, 6),
    "tasks": (60_000, 60),
    "task_events": (1_000_000, 600),
    "artifacts": (1_500, 8),
    "artifact_usage": (20_000, 30),
    "deployments": (4_000, 6),
    "ci_runs": (26_000, 20),
}
# independent random streams, so changing one table's recipe leaves the others alone
_STREAMS = ("organisation", "projects", "work", "events", "artifacts", "usage", "economics", "deployments", "ci")


@dataclass(eq=False)
class DemoData:
    scale: float
    seed: int
    start_date: date
    end_date: date
    teams: pd.DataFrame = field(repr=False)
    users: pd.DataFrame = field(repr=False)
    projects: pd.DataFrame = field(repr=False)
    tasks: pd.DataFrame = field(repr=False)
    task_events: pd.DataFrame = field(repr=False)
    artifacts: pd.DataFrame = field(repr=False)
    artifact_usage: pd.DataFrame = field(repr=False)
    deployments: pd.DataFrame = field(repr=False)
    ci_runs: pd.DataFrame = field(repr=False)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by name, in ``TABLES`` (load) order."""
        return {name: getattr(self, name) for name in TABLES}


def generate(scale: float = 1.0, seed: int = 42, end_date: date = DEFAULT_END_DATE) -> DemoData:
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    window = Window(end_date - timedelta(days=WINDOW_DAYS), end_date)
    size = {table: scaled(base, scale, minimum) for table, (base, minimum) in SIZES.items()}
    rng = dict(zip(_STREAMS, np.random.default_rng(seed).spawn(len(_STREAMS))))

    org = build_organisation(rng["organisation"], size["teams"], size["users"], window)
    plan = plan_projects(rng["projects"], size["projects"], size["tasks"], org, window)
    work = build_work(rng["work"], plan, org, window)
    events = build_events(rng["events"], work, org, size["task_events"])
    artifacts = build_artifacts(rng["artifacts"], size["artifacts"], work, org, window)
    usage = build_artifact_usage(rng["usage"], size["artifact_usage"], artifacts, work, org, window)
    reuse = np.bincount(usage["project_id"].to_numpy() - 1, minlength=size["projects"])
    projects = build_projects(rng["economics"], work, org, reuse)
    deployments = build_deployments(rng["deployments"], size["deployments"], work, org, window)
    ci_runs = build_ci_runs(rng["ci"], size["ci_runs"], deployments, work, org, window)
    return DemoData(
        scale=scale,
        seed=seed,
        start_date=window.start_date,
        end_date=window.end_date,
        teams=org.teams,
        users=org.users,
        projects=projects,
        tasks=work.tasks,
        task_events=events,
        artifacts=artifacts,
        artifact_usage=usage,
        deployments=deployments,
        ci_runs=ci_runs,
    )
