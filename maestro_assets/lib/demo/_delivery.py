"""What projects build and ship: artifacts and their reuse, deployments and CI runs.

Everything happens while its project is active (from its start to its end or the end of the
window); planned projects have not produced anything yet. Every deployment also appears in
``ci_runs`` as a run of the ``deploy`` workflow with the same SHA and outcome.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import vocab
from ._common import (
    DAY,
    HOUR,
    MINUTE,
    Window,
    allocate,
    between,
    choose,
    epoch_of,
    hex_shas,
    logins,
    sigmoid,
    timestamps,
)
from ._org import Organisation
from ._work import Work


def _active(work: Work, window: Window) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per project: is it active at all, and the first and last second of its activity."""
    active = ~work.plan.is_planned
    low = np.where(active, work.plan.start, window.end - 1)
    high = np.where(work.project_end >= 0, work.project_end, window.end - 1)
    return active, low, np.maximum(high, low)


def _in_order(frame: pd.DataFrame, time_column: str, id_column: str) -> pd.DataFrame:
    frame = frame.sort_values([time_column, "project_id"], kind="stable").reset_index(drop=True)
    frame.insert(0, id_column, np.arange(1, len(frame) + 1, dtype=np.int64))
    return frame


def _spread_over_projects(rng: np.random.Generator, n: int, work: Work, window: Window, extra_weight: np.ndarray):
    """``n`` rows spread over the active projects by days active × ``extra_weight``: project, first, last second."""
    active, low, high = _active(work, window)
    weight = np.where(active, (high - low + DAY) / DAY * extra_weight, 0.0)
    project = np.repeat(np.arange(len(weight)), allocate(rng, n, weight))
    return project, low[project], high[project]


def build_artifacts(rng: np.random.Generator, n: int, work: Work, org: Organisation, window: Window) -> pd.DataFrame:
    active, low, high = _active(work, window)
    weight = np.where(active, work.plan.n_tasks, 0.0)
    project = rng.choice(len(weight), size=n, p=weight / weight.sum())
    created = between(rng, low[project], high[project], shape_power=2.5)
    kind = choose(rng, vocab.ARTIFACT_KINDS, n, vocab.ARTIFACT_KIND_WEIGHTS)
    name = pd.Series(
        choose(rng, vocab.ARTIFACT_SUBJECTS, n) + "_" + choose(rng, vocab.ARTIFACT_QUALIFIERS, n) + "_" + kind
    )
    seen = name.groupby(name).cumcount()
    name = name.where(seen == 0, name + "_" + (seen + 1).astype(str))
    tag_order = np.argsort(rng.random((n, len(vocab.ARTIFACT_TAGS))), axis=1)[:, :3]
    tag = np.asarray(vocab.ARTIFACT_TAGS, dtype=object)[tag_order]
    n_tags = rng.integers(1, 4, n)
    tags = tag[:, 0] + np.where(n_tags > 1, "," + tag[:, 1], "") + np.where(n_tags > 2, "," + tag[:, 2], "")
    frame = pd.DataFrame(
        {
            "name": name.to_numpy(dtype=object),
            "kind": kind,
            "owner_id": org.roster.pick(rng, work.plan.team[project]).astype(np.int64) + 1,
            "project_id": project.astype(np.int64) + 1,
            "created_at": timestamps(created),
            "version": (1 + rng.poisson(1.5, n)).astype(np.int64),
            "tags": tags.astype(object),
        }
    )
    return _in_order(frame, "created_at", "artifact_id")


def build_artifact_usage(
    rng: np.random.Generator, n: int, artifacts: pd.DataFrame, work: Work, org: Organisation, window: Window
) -> pd.DataFrame:
    """Projects reuse artifacts with very different appetites; each use comes after the artifact exists."""
    project, low, high = _spread_over_projects(rng, n, work, window, rng.lognormal(0.0, 0.9, len(work.plan.team)))
    used = between(rng, low, high + 1)
    created = epoch_of(artifacts["created_at"])  # sorted by id
    available = np.searchsorted(created, used, side="right")
    keep = available > 0
    project, used, available = project[keep], used[keep], available[keep]
    artifact = np.floor(rng.random(len(project)) * available).astype(np.int64)
    frame = pd.DataFrame(
        {
            "artifact_id": artifacts["artifact_id"].to_numpy()[artifact],
            "project_id": project.astype(np.int64) + 1,
            "user_id": org.roster.pick(rng, work.plan.team[project]).astype(np.int64) + 1,
            "used_at": timestamps(used),
        }
    )
    return _in_order(frame, "used_at", "usage_id")


def build_deployments(rng: np.random.Generator, n: int, work: Work, org: Organisation, window: Window) -> pd.DataFrame:
    project, low, high = _spread_over_projects(rng, n, work, window, rng.uniform(0.5, 1.5, len(work.plan.team)))
    m = len(project)
    deployed = between(rng, low + HOUR, np.maximum(high, low + HOUR + 1))
    production = rng.random(m) < 0.4
    experience = org.team_experience[work.plan.team[project]]
    failed = rng.random(m) < sigmoid(-1.7 - 0.15 * (experience - org.team_experience.mean()) - 0.3 * production)
    restored = deployed + np.floor(rng.lognormal(np.log(1.5), 1.0, m) * HOUR).astype(np.int64)
    recovered = failed & (restored < window.end)
    frame = pd.DataFrame(
        {
            "project_id": project.astype(np.int64) + 1,
            "environment": np.where(production, "production", "staging").astype(object),
            "sha": hex_shas(rng, m),
            "deployed_at": timestamps(deployed),
            "status": np.where(failed, "failure", "success").astype(object),
            "lead_time_hours": np.round(rng.lognormal(np.log(18.0), 0.9, m), 2),
            "restored_at": timestamps(np.where(recovered, restored, 0), recovered),
        }
    )
    return _in_order(frame, "deployed_at", "deployment_id")


def build_ci_runs(
    rng: np.random.Generator, n: int, deployments: pd.DataFrame, work: Work, org: Organisation, window: Window
) -> pd.DataFrame:
    """Build and test runs spread over active projects, plus one ``deploy`` run per deployment."""
    project, low, high = _spread_over_projects(rng, n, work, window, np.sqrt(org.team_size[work.plan.team]))
    m = len(project)
    login = logins(org.users["email"]).to_numpy(dtype=object)

    workflow = choose(rng, ("build", "test"), m, (0.45, 0.55))
    event = choose(rng, ("push", "pull_request", "schedule"), m, (0.55, 0.40, 0.05))
    feature = (
        "feature/" + choose(rng, vocab.BRANCH_TOPICS, m) + "-" + rng.integers(1, 400, m).astype(str).astype(object)
    )
    branch = np.where((event == "pull_request") | ((event == "push") & (rng.random(m) < 0.3)), feature, "main")
    fail_rate = np.where(workflow == "test", 0.17, 0.09) + np.where(event == "pull_request", 0.05, 0.0)
    draw = rng.random(m)
    conclusion = np.select([draw < fail_rate, draw < fail_rate + 0.04], ["failure", "cancelled"], "success")
    typical = np.where(workflow == "test", 420.0, 180.0)
    scale = np.select([conclusion == "failure", conclusion == "cancelled"], [0.6, 0.3], 1.0)
    duration = np.clip(np.round(typical * scale * rng.lognormal(0.0, 0.4, m)), 5, 50 * MINUTE).astype(np.int64)
    created = between(rng, low, np.maximum(high - HOUR, low + 1))
    started = created + np.ceil(rng.exponential(20.0, m)).astype(np.int64)
    runs = {
        "project_id": project.astype(np.int64) + 1,
        "workflow": workflow,
        "branch": branch.astype(object),
        "sha": hex_shas(rng, m),
        "event": event,
        "conclusion": conclusion.astype(object),
        "created": created,
        "started": started,
        "duration": duration,
        "actor": login[org.roster.pick(rng, work.plan.team[project])],
    }

    k = len(deployments)
    deploy_project = deployments["project_id"].to_numpy()
    deploy_duration = np.clip(np.round(300.0 * rng.lognormal(0.0, 0.4, k)), 30, 40 * MINUTE).astype(np.int64)
    deploy_started = epoch_of(deployments["deployed_at"]) - deploy_duration
    deploys = {
        "project_id": deploy_project,
        "workflow": np.full(k, "deploy", dtype=object),
        "branch": np.full(k, "main", dtype=object),
        "sha": deployments["sha"].to_numpy(dtype=object),
        "event": np.full(k, "push", dtype=object),
        "conclusion": deployments["status"].to_numpy(dtype=object),
        "created": deploy_started - np.ceil(rng.exponential(20.0, k)).astype(np.int64),
        "started": deploy_started,
        "duration": deploy_duration,
        "actor": login[org.roster.pick(rng, work.plan.team[deploy_project - 1])],
    }

    column = {name: np.concatenate([runs[name], deploys[name]]) for name in runs}
    frame = pd.DataFrame(
        {
            "project_id": column["project_id"],
            "workflow": column["workflow"],
            "branch": column["branch"],
            "sha": column["sha"],
            "event": column["event"],
            "status": np.full(m + k, "completed", dtype=object),
            "conclusion": column["conclusion"],
            "created_at": timestamps(column["created"]),
            "started_at": timestamps(column["started"]),
            "updated_at": timestamps(column["started"] + column["duration"]),
            "duration_seconds": column["duration"],
            "actor": column["actor"],
        }
    )
    return _in_order(frame, "created_at", "run_id")
