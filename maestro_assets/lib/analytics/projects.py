"""The analytics tables of people and projects: projects with their outcomes, team members, and the
success meta-model's predictions.

The operational tables (silver ``projects``, ``users``, ``teams``) are copied into
``analytics_projects`` and ``analytics_team_members`` so that artifact usage, process metrics and
predictions refer to one project row, whatever system the projects came from:

* a project is keyed by its NAME (``analytics_projects.name`` is unique; projects registered by hand
  with ``maestro artifacts register --project`` are the same rows). A re-sync updates the status, the
  dates and the outcomes it knows and leaves the rest;
* a team member is keyed by its ``handle`` — the e-mail, which is also how git and CI name people —
  and carries its team's name and role; a re-sync updates them;
* predictions are appended (``predicted_at`` tells the runs apart): the table is the history of what
  the meta-model said about each project, each row with the model that said it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..errors import MaestroError
from .artifacts import ArtifactLibrary
from .store import PREDICTION_TARGETS, Prediction, ProcessMetric, Project, TeamMember

MAX_NAME = 255
COLLABORATION_WINDOW_DAYS = 28
COLLABORATION_METRIC = "git.collaboration_score"
CONTRIBUTOR_COMMITS = "git.contributor.commits."


class ProjectSyncError(MaestroError):
    """The operational tables cannot be copied: the message names the table and the rows."""


def _required(frame: pd.DataFrame, table: str, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ProjectSyncError(f"{table}: missing column(s) {', '.join(missing)}")


def _value(value):
    """A pandas cell as a database value: None for missing, plain Python numbers and datetimes."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return (value.tz_localize("UTC") if value.tzinfo is None else value).to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _team_names(teams: pd.DataFrame) -> dict:
    _required(teams, "teams", ("team_id",))
    names = teams["name"] if "name" in teams.columns else teams["team_id"].map(lambda t: f"team {t}")
    return dict(zip(teams["team_id"], names.astype(str), strict=True))


def sync_projects(library: ArtifactLibrary, projects: pd.DataFrame, teams: pd.DataFrame) -> dict[int, int]:
    """Copy ``projects`` into ``analytics_projects``; the source ``project_id`` → the analytics row id.

    The outcomes (``success_score``, ``duration_days``, ``cost``) are copied only for a completed
    project: an active project's running cost is not its outcome."""
    _required(projects, "projects", ("project_id", "name", "team_id", "start_date", "status"))
    names = projects["name"].astype(str)
    twice = sorted(set(names[names.duplicated()]))
    if twice:
        raise ProjectSyncError(f"projects: the name(s) {twice[:5]} appear more than once (a project is keyed by name)")
    too_long = names[names.str.len() > MAX_NAME]
    if len(too_long):
        raise ProjectSyncError(f"projects: the name {too_long.iloc[0][:40]!r}… is longer than {MAX_NAME} characters")
    team_name = _team_names(teams)
    ids = {}
    for row in projects.to_dict(orient="records"):
        completed = row["status"] == "completed"
        outcome = {t: _value(row.get(t)) if completed else None for t in PREDICTION_TARGETS}
        ids[int(row["project_id"])] = library.register_project(
            str(row["name"]),
            team=team_name.get(row["team_id"]),
            status=str(row["status"]),
            started_at=_value(pd.Timestamp(row["start_date"])),
            finished_at=_value(pd.Timestamp(row["actual_end_date"])) if _value(row.get("actual_end_date")) else None,
            **outcome,
        )
    return ids


def sync_team_members(engine: Engine, users: pd.DataFrame, teams: pd.DataFrame, now: datetime | None = None) -> int:
    """Copy ``users`` into ``analytics_team_members`` keyed by e-mail; the rows inserted or updated."""
    _required(users, "users", ("email", "team_id"))
    handles = users["email"].astype(str).str.strip().str.lower()
    if handles.eq("").any() or users["email"].isna().any():
        raise ProjectSyncError(f"users: {int(handles.eq('').sum() + users['email'].isna().sum())} row(s) have no email")
    team_name = _team_names(teams)
    members = pd.DataFrame(
        {
            "handle": handles,
            "display_name": users["name"].astype(str) if "name" in users.columns else None,
            "team": users["team_id"].map(team_name),
            "role": users["role"] if "role" in users.columns else None,
        }
    ).drop_duplicates("handle", keep="last")
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        existing = dict(conn.execute(sa.select(TeamMember.handle, TeamMember.id)).all())
        rows = [{k: _value(v) for k, v in r.items()} for r in members.to_dict(orient="records")]
        new = [{**r, "created_at": now} for r in rows if r["handle"] not in existing]
        if new:
            conn.execute(sa.insert(TeamMember), new)
        changed = [
            {
                "member_id": existing[r["handle"]],
                "new_name": r["display_name"],
                "new_team": r["team"],
                "new_role": r["role"],
            }
            for r in rows
            if r["handle"] in existing
        ]
        if changed:
            conn.execute(
                sa.update(TeamMember)
                .where(TeamMember.id == sa.bindparam("member_id"))
                .values(
                    display_name=sa.bindparam("new_name"), team=sa.bindparam("new_team"), role=sa.bindparam("new_role")
                ),
                changed,
            )
    return len(rows)


def write_predictions(
    engine: Engine,
    predictions: pd.DataFrame,
    project_ids: dict[int, int],
    model_version: str,
    predicted_at: datetime | None = None,
) -> int:
    """Append the meta-model's ``predictions`` (project_id, target, value, lower, upper) to
    ``analytics_predictions``, the source project ids mapped to analytics ids; the rows written."""
    unknown = sorted(set(predictions["project_id"]) - set(project_ids))
    if unknown:
        raise ProjectSyncError(f"predictions of project_id {unknown[:5]}, which are not in analytics_projects")
    predicted_at = predicted_at or datetime.now(UTC)
    rows = [
        {
            "project_id": project_ids[int(r["project_id"])],
            "target": r["target"],
            "value": float(r["value"]),
            "lower": _value(r["lower"]),
            "upper": _value(r["upper"]),
            "model_version": model_version[:MAX_NAME],
            "predicted_at": predicted_at,
        }
        for r in predictions.to_dict(orient="records")
    ]
    if rows:
        with engine.begin() as conn:
            conn.execute(sa.insert(Prediction), rows)
    return len(rows)


def collaboration_before_start(
    engine: Engine, projects: pd.DataFrame, users: pd.DataFrame, window_days: int = COLLABORATION_WINDOW_DAYS
) -> pd.DataFrame:
    """Per project: its team's collaboration score in the ``window_days`` before the project started.

    A repository's weekly collaboration score (``git_weekly_metrics``) counts for every team one of
    whose members (``users.email``, compared in lower case with the mailmap-normalised e-mail git
    metrics store) committed to it that week; a team's score for a week is the mean over the
    repositories it committed to, and a project's ``collaboration_score`` the mean over the weeks
    starting in ``[start - window_days, start)`` — measured before the project, so known at its
    start. NaN when the team committed to no measured repository in that window.

    Columns: project_id, collaboration_score."""
    _required(projects, "projects", ("project_id", "team_id", "start_date"))
    _required(users, "users", ("email", "team_id"))
    stmt = sa.select(ProcessMetric.name, ProcessMetric.period_start, ProcessMetric.metric, ProcessMetric.value).where(
        ProcessMetric.scope == "repository",
        sa.or_(ProcessMetric.metric == COLLABORATION_METRIC, ProcessMetric.metric.startswith(CONTRIBUTOR_COMMITS)),
    )
    with engine.connect() as conn:
        rows = pd.DataFrame(conn.execute(stmt).all(), columns=["repository", "week", "metric", "value"])
    out = pd.DataFrame({"project_id": projects["project_id"].to_numpy(), "collaboration_score": np.nan})
    if rows.empty:
        return out
    scores = rows[rows["metric"] == COLLABORATION_METRIC].drop(columns="metric")
    commits = rows[rows["metric"].str.startswith(CONTRIBUTOR_COMMITS) & (rows["value"] > 0)].copy()
    team_of = dict(zip(users["email"].astype(str).str.lower(), users["team_id"], strict=False))
    commits["team_id"] = commits["metric"].str.slice(len(CONTRIBUTOR_COMMITS)).str.lower().map(team_of)
    teams_of_week = commits.dropna(subset=["team_id"])[["repository", "week", "team_id"]].drop_duplicates()
    team_weeks = teams_of_week.merge(scores, on=["repository", "week"]).dropna(subset=["value"])
    if team_weeks.empty:
        return out
    team_weeks = team_weeks.groupby(["team_id", "week"], as_index=False)["value"].mean()
    team_weeks["week"] = pd.to_datetime(team_weeks["week"])
    start = pd.to_datetime(projects["start_date"], utc=True).dt.tz_localize(None).dt.normalize().to_numpy()
    window = pd.Timedelta(days=window_days)
    values = []
    for team_id, day in zip(projects["team_id"].to_numpy(), start, strict=True):
        mine = team_weeks[team_weeks["team_id"] == team_id]
        inside = mine[(mine["week"] >= day - window) & (mine["week"] < day)]
        values.append(float(inside["value"].mean()) if len(inside) else np.nan)
    out["collaboration_score"] = values
    return out


def latest_predictions(engine: Engine) -> pd.DataFrame:
    """The newest prediction of every project and target: project (name), target, value, lower,
    upper, model_version, predicted_at."""
    newest = (
        sa.select(Prediction.project_id, Prediction.target, sa.func.max(Prediction.predicted_at).label("at"))
        .group_by(Prediction.project_id, Prediction.target)
        .subquery()
    )
    stmt = (
        sa.select(
            Project.name.label("project"),
            Prediction.target,
            Prediction.value,
            Prediction.lower,
            Prediction.upper,
            Prediction.model_version,
            Prediction.predicted_at,
        )
        .join(
            newest,
            (Prediction.project_id == newest.c.project_id)
            & (Prediction.target == newest.c.target)
            & (Prediction.predicted_at == newest.c.at),
        )
        .join(Project, Project.id == Prediction.project_id)
        .order_by(Project.name, Prediction.target)
    )
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(stmt).mappings().all())
