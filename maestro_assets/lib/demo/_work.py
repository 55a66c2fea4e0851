"""The work of the demo organisation: projects and their tasks (the events are in ``_events``).

Signal planted here (see ``LATENESS_WEIGHTS`` and ``SUCCESS_WEIGHTS``):

* a task is late with a probability that rises with complexity, dependencies, a poor match
  between the assignee's skills and the skills the task needs, assignee overload (estimated
  hours of the tasks assigned to them in the preceding 14 days against two weeks of capacity),
  little experience and a tight deadline (estimated hours against the time to the deadline),
  and falls a little for priority-1 tasks;
* a completed project's success score rises with its team's experience, the skill match of its
  tasks, its reuse of artifacts, a budget that covers its cost and a bigger team, and falls with
  the share of its tasks that were late; noise keeps both targets learnable but not trivial.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    dates,
    nullable,
    sigmoid,
    standardised,
    timestamps,
    unique_names,
)
from ._org import Organisation

EVENT_TYPES = (
    "created",
    "assigned",
    "started",
    "work_logged",
    "commented",
    "blocked",
    "unblocked",
    "review_requested",
    "reopened",
    "completed",
    "cancelled",
)
TASK_STATUSES = ("todo", "in_progress", "blocked", "done", "cancelled")
PROJECT_STATUSES = ("planned", "active", "completed", "cancelled")
TODO, IN_PROGRESS, BLOCKED, DONE, CANCELLED = range(len(TASK_STATUSES))
PLANNED, ACTIVE, COMPLETED, PROJECT_CANCELLED = range(len(PROJECT_STATUSES))

LOAD_WINDOW = 14 * DAY
CREATION_SHARE = 0.6  # tasks are created during the first 60% of a project's planned duration
# weights on the standardised features behind the lateness logit
LATENESS_WEIGHTS = {
    "complexity": 0.45,
    "dependency_count": 0.35,
    "skill_match": -0.45,
    "overload": 0.45,
    "years_experience": -0.30,
    "log_tightness": 0.50,
    "priority_1": -0.15,
}
LATENESS_SHARPNESS = 1.5  # spread of the logit: how learnable lateness is
LATENESS_RATE = 0.36  # mean lateness probability before censoring at the window end
# weights on the standardised features behind a completed project's success score
SUCCESS_WEIGHTS = {
    "team_experience": 0.35,
    "skill_match": 0.30,
    "log_reuse": 0.35,
    "log_budget_adequacy": 0.40,
    "late_rate": -0.45,
    "log_team_size": 0.20,
}
SUCCESS_NOISE = 0.65  # noise sd relative to the signal's sd


@dataclass
class ProjectPlan:
    team: np.ndarray
    is_planned: np.ndarray
    start: np.ndarray  # epoch seconds, midnight
    planned_days: np.ndarray
    n_tasks: np.ndarray
    name: np.ndarray
    complexity_mean: np.ndarray
    skill_probability: np.ndarray
    ongoing: int  # a project still running at the end of the window (never cancelled)


@dataclass
class Work:
    """The ``tasks`` table (task_id order) plus per-task arrays in (project, created) order.

    ``task_id[i]`` is the id of the i-th task of the arrays; the per-project arrays are
    indexed by positional project.
    """

    plan: ProjectPlan
    tasks: pd.DataFrame
    task_id: np.ndarray
    project: np.ndarray  # positional project of each task
    assignee: np.ndarray  # positional user of each task
    complexity: np.ndarray
    created: np.ndarray  # epoch seconds
    started: np.ndarray  # epoch seconds, -1 if not started
    end: np.ndarray  # completion, cancellation or the last second of the window
    status: np.ndarray  # index into TASK_STATUSES
    is_late: np.ndarray  # done and late
    skill_match: np.ndarray
    logged_hours: np.ndarray  # hours booked so far (actual hours once done)
    estimated_hours: np.ndarray
    ever_blocked: np.ndarray
    still_blocked: np.ndarray
    project_status: np.ndarray  # index into PROJECT_STATUSES
    project_end: np.ndarray  # epoch seconds the project ended (completed/cancelled), else -1


def plan_projects(
    rng: np.random.Generator, n_projects: int, n_tasks: int, org: Organisation, window: Window
) -> ProjectPlan:
    cover = min(n_projects, org.n_teams)
    team = np.concatenate(
        [
            rng.permutation(org.n_teams)[:cover],
            rng.choice(org.n_teams, n_projects - cover, p=org.team_size / org.team_size.sum()),
        ]
    )
    team = rng.permutation(team)
    is_planned = rng.random(n_projects) < 0.08
    if is_planned.all():  # at least one project has started
        is_planned[0] = False
    size = rng.lognormal(0.0, 0.55, n_projects) * np.where(is_planned, 0.15, 1.0)
    n_tasks_per = allocate(rng, n_tasks, size, minimum=1)
    complexity_mean = rng.uniform(3.0, 7.5, n_projects)
    relative = n_tasks_per / n_tasks_per[~is_planned].mean()
    planned_days = np.clip(
        np.round(15 + 40 * np.sqrt(relative) * np.sqrt(complexity_mean / 5.25) * rng.lognormal(0.0, 0.15, n_projects)),
        14,
        150,
    ).astype(np.int64)
    # starts skewed early (Beta(1, 1.8) quantiles) but stratified, so even a handful of projects spread out
    window_days = (window.end - window.start) // DAY
    stratum = (rng.permutation(n_projects) + rng.random(n_projects)) / n_projects
    start_day = np.where(
        is_planned,
        window_days + rng.integers(1, 46, n_projects),
        np.floor((1 - (1 - stratum) ** (1 / 1.8)) * (window_days - 12)),
    ).astype(np.int64)
    # the latest project to start is still creating work when the window closes
    latest = np.argmax(np.where(is_planned, -1, start_day))
    planned_days[latest] = max(planned_days[latest], int(np.ceil((window_days - start_day[latest]) / CREATION_SHARE)))
    name = unique_names(rng, vocab.PROJECT_CODENAMES, vocab.PROJECT_THEMES, n_projects)
    profile = 0.6 * org.team_profile[team] + 0.4 * rng.random((n_projects, 4))
    return ProjectPlan(
        team=team,
        is_planned=is_planned,
        start=window.start + start_day * DAY,
        planned_days=planned_days,
        n_tasks=n_tasks_per,
        name=name,
        complexity_mean=complexity_mean,
        skill_probability=np.clip(0.1 + 0.6 * profile, 0.05, 0.9),
        ongoing=int(latest),
    )


def _rolling_load(assignee: np.ndarray, created: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """Estimated hours of each assignee's tasks created in the LOAD_WINDOW up to each task."""
    order = np.lexsort((created, assignee))
    key = (assignee[order].astype(np.int64) << 32) | created[order]
    cumulative = np.concatenate([[0.0], np.cumsum(hours[order])])
    upto = np.searchsorted(key, key, side="right")
    since = np.searchsorted(key, key - LOAD_WINDOW, side="left")
    load = np.empty(len(order))
    load[order] = cumulative[upto] - cumulative[since]
    return load


def _lateness_probability(features: dict[str, np.ndarray]) -> np.ndarray:
    signal = standardised(sum(w * standardised(features[name]) for name, w in LATENESS_WEIGHTS.items()))
    low, high = -6.0, 6.0
    for _ in range(50):  # the intercept that gives LATENESS_RATE on average
        mid = (low + high) / 2
        if sigmoid(mid + LATENESS_SHARPNESS * signal).mean() < LATENESS_RATE:
            low = mid
        else:
            high = mid
    return sigmoid((low + high) / 2 + LATENESS_SHARPNESS * signal)


def _creation_times(rng: np.random.Generator, plan: ProjectPlan, project: np.ndarray, window: Window) -> np.ndarray:
    """When each task was created, sorted within its project: during the first CREATION_SHARE of a
    started project's planned duration, or in the last three weeks for a planned project's backlog."""
    last = window.end - 6 * HOUR
    creating_until = plan.start + (plan.planned_days * DAY * CREATION_SHARE).astype(np.int64)
    low = np.where(plan.is_planned, max(window.start, window.end - 21 * DAY), plan.start)
    high = np.where(plan.is_planned, last, np.minimum(creating_until, last))
    created = between(rng, low[project], high[project])
    return created[np.lexsort((created, project))]


def build_work(rng: np.random.Generator, plan: ProjectPlan, org: Organisation, window: Window) -> Work:
    n_projects = len(plan.team)
    project = np.repeat(np.arange(n_projects), plan.n_tasks)
    n = len(project)
    created = _creation_times(rng, plan, project, window)
    first_of_project = np.concatenate([[0], np.cumsum(plan.n_tasks)])[:-1]
    position = np.arange(n) - first_of_project[project]

    complexity = np.clip(np.round(rng.normal(plan.complexity_mean[project], 1.8)), 1, 10).astype(np.int64)
    priority = rng.choice(np.arange(1, 5), size=n, p=[0.1, 0.3, 0.4, 0.2])
    estimated = np.maximum(np.round(2.0 * complexity**1.1 * rng.lognormal(0.0, 0.35, n) * 2) / 2, 0.5)
    required = rng.random((n, 4)) < plan.skill_probability[project]
    none = ~required.any(axis=1)
    required[none, np.argmax(plan.skill_probability[project[none]] + 0.3 * rng.random((none.sum(), 4)), axis=1)] = True
    dependency_count = np.minimum(rng.poisson(0.3 + 0.08 * complexity), position)
    depends_on = np.where(
        dependency_count > 0, first_of_project[project] + np.floor(rng.random(n) * position).astype(np.int64), -1
    )

    team = plan.team[project]
    cross_team = rng.random(n) < 0.12
    assignee = np.where(cross_team, org.roster.pick_anyone(rng, n), org.roster.pick(rng, team))
    skill_match = (required * org.skills[assignee]).sum(axis=1) / required.sum(axis=1)
    capacity = org.users["capacity_hours_per_week"].to_numpy()[assignee]
    overload = _rolling_load(assignee, created, estimated) / (2 * capacity)
    years = org.users["years_experience"].to_numpy()[assignee]

    backlog_days = rng.exponential(4.0, n)  # time planned before work starts
    deadline_days = backlog_days + estimated / 6.0 * rng.lognormal(np.log(2.2), 0.45, n) + 0.25
    deadline = created + np.floor(deadline_days * DAY).astype(np.int64)
    tightness = estimated / (deadline_days * 24.0)
    late_probability = _lateness_probability(
        {
            "complexity": complexity,
            "dependency_count": dependency_count,
            "skill_match": skill_match,
            "overload": overload,
            "years_experience": years,
            "log_tightness": np.log(tightness),
            "priority_1": (priority == 1).astype(float),
        }
    )
    late = rng.random(n) < late_probability

    never = np.iinfo(np.int64).max // 4
    wait = np.minimum(backlog_days * rng.uniform(0.3, 1.2, n) * np.sqrt(0.5 + overload), 0.6 * deadline_days)
    started = np.where(plan.is_planned[project], never, created + MINUTE + np.floor(wait * DAY).astype(np.int64))
    on_time = started + np.maximum(np.floor((deadline - started) * rng.beta(4.0, 1.5, n)).astype(np.int64), 15 * MINUTE)
    overdue = deadline + MINUTE + np.floor(rng.exponential(0.4 + 0.25 * estimated / 6.0) * DAY).astype(np.int64)
    completed = np.where(plan.is_planned[project], never, np.where(late, overdue, on_time))
    actual = np.maximum(np.round(estimated * rng.lognormal(0.0, 0.25, n) * np.where(late, 1.3, 0.95) * 4) / 4, 0.25)

    # cancellations: single tasks, then whole projects that did not finish
    last_second = window.end - 1
    finished = completed <= last_second
    cancelled_at = np.where(
        rng.random(n) < 0.03, between(rng, created + MINUTE, np.minimum(completed, last_second)), never
    )
    open_work = (~finished) & (cancelled_at == never)
    project_open = np.bincount(project, weights=open_work, minlength=n_projects) > 0
    project_done = np.bincount(project, weights=finished & (cancelled_at == never), minlength=n_projects) > 0
    is_completed = ~plan.is_planned & ~project_open & project_done
    is_cancelled = ~plan.is_planned & ~is_completed & (rng.random(n_projects) < 0.12)
    is_cancelled[plan.ongoing] = False
    latest_created = np.maximum.reduceat(created, first_of_project)
    project_cancel = np.where(
        is_cancelled, between(rng, latest_created + HOUR, np.full(n_projects, last_second)), never
    )
    overtaken = completed > project_cancel[project]  # not finished when its project was cancelled
    cancelled_at = np.minimum(cancelled_at, np.where(overtaken, project_cancel[project], never))
    cancelled = cancelled_at != never
    done = finished & ~cancelled
    end = np.where(done, completed, np.where(cancelled, cancelled_at, last_second))
    has_started = started < end

    ever_blocked = has_started & (rng.random(n) < np.clip(0.08 + 0.1 * dependency_count, 0, 0.6))
    in_progress = has_started & ~done & ~cancelled
    still_blocked = in_progress & (rng.random(n) < np.clip(0.12 + 0.1 * dependency_count, 0, 0.5))
    ever_blocked |= still_blocked
    status = np.select([cancelled, done, ~has_started, still_blocked], [CANCELLED, DONE, TODO, BLOCKED], IN_PROGRESS)
    elapsed = np.clip((end - started) / np.maximum(deadline - started, 1), 0.05, 0.95)
    logged = np.where(done, actual, np.where(has_started, np.round(estimated * elapsed * 4) / 4, 0.0))

    project_end = np.where(
        is_completed, np.maximum.reduceat(end, first_of_project), np.where(is_cancelled, project_cancel, -1)
    )
    project_status = np.select(
        [plan.is_planned, is_completed, is_cancelled], [PLANNED, COMPLETED, PROJECT_CANCELLED], ACTIVE
    )

    # task ids follow creation time across the whole organisation
    by_time = np.lexsort((np.arange(n), created))
    task_id = np.empty(n, dtype=np.int64)
    task_id[by_time] = np.arange(1, n + 1)
    titles = choose(rng, vocab.TASK_VERBS, n) + " " + choose(rng, vocab.TASK_OBJECTS, n)
    tasks = pd.DataFrame(
        {
            "task_id": task_id,
            "project_id": project.astype(np.int64) + 1,
            "assignee_id": assignee.astype(np.int64) + 1,
            "title": titles,
            "priority": priority.astype(np.int64),
            "complexity": complexity,
            "estimated_hours": estimated,
            "actual_hours": np.where(done, actual, np.nan),
            **{f"required_skill_{name}": required[:, k] for k, name in enumerate(vocab.SKILLS)},
            "dependency_count": dependency_count.astype(np.int64),
            "depends_on": nullable(task_id[np.maximum(depends_on, 0)], depends_on >= 0, "Int64"),
            "created_at": timestamps(created),
            "started_at": timestamps(np.where(has_started, started, 0), has_started),
            "deadline": timestamps(deadline),
            "completed_at": timestamps(np.where(done, completed, 0), done),
            "status": np.asarray(TASK_STATUSES, dtype=object)[status],
            "is_late": nullable(completed > deadline, done, "boolean"),
        }
    )
    tasks = tasks.iloc[by_time].reset_index(drop=True)

    return Work(
        plan=plan,
        tasks=tasks,
        task_id=task_id,
        project=project,
        assignee=assignee,
        complexity=complexity,
        created=created,
        started=np.where(has_started, started, -1),
        end=end,
        status=status,
        is_late=done & (completed > deadline),
        skill_match=skill_match,
        logged_hours=logged,
        estimated_hours=estimated,
        ever_blocked=ever_blocked,
        still_blocked=still_blocked,
        project_status=project_status,
        project_end=project_end,
    )


def build_projects(rng: np.random.Generator, work: Work, org: Organisation, reuse_count: np.ndarray) -> pd.DataFrame:
    """The ``projects`` table: dates, status, money and (once completed) the success score."""
    plan = work.plan
    n_projects = len(plan.team)
    rate = org.users["hourly_rate"].to_numpy()[work.assignee]
    done, cancelled = work.status == DONE, work.status == CANCELLED
    final_hours = np.where(done | cancelled, work.logged_hours, np.maximum(work.estimated_hours, work.logged_hours))

    def per_project(values: np.ndarray) -> np.ndarray:
        return np.bincount(work.project, weights=values, minlength=n_projects)

    planned_cost = per_project(work.estimated_hours * rate)
    cost = per_project(final_hours * rate)
    spent = per_project(work.logged_hours * rate)
    budget = np.maximum(np.round(planned_cost * rng.lognormal(0.1, 0.25, n_projects), -2), 100.0)

    completed = work.project_status == COMPLETED
    ended = work.project_end >= 0
    planned_end = plan.start + plan.planned_days * DAY
    finished_tasks = np.maximum(per_project(done), 1)
    features = {
        "team_experience": org.team_experience[plan.team],
        "skill_match": per_project(work.skill_match) / plan.n_tasks,
        "log_reuse": np.log1p(reuse_count),
        "log_budget_adequacy": np.log(budget / np.maximum(cost, 1.0)),
        "late_rate": per_project(work.is_late) / finished_tasks,
        "log_team_size": np.log(org.team_size[plan.team]),
    }
    score = np.full(n_projects, np.nan)
    if completed.any():
        signal = standardised(sum(w * standardised(features[name][completed]) for name, w in SUCCESS_WEIGHTS.items()))
        noisy = 62 + 12 * (signal + SUCCESS_NOISE * rng.normal(size=signal.shape))
        score[completed] = np.clip(np.round(noisy, 1), 0, 100)
    end = np.where(ended, work.project_end, planned_end)
    return pd.DataFrame(
        {
            "project_id": np.arange(1, n_projects + 1, dtype=np.int64),
            "name": plan.name,
            "team_id": plan.team.astype(np.int64) + 1,
            "start_date": dates(plan.start),
            "planned_end_date": dates(planned_end),
            "actual_end_date": dates(np.where(ended, work.project_end, 0), ended),
            "budget": budget,
            "spent": np.round(spent, 2),
            "status": np.asarray(PROJECT_STATUSES, dtype=object)[work.project_status],
            "success_score": score,
            "duration_days": ((end // DAY - plan.start // DAY) + 1).astype(np.int64),
            "cost": np.round(cost, 2),
        }
    )
