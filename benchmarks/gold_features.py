"""gold_features — the four gold feature tables for the demo's 90 days vs one DuckDB query (the floor).

Setup (not timed): ``demo.generate(--scale)`` (1.0 = 1M task events over 90 days) written to a
temporary local lake as silver, laid out as the pipeline lays it out: task events split per UTC
day of ``event_time`` (``silver/demo_db/task_events/date=YYYY-MM-DD/part-0.parquet``), the
snapshots (tasks, users, projects, teams) unpartitioned.

Each round, taking turns:

* **maestro**: ``lib.features.gold.materialize_gold(lake, FeatureInputs(), days)`` for all 90
  days — read silver from the lake, ``compute_features``, write the four gold tables per day —
  what the Dagster asset ``gold_features`` does for a range.
* **duckdb** (the floor): ONE SQL statement over the same silver parquet (``read_parquet`` with
  hive partitioning), written the way one would write it fast in DuckDB: a calendar of days
  (``generate_series``) crossed with users, projects and teams, daily aggregates joined onto it
  and trailing 7/30-day windows as window functions; for tasks (60k x 119 days would be a
  7M-row grid) the status as of each day end as spells from one status-changing event to the
  next (``lead``; "todo" from the creation day), range-joined with the calendar for the task
  rows and turned into +1/-1 deltas whose running sums give the project status counts, and task
  hours windows as differences of cumulative sums (``ASOF`` joins); the four tables written with
  ``COPY … TO … (FORMAT parquet, PARTITION_BY (entity, date))``.
  It computes a subset of the catalog's 45 features (listed in ``params.floor_features``; the
  rest — workload, completion time, collaborators, bug rate, risk, skill diversity and experience
  spread — are maestro's only).

After the first round the two outputs are compared, feature by feature, on the first, a middle
and the last day (``params.agrees``, mismatches in ``params.mismatches``).
Figure: ``gold_features.vs_duckdb`` — maestro median seconds against the floor's (target: a ratio
of at most 1.5).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.harness import figure, note, peak_rss_mb, timed

EVENTS, SNAPSHOTS = "demo_db/task_events", ("tasks", "users", "projects", "teams")

# what the floor computes, per entity (all other catalog features are maestro's only)
FLOOR_FEATURES = {
    "user": [
        "skill_backend",
        "skill_frontend",
        "skill_database",
        "skill_devops",
        "tasks_completed_7d",
        "tasks_completed_30d",
        "years_experience",
        "capacity_pct_7d",
        "events_7d",
        "events_30d",
    ],
    "task": [
        "complexity_score",
        "priority",
        "estimated_hours",
        "required_skill_backend",
        "required_skill_frontend",
        "required_skill_database",
        "required_skill_devops",
        "dependency_count",
        "deadline_urgency",
        "days_until_deadline",
        "hours_logged_7d",
        "hours_logged_30d",
    ],
    "project": [
        "total_tasks",
        "completed_tasks",
        "in_progress_tasks",
        "blocked_tasks",
        "completion_pct",
        "velocity_tasks_per_week",
        "team_size",
        "budget_utilization",
        "hours_logged_7d",
        "hours_logged_30d",
    ],
    "team": ["team_size", "hours_logged_30d"],
}
KEYS = {"user": "user_id", "task": "task_id", "project": "project_id", "team": "team_id"}

FLOOR_SQL = """
COPY (
WITH
tasks AS (SELECT * FROM read_parquet('{silver}/demo_db/tasks/part-0.parquet')),
users AS (SELECT * FROM read_parquet('{silver}/demo_db/users/part-0.parquet')),
projects AS (SELECT * FROM read_parquet('{silver}/demo_db/projects/part-0.parquet')),
teams AS (SELECT * FROM read_parquet('{silver}/demo_db/teams/part-0.parquet')),
ev AS (
    SELECT e.event_id, e.task_id, e.user_id, e.event_type, e.event_time,
           coalesce(e.hours_logged, 0.0) AS hours, CAST(e.date AS DATE) AS day
    FROM read_parquet('{silver}/demo_db/task_events/*/*.parquet', hive_partitioning = true) AS e
    WHERE CAST(e.date AS DATE) <= DATE '{last}' AND e.task_id IN (SELECT task_id FROM tasks)
),
bounds AS (SELECT least(coalesce(min(day), DATE '{first}' - 29), DATE '{first}' - 29) AS first FROM ev),
days AS (
    SELECT CAST(unnest(generate_series(CAST(first AS TIMESTAMP), TIMESTAMP '{last}', INTERVAL 1 DAY)) AS DATE) AS day
    FROM bounds
),
-- day_end: the next midnight UTC in nanoseconds (epoch arithmetic, so no session time zone matters)
cal AS (SELECT day, epoch_ns(CAST(day AS TIMESTAMP)) + 86400000000000 AS day_end FROM days),
-- users: events, hours and completions per day, trailing windows on the dense user x day grid
user_daily AS (
    SELECT ev.user_id, ev.day, count(*) AS n_events, sum(ev.hours) AS hours,
           count(*) FILTER (WHERE ev.event_type = 'completed') AS n_completed
    FROM ev JOIN users USING (user_id) GROUP BY ALL
),
user_win AS (
    SELECT u.user_id, c.day, c.day_end,
           sum(coalesce(d.n_events, 0)) OVER w7 AS events_7d,
           sum(coalesce(d.n_events, 0)) OVER w30 AS events_30d,
           sum(coalesce(d.n_completed, 0)) OVER w7 AS completed_7d,
           sum(coalesce(d.n_completed, 0)) OVER w30 AS completed_30d,
           sum(coalesce(d.hours, 0.0)) OVER w7 AS hours_7d,
           sum(coalesce(d.hours, 0.0)) OVER w30 AS hours_30d
    FROM users AS u CROSS JOIN cal AS c LEFT JOIN user_daily AS d ON d.user_id = u.user_id AND d.day = c.day
    WINDOW w7 AS (PARTITION BY u.user_id ORDER BY c.day ROWS BETWEEN 6 PRECEDING AND CURRENT ROW),
           w30 AS (PARTITION BY u.user_id ORDER BY c.day ROWS BETWEEN 29 PRECEDING AND CURRENT ROW)
),
user_alive AS (
    SELECT w.*, u.team_id,
           (u.hired_at IS NULL OR epoch_ns(u.hired_at) < w.day_end) AS alive
    FROM user_win AS w JOIN users AS u USING (user_id)
),
user_rows AS (
    SELECT 'user' AS entity, u.user_id, w.day,
           u.skill_backend, u.skill_frontend, u.skill_database, u.skill_devops,
           CAST(w.completed_7d AS BIGINT) AS tasks_completed_7d,
           CAST(w.completed_30d AS BIGINT) AS tasks_completed_30d,
           u.years_experience,
           CASE WHEN u.capacity_hours_per_week > 0 THEN w.hours_7d * 100.0 / u.capacity_hours_per_week END
               AS capacity_pct_7d,
           CAST(w.events_7d AS BIGINT) AS events_7d,
           CAST(w.events_30d AS BIGINT) AS events_30d
    FROM user_alive AS w JOIN users AS u USING (user_id)
    WHERE w.alive AND w.day BETWEEN DATE '{first}' AND DATE '{last}'
),
-- tasks: status as of each day end (the last status-changing event carried forward; "todo" from the
-- creation day when nothing else happened that day)
status_ev AS (
    SELECT task_id, day,
           CASE event_type WHEN 'created' THEN 1 WHEN 'started' THEN 2 WHEN 'unblocked' THEN 2
                WHEN 'reopened' THEN 2 WHEN 'blocked' THEN 3 WHEN 'completed' THEN 4 ELSE 5 END AS code,
           epoch_ns(event_time) AS t, event_id AS seq
    FROM ev
    WHERE event_type IN ('created', 'started', 'unblocked', 'reopened', 'blocked', 'completed', 'cancelled')
    UNION ALL
    SELECT task_id, greatest(coalesce(DATE '1970-01-01' + CAST(epoch_ns(created_at) // 86400000000000 AS INTEGER),
           first), first) AS day, 1 AS code,
           -9223372036854775807 AS t, -1 AS seq
    FROM tasks, bounds
    WHERE created_at IS NULL OR epoch_ns(created_at) < epoch_ns(TIMESTAMP '{last}') + 86400000000000
),
status_day AS (
    SELECT task_id, day, arg_max(code, (t, seq)) AS code, count(*) FILTER (WHERE seq >= 0) AS moves
    FROM status_ev GROUP BY ALL
),
task_daily AS (
    SELECT ev.task_id, ev.day, sum(ev.hours) AS hours,
           sum(ev.hours * coalesce(u.hourly_rate, 0.0)) AS cost,
           count(*) FILTER (WHERE ev.event_type = 'completed') AS n_completed
    FROM ev LEFT JOIN users AS u USING (user_id) GROUP BY ALL
),
-- a task's status holds from the day it changed to the day before its next change
status_iv AS (
    SELECT task_id, day AS since, code, moves,
           coalesce(lead(day) OVER (PARTITION BY task_id ORDER BY day) - 1, DATE '{last}') AS until
    FROM status_day
),
-- hours logged on a task up to the end of each day it logged any: the trailing windows are differences
task_cum AS (
    SELECT task_id, day, sum(hours) OVER (PARTITION BY task_id ORDER BY day ROWS UNBOUNDED PRECEDING) AS cum_hours
    FROM task_daily
),
-- the task rows: every day it is open (range join of its open spells with the calendar), and the days
-- it was completed or cancelled
task_days AS (
    SELECT i.task_id, c.day
    FROM status_iv AS i JOIN cal AS c ON c.day >= i.since AND c.day <= i.until
    WHERE i.code IN (1, 2, 3) AND c.day >= DATE '{first}'
    UNION ALL
    SELECT task_id, day FROM status_day WHERE moves > 0 AND code IN (4, 5) AND day >= DATE '{first}'
),
task_rows AS (
    SELECT 'task' AS entity, t.task_id, d.day,
           t.complexity AS complexity_score, t.priority, t.estimated_hours,
           CAST(coalesce(t.required_skill_backend, false) AS BIGINT) AS required_skill_backend,
           CAST(coalesce(t.required_skill_frontend, false) AS BIGINT) AS required_skill_frontend,
           CAST(coalesce(t.required_skill_database, false) AS BIGINT) AS required_skill_database,
           CAST(coalesce(t.required_skill_devops, false) AS BIGINT) AS required_skill_devops,
           t.dependency_count,
           1.0 / (1.0 + greatest(
               (epoch_ns(t.deadline) - epoch_ns(CAST(d.day AS TIMESTAMP)) - 86400000000000) / 86400e9, 0.0))
               AS deadline_urgency,
           (epoch_ns(t.deadline) - epoch_ns(CAST(d.day AS TIMESTAMP)) - 86400000000000) / 86400e9
               AS days_until_deadline,
           coalesce(a.cum_hours, 0.0) - coalesce(b.cum_hours, 0.0) AS hours_logged_7d,
           coalesce(a.cum_hours, 0.0) - coalesce(m.cum_hours, 0.0) AS hours_logged_30d
    FROM task_days AS d
    JOIN tasks AS t USING (task_id)
    ASOF LEFT JOIN task_cum AS a ON a.task_id = d.task_id AND a.day <= d.day
    ASOF LEFT JOIN task_cum AS b ON b.task_id = d.task_id AND b.day <= d.day - 7
    ASOF LEFT JOIN task_cum AS m ON m.task_id = d.task_id AND m.day <= d.day - 30
),
-- projects: status counts as running sums of +1 / -1 where a task's spell in a status begins / ends;
-- hours, completions and cost per day; trailing windows on the dense project x day grid
status_delta AS (
    SELECT t.project_id, i.since AS day, i.code, 1 AS delta FROM status_iv AS i JOIN tasks AS t USING (task_id)
    UNION ALL
    SELECT t.project_id, i.until + 1 AS day, i.code, -1 AS delta
    FROM status_iv AS i JOIN tasks AS t USING (task_id) WHERE i.until < DATE '{last}'
),
project_status AS (
    SELECT project_id, day,
           sum(delta) FILTER (WHERE code <> 5) AS total, sum(delta) FILTER (WHERE code = 4) AS done,
           sum(delta) FILTER (WHERE code = 2) AS in_progress, sum(delta) FILTER (WHERE code = 3) AS blocked
    FROM status_delta GROUP BY ALL
),
project_daily AS (
    SELECT t.project_id, h.day, sum(h.hours) AS hours, sum(h.cost) AS cost, sum(h.n_completed) AS n_completed
    FROM task_daily AS h JOIN tasks AS t USING (task_id) GROUP BY ALL
),
project_win AS (
    SELECT p.project_id, c.day,
           sum(coalesce(s.total, 0)) OVER wu AS total, sum(coalesce(s.done, 0)) OVER wu AS done,
           sum(coalesce(s.in_progress, 0)) OVER wu AS in_progress, sum(coalesce(s.blocked, 0)) OVER wu AS blocked,
           sum(coalesce(e.hours, 0.0)) OVER w7 AS hours_7d, sum(coalesce(e.hours, 0.0)) OVER w30 AS hours_30d,
           sum(coalesce(e.n_completed, 0)) OVER w30 AS completed_30d, sum(coalesce(e.cost, 0.0)) OVER wu AS cost_to_date
    FROM projects AS p CROSS JOIN cal AS c
    LEFT JOIN project_status AS s ON s.project_id = p.project_id AND s.day = c.day
    LEFT JOIN project_daily AS e ON e.project_id = p.project_id AND e.day = c.day
    WINDOW wu AS (PARTITION BY p.project_id ORDER BY c.day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
           w7 AS (PARTITION BY p.project_id ORDER BY c.day ROWS BETWEEN 6 PRECEDING AND CURRENT ROW),
           w30 AS (PARTITION BY p.project_id ORDER BY c.day ROWS BETWEEN 29 PRECEDING AND CURRENT ROW)
),
team_daily AS (
    SELECT team_id, day, count(*) FILTER (WHERE alive) AS members, coalesce(sum(hours_30d) FILTER (WHERE alive), 0.0)
           AS hours_30d
    FROM user_alive GROUP BY ALL
),
project_rows AS (
    SELECT 'project' AS entity, p.project_id, c.day,
           CAST(coalesce(w.total, 0) AS BIGINT) AS total_tasks,
           CAST(coalesce(w.done, 0) AS BIGINT) AS completed_tasks,
           CAST(coalesce(w.in_progress, 0) AS BIGINT) AS in_progress_tasks,
           CAST(coalesce(w.blocked, 0) AS BIGINT) AS blocked_tasks,
           CASE WHEN w.total > 0 THEN w.done * 100.0 / w.total ELSE 0.0 END AS completion_pct,
           coalesce(w.completed_30d, 0) * 7.0 / 30.0 AS velocity_tasks_per_week,
           CAST(coalesce(m.members, 0) AS BIGINT) AS team_size,
           CASE WHEN p.budget > 0 THEN coalesce(w.cost_to_date, 0.0) / p.budget END AS budget_utilization,
           coalesce(w.hours_7d, 0.0) AS hours_logged_7d, coalesce(w.hours_30d, 0.0) AS hours_logged_30d
    FROM projects AS p CROSS JOIN cal AS c
    LEFT JOIN project_win AS w ON w.project_id = p.project_id AND w.day = c.day
    LEFT JOIN team_daily AS m ON m.team_id = p.team_id AND m.day = c.day
    WHERE c.day BETWEEN DATE '{first}' AND DATE '{last}'
      AND (p.start_date IS NULL OR epoch_ns(p.start_date) < c.day_end)
),
team_rows AS (
    SELECT 'team' AS entity, t.team_id, c.day,
           CAST(coalesce(m.members, 0) AS BIGINT) AS team_size, coalesce(m.hours_30d, 0.0) AS hours_logged_30d
    FROM teams AS t CROSS JOIN cal AS c LEFT JOIN team_daily AS m ON m.team_id = t.team_id AND m.day = c.day
    WHERE c.day BETWEEN DATE '{first}' AND DATE '{last}'
      AND (t.created_at IS NULL OR epoch_ns(t.created_at) < c.day_end)
)
SELECT *, to_timestamp(epoch(CAST(day AS TIMESTAMP)) + 86400) AS event_timestamp, now() AS created_timestamp,
       strftime(day, '%Y-%m-%d') AS date
FROM (
    SELECT * FROM user_rows UNION ALL BY NAME SELECT * FROM task_rows
    UNION ALL BY NAME SELECT * FROM project_rows UNION ALL BY NAME SELECT * FROM team_rows
)
) TO '{out}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (entity, date))
"""


def write_silver(root: Path, scale: float):
    """The demo at ``scale`` as silver in a local lake at ``root``; returns (lake, days, event rows)."""
    from maestro_assets.lib.demo.generator import generate
    from maestro_assets.lib.lake import LocalLake

    demo = generate(scale)
    lake = LocalLake(root)
    events = demo.task_events
    day_of = events["event_time"].dt.tz_convert("UTC").dt.strftime("%Y-%m-%d")
    for day, part in events.groupby(day_of, sort=True):
        lake.write_partition("silver", EVENTS, ("date", day), part.reset_index(drop=True))
    for name in SNAPSHOTS:
        lake.write_partition("silver", f"demo_db/{name}", None, getattr(demo, name))
    first = demo.start_date
    days = [first + timedelta(days=i) for i in range((demo.end_date - first).days)]
    return lake, days, len(events)


def run_maestro(lake, days: list[date]) -> dict:
    from maestro_assets.lib.features.gold import FeatureInputs, materialize_gold

    run = materialize_gold(lake, FeatureInputs(), days)
    return {entity: sum(per_day.values()) for entity, per_day in run.rows.items()}


def run_duckdb(silver: Path, out: Path, days: list[date], threads: int | None) -> None:
    import duckdb

    config = {"threads": threads} if threads else {}
    with duckdb.connect(config=config) as con:
        con.execute(FLOOR_SQL.format(silver=silver, out=out, first=days[0].isoformat(), last=days[-1].isoformat()))


def floor_rows(out: Path, entity: str, day: str) -> pd.DataFrame:
    import duckdb

    path = out / f"entity={entity}" / f"date={day}"
    if not any(path.glob("*.parquet")):  # no row that day: COPY writes no folder for it
        return pd.DataFrame({KEYS[entity]: pd.Series(dtype="int64")})
    with duckdb.connect() as con:
        return con.execute(f"SELECT * FROM read_parquet('{path}/*.parquet')").df()


def compare(lake, out: Path, days: list[str]) -> tuple[bool, list[str], dict]:
    """Every floor feature against maestro's gold, keyed by entity, on each of ``days``."""
    from maestro_assets.lib.features.catalog import TABLES

    mismatches, checked = [], {}
    for day in days:
        for entity, features in FLOOR_FEATURES.items():
            key = KEYS[entity]
            ours = lake.read_partition("gold", TABLES[entity].name, ("date", day)).to_pandas().set_index(key)
            theirs = floor_rows(out, entity, day).set_index(key)
            if set(ours.index) != set(theirs.index):
                mismatches.append(
                    f"{day} {entity}: rows differ (maestro {len(ours)}, duckdb {len(theirs)}, "
                    f"common {len(ours.index.intersection(theirs.index))})"
                )
                continue
            checked[f"{day} {entity}"] = len(ours)
            if not len(ours):
                continue
            theirs = theirs.loc[ours.index]
            for feature in features:
                a = ours[feature].to_numpy(dtype=float)
                b = theirs[feature].to_numpy(dtype=float)
                if not np.allclose(a, b, rtol=1e-6, atol=1e-6, equal_nan=True):
                    bad = int((~np.isclose(a, b, rtol=1e-6, atol=1e-6, equal_nan=True)).sum())
                    mismatches.append(f"{day} {entity}.{feature}: {bad} of {len(a)} rows differ")
    return not mismatches, mismatches, checked


def _summary(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gold_features", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="demo scale (1.0 = 1M task events, 90 days)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds, the two sides taking turns; medians count")
    parser.add_argument("--duckdb-threads", type=int, default=0, help="DuckDB threads (0: its default, all cores)")
    args = parser.parse_args(argv)

    import duckdb

    from maestro_assets.lib.features.catalog import TABLES

    rounds = []
    with tempfile.TemporaryDirectory(prefix="maestro-bench-gold-") as tmp:
        work = Path(tmp)
        setup_s, (lake, days, n_events) = timed(lambda: write_silver(work / "lake", args.scale))
        silver = work / "lake" / "silver"
        note(f"setup: {n_events} task events over {len(days)} days written as silver in {setup_s:.1f}s")
        agrees, mismatches, checked, gold_rows = None, [], {}, {}
        for number in range(args.repeat * 2):
            side = "maestro" if number % 2 == 0 else "duckdb"
            load = os.getloadavg()
            if side == "maestro":
                seconds, gold_rows = timed(lambda: run_maestro(lake, days))
            else:
                out = work / f"floor-{number}"
                shutil.rmtree(out, ignore_errors=True)
                seconds, _ = timed(lambda out=out: run_duckdb(silver, out, days, args.duckdb_threads or None))
                if agrees is None:
                    sample = [days[0].isoformat(), days[len(days) // 2].isoformat(), days[-1].isoformat()]
                    agrees, mismatches, checked = compare(lake, out, sample)
                shutil.rmtree(out, ignore_errors=True)
            rounds.append({"side": side, "s": round(seconds, 3), "loadavg": [round(x, 2) for x in load]})
            note(f"round {number // 2 + 1} {side}: {seconds:.2f}s; load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")

    maestro_s = [r["s"] for r in rounds if r["side"] == "maestro"]
    floor_s = [r["s"] for r in rounds if r["side"] == "duckdb"]
    ratios = [m / f for m, f in zip(maestro_s, floor_s)]
    median_maestro, median_floor = statistics.median(maestro_s), statistics.median(floor_s)
    floor_list = [f"{entity}.{name}" for entity, names in FLOOR_FEATURES.items() for name in names]
    params = {
        "scale": args.scale,
        "rows": n_events,
        "days": len(days),
        "first_day": days[0].isoformat(),
        "last_day": days[-1].isoformat(),
        "repeats": args.repeat,
        "gold_rows": gold_rows,
        "maestro_s": _summary(maestro_s),
        "duckdb_s": _summary(floor_s),
        "ratio": _summary(ratios),
        "maestro_all_s": maestro_s,
        "duckdb_all_s": floor_s,
        "rounds": rounds,
        "floor_features": floor_list,
        "floor_is_subset": True,
        "floor_feature_count": len(floor_list),
        "catalog_feature_count": sum(len(t.features) for t in TABLES.values()),
        "agrees": bool(agrees),
        "agreement_checked": checked,
        "mismatches": mismatches[:20],
        "duckdb_version": duckdb.__version__,
        "duckdb_threads": args.duckdb_threads or "default",
        "cpus": os.cpu_count(),
        "setup_s": round(setup_s, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    figure(
        "gold_features.vs_duckdb",
        median_maestro,
        "s",
        "duckdb_one_query",
        median_floor,
        "<= 1.5",
        params,
        ratio=median_maestro / median_floor if median_floor else float("inf"),
        target_of="ratio",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
