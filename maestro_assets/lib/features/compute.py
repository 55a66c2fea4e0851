"""The gold feature math: four entity tables per day, from silver task events and snapshots.

Everything is computed on dense (entity x day) grids over the whole history read: daily sums of
events, hours and completions per entity, trailing windows as differences of cumulative sums,
a task's status and assignee on each day by carrying its last event forward. A row for day D
uses only events stamped before the end of D (its ``event_timestamp``), so training sets built
from these rows are point-in-time correct; snapshot attributes (skills, estimates, budgets)
are taken as they are in silver.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd
from scipy import sparse

from .catalog import CREATED_TIMESTAMP, EVENT_TIMESTAMP, LONGEST_WINDOW, PROJECT, TABLES, TASK, TEAM, USER

NS_PER_DAY = 86_400 * 10**9
NS_PER_HOUR = 3_600 * 10**9
NAT = np.iinfo(np.int64).min  # what a missing timestamp becomes in nanoseconds: before every day
FLOAT_DIGITS = 9  # features are rounded so that sums of differences carry no 1e-15 noise
TODO, IN_PROGRESS, BLOCKED, DONE, CANCELLED = 1, 2, 3, 4, 5
STATUS_AFTER = {
    "created": TODO,
    "started": IN_PROGRESS,
    "unblocked": IN_PROGRESS,
    "reopened": IN_PROGRESS,
    "blocked": BLOCKED,
    "completed": DONE,
    "cancelled": CANCELLED,
}
SKILLS = ("backend", "frontend", "database", "devops")


@dataclass
class SilverInputs:
    """The silver frames the features read (column names as in the demo's rules)."""

    events: pd.DataFrame  # task_id, user_id, event_type, event_time, hours_logged
    tasks: pd.DataFrame
    users: pd.DataFrame
    projects: pd.DataFrame
    teams: pd.DataFrame


@dataclass
class GoldFeatures:
    """Per entity, the feature rows of every requested day (``date`` column = the day)."""

    tables: dict[str, pd.DataFrame]
    dropped: dict[str, int] = field(default_factory=dict)  # rows of silver that matched no entity

    def day(self, entity: str, day: date) -> pd.DataFrame:
        frame = self.tables[entity]
        return frame[frame["date"] == day.isoformat()].drop(columns="date").reset_index(drop=True)


def _ns(values: pd.Series) -> np.ndarray:
    """UTC nanoseconds since the epoch (naive timestamps are taken as UTC); NaT -> min int64."""
    series = pd.to_datetime(values)
    if series.dt.tz is None:
        series = series.dt.tz_localize("UTC")
    return series.dt.tz_convert("UTC").astype("datetime64[ns, UTC]").to_numpy(dtype="datetime64[ns]").astype("int64")


def _daily(entity: np.ndarray, day: np.ndarray, n_entities: int, n_days: int, weights=None) -> np.ndarray:
    """Sum of ``weights`` (or a count) per (entity, day), as a dense grid."""
    flat = np.bincount(entity * n_days + day, weights=weights, minlength=n_entities * n_days)
    return flat.reshape(n_entities, n_days).astype(float)


def _trailing(daily: np.ndarray, window: int) -> np.ndarray:
    """For each day, the sum over that day and the ``window - 1`` days before it."""
    cumulative = np.concatenate([np.zeros((daily.shape[0], 1)), np.cumsum(daily, axis=1)], axis=1)
    n_days = daily.shape[1]
    ends = np.arange(1, n_days + 1)
    return cumulative[:, ends] - cumulative[:, np.maximum(ends - window, 0)]


def _carry_forward(grid: np.ndarray) -> np.ndarray:
    """Each non-zero cell's value carried to the following days until the next non-zero one."""
    positions = np.where(grid != 0, np.arange(grid.shape[1]), 0)
    np.maximum.accumulate(positions, axis=1, out=positions)
    return np.take_along_axis(grid, positions, axis=1)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan)


def _last_per_cell(entity: np.ndarray, day: np.ndarray, value: np.ndarray, n_entities: int, n_days: int) -> np.ndarray:
    """Grid of the last ``value`` per (entity, day), given rows in time order; 0 where none."""
    grid = np.zeros((n_entities, n_days), dtype=np.int64)
    cell = entity * n_days + day
    _, last = np.unique(cell[::-1], return_index=True)  # first occurrence in reverse = last in time
    chosen = len(cell) - 1 - last
    grid.reshape(-1)[cell[chosen]] = value[chosen]
    return grid


class _History:
    """The silver inputs indexed onto dense grids over the days [first, last]."""

    def __init__(self, inputs: SilverInputs, first: date, last: date):
        self.first, self.n_days = first, (last - first).days + 1
        self.day_end_ns = self._ns_of(first) + (np.arange(self.n_days) + 1) * NS_PER_DAY
        tasks, users = inputs.tasks.reset_index(drop=True), inputs.users.reset_index(drop=True)
        self.tasks, self.users = tasks, users
        self.projects, self.teams = inputs.projects.reset_index(drop=True), inputs.teams.reset_index(drop=True)
        self.task_index = pd.Index(tasks["task_id"])
        self.user_index = pd.Index(users["user_id"])
        self.project_index = pd.Index(self.projects["project_id"])
        self.team_index = pd.Index(self.teams["team_id"])
        self.dropped: dict[str, int] = {}

        ev = inputs.events
        time_ns = _ns(ev["event_time"])
        order = np.argsort(time_ns, kind="stable")
        ev, time_ns = ev.iloc[order].reset_index(drop=True), time_ns[order]
        task = self.task_index.get_indexer(ev["task_id"])
        user = self.user_index.get_indexer(ev["user_id"].astype("Int64").fillna(-(2**62)))
        day = (time_ns - self._ns_of(first)) // NS_PER_DAY
        keep = (task >= 0) & (day >= 0) & (day < self.n_days)
        self.dropped["task_events without a known task"] = int((task < 0).sum())
        self.ev_task, self.ev_user, self.ev_day = task[keep], user[keep], day[keep]
        self.ev_time = time_ns[keep]
        self.ev_type = ev["event_type"].to_numpy(dtype=object)[keep]
        self.ev_hours = ev["hours_logged"].fillna(0.0).to_numpy(dtype=float)[keep]

    @staticmethod
    def _ns_of(day: date) -> int:
        return int(pd.Timestamp(day, tz="UTC").value)

    # -- tasks ---------------------------------------------------------------------------------
    def task_status(self) -> tuple[np.ndarray, np.ndarray]:
        """(status grid, grid of days a task's status changed)."""
        n_tasks = len(self.tasks)
        codes = np.array([STATUS_AFTER.get(t, 0) for t in self.ev_type], dtype=np.int64)
        moves = codes > 0
        grid = _last_per_cell(self.ev_task[moves], self.ev_day[moves], codes[moves], n_tasks, self.n_days)
        changed = grid != 0
        created = _ns(self.tasks["created_at"])
        created_day = (created - self._ns_of(self.first)) // NS_PER_DAY
        # a task with no event on its creation day (or created before the history) is "todo" from then
        seed_day = np.clip(created_day, 0, None)
        inside = seed_day < self.n_days
        rows = np.flatnonzero(inside)
        empty = grid[rows, seed_day[inside]] == 0
        grid[rows[empty], seed_day[inside][empty]] = TODO
        return _carry_forward(grid), changed

    def task_assignee(self) -> np.ndarray:
        """Grid of the assigned user's index + 1 (0: nobody), from 'assigned' events."""
        n_tasks = len(self.tasks)
        assigned = (self.ev_type == "assigned") & (self.ev_user >= 0)
        grid = _last_per_cell(
            self.ev_task[assigned], self.ev_day[assigned], self.ev_user[assigned] + 1, n_tasks, self.n_days
        )
        return _carry_forward(grid)

    def task_daily_hours(self) -> np.ndarray:
        return _daily(self.ev_task, self.ev_day, len(self.tasks), self.n_days, self.ev_hours)

    # -- completions ---------------------------------------------------------------------------
    def completions(self) -> pd.DataFrame:
        """One row per 'completed' event: task, user, day, hours since start, collaborators, reopens."""
        frame = pd.DataFrame(
            {"task": self.ev_task, "user": self.ev_user, "day": self.ev_day, "time": self.ev_time, "type": self.ev_type}
        )
        done = frame[frame["type"] == "completed"].copy()
        started = frame[frame["type"] == "started"].groupby("task")["time"].min()
        start_time = done["task"].map(started)
        done["hours"] = (done["time"] - start_time) / NS_PER_HOUR  # NaN without a start event
        people = frame[frame["user"] >= 0].groupby(["task", "user"], as_index=False)["time"].min()
        people = people.sort_values("time", kind="stable")
        people["seen"] = people.groupby("task").cumcount() + 1
        done = done.sort_values("time", kind="stable")
        done = pd.merge_asof(done, people[["task", "time", "seen"]], on="time", by="task", direction="backward")
        done["collaborators"] = (done["seen"].fillna(1) - 1).clip(lower=0)
        return done.reset_index(drop=True)

    def reopens_by_assignee(self, assignee: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(user index, day) of every 'reopened' event, charged to whom the task was assigned then."""
        reopened = self.ev_type == "reopened"
        task, day = self.ev_task[reopened], self.ev_day[reopened]
        user = assignee[task, day] - 1
        return user[user >= 0], day[user >= 0]


def _group_matrix(group: np.ndarray, n_groups: int) -> sparse.csr_matrix:
    """The (groups x members) 0/1 matrix: ``matrix @ grid`` sums a (members x days) grid by group."""
    return sparse.csr_matrix((np.ones(len(group)), (group, np.arange(len(group)))), shape=(n_groups, len(group)))


def _rows(day_columns: list[int], alive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(entity index, day position) of the alive cells in the requested day columns, day by day
    (each day's rows contiguous, entities in index order)."""
    position, entity = np.nonzero(alive[:, day_columns].T)
    return entity, position


def compute_features(inputs: SilverInputs, days: list[date], created: datetime | None = None) -> GoldFeatures:
    """The four feature tables for ``days`` (consecutive), using every event before each day ends."""
    if not days:
        return GoldFeatures({entity: pd.DataFrame(columns=[*t.columns, "date"]) for entity, t in TABLES.items()})
    last = days[-1]
    event_days = _ns(inputs.events["event_time"]) if len(inputs.events) else np.array([], dtype=np.int64)
    first_event = pd.Timestamp(event_days.min(), tz="UTC").date() if len(event_days) else days[0]
    first = min(first_event, days[0] - pd.Timedelta(days=LONGEST_WINDOW - 1))
    history = _History(inputs, first, last)
    columns = [(d - first).days for d in days]
    created_ts = pd.Timestamp(created or datetime.now().astimezone()).tz_convert("UTC")
    day_end = history.day_end_ns

    status, changed = history.task_status()
    assignee = history.task_assignee()
    task_hours = history.task_daily_hours()
    cumulative_task_hours = np.cumsum(task_hours, axis=1)
    tasks, users, projects, teams = history.tasks, history.users, history.projects, history.teams
    n_users = len(users)
    open_ = (status == TODO) | (status == IN_PROGRESS) | (status == BLOCKED)

    def frame(table, index, entity, position, values: dict[str, np.ndarray]) -> pd.DataFrame:
        day_col = np.asarray(columns)[position]
        out = {
            table.key: index.to_numpy()[entity],
            EVENT_TIMESTAMP: pd.to_datetime(day_end[day_col], utc=True),
            CREATED_TIMESTAMP: created_ts,
        }
        for feature in table.features:
            column = values[feature.name]
            if feature.dtype == "int64":
                out[feature.name] = np.rint(column).astype("int64")
            else:
                out[feature.name] = np.round(column.astype(float), FLOAT_DIGITS)
        result = pd.DataFrame(out)
        result["date"] = np.array([d.isoformat() for d in days], dtype=object)[position]
        return result

    # -- tasks ---------------------------------------------------------------------------------
    task_alive = open_ | (changed & (status != 0))
    t_idx, t_pos = _rows(columns, task_alive)
    t_day = np.asarray(columns)[t_pos]
    deadline = _ns(tasks["deadline"])
    days_left = (deadline[t_idx] - day_end[t_day]) / NS_PER_DAY
    hours = {w: _trailing(task_hours, w) for w in (7, 30)}
    task_values = {
        "complexity_score": tasks["complexity"].to_numpy()[t_idx],
        "priority": tasks["priority"].to_numpy()[t_idx],
        "estimated_hours": tasks["estimated_hours"].to_numpy(dtype=float)[t_idx],
        **{
            f"required_skill_{s}": tasks[f"required_skill_{s}"].fillna(False).to_numpy(dtype=bool)[t_idx]
            for s in SKILLS
        },
        "dependency_count": tasks["dependency_count"].to_numpy()[t_idx],
        "deadline_urgency": 1.0 / (1.0 + np.maximum(days_left, 0.0)),
        "days_until_deadline": days_left,
        "hours_logged_7d": hours[7][t_idx, t_day],
        "hours_logged_30d": hours[30][t_idx, t_day],
    }
    task_frame = frame(TASK, history.task_index, t_idx, t_pos, task_values)

    # -- users ---------------------------------------------------------------------------------
    n_days = history.n_days
    remaining = np.maximum(tasks["estimated_hours"].to_numpy(dtype=float)[:, None] - cumulative_task_hours, 0.0)
    open_remaining = np.where(open_, remaining, 0.0)  # by assignee (index + 1, 0: nobody), per day
    workload = _daily(
        assignee.ravel(), np.tile(np.arange(n_days), len(tasks)), n_users + 1, n_days, open_remaining.ravel()
    )
    workload = workload[1:]
    with_user = history.ev_user >= 0
    u_ev, u_day = history.ev_user[with_user], history.ev_day[with_user]
    events_daily = _daily(u_ev, u_day, n_users, n_days)
    hours_daily = _daily(u_ev, u_day, n_users, n_days, history.ev_hours[with_user])
    done = history.completions()
    done_u = done[done["user"] >= 0]
    completed_daily = _daily(done_u["user"].to_numpy(), done_u["day"].to_numpy(), n_users, n_days)
    timed = done_u[done_u["hours"].notna()]
    completion_hours = _daily(
        timed["user"].to_numpy(), timed["day"].to_numpy(), n_users, n_days, timed["hours"].to_numpy()
    )
    completion_timed = _daily(timed["user"].to_numpy(), timed["day"].to_numpy(), n_users, n_days)
    collaborators = _daily(
        done_u["user"].to_numpy(), done_u["day"].to_numpy(), n_users, n_days, done_u["collaborators"].to_numpy(float)
    )
    reopen_daily = _daily(*history.reopens_by_assignee(assignee), n_users, n_days)
    hired = _ns(users["hired_at"]) if "hired_at" in users else np.full(n_users, NAT)  # NaT: always there
    user_alive = hired[:, None] < day_end[None, :]
    u_idx, u_pos = _rows(columns, user_alive)
    u_day_col = np.asarray(columns)[u_pos]
    completed_30 = _trailing(completed_daily, 30)
    capacity = users["capacity_hours_per_week"].to_numpy(dtype=float)
    user_values = {
        **{f"skill_{s}": users[f"skill_{s}"].to_numpy(dtype=float)[u_idx] for s in SKILLS},
        "current_workload_hours": workload[u_idx, u_day_col],
        "tasks_completed_7d": _trailing(completed_daily, 7)[u_idx, u_day_col],
        "tasks_completed_30d": completed_30[u_idx, u_day_col],
        "avg_completion_hours_30d": _ratio(_trailing(completion_hours, 30), _trailing(completion_timed, 30))[
            u_idx, u_day_col
        ],
        "avg_collaborators_30d": _ratio(_trailing(collaborators, 30), completed_30)[u_idx, u_day_col],
        "bug_rate_30d": _ratio(_trailing(reopen_daily, 30), completed_30)[u_idx, u_day_col],
        "years_experience": users["years_experience"].to_numpy(dtype=float)[u_idx],
        "capacity_pct_7d": _ratio(_trailing(hours_daily, 7)[u_idx, u_day_col] * 100.0, capacity[u_idx]),
        "events_7d": _trailing(events_daily, 7)[u_idx, u_day_col],
        "events_30d": _trailing(events_daily, 30)[u_idx, u_day_col],
    }
    user_frame = frame(USER, history.user_index, u_idx, u_pos, user_values)

    # -- projects ------------------------------------------------------------------------------
    n_projects = len(projects)
    task_project = history.project_index.get_indexer(tasks["project_id"])
    history.dropped["tasks without a known project"] = int((task_project < 0).sum())
    in_project = task_project >= 0
    tp = task_project[in_project]

    to_project = _group_matrix(tp, n_projects)

    def per_project(mask: np.ndarray) -> np.ndarray:  # (tasks x days) bool -> (projects x days) counts
        return np.asarray(to_project @ mask[in_project].astype(float))

    total = per_project((status != 0) & (status != CANCELLED))
    completed_now = per_project(status == DONE)
    in_progress = per_project(status == IN_PROGRESS)
    blocked = per_project(status == BLOCKED)
    open_count = per_project(open_)
    overdue = per_project(open_ & (deadline[:, None] < day_end[None, :]))
    ev_project = task_project[history.ev_task]
    with_project = ev_project >= 0
    rate = np.append(users["hourly_rate"].to_numpy(dtype=float), 0.0)[
        np.where(history.ev_user >= 0, history.ev_user, -1)
    ]
    project_hours = _daily(
        ev_project[with_project], history.ev_day[with_project], n_projects, n_days, history.ev_hours[with_project]
    )
    project_cost = np.cumsum(
        _daily(
            ev_project[with_project],
            history.ev_day[with_project],
            n_projects,
            n_days,
            (history.ev_hours * np.nan_to_num(rate))[with_project],
        ),
        axis=1,
    )
    done_project = task_project[done["task"].to_numpy()]
    known_done = done_project >= 0
    project_completions = _daily(done_project[known_done], done["day"].to_numpy()[known_done], n_projects, n_days)
    start = _ns(projects["start_date"])
    planned_end = _ns(projects["planned_end_date"])
    p_alive = start[:, None] < day_end[None, :]
    p_idx, p_pos = _rows(columns, p_alive)
    p_day = np.asarray(columns)[p_pos]
    completion_share = np.nan_to_num(_ratio(completed_now, total))
    elapsed = np.clip((day_end[None, :] - start[:, None]) / np.maximum(planned_end - start, 1)[:, None], 0.0, 1.0)
    risk = (
        0.4 * np.nan_to_num(_ratio(overdue, open_count))
        + 0.3 * np.nan_to_num(_ratio(blocked, open_count))
        + 0.3 * np.clip(elapsed - completion_share, 0.0, 1.0)
    )
    user_team = history.team_index.get_indexer(users["team_id"])
    history.dropped["users without a known team"] = int((user_team < 0).sum())
    in_team = user_team >= 0
    team_members = np.asarray(_group_matrix(user_team[in_team], len(teams)) @ user_alive[in_team].astype(float))
    project_team = history.team_index.get_indexer(projects["team_id"])
    members_of_project = np.where(project_team[:, None] >= 0, team_members[np.maximum(project_team, 0)], 0.0)
    budget = projects["budget"].to_numpy(dtype=float)
    project_values = {
        "total_tasks": total[p_idx, p_day],
        "completed_tasks": completed_now[p_idx, p_day],
        "in_progress_tasks": in_progress[p_idx, p_day],
        "blocked_tasks": blocked[p_idx, p_day],
        "completion_pct": completion_share[p_idx, p_day] * 100.0,
        "velocity_tasks_per_week": _trailing(project_completions, 30)[p_idx, p_day] * 7.0 / 30.0,
        "risk_score": risk[p_idx, p_day],
        "team_size": members_of_project[p_idx, p_day],
        "budget_utilization": _ratio(project_cost[p_idx, p_day], budget[p_idx]),
        "hours_logged_7d": _trailing(project_hours, 7)[p_idx, p_day],
        "hours_logged_30d": _trailing(project_hours, 30)[p_idx, p_day],
    }
    project_frame = frame(PROJECT, history.project_index, p_idx, p_pos, project_values)

    # -- teams ---------------------------------------------------------------------------------
    n_teams = len(teams)
    created_ns = _ns(teams["created_at"]) if "created_at" in teams else np.full(n_teams, NAT)
    team_alive = created_ns[:, None] < day_end[None, :]
    tm_idx, tm_pos = _rows(columns, team_alive)
    skills = users[[f"skill_{s}" for s in SKILLS]].to_numpy(dtype=float)
    strongest = np.nan_to_num(skills, nan=-1.0).argmax(axis=1)
    experience = users["years_experience"].to_numpy(dtype=float)
    collaborative = done_u[done_u["collaborators"] >= 1]
    collab_daily = _daily(collaborative["user"].to_numpy(), collaborative["day"].to_numpy(), n_users, n_days)
    collab_30, member_hours_30 = _trailing(collab_daily, 30), _trailing(hours_daily, 30)
    team_rows: dict[str, list[float]] = {f.name: [] for f in TEAM.features}
    for t, pos in zip(tm_idx, tm_pos):
        c = columns[pos]
        members = np.flatnonzero((user_team == t) & user_alive[:, c])
        load = workload[members, c]
        share = np.bincount(strongest[members], minlength=len(SKILLS)) / max(len(members), 1)
        share = share[share > 0]
        mean_load = load.mean() if len(load) else 0.0
        team_completions = completed_30[members, c].sum()
        team_rows["team_size"].append(len(members))
        team_rows["skill_diversity"].append(
            float(-(share * np.log(share)).sum() / np.log(len(SKILLS))) if len(members) else np.nan
        )
        team_rows["experience_avg"].append(np.nanmean(experience[members]) if len(members) else np.nan)
        team_rows["experience_min"].append(np.nanmin(experience[members]) if len(members) else np.nan)
        team_rows["experience_max"].append(np.nanmax(experience[members]) if len(members) else np.nan)
        team_rows["workload_balance"].append(max(0.0, 1.0 - load.std() / mean_load) if mean_load > 0 else 1.0)
        team_rows["collaboration_score"].append(
            100.0 * collab_30[members, c].sum() / team_completions if team_completions > 0 else np.nan
        )
        team_rows["hours_logged_30d"].append(member_hours_30[members, c].sum())
    team_frame = frame(
        TEAM, history.team_index, tm_idx, tm_pos, {k: np.asarray(v, dtype=float) for k, v in team_rows.items()}
    )

    return GoldFeatures(
        {"user": user_frame, "task": task_frame, "project": project_frame, "team": team_frame},
        {k: v for k, v in history.dropped.items() if v},
    )
