"""How the CLI splits a selection into runs: one partitions definition per run, in dependency order,
and the range of each definition's partitions that covers a window of days."""

from __future__ import annotations

from dagster import DailyPartitionsDefinition, WeeklyPartitionsDefinition

from maestro_assets.definitions import defs
from maestro_assets.platform_runner import partition_range_for, run_stages

DAILY = DailyPartitionsDefinition(start_date="2026-09-01", timezone="UTC")
WEEKLY = WeeklyPartitionsDefinition(start_date="2026-08-31", day_offset=1, timezone="UTC")  # Mondays


def test_a_window_of_days_maps_to_each_definitions_own_partitions():
    assert partition_range_for(DAILY, "2026-09-03", "2026-09-20") == ("2026-09-03", "2026-09-20")
    # the weeks that hold those days: Monday 31 Aug .. Monday 14 Sep (the week of the 20th)
    assert partition_range_for(WEEKLY, "2026-09-03", "2026-09-20") == ("2026-08-31", "2026-09-14")
    assert partition_range_for(WEEKLY, "2026-09-07", "2026-09-07") == ("2026-09-07", "2026-09-07")
    assert partition_range_for(DAILY, "2020-01-01", "2020-01-31") is None  # before the first partition


def test_stages_run_upstream_first_and_never_mix_partitions_definitions():
    graph = defs.resolve_asset_graph()
    keys = sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string())
    stages = run_stages(keys)
    done: set = set()
    for stage, partitions_def in stages:
        assert {graph.get(k).partitions_def for k in stage} == {partitions_def}
        for key in stage:
            assert all(p in done or p in stage or p not in keys for p in graph.get(key).parent_keys)
        done |= set(stage)
    assert done == set(keys) and sum(len(s) for s, _ in stages) == len(keys)
