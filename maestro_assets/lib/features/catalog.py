"""The gold feature tables: one per entity, every feature named, typed and described once.

Feast's feature views, the gold assets' schemas and the docs are built from this catalog, so a
feature is added in one place. Windows are trailing and end with the day a row describes:
``_7d`` covers that day and the six before it, ``_30d`` that day and the 29 before it.
"""

from __future__ import annotations

from dataclasses import dataclass

WINDOWS = (7, 30)
LONGEST_WINDOW = max(WINDOWS)
EVENT_TIMESTAMP = "event_timestamp"  # the end of the day a row describes (the next midnight, UTC)
CREATED_TIMESTAMP = "created_timestamp"  # when the row was computed


@dataclass(frozen=True)
class Feature:
    name: str
    dtype: str  # "float64" or "int64"
    description: str


@dataclass(frozen=True)
class FeatureTable:
    entity: str  # user, task, project, team
    key: str  # the entity's join key column
    description: str
    features: tuple[Feature, ...]

    @property
    def name(self) -> str:
        return f"{self.entity}_features"

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def columns(self) -> list[str]:
        return [self.key, EVENT_TIMESTAMP, CREATED_TIMESTAMP, *self.feature_names]


def _f(name: str, description: str, dtype: str = "float64") -> Feature:
    return Feature(name, dtype, description)


USER = FeatureTable(
    "user",
    "user_id",
    "One row per user hired by the end of the day.",
    (
        _f("skill_backend", "Backend skill score, 0-1 (users table)."),
        _f("skill_frontend", "Frontend skill score, 0-1 (users table)."),
        _f("skill_database", "Database skill score, 0-1 (users table)."),
        _f("skill_devops", "DevOps skill score, 0-1 (users table)."),
        _f("current_workload_hours", "Estimated hours not yet logged on the open tasks assigned to the user."),
        _f("tasks_completed_7d", "Tasks the user completed in the 7-day window.", "int64"),
        _f("tasks_completed_30d", "Tasks the user completed in the 30-day window.", "int64"),
        _f("avg_completion_hours_30d", "Mean hours from a task's start to its completion, tasks completed in 30 days."),
        _f("avg_collaborators_30d", "Mean number of other people active on a task before its completion (30 days)."),
        _f("bug_rate_30d", "Reopens of tasks assigned to the user, per task the user completed (30 days)."),
        _f("years_experience", "Years of experience (users table)."),
        _f("capacity_pct_7d", "Hours logged in 7 days as a percentage of the weekly capacity."),
        _f("events_7d", "Task events by the user in 7 days.", "int64"),
        _f("events_30d", "Task events by the user in 30 days.", "int64"),
    ),
)

TASK = FeatureTable(
    "task",
    "task_id",
    "One row per task that is open at the end of the day or changed status during it.",
    (
        _f("complexity_score", "Complexity (tasks table).", "int64"),
        _f("priority", "Priority 1 (highest) to 4.", "int64"),
        _f("estimated_hours", "Estimated effort in hours."),
        _f("required_skill_backend", "1 if the task needs backend skills.", "int64"),
        _f("required_skill_frontend", "1 if the task needs frontend skills.", "int64"),
        _f("required_skill_database", "1 if the task needs database skills.", "int64"),
        _f("required_skill_devops", "1 if the task needs DevOps skills.", "int64"),
        _f("dependency_count", "Number of tasks it depends on.", "int64"),
        _f("deadline_urgency", "1 / (1 + days until the deadline), 1 once the deadline has passed."),
        _f("days_until_deadline", "Days from the end of the day to the deadline (negative when overdue)."),
        _f("hours_logged_7d", "Hours logged on the task in 7 days."),
        _f("hours_logged_30d", "Hours logged on the task in 30 days."),
    ),
)

PROJECT = FeatureTable(
    "project",
    "project_id",
    "One row per project started by the end of the day.",
    (
        _f("total_tasks", "Tasks created and not cancelled.", "int64"),
        _f("completed_tasks", "Tasks done.", "int64"),
        _f("in_progress_tasks", "Tasks in progress.", "int64"),
        _f("blocked_tasks", "Tasks blocked.", "int64"),
        _f("completion_pct", "completed_tasks / total_tasks x 100 (0 without tasks)."),
        _f("velocity_tasks_per_week", "Tasks completed in 30 days x 7 / 30."),
        _f(
            "risk_score",
            "0-1: 0.4 x overdue share of open tasks + 0.3 x blocked share of open tasks "
            "+ 0.3 x max(0, share of planned time elapsed - share of tasks done).",
        ),
        _f("team_size", "Members of the project's team hired by the end of the day.", "int64"),
        _f("budget_utilization", "Cost to date (hours logged x the logger's hourly rate) / budget."),
        _f("hours_logged_7d", "Hours logged on the project's tasks in 7 days."),
        _f("hours_logged_30d", "Hours logged on the project's tasks in 30 days."),
    ),
)

TEAM = FeatureTable(
    "team",
    "team_id",
    "One row per team created by the end of the day (or without a creation time).",
    (
        _f("team_size", "Members hired by the end of the day.", "int64"),
        _f("skill_diversity", "Normalized entropy, 0-1, of the members' strongest skills."),
        _f("experience_avg", "Mean years of experience of the members."),
        _f("experience_min", "Least years of experience among the members."),
        _f("experience_max", "Most years of experience among the members."),
        _f("workload_balance", "1 - coefficient of variation of the members' current workload, floored at 0."),
        _f("collaboration_score", "0-100: share of the team's completions in 30 days with 2+ people on the task."),
        _f("hours_logged_30d", "Hours the members logged in 30 days."),
    ),
)

TABLES: dict[str, FeatureTable] = {t.entity: t for t in (USER, TASK, PROJECT, TEAM)}
