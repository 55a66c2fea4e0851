"""Projects, team members and predictions in the analytics tables, on SQLite and PostgreSQL: a
re-sync updates rather than duplicates, outcomes are copied only for completed projects,
predictions append and the newest per project is read back, and the collaboration score of a
team is read from the weeks before each project's start only."""

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from maestro_assets.lib.analytics import store
from maestro_assets.lib.analytics.artifacts import ArtifactLibrary
from maestro_assets.lib.analytics.process_metrics import replace_week
from maestro_assets.lib.analytics.projects import (
    ProjectSyncError,
    collaboration_before_start,
    latest_predictions,
    sync_projects,
    sync_team_members,
    write_predictions,
)
from maestro_assets.lib.analytics.store import Project, TeamMember

TEAMS = pd.DataFrame({"team_id": [1, 2], "name": ["core", "data"]})
PROJECTS = pd.DataFrame(
    {
        "project_id": [10, 11, 12],
        "name": ["atlas", "borealis", "cirrus"],
        "team_id": [1, 2, 1],
        "start_date": pd.to_datetime(["2026-08-03", "2026-08-24", "2026-08-31"]),
        "actual_end_date": pd.to_datetime(["2026-09-01", None, None]),
        "status": ["completed", "active", "planned"],
        "success_score": [71.5, np.nan, np.nan],
        "duration_days": [30, 40, 20],
        "cost": [1200.0, 800.0, 0.0],
    }
)
USERS = pd.DataFrame(
    {
        "email": ["Ada@Example.com", "bo@example.com", "cy@example.com"],
        "name": ["Ada", "Bo", "Cy"],
        "team_id": [1, 1, 2],
        "role": ["engineer", "lead", "analyst"],
    }
)


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request, tmp_path):
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else f"sqlite:///{tmp_path}/a.db"
    engine = sa.create_engine(url)
    store.upgrade(engine)
    yield engine
    engine.dispose()


def _rows(engine, model, *columns):
    with engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(sa.select(*[getattr(model, c) for c in columns])).all())


def test_projects_and_members_sync_by_name_and_email_and_a_resync_updates(engine):
    library = ArtifactLibrary(engine)
    ids = sync_projects(library, PROJECTS, TEAMS)
    assert set(ids) == {10, 11, 12} and len(set(ids.values())) == 3
    assert _rows(engine, Project, "name", "team", "status", "success_score", "cost") == [
        ("atlas", "core", "completed", 71.5, 1200.0),
        ("borealis", "data", "active", None, None),  # a running project's cost so far is not its outcome
        ("cirrus", "core", "planned", None, None),
    ]
    assert sync_team_members(engine, USERS, TEAMS) == 3
    later = PROJECTS.assign(status=["completed", "completed", "active"], success_score=[71.5, 55.0, np.nan])
    assert sync_projects(library, later, TEAMS) == ids  # same rows
    assert _rows(engine, Project, "name", "status", "success_score")[1] == ("borealis", "completed", 55.0)
    moved = USERS.assign(team_id=[2, 1, 2], role=["lead", "lead", "analyst"])
    sync_team_members(engine, moved, TEAMS)
    assert _rows(engine, TeamMember, "handle", "team", "role") == [
        ("ada@example.com", "data", "lead"),
        ("bo@example.com", "core", "lead"),
        ("cy@example.com", "data", "analyst"),
    ]


def test_predictions_append_and_the_newest_per_project_is_read(engine):
    ids = sync_projects(ArtifactLibrary(engine), PROJECTS, TEAMS)
    first = pd.DataFrame({"project_id": [11, 11], "target": ["success_score", "cost"], "value": [60.0, 900.0]}).assign(
        lower=[50.0, 700.0], upper=[70.0, 1100.0]
    )
    write_predictions(engine, first, ids, "run-1", datetime(2026, 9, 1, tzinfo=UTC))
    write_predictions(engine, first.assign(value=[65.0, 950.0]), ids, "run-2", datetime(2026, 9, 8, tzinfo=UTC))
    latest = latest_predictions(engine)
    assert latest[["project", "target", "value", "model_version"]].values.tolist() == [
        ["borealis", "cost", 950.0, "run-2"],
        ["borealis", "success_score", 65.0, "run-2"],
    ]
    with pytest.raises(ProjectSyncError, match=r"project_id \[99\]"):
        write_predictions(engine, first.assign(project_id=99), ids, "run-3")


def test_duplicate_project_names_and_users_without_email_are_refused(engine):
    with pytest.raises(ProjectSyncError, match="atlas.*more than once"):
        sync_projects(ArtifactLibrary(engine), PROJECTS.assign(name=["atlas", "atlas", "cirrus"]), TEAMS)
    with pytest.raises(ProjectSyncError, match="1 row"):
        sync_team_members(engine, USERS.assign(email=["a@x", None, "c@x"]), TEAMS)


def test_collaboration_is_the_teams_score_of_the_weeks_before_the_start(engine):
    def week(monday: str, score: float, who: list[str], repository: str = "svc"):
        values = {"git.collaboration_score": score} | {f"git.contributor.commits.{w}": 3.0 for w in who}
        replace_week(engine, "repository", repository, date.fromisoformat(monday), "git.", values)

    week("2026-06-29", 10.0, ["ada@example.com"])  # 35 days before atlas's start: not counted
    week("2026-07-13", 40.0, ["ada@example.com", "cy@example.com"])
    week("2026-07-27", 60.0, ["bo@example.com"])
    week("2026-07-27", 20.0, ["ADA@example.com"], repository="web")  # two repositories: the team's mean
    week("2026-08-03", 90.0, ["ada@example.com"])  # atlas's own start week: not before it
    scores = collaboration_before_start(engine, PROJECTS, USERS).set_index("project_id")["collaboration_score"]
    assert scores[10] == pytest.approx((40.0 + (60.0 + 20.0) / 2) / 2)  # weeks 07-13 and 07-27 (two repositories)
    assert np.isnan(scores[11])  # team 2 (cy) committed on 07-13 only, before borealis's window [07-27, 08-24)
    assert scores[12] == pytest.approx(90.0)  # cirrus starts 08-31: its window [08-03, 08-31) holds 08-03 only
