"""Tests of the demo source system generator (``maestro_assets.lib.demo``).

Small scales keep the file fast; one module-scoped generation at scale 1.0 checks sizes and
speed (and gives enough completed projects to check the success-score signal).
"""

from __future__ import annotations

import io
import json
import subprocess
import time
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from maestro_assets.lib import demo

SMALL = 0.02
SKILLS = ("backend", "frontend", "database", "devops")
COLUMNS = {
    "teams": ["team_id", "name", "department", "created_at"],
    "users": [
        "user_id",
        "name",
        "email",
        "team_id",
        "role",
        "years_experience",
        "skill_backend",
        "skill_frontend",
        "skill_database",
        "skill_devops",
        "capacity_hours_per_week",
        "hourly_rate",
        "hired_at",
    ],
    "projects": [
        "project_id",
        "name",
        "team_id",
        "start_date",
        "planned_end_date",
        "actual_end_date",
        "budget",
        "spent",
        "status",
        "success_score",
        "duration_days",
        "cost",
    ],
    "tasks": [
        "task_id",
        "project_id",
        "assignee_id",
        "title",
        "priority",
        "complexity",
        "estimated_hours",
        "actual_hours",
        "required_skill_backend",
        "required_skill_frontend",
        "required_skill_database",
        "required_skill_devops",
        "dependency_count",
        "depends_on",
        "created_at",
        "started_at",
        "deadline",
        "completed_at",
        "status",
        "is_late",
    ],
    "task_events": ["event_id", "task_id", "user_id", "event_type", "event_time", "hours_logged"],
    "artifacts": ["artifact_id", "name", "kind", "owner_id", "project_id", "created_at", "version", "tags"],
    "artifact_usage": ["usage_id", "artifact_id", "project_id", "user_id", "used_at"],
    "deployments": [
        "deployment_id",
        "project_id",
        "environment",
        "sha",
        "deployed_at",
        "status",
        "lead_time_hours",
        "restored_at",
    ],
    "ci_runs": [
        "run_id",
        "project_id",
        "workflow",
        "branch",
        "sha",
        "event",
        "status",
        "conclusion",
        "created_at",
        "started_at",
        "updated_at",
        "duration_seconds",
        "actor",
    ],
}
# (child table, column, parent table, parent key)
FOREIGN_KEYS = [
    ("users", "team_id", "teams", "team_id"),
    ("projects", "team_id", "teams", "team_id"),
    ("tasks", "project_id", "projects", "project_id"),
    ("tasks", "assignee_id", "users", "user_id"),
    ("tasks", "depends_on", "tasks", "task_id"),
    ("task_events", "task_id", "tasks", "task_id"),
    ("task_events", "user_id", "users", "user_id"),
    ("artifacts", "owner_id", "users", "user_id"),
    ("artifacts", "project_id", "projects", "project_id"),
    ("artifact_usage", "artifact_id", "artifacts", "artifact_id"),
    ("artifact_usage", "project_id", "projects", "project_id"),
    ("artifact_usage", "user_id", "users", "user_id"),
    ("deployments", "project_id", "projects", "project_id"),
    ("ci_runs", "project_id", "projects", "project_id"),
]


@pytest.fixture(scope="module")
def small() -> demo.DemoData:
    return demo.generate(scale=SMALL, seed=7)


@pytest.fixture(scope="module")
def full() -> tuple[demo.DemoData, float]:
    started = time.perf_counter()
    data = demo.generate(scale=1.0)
    return data, time.perf_counter() - started


def window_bounds(data: demo.DemoData) -> tuple[pd.Timestamp, pd.Timestamp]:
    return pd.Timestamp(data.start_date, tz="UTC"), pd.Timestamp(data.end_date, tz="UTC")


def git(path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, check=True).stdout


# --- shape, determinism, sizes ------------------------------------------------------------


def test_tables_come_in_load_order_with_their_columns(small):
    assert tuple(demo.TABLES) == tuple(COLUMNS)
    assert list(small.tables()) == list(demo.TABLES)
    for table, frame in small.tables().items():
        assert list(frame.columns) == COLUMNS[table], table
        assert len(frame) > 0, table
        key = COLUMNS[table][0]
        assert frame[key].is_unique and frame[key].dtype == np.int64, table
    assert small.end_date - small.start_date == timedelta(days=90)


def test_columns_have_proper_dtypes(small):
    for table, frame in small.tables().items():
        for column in frame.columns:
            if column.endswith("_at") or column in ("deadline", "event_time"):
                assert str(frame[column].dtype) == "datetime64[ns, UTC]", (table, column)
            if column.endswith("_id") and column != "depends_on":
                assert frame[column].dtype == np.int64, (table, column)
    tasks = small.tasks
    assert tasks["is_late"].dtype == "boolean" and tasks["depends_on"].dtype == "Int64"
    assert all(tasks[f"required_skill_{s}"].dtype == bool for s in SKILLS)
    assert small.projects["start_date"].dtype == "datetime64[ns]"
    assert small.task_events["hours_logged"].dtype == float
    assert isinstance(small.users["email"].iloc[0], str)


def test_same_seed_gives_identical_frames_and_another_seed_differs():
    first, again, other = (demo.generate(scale=0.01, seed=s) for s in (3, 3, 4))
    for table in demo.TABLES:
        pd.testing.assert_frame_equal(first.tables()[table], again.tables()[table])
        assert (
            pd.util.hash_pandas_object(first.tables()[table]).to_numpy()
            == pd.util.hash_pandas_object(again.tables()[table]).to_numpy()
        ).all()
    assert not first.tasks["estimated_hours"].equals(other.tasks["estimated_hours"])
    assert not first.users["name"].equals(other.users["name"])


def test_tiny_scale_is_still_a_coherent_dataset():
    data = demo.generate(scale=0.005, seed=1)
    assert len(data.users) >= 10 and len(data.teams) >= 3 and len(data.projects) >= 4
    assert all(len(frame) > 0 for frame in data.tables().values())
    assert_foreign_keys(data)


def test_full_scale_sizes_and_speed(full):
    data, seconds = full
    assert seconds < 30, f"scale 1.0 took {seconds:.1f}s"
    assert 1_800 <= len(data.users) <= 2_200
    assert len(data.projects) == 200
    assert 54_000 <= len(data.tasks) <= 66_000
    assert 900_000 <= len(data.task_events) <= 1_100_000
    small = demo.generate(scale=0.1)
    assert len(small.tasks) == pytest.approx(len(data.tasks) / 10, rel=0.1)


# --- integrity and ranges -----------------------------------------------------------------


def assert_foreign_keys(data: demo.DemoData) -> None:
    tables = data.tables()
    for child, column, parent, key in FOREIGN_KEYS:
        values = tables[child][column].dropna()
        missing = ~values.isin(tables[parent][key])
        assert not missing.any(), f"{child}.{column} -> {parent}.{key}: {values[missing].head().tolist()}"


def test_every_foreign_key_points_at_an_existing_row(small):
    assert_foreign_keys(small)


def test_assignees_mostly_belong_to_the_project_team(small):
    team_of_user = small.users.set_index("user_id")["team_id"]
    team_of_project = small.projects.set_index("project_id")["team_id"]
    same = (small.tasks["assignee_id"].map(team_of_user) == small.tasks["project_id"].map(team_of_project)).mean()
    assert 0.75 < same < 0.98


def test_values_are_in_range(small):
    users, tasks, projects = small.users, small.tasks, small.projects
    for skill in SKILLS:
        assert users[f"skill_{skill}"].between(0, 1).all()
    assert (users["years_experience"] > 0).all() and (users["hourly_rate"] > 0).all()
    assert users["email"].is_unique
    assert tasks["priority"].between(1, 4).all() and set(tasks["priority"]) == {1, 2, 3, 4}
    assert tasks["complexity"].between(1, 10).all()
    assert (tasks["estimated_hours"] > 0).all() and (tasks["dependency_count"] >= 0).all()
    assert tasks[[f"required_skill_{s}" for s in SKILLS]].any(axis=1).all()
    assert set(tasks["status"]) <= {"todo", "in_progress", "blocked", "done", "cancelled"}
    assert set(projects["status"]) <= {"planned", "active", "completed", "cancelled"}
    assert projects["success_score"].dropna().between(0, 100).all()
    assert (projects["duration_days"] > 0).all() and (projects["cost"] >= 0).all()
    assert set(small.artifacts["kind"]) <= {"dataset", "feature_view", "model", "code"}
    assert small.artifacts["tags"].str.fullmatch(r"[a-z]+(,[a-z]+){0,2}").all()
    assert set(small.deployments["environment"]) <= {"staging", "production"}
    assert set(small.ci_runs["conclusion"]) <= {"success", "failure", "cancelled"}
    assert (small.ci_runs["status"] == "completed").all()
    assert small.ci_runs["sha"].str.fullmatch(r"[0-9a-f]{40}").all()


def test_task_lifecycle_is_consistent(small):
    tasks = small.tasks
    done = tasks["status"] == "done"
    assert done.mean() > 0.5
    assert tasks["completed_at"].notna().eq(done).all()
    assert tasks["actual_hours"].notna().eq(done).all()
    assert tasks["is_late"].notna().eq(done).all()
    assert (tasks.loc[done, "is_late"] == (tasks.loc[done, "completed_at"] > tasks.loc[done, "deadline"])).all()
    assert 0.2 < tasks["is_late"].mean() < 0.45
    assert (tasks["deadline"] > tasks["created_at"]).all()
    started = tasks["started_at"].notna()
    assert (tasks.loc[started, "started_at"] >= tasks.loc[started, "created_at"]).all()
    assert (tasks.loc[done, "completed_at"] > tasks.loc[done, "started_at"]).all()
    assert tasks.loc[tasks["status"] == "todo", "started_at"].isna().all()
    start, end = window_bounds(small)
    assert tasks["created_at"].between(start, end, inclusive="left").all()
    assert (tasks.loc[done, "completed_at"] < end).all()
    # dependencies point at earlier tasks of the same project
    dependent = tasks[tasks["depends_on"].notna()]
    assert (tasks["depends_on"].notna() == (tasks["dependency_count"] > 0)).all()
    parent = tasks.set_index("task_id").loc[dependent["depends_on"].astype("int64")]
    assert (parent["project_id"].to_numpy() == dependent["project_id"].to_numpy()).all()
    assert (parent["created_at"].to_numpy() <= dependent["created_at"].to_numpy()).all()


def test_events_lie_inside_the_window_and_their_task_life(small):
    events = small.task_events.merge(small.tasks, on="task_id", how="left", validate="many_to_one")
    start, end = window_bounds(small)
    assert events["event_time"].between(start, end, inclusive="left").all()
    assert (events["event_time"] >= events["created_at"]).all()
    done = events["status"] == "done"
    assert (events.loc[done, "event_time"] <= events.loc[done, "completed_at"]).all()
    assert events["event_id"].is_monotonic_increasing and events["event_time"].is_monotonic_increasing
    per_task = small.task_events.groupby("task_id")["event_type"].agg(set)
    assert per_task.map(lambda kinds: {"created", "assigned"} <= kinds).all()
    done_ids = small.tasks.loc[small.tasks["status"] == "done", "task_id"]
    assert per_task.loc[done_ids].map(lambda kinds: "completed" in kinds).all()
    assert (small.task_events.loc[small.task_events["event_type"] != "work_logged", "hours_logged"] == 0).all()


def test_work_logs_add_up_to_actual_hours(small):
    logged = small.task_events.groupby("task_id")["hours_logged"].sum()
    done = small.tasks[small.tasks["status"] == "done"].set_index("task_id")
    np.testing.assert_allclose(logged.reindex(done.index).to_numpy(), done["actual_hours"].to_numpy(), atol=0.01)


def test_projects_are_consistent_with_their_tasks(full):
    data, _ = full
    projects, tasks = data.projects, data.tasks
    completed = projects["status"] == "completed"
    assert completed.sum() >= 60
    assert projects["success_score"].notna().eq(completed).all()
    ended = projects["status"].isin(["completed", "cancelled"])
    assert projects["actual_end_date"].notna().eq(ended).all()
    assert (projects.loc[ended, "actual_end_date"] >= projects.loc[ended, "start_date"]).all()
    open_tasks = tasks[tasks["status"].isin(["todo", "in_progress", "blocked"])]
    assert not open_tasks["project_id"].isin(projects.loc[completed, "project_id"]).any()
    assert (projects.loc[projects["status"] == "planned", "start_date"] >= pd.Timestamp(data.end_date)).all()
    # duration and cost grow with the work in the project
    active = projects[projects["status"] != "planned"].set_index("project_id")
    work = tasks.groupby("project_id").agg(n=("task_id", "size"), hours=("estimated_hours", "sum"))
    assert np.corrcoef(active["duration_days"], work.loc[active.index, "n"])[0, 1] > 0.3
    assert np.corrcoef(active["cost"], work.loc[active.index, "hours"])[0, 1] > 0.8


def test_artifacts_deployments_and_runs_respect_time(small):
    start, end = window_bounds(small)
    usage = small.artifact_usage.merge(small.artifacts[["artifact_id", "created_at"]], on="artifact_id")
    assert (usage["used_at"] >= usage["created_at"]).all()
    assert usage["used_at"].between(start, end, inclusive="left").all()
    deployments, runs = small.deployments, small.ci_runs
    assert deployments["deployed_at"].between(start, end, inclusive="left").all()
    failed = deployments["status"] == "failure"
    assert deployments.loc[~failed, "restored_at"].isna().all()
    restored = deployments[failed & deployments["restored_at"].notna()]
    assert (restored["restored_at"] > restored["deployed_at"]).all()
    assert ((runs["created_at"] <= runs["started_at"]) & (runs["started_at"] < runs["updated_at"])).all()
    assert ((runs["updated_at"] - runs["started_at"]).dt.total_seconds() == runs["duration_seconds"]).all()
    assert runs["created_at"].between(start, end, inclusive="left").all()
    deploys = runs[runs["workflow"] == "deploy"]
    assert sorted(deploys["sha"]) == sorted(deployments["sha"])
    assert set(runs["workflow"]) == {"build", "test", "deploy"}


# --- planted signal -----------------------------------------------------------------------


def lateness_features(data: demo.DemoData) -> pd.DataFrame:
    """Per task: the features lateness is documented to depend on, computed from the tables alone."""
    tasks, users = data.tasks, data.users.set_index("user_id")
    assignee = users.loc[tasks["assignee_id"]]
    required = tasks[[f"required_skill_{s}" for s in SKILLS]].to_numpy()
    skills = assignee[[f"skill_{s}" for s in SKILLS]].to_numpy()
    # load: estimated hours of the assignee's tasks created in the 14 days up to this one, vs capacity
    order = np.lexsort((tasks["created_at"].to_numpy(), tasks["assignee_id"].to_numpy()))
    created = tasks["created_at"].astype("int64").to_numpy()[order] // 10**9
    key = (tasks["assignee_id"].to_numpy()[order].astype(np.int64) << 32) | created
    total = np.concatenate([[0.0], np.cumsum(tasks["estimated_hours"].to_numpy()[order])])
    load = np.empty(len(tasks))
    load[order] = total[np.searchsorted(key, key, "right")] - total[np.searchsorted(key, key - 14 * 86_400, "left")]
    hours_to_deadline = (tasks["deadline"] - tasks["created_at"]).dt.total_seconds() / 3_600
    return pd.DataFrame(
        {
            "complexity": tasks["complexity"],
            "dependency_count": tasks["dependency_count"],
            "skill_match": (required * skills).sum(axis=1) / required.sum(axis=1),
            "overload": load / (2 * assignee["capacity_hours_per_week"].to_numpy()),
            "years_experience": assignee["years_experience"].to_numpy(),
            "log_tightness": np.log(tasks["estimated_hours"] / hours_to_deadline),
            "priority_1": (tasks["priority"] == 1).astype(float),
        }
    )


def test_task_lateness_is_learnable_but_not_trivial(small):
    done = (small.tasks["status"] == "done").to_numpy()
    features = lateness_features(small)[done]
    late = small.tasks.loc[done, "is_late"].astype(bool).to_numpy()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1_000))
    auc = cross_val_score(model, features, late, cv=5, scoring="roc_auc").mean()
    assert 0.65 < auc < 0.95, auc
    coefficients = dict(zip(features.columns, model.fit(features, late)[-1].coef_[0]))
    assert coefficients["complexity"] > 0 and coefficients["overload"] > 0 and coefficients["log_tightness"] > 0
    assert coefficients["skill_match"] < 0 and coefficients["years_experience"] < 0


# the documented direction of each planted lateness factor, and the least effect (logit per standard
# deviation, all factors fitted together) it must have. Measured one seed at a time over 40 seeds
# at this scale: with a factor's weight set to zero its fitted effect stayed within +-0.07; with the
# planted weights the weakest was 0.29 (priority 1: 0.12, documented as small). Three seeds pooled
# narrow both.
LATENESS_EFFECTS = {
    "complexity": (+1, 0.15),
    "dependency_count": (+1, 0.15),
    "skill_match": (-1, 0.15),
    "overload": (+1, 0.15),
    "years_experience": (-1, 0.15),
    "log_tightness": (+1, 0.15),
    "priority_1": (-1, 0.095),
}


@pytest.fixture(scope="module")
def lateness_effects() -> dict[str, float]:
    """Logistic regression of is_late on every factor at once, over the done tasks of three seeds:
    fitting them together keeps correlated factors (complexity drives dependencies and estimates)
    from standing in for one another, as a per-factor comparison of late rates would let them."""
    features, late = [], []
    for seed in (1, 2, 3):
        data = demo.generate(scale=0.1, seed=seed)
        done = (data.tasks["status"] == "done").to_numpy()
        features.append(lateness_features(data)[done])
        late.append(data.tasks.loc[done, "is_late"].astype(bool).to_numpy())
    features = pd.concat(features, ignore_index=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1e6, max_iter=2_000))
    model.fit(features, np.concatenate(late))
    return dict(zip(features.columns, model[-1].coef_[0]))


@pytest.mark.parametrize("factor", list(LATENESS_EFFECTS))
def test_each_planted_lateness_factor_has_its_effect(lateness_effects, factor):
    sign, least = LATENESS_EFFECTS[factor]
    assert set(lateness_effects) == set(LATENESS_EFFECTS)
    assert sign * lateness_effects[factor] > least, lateness_effects


def test_project_success_is_learnable_but_not_trivial(full):
    data, _ = full
    tasks = data.tasks.assign(skill_match=lateness_features(data)["skill_match"].to_numpy())
    members = data.users.groupby("team_id")
    projects = data.projects[data.projects["status"] == "completed"].set_index("project_id")
    features = pd.DataFrame(
        {
            "team_experience": projects["team_id"].map(members["years_experience"].mean()),
            "log_team_size": np.log(projects["team_id"].map(members.size())),
            "skill_match": tasks.groupby("project_id")["skill_match"].mean().reindex(projects.index),
            "log_reuse": np.log1p(
                data.artifact_usage.groupby("project_id").size().reindex(projects.index, fill_value=0)
            ),
            "log_budget_adequacy": np.log(projects["budget"] / projects["cost"]),
            "late_rate": tasks.groupby("project_id")["is_late"].mean().reindex(projects.index).astype(float),
        }
    )
    r2 = LinearRegression().fit(features, projects["success_score"]).score(features, projects["success_score"])
    assert 0.3 < r2 < 0.9, r2


# --- landing files, git repository, CI export ----------------------------------------------


def test_landing_files_parse_back_to_the_days_rows(small):
    files = demo.landing_files(small)
    days = [small.end_date - timedelta(days=d) for d in (3, 2, 1)]
    feeds = {
        "task_events": ("event_time", "csv"),
        "ci_runs": ("created_at", "jsonl"),
        "deployments": ("deployed_at", "parquet"),
    }
    assert len(files) == len(feeds) * len(days) + 1  # + the planted UTF-16 export of the last day
    bad_file = demo.landing.planted_bad_file(days[-1])
    assert files[bad_file].startswith(b"\xff\xfe")  # UTF-16 with its byte-order mark: unreadable as UTF-8
    readers = {"csv": pd.read_csv, "jsonl": lambda b: pd.read_json(b, lines=True), "parquet": pd.read_parquet}
    rows = 0
    for table, (column, ext) in feeds.items():
        frame = small.tables()[table]
        for day in days:
            key = f"landing/{table}/date={day.isoformat()}/{table}.{ext}"
            expected = frame[frame[column].dt.date == day]
            parsed = readers[ext](io.BytesIO(files[key]))
            if table == "task_events" and day == days[-1]:  # the planted rows of an unknown type
                planted = parsed[parsed["event_type"] == demo.landing.PLANTED_EVENT_TYPE]
                assert len(planted) == demo.landing.PLANTED_BAD_ROWS and planted["event_id"].is_unique
                assert not set(planted["event_id"]) & set(frame["event_id"])
                parsed = parsed.drop(planted.index)
            if len(expected):
                assert list(parsed.columns) == list(frame.columns), key
                assert sorted(parsed[frame.columns[0]]) == sorted(expected[frame.columns[0]]), key
            rows += len(expected)
    assert rows > 100
    events = pd.read_csv(io.BytesIO(files[f"landing/task_events/date={days[0].isoformat()}/task_events.csv"]))
    assert pd.to_datetime(events["event_time"], utc=True).dt.date.eq(days[0]).all()
    parquet = pd.read_parquet(io.BytesIO(files[f"landing/deployments/date={days[0].isoformat()}/deployments.parquet"]))
    assert str(parquet["deployed_at"].dtype) == "datetime64[ns, UTC]"
    assert demo.landing_files(small) == files


def test_git_repository_has_history_authors_branches_and_churn(small, tmp_path):
    path = tmp_path / "repo"
    summary = demo.write_git_repository(small, path, commits=60)
    assert summary.path == path and summary.commits == 60
    assert int(git(path, "rev-list", "--all", "--count")) == 60
    authors = set(git(path, "log", "--all", "--format=%an <%ae>").splitlines())
    assert len(authors) >= 3 and authors == set(summary.authors)
    assert authors <= set(small.users["name"] + " <" + small.users["email"] + ">")
    branches = git(path, "branch", "--format=%(refname:short)").split()
    assert "main" in branches and len(branches) >= 4 and set(branches) == set(summary.branches)
    merges = git(path, "rev-list", "--merges", "--count", "main")
    assert int(merges) == len(summary.merged_branches) >= 1
    numstat = [line.split("\t") for line in git(path, "log", "--all", "--numstat", "--format=").splitlines() if line]
    assert sum(int(added) for added, _, _ in numstat) > 500 and sum(int(deleted) for _, deleted, _ in numstat) > 0
    touched = {file for _, _, file in numstat}
    assert any(f.startswith("src/") for f in touched) and any(f.startswith("tests/") for f in touched)
    stamps = [int(t) for t in git(path, "log", "--all", "--format=%at").split()]
    start, end = (datetime.combine(d, datetime.min.time(), UTC).timestamp() for d in (small.start_date, small.end_date))
    assert all(start - 3 * 3_600 <= t < end for t in stamps)
    assert git(path, "status", "--porcelain") == "" and (path / "README.md").exists()
    assert git(path, "rev-parse", "HEAD").strip() == summary.head

    again = demo.write_git_repository(small, path, commits=60)  # replaces the old repository
    assert again.head == summary.head
    default = demo.write_git_repository(small, tmp_path / "default")
    assert default.commits == 30 == int(git(default.path, "rev-list", "--all", "--count"))


def test_git_repository_refuses_to_delete_other_directories(small, tmp_path):
    (tmp_path / "keep.txt").write_text("precious")
    with pytest.raises(FileExistsError):
        demo.write_git_repository(small, tmp_path)
    assert (tmp_path / "keep.txt").exists()


def test_ci_export_has_the_github_actions_shape(small):
    export = demo.ci_runs_export(small)
    runs = export["workflow_runs"]
    assert export["total_count"] == len(runs) == len(small.ci_runs)
    required = {
        "id",
        "name",
        "node_id",
        "head_branch",
        "head_sha",
        "path",
        "display_title",
        "run_number",
        "run_attempt",
        "event",
        "status",
        "conclusion",
        "workflow_id",
        "url",
        "html_url",
        "created_at",
        "updated_at",
        "run_started_at",
        "actor",
        "repository",
    }
    assert all(required <= set(run) for run in runs)
    assert all(
        {"login", "id"} <= set(run["actor"]) and {"id", "name", "full_name"} <= set(run["repository"]) for run in runs
    )
    assert {run["conclusion"] for run in runs} <= {"success", "failure", "cancelled"}
    assert {run["status"] for run in runs} == {"completed"}
    assert sorted(run["id"] for run in runs) == sorted(small.ci_runs["run_id"])
    assert len({run["node_id"] for run in runs}) == len(runs)
    for run in runs:
        datetime.strptime(run["created_at"], "%Y-%m-%dT%H:%M:%SZ")
        assert run["created_at"] <= run["run_started_at"] <= run["updated_at"]
        assert run["repository"]["full_name"].endswith("/" + run["repository"]["name"])
    numbers = pd.DataFrame([(r["workflow_id"], r["run_number"]) for r in runs], columns=["workflow", "number"])
    assert not numbers.duplicated().any()
    assert json.loads(json.dumps(export)) == export
    assert demo.ci_runs_export(small) == export


def test_date_window_follows_end_date():
    data = demo.generate(scale=0.005, seed=2, end_date=date(2025, 3, 1))
    assert data.start_date == date(2024, 12, 1)
    start, end = window_bounds(data)
    assert data.task_events["event_time"].between(start, end, inclusive="left").all()
