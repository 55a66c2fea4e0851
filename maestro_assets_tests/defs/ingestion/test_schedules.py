"""A daily schedule per declared source, asking for yesterday's partition of bronze and silver."""

from datetime import UTC, datetime

from dagster import DagsterInstance, build_schedule_context

from maestro_assets.definitions import defs
from maestro_assets.lib.ingestion.sources import load_sources


def test_every_source_has_a_daily_schedule_for_yesterday():
    sources = load_sources()
    with DagsterInstance.ephemeral() as instance:
        for source in sources.sources:
            schedule = defs.resolve_schedule_def(f"{source.name}_daily_schedule")
            assert schedule.cron_schedule == source.schedule
            context = build_schedule_context(
                instance=instance,
                repository_def=defs.get_repository_def(),
                scheduled_execution_time=datetime(2026, 9, 2, 2, 0, tzinfo=UTC),
            )
            (request,) = schedule.evaluate_tick(context).run_requests
            assert request.partition_key == "2026-09-01"
            job = defs.resolve_job_def(schedule.job_name)
            assert job.partitions_def.has_partition_key(request.partition_key)  # a run of that day is valid
            selected = {k.to_user_string() for k in job.asset_layer.selected_asset_keys}
            partitioned = {f"bronze/{t.source}/{t.table}" for t in source.tables if t.partitioned}
            assert partitioned <= selected
            assert any(k.startswith("silver/") for k in selected)  # silver follows bronze in the same run


def test_snapshot_tables_have_their_own_schedule():
    schedule = defs.resolve_schedule_def("demo_db_snapshot_schedule")
    job = defs.resolve_job_def(schedule.job_name)
    selected = {k.to_user_string() for k in job.asset_layer.selected_asset_keys}
    assert "bronze/demo_db/users" in selected and "silver/demo_db/users" in selected
    assert not any("task_events" in k for k in selected)


def test_a_day_outside_the_partitions_is_skipped_with_the_reason():
    """The demo's partitions end with its data (end_date): the day after, the schedule says why it skips."""
    schedule = defs.resolve_schedule_def("demo_db_daily_schedule")
    with DagsterInstance.ephemeral() as instance:
        context = build_schedule_context(
            instance=instance,
            repository_def=defs.get_repository_def(),
            scheduled_execution_time=datetime(2026, 11, 2, 2, 0, tzinfo=UTC),
        )
        result = schedule.evaluate_tick(context)
    assert not result.run_requests
    assert "2026-11-01 is not a daily partition" in result.skip_message
    assert "end_date" in result.skip_message
