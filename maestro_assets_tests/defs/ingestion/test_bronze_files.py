"""Bronze from landed files through Dagster: every file of the day lands in its partition with
`_file`; a bad file fails the run naming it, and neither the landing file nor bronze is lost."""

from dagster import AssetKey, DagsterInstance, materialize

from maestro_assets.defs.ingestion.assets import bronze_assets
from maestro_assets.resources import LakeResource

DAY = "2026-09-01"
PREFIX = f"landing/task_events/date={DAY}/"


def files_asset():
    return next(a for a in bronze_assets() if a.key == AssetKey(["bronze", "landing", "task_events_csv"]))


def run(resource):
    with DagsterInstance.ephemeral() as instance:
        return materialize(
            [files_asset()], resources={"lake": resource}, partition_key=DAY, instance=instance, raise_on_error=False
        )


def test_day_of_files_lands_and_a_bad_file_fails_loudly(maestro_home):
    resource = LakeResource(url=str(maestro_home / "lake"))
    lake = resource.get()
    lake.put(PREFIX + "a.csv", b"event_id,event_type\n1,created\n2,started\n")
    lake.put(PREFIX + "b.csv", b"event_id,event_type,extra\n3,completed,x\n")
    assert run(resource).success
    bronze = lake.read_partition("bronze", "landing/task_events_csv", ("date", DAY)).to_pandas()
    assert sorted(bronze["event_id"]) == ["1", "2", "3"]
    assert bronze.groupby("_file").size().to_dict() == {PREFIX + "a.csv": 2, PREFIX + "b.csv": 1}
    assert {"_ingested_at", "_source", "_batch_id"} <= set(bronze.columns)

    lake.put(PREFIX + "c.csv", b"event_id,event_type\n4,\xff\n")  # not UTF-8
    result = run(resource)
    assert not result.success
    (failure,) = result.get_step_failure_events()
    message = str(failure.step_failure_data.error.cause or failure.step_failure_data.error)
    assert "c.csv" in message and "not UTF-8" in message
    assert lake.exists(PREFIX + "c.csv")  # the raw file stays in landing
    again = lake.read_partition("bronze", "landing/task_events_csv", ("date", DAY)).to_pandas()
    assert len(again) == 3  # bronze keeps the last good ingestion
