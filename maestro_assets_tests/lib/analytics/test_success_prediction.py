"""The success meta-model: start-time features only, honest conformal intervals, team-size advice.

The synthetic organisation below has a planted structure: a project's success score rises with
team size when its tasks are complex and falls with it when they are simple (so the best size is
the largest in the top complexity band and the smallest in the bottom one), its duration follows
its task count and its cost its estimated hours.
"""

import math

import numpy as np
import pandas as pd
import pytest

from maestro_assets.lib.analytics.success import (
    FEATURES,
    MIN_FINISHED_PROJECTS,
    TARGETS,
    TEAM_SIZE_RULE,
    SuccessPredictionError,
    SuccessPredictor,
    TooFewProjectsError,
    calibration_rows_needed,
    conformal_half_width,
    early_artifact_reuse,
    feature_columns,
    project_history,
    team_size_recommendation,
)
from maestro_assets.lib.demo.generator import generate

TEAM_SIZES = (2, 4, 6, 8)
RATE = 100.0
FAST = dict(max_trials=3, families=["extra_trees"], cv=3, random_state=0)


def synthetic_tables(n_projects: int, seed: int = 0, unfinished_share: float = 0.1) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n_teams = 40
    teams = pd.DataFrame({"team_id": np.arange(1, n_teams + 1), "name": [f"team {i}" for i in range(n_teams)]})
    team_size = np.array([TEAM_SIZES[i % len(TEAM_SIZES)] for i in range(n_teams)])
    member_team = np.repeat(teams["team_id"].to_numpy(), team_size)
    users = pd.DataFrame(
        {
            "user_id": np.arange(1, len(member_team) + 1),
            "team_id": member_team,
            "role": rng.choice(["engineer", "senior_engineer"], len(member_team)),
            "years_experience": rng.uniform(1, 15, len(member_team)).round(1),
            "hourly_rate": RATE,
            "hired_at": pd.Timestamp("2020-01-01", tz="UTC"),
        }
    )
    team = rng.integers(1, n_teams + 1, n_projects)
    size = team_size[team - 1]
    start = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 365, n_projects), unit="D")
    complexity_centre = rng.uniform(2, 9, n_projects)
    n_tasks = rng.integers(5, 21, n_projects)

    project_of_task = np.repeat(np.arange(n_projects), n_tasks)
    complexity = np.clip(np.round(rng.normal(complexity_centre[project_of_task], 0.5)), 1, 10).astype(int)
    estimated = 2.0 * complexity
    mean_complexity = np.bincount(project_of_task, weights=complexity) / n_tasks
    hours = np.bincount(project_of_task, weights=estimated)

    success = np.clip(60 + 2.5 * (size - 5) * (mean_complexity - 5.5) + rng.normal(0, 3, n_projects), 0, 100)
    duration = np.round(5 + 3 * n_tasks + rng.normal(0, 2, n_projects)).astype(int)
    cost = hours * RATE * rng.lognormal(0, 0.05, n_projects)
    finished = rng.random(n_projects) >= unfinished_share
    projects = pd.DataFrame(
        {
            "project_id": np.arange(1, n_projects + 1),
            "name": [f"project {i}" for i in range(n_projects)],
            "team_id": team,
            "start_date": start.date,
            "planned_end_date": (start + pd.Timedelta(days=60)).date,
            "actual_end_date": pd.Series((start + pd.to_timedelta(duration, unit="D")).date).where(finished),
            "budget": np.round(hours * RATE * 1.1, -2),
            "spent": np.where(finished, cost, cost / 2),
            "status": np.where(finished, "completed", "active"),
            "success_score": np.where(finished, success, np.nan),
            "duration_days": duration,
            "cost": cost,
        }
    )
    offset_days = rng.uniform(0, 1, len(project_of_task)) * duration[project_of_task]
    tasks = pd.DataFrame(
        {
            "task_id": np.arange(1, len(project_of_task) + 1),
            "project_id": project_of_task + 1,
            "complexity": complexity,
            "estimated_hours": estimated,
            "completed_at": pd.to_datetime(start[project_of_task], utc=True) + pd.to_timedelta(offset_days, unit="D"),
            "is_late": rng.random(len(project_of_task)) < 0.3,
        }
    )
    return {"projects": projects, "tasks": tasks, "users": users, "teams": teams}


@pytest.fixture(scope="module")
def large():
    """~300 projects and a predictor fitted once on them (40% held back to measure coverage)."""
    tables = synthetic_tables(330, seed=1)
    history = project_history(**tables)
    predictor = SuccessPredictor(coverage=0.8, test_share=0.4, **FAST).fit(history)
    return history, predictor


def test_features_are_known_at_the_start_and_ignore_the_projects_own_outcome():
    tables = synthetic_tables(60, seed=2)
    history = project_history(**tables)
    features = feature_columns(history)
    assert set(features) == set(FEATURES) | {"role_share_engineer", "role_share_senior_engineer"}
    for outcome in ("spent", "actual_end_date", "is_late", "late_rate", "status", *TARGETS):
        assert outcome not in features

    # a team with at least two projects: its latest one, and a project that starts after it
    starts = pd.to_datetime(tables["projects"]["start_date"])
    by_team = tables["projects"].assign(start=starts).sort_values("start").groupby("team_id")
    earlier, later = next((g.iloc[0], g.iloc[1]) for _, g in by_team if len(g) >= 2 and g.start.nunique() >= 2)

    changed = {k: v.copy() for k, v in tables.items()}
    projects, tasks = changed["projects"], changed["tasks"]
    mine = projects["project_id"] == earlier.project_id
    projects.loc[mine, "actual_end_date"] = pd.Timestamp("2030-01-01").date()
    projects.loc[mine, "spent"] = 123.0
    own_tasks = tasks["project_id"] == earlier.project_id
    tasks.loc[own_tasks, "is_late"] = ~tasks.loc[own_tasks, "is_late"]
    # the earlier project's tasks all completed just before the later project starts
    just_before = pd.Timestamp(later.start, tz="UTC") - pd.Timedelta(hours=12)
    tasks.loc[own_tasks, "completed_at"] = just_before
    after = project_history(**changed)

    row = history["project_id"] == earlier.project_id
    pd.testing.assert_frame_equal(history.loc[row, features], after.loc[row, features])
    # the team's velocity before the LATER project does see those completions: the feature is live
    later_row = history["project_id"] == later.project_id
    assert after.loc[later_row, "team_velocity"].item() > history.loc[later_row, "team_velocity"].fillna(0).item()


def test_history_marks_finished_projects_and_hides_unfinished_targets():
    tables = synthetic_tables(50, seed=3, unfinished_share=0.3)
    collaboration = pd.DataFrame({"team_id": [1], "collaboration_score": [70.0]})
    history = project_history(**tables, reuse={1: 4}, collaboration=collaboration)
    completed = (tables["projects"]["status"] == "completed").to_numpy()
    assert history["finished"].tolist() == completed.tolist()
    assert history.loc[~completed, list(TARGETS)].isna().all().all()
    assert history.loc[history["project_id"] == 1, "artifact_reuse"].item() == 4
    assert (history.loc[history["project_id"] != 1, "artifact_reuse"] == 0).all()
    on_team_1 = history["team_id"] == 1
    assert (history.loc[on_team_1, "collaboration_score"] == 70.0).all()
    assert history.loc[~on_team_1, "collaboration_score"].isna().all()
    sizes = tables["users"].groupby("team_id").size()
    assert (history["team_size"] == history["team_id"].map(sizes)).all()


def test_conformal_intervals_cover_held_back_projects_and_report_says_so(large):
    history, predictor = large
    split = predictor.split_
    assert not set(split["test"]) & (set(split["train"]) | set(split["calibration"]))
    assert not set(split["train"]) & set(split["calibration"])
    assert len(split["test"]) >= 100

    test = history[history["project_id"].isin(split["test"])]
    predictions = predictor.predict(test)
    assert (predictions["lower"] <= predictions["value"]).all() and (predictions["value"] <= predictions["upper"]).all()
    report = predictor.report().set_index("target")
    for target in TARGETS:
        mine = predictions[predictions["target"] == target].set_index("project_id")
        actual = test.set_index("project_id").loc[mine.index, target]
        inside = (mine["lower"] <= actual) & (actual <= mine["upper"])
        coverage = inside.mean()
        assert 0.65 <= coverage <= 0.95, (target, coverage)
        error = actual - mine["value"]
        r2 = 1 - (error**2).sum() / ((actual - actual.mean()) ** 2).sum()
        assert report.loc[target, "coverage"] == pytest.approx(coverage)
        assert report.loc[target, "mean_width"] == pytest.approx((mine["upper"] - mine["lower"]).mean())
        assert report.loc[target, "mae"] == pytest.approx(error.abs().mean())
        assert report.loc[target, "r2"] == pytest.approx(r2)
        assert report.loc[target, "n_test"] == len(test)
        held = predictor.held_back_[predictor.held_back_["target"] == target].set_index("project_id")
        assert held["actual"].to_dict() == actual.to_dict()  # what the held-back plot shows
        assert held["lower"].to_dict() == mine["lower"].to_dict()
    # the planted structure is learnt: duration from the task count, cost from the estimates
    assert report.loc["duration_days", "r2"] > 0.8
    assert report.loc["cost", "r2"] > 0.8


def test_half_width_is_the_finite_sample_corrected_calibration_quantile(large):
    history, predictor = large
    calibration = history[history["project_id"].isin(predictor.split_["calibration"])]
    predictions = predictor.predict(calibration)
    mine = predictions[predictions["target"] == "duration_days"].set_index("project_id")
    residuals = (calibration.set_index("project_id").loc[mine.index, "duration_days"] - mine["value"]).abs()
    n = len(residuals)
    expected = np.sort(residuals.to_numpy())[math.ceil((n + 1) * 0.8) - 1]
    assert predictor.half_widths_["duration_days"] == pytest.approx(expected)
    unclipped = mine[mine["lower"] > 0]
    assert ((unclipped["upper"] - unclipped["lower"]) / 2).to_numpy() == pytest.approx(expected)


def test_conformal_quantile_uses_the_finite_sample_correction():
    residuals = np.array([-10.0, 9, -8, 7, 6, -5, 4, 3, -2, 1])
    assert conformal_half_width(residuals, 0.8) == 9.0  # k = ceil(11 * 0.8) = 9, not ceil(10 * 0.8) = 8
    assert conformal_half_width(residuals, 0.5) == 6.0  # k = ceil(5.5) = 6
    assert conformal_half_width(residuals[:3], 0.8) == math.inf  # k = 4 > n: no finite interval is valid


def test_team_size_recommendation_follows_the_planted_effect(large):
    history, predictor = large
    advice = team_size_recommendation(history, predictor)
    assert len(advice) == 3
    simple, complex_ = advice.iloc[0], advice.iloc[-1]
    assert simple["complexity_high"] < complex_["complexity_low"]
    assert complex_["recommended_team_size"] == max(TEAM_SIZES)
    assert simple["recommended_team_size"] == min(TEAM_SIZES)
    assert set(complex_["predicted_score_by_size"]) == set(TEAM_SIZES)
    assert complex_["predicted_success_score"] == max(complex_["predicted_score_by_size"].values())
    assert advice["n_projects"].sum() == len(history)
    assert (advice["rule"] == TEAM_SIZE_RULE).all()
    assert advice["model"].str.contains("AutoML regressor").all()
    assert complex_["band"].startswith("complexity ")


def test_team_size_candidates_are_the_sizes_seen_in_the_band(large):
    history, predictor = large
    history = history.copy()
    simple = history["mean_task_complexity"] <= history["mean_task_complexity"].quantile(1 / 3)
    history.loc[simple, "team_size"] = history.loc[simple, "team_size"].clip(upper=4)  # no big team on simple work
    advice = team_size_recommendation(history, predictor)
    assert set(advice.iloc[0]["predicted_score_by_size"]) <= {2, 4}  # never a size the band did not have
    assert set(advice.iloc[-1]["predicted_score_by_size"]) == set(TEAM_SIZES)


def test_early_artifact_reuse_counts_distinct_artifacts_of_the_first_two_weeks():
    projects = pd.DataFrame({"project_id": [1, 2, 3], "start_date": pd.to_datetime(["2026-01-01"] * 3)})
    used_at = pd.to_datetime(
        [
            "2026-01-01 09:00",
            "2026-01-05 00:00",
            "2026-01-05 00:00",
            "2026-01-14 23:00",
            "2026-01-15 00:00",
            "2025-12-31 00:00",
            "2026-01-02 00:00",
        ],
        utc=True,
    )
    usage = pd.DataFrame({"artifact_id": [10, 11, 11, 12, 13, 14, 10], "project_id": [1, 1, 1, 1, 1, 2, 2]})
    usage["used_at"] = used_at
    reuse = early_artifact_reuse(usage, projects)
    # project 1: artifacts 10, 11 (twice), 12 on day 14 — not 13 on day 15; project 2: not the use before its start
    assert reuse.to_dict() == {1: 3.0, 2: 1.0, 3: 0.0}
    assert early_artifact_reuse(usage, projects, days=1).to_dict() == {1: 1.0, 2: 0.0, 3: 0.0}


def test_too_few_finished_projects_is_a_clear_error():
    history = project_history(**synthetic_tables(12, seed=4, unfinished_share=0.0))
    with pytest.raises(TooFewProjectsError, match=rf"12 finished projects.*at least {MIN_FINISHED_PROJECTS}"):
        SuccessPredictor(**FAST).fit(history)


def test_a_coverage_the_calibration_split_cannot_support_is_refused():
    assert calibration_rows_needed(0.8) == 4 and calibration_rows_needed(0.95) == 19
    history = project_history(**synthetic_tables(40, seed=5, unfinished_share=0.0))
    refused = r"coverage=0.99: .* at least 99 calibration projects, .* gives 10"
    with pytest.raises(SuccessPredictionError, match=refused):
        SuccessPredictor(coverage=0.99, **FAST).fit(history)


def test_bad_input_names_what_is_wrong(large):
    history, predictor = large
    with pytest.raises(SuccessPredictionError, match="history_rows: missing column.*team_size"):
        predictor.predict(history.drop(columns=["team_size"]))
    with pytest.raises(SuccessPredictionError, match="not fitted"):
        SuccessPredictor().predict(history)
    tables = synthetic_tables(20, seed=6)
    with pytest.raises(SuccessPredictionError, match="tasks: missing column.*complexity"):
        project_history(**{**tables, "tasks": tables["tasks"].drop(columns=["complexity"])})
    with pytest.raises(SuccessPredictionError, match=r"projects: team_id \[99\] not in teams"):
        project_history(**{**tables, "projects": tables["projects"].assign(team_id=99)})


def test_saved_predictor_predicts_the_same(large, tmp_path):
    history, predictor = large
    loaded = SuccessPredictor.load(predictor.save(tmp_path / "success"))
    pd.testing.assert_frame_equal(loaded.predict(history.head(5)), predictor.predict(history.head(5)))
    pd.testing.assert_frame_equal(loaded.report(), predictor.report())


def test_demo_organisation_history_fits():
    demo = generate(scale=0.5, seed=3)
    reuse = demo.artifact_usage.groupby("project_id").size()
    history = project_history(demo.projects, demo.tasks, demo.users, demo.teams, reuse=reuse)
    assert len(history) == len(demo.projects)
    assert history["finished"].sum() == (demo.projects["status"] == "completed").sum()
    assert history["team_velocity"].notna().any()
    predictor = SuccessPredictor(max_trials=2, families=["ridge"]).fit(history)
    report = predictor.report()
    assert report["target"].tolist() == list(TARGETS)
    assert report["coverage"].between(0, 1).all()
    assert report.set_index("target").loc["cost", "r2"] > 0.5  # cost follows the planned hours
    predictions = predictor.predict(history[~history["finished"]])
    assert len(predictions) == 3 * (~history["finished"]).sum()
    assert np.isfinite(predictions[["value", "lower", "upper"]].to_numpy()).all()
