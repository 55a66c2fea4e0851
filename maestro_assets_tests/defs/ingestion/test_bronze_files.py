"""Bronze from landed files through Dagster: every file of the day lands in its partition with
`_file`; a bad file is set aside under quarantine/files/ with its reason while the day's good files
land, and the readable_files check fails naming it (ERROR: the run fails, not retried; WARNING:
reported only); the landing file is never touched."""

import json
from pathlib import Path

from dagster import AssetKey, DagsterEventType, DagsterInstance, materialize

from maestro_assets.defs.ingestion.assets import READABLE_FILES_CHECK, bronze_assets, build_bronze_asset
from maestro_assets.lib.ingestion.sources import parse_sources
from maestro_assets.resources import LakeResource

DAY = "2026-09-01"
PREFIX = f"landing/task_events/date={DAY}/"


def files_asset(bad_files: str = "ERROR"):
    """The demo's landing CSV table, declared with the given severity for unreadable files."""
    raw = {
        "sources": [
            {
                "name": "landing",
                "kind": "files",
                "tables": [
                    {
                        "table": "task_events_csv",
                        "prefix": "landing/task_events/",
                        "format": "csv",
                        "bad_files": bad_files,
                    }
                ],
            }
        ]
    }
    (source,) = parse_sources(raw, Path("sources.yaml")).sources
    return build_bronze_asset(source, source.tables[0])


def test_the_demo_declares_this_table():
    assert any(a.key == AssetKey(["bronze", "landing", "task_events_csv"]) for a in bronze_assets())


def run(resource, asset=None):
    with DagsterInstance.ephemeral() as instance:
        return materialize(
            [asset or files_asset()],
            resources={"lake": resource},
            partition_key=DAY,
            instance=instance,
            raise_on_error=False,
        )


def readable_files_evaluation(result):
    (evaluation,) = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
        and e.asset_check_evaluation_data.check_name == READABLE_FILES_CHECK
    ]
    return evaluation


def test_day_of_files_lands_and_a_bad_file_fails_loudly(maestro_home):
    resource = LakeResource(url=str(maestro_home / "lake"))
    lake = resource.client()
    lake.put(PREFIX + "a.csv", b"event_id,event_type\n1,created\n2,started\n")
    lake.put(PREFIX + "b.csv", b"event_id,event_type,extra\n3,completed,x\n")
    assert run(resource).success
    bronze = lake.read_partition("bronze", "landing/task_events_csv", ("date", DAY)).to_pandas()
    assert sorted(bronze["event_id"]) == ["1", "2", "3"]
    assert bronze.groupby("_file").size().to_dict() == {PREFIX + "a.csv": 2, PREFIX + "b.csv": 1}
    assert {"_ingested_at", "_source", "_batch_id"} <= set(bronze.columns)

    assert readable_files_evaluation(run(resource)).passed

    lake.put(PREFIX + "c.csv", b"event_id,event_type\n4,\xff\n")  # not UTF-8
    result = run(resource)
    assert not result.success  # the ERROR check blocks downstream
    evaluation = readable_files_evaluation(result)
    assert not evaluation.passed and evaluation.severity.value == "ERROR"
    assert "c.csv" in evaluation.metadata["message"].value and "not UTF-8" in evaluation.metadata["message"].value
    assert not [e for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]  # bad data
    assert lake.exists(PREFIX + "c.csv")  # the raw file stays in landing
    again = lake.read_partition("bronze", "landing/task_events_csv", ("date", DAY)).to_pandas()
    assert sorted(again["event_id"]) == ["1", "2", "3"]  # the day's good files landed
    assert set(again["_batch_id"]) == {result.run_id}
    (record,) = lake.list(f"quarantine/files/landing/task_events_csv/date={DAY}/")
    recorded = json.loads(lake.get(record.key))
    assert recorded["file"] == PREFIX + "c.csv" and "not UTF-8" in recorded["reason"]

    warned = run(resource, files_asset("WARNING"))  # bad_files: WARNING reports the file and lets the run through
    assert warned.success
    evaluation = readable_files_evaluation(warned)
    assert not evaluation.passed and evaluation.severity.value == "WARN"

    lake.put(PREFIX + "c.csv", b"event_id,event_type\n4,created\n")  # fixed: lands, its record goes
    fixed = run(resource)
    assert fixed.success and readable_files_evaluation(fixed).passed
    rows = lake.read_partition("bronze", "landing/task_events_csv", ("date", DAY)).to_pandas()
    assert sorted(rows["event_id"]) == ["1", "2", "3", "4"]
    assert lake.list("quarantine/files/landing/task_events_csv/") == []
