"""The gold feature math on a small world whose every figure is worked out by hand."""

import math
from datetime import date, timedelta

import pandas as pd
import pytest

from maestro_assets.lib.demo.generator import generate
from maestro_assets.lib.features.catalog import TABLES
from maestro_assets.lib.features.compute import SilverInputs, compute_features


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def world(extra_events: list[tuple] = ()) -> SilverInputs:
    teams = pd.DataFrame({"team_id": [1, 2], "created_at": [ts("2026-01-01"), ts("2026-09-05 08:00")]})
    users = pd.DataFrame(
        {
            "user_id": [1, 2, 3],
            "team_id": [1, 1, 2],
            "years_experience": [10.0, 2.0, 5.0],
            "skill_backend": [0.9, 0.1, 0.5],
            "skill_frontend": [0.1, 0.9, 0.5],
            "skill_database": [0.2, 0.2, 0.9],
            "skill_devops": [0.3, 0.3, 0.1],
            "capacity_hours_per_week": [40.0, 32.0, 40.0],
            "hourly_rate": [100.0, 50.0, 80.0],
            "hired_at": [ts("2025-01-01"), ts("2026-09-03 08:00"), ts("2024-01-01")],
        }
    )
    projects = pd.DataFrame(
        {
            "project_id": [1],
            "team_id": [1],
            "start_date": [pd.Timestamp("2026-08-01")],
            "planned_end_date": [pd.Timestamp("2026-10-01")],
            "budget": [10_000.0],
        }
    )
    tasks = pd.DataFrame(
        {
            "task_id": [1, 2],
            "project_id": [1, 1],
            "priority": [2, 1],
            "complexity": [3, 5],
            "estimated_hours": [10.0, 20.0],
            "required_skill_backend": [True, False],
            "required_skill_frontend": [False, True],
            "required_skill_database": [False, False],
            "required_skill_devops": [False, True],
            "dependency_count": [0, 1],
            "created_at": [ts("2026-08-25 09:00"), ts("2026-09-02 09:00")],
            "deadline": [ts("2026-09-10"), ts("2026-09-04")],
        }
    )
    rows = [
        (1, 1, "created", "2026-08-25 09:00", 0.0),
        (1, 1, "assigned", "2026-08-25 10:00", 0.0),
        (1, 1, "started", "2026-08-26 09:00", 0.0),
        (1, 1, "work_logged", "2026-08-28 12:00", 3.0),
        (1, 1, "work_logged", "2026-09-01 23:30", 2.0),  # the last half hour of a partition
        (1, 1, "completed", "2026-09-02 12:00", 0.0),
        (2, 1, "created", "2026-09-02 09:00", 0.0),
        (2, 2, "assigned", "2026-09-03 10:00", 0.0),
        (2, 2, "started", "2026-09-03 11:00", 0.0),
        (2, 2, "work_logged", "2026-09-03 15:00", 4.0),
        (2, 1, "commented", "2026-09-03 16:00", 0.0),
        *extra_events,
    ]
    events = pd.DataFrame(rows, columns=["task_id", "user_id", "event_type", "event_time", "hours_logged"])
    events["event_time"] = pd.to_datetime(events["event_time"], utc=True)
    events["user_id"] = events["user_id"].astype("Int64")
    return SilverInputs(events, tasks, users, projects, teams)


DAYS = [date(2026, 9, 1) + timedelta(days=i) for i in range(5)]


def row(features, entity: str, day: date, key: int) -> dict | None:
    frame = features.day(entity, day)
    found = frame[frame[TABLES[entity].key] == key]
    return None if found.empty else found.iloc[0].to_dict()


@pytest.fixture(scope="module")
def features():
    return compute_features(world(), DAYS)


def test_every_table_has_its_catalog_columns_and_the_end_of_the_day_as_event_timestamp(features):
    for entity, table in TABLES.items():
        frame = features.tables[entity]
        assert list(frame.columns) == [*table.columns, "date"]
        for day in DAYS:
            stamps = features.day(entity, day)["event_timestamp"]
            assert (stamps == ts(day.isoformat()) + pd.Timedelta(days=1)).all()


def test_windows_reach_into_earlier_partitions_and_end_with_the_day(features):
    t1 = row(features, "task", date(2026, 9, 1), 1)
    assert t1["hours_logged_7d"] == 5.0  # 3 h on 08-28 (an earlier partition) + 2 h at 23:30 on 09-01
    assert t1["days_until_deadline"] == 8.0 and t1["deadline_urgency"] == pytest.approx(1 / 9)
    u1 = {d: row(features, "user", d, 1) for d in DAYS}
    assert u1[date(2026, 9, 1)]["events_7d"] == 3  # started 08-26, logs 08-28 and 09-01
    assert u1[date(2026, 9, 1)]["events_30d"] == 5
    assert u1[date(2026, 9, 3)]["capacity_pct_7d"] == 12.5  # 08-28..09-03: 5 h of 40
    assert u1[date(2026, 9, 4)]["capacity_pct_7d"] == 5.0  # 08-29..09-04: the 08-28 log has left the window


def test_status_workload_and_completions_follow_the_events(features):
    u1_0901, u1_0902 = row(features, "user", date(2026, 9, 1), 1), row(features, "user", date(2026, 9, 2), 1)
    assert u1_0901["current_workload_hours"] == 5.0  # 10 estimated - 5 logged, t1 open and assigned to u1
    assert u1_0902["current_workload_hours"] == 0.0  # t1 completed; t2 not assigned yet
    assert u1_0902["tasks_completed_7d"] == 1
    assert u1_0902["avg_completion_hours_30d"] == 7 * 24 + 3  # started 08-26 09:00, completed 09-02 12:00
    assert u1_0902["avg_collaborators_30d"] == 0.0  # nobody else had touched t1
    assert math.isnan(u1_0901["avg_completion_hours_30d"])  # nothing completed yet: missing, not 0
    assert row(features, "user", date(2026, 9, 3), 2)["current_workload_hours"] == 16.0
    # a task has a row while open, and on the day it closes; not after
    assert row(features, "task", date(2026, 9, 2), 1) is not None
    assert row(features, "task", date(2026, 9, 3), 1) is None
    assert row(features, "task", date(2026, 9, 1), 2) is None  # created on 09-02


def test_project_counts_risk_and_budget(features):
    p_0902 = row(features, "project", date(2026, 9, 2), 1)
    assert (p_0902["total_tasks"], p_0902["completed_tasks"], p_0902["completion_pct"]) == (2, 1, 50.0)
    p_0903 = row(features, "project", date(2026, 9, 3), 1)
    assert p_0903["in_progress_tasks"] == 1 and p_0903["team_size"] == 2
    assert p_0903["budget_utilization"] == pytest.approx((5 * 100 + 4 * 50) / 10_000)
    elapsed = (33 + 1) / 61  # 08-01 to the end of 09-03, of 08-01..10-01
    assert p_0903["risk_score"] == pytest.approx(0.3 * max(0.0, elapsed - 0.5))
    p_0904 = row(features, "project", date(2026, 9, 4), 1)  # t2's deadline (09-04 00:00) has passed
    assert p_0904["risk_score"] == pytest.approx(0.4 * 1 + 0.3 * max(0.0, (34 + 1) / 61 - 0.5))


def test_entities_appear_mid_window_and_idle_ones_have_zeros_and_missing_averages(features):
    assert row(features, "user", date(2026, 9, 2), 2) is None  # hired 09-03
    assert row(features, "team", date(2026, 9, 4), 2) is None  # created 09-05
    team2 = row(features, "team", date(2026, 9, 5), 2)
    assert team2["team_size"] == 1 and team2["hours_logged_30d"] == 0.0
    u3 = row(features, "user", date(2026, 9, 5), 3)
    assert (u3["events_30d"], u3["tasks_completed_30d"], u3["current_workload_hours"]) == (0, 0, 0.0)
    assert math.isnan(u3["bug_rate_30d"])
    team1 = row(features, "team", date(2026, 9, 3), 1)
    assert team1["team_size"] == 2 and team1["workload_balance"] == 0.0  # loads 0 and 16: cv 1
    assert team1["skill_diversity"] == pytest.approx(1 / 2)  # backend and frontend of 4 skills: ln 2 / ln 4


def test_a_late_event_changes_the_features_of_its_day_and_the_days_after():
    before = compute_features(world(), DAYS)
    late = compute_features(world([(1, 1, "work_logged", "2026-08-30 10:00", 1.0)]), DAYS)
    for day, expected in [(date(2026, 9, 1), 6.0), (date(2026, 9, 2), 6.0)]:
        assert row(late, "task", day, 1)["hours_logged_7d"] == expected
        assert row(before, "task", day, 1)["hours_logged_7d"] == 5.0
    assert row(late, "user", date(2026, 9, 5), 1)["capacity_pct_7d"] == 7.5  # 08-30..09-05: 1 h + 2 h
    assert row(before, "user", date(2026, 9, 5), 1)["capacity_pct_7d"] == 5.0


def test_events_of_unknown_tasks_are_left_out_and_counted():
    features = compute_features(world([(99, 1, "commented", "2026-09-01 10:00", 0.0)]), DAYS)
    assert features.dropped == {"task_events without a known task": 1}
    assert row(features, "user", date(2026, 9, 1), 1)["events_7d"] == 3


def test_one_day_alone_equals_that_day_of_a_range_on_generated_data():
    demo = generate(0.02)
    inputs = SilverInputs(demo.task_events, demo.tasks, demo.users, demo.projects, demo.teams)
    days = [demo.end_date - timedelta(days=n) for n in range(40, 0, -1)]
    whole = compute_features(inputs, days)
    probe = days[17]
    alone = compute_features(inputs, [probe])
    for entity in TABLES:
        expected = whole.day(entity, probe).drop(columns="created_timestamp")
        assert len(expected) > 0
        pd.testing.assert_frame_equal(alone.day(entity, probe).drop(columns="created_timestamp"), expected)
