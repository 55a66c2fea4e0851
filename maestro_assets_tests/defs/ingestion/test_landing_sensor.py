"""The landing sensor: every new object is in exactly one run request, none is missed while
objects arrive during ticks, and a daemon restart (fresh instance, cursor from storage) changes
nothing — against the real S3 server with 1,000 objects; late, re-delivered and re-written
objects; objects of days that have no partition; objects still being written wait.

The sources' ``settle_seconds`` (10 s by default) is 0 here unless a test sets it: the tests
write an object and tick at once."""

from __future__ import annotations

import json
import os
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from dagster import AssetKey, DagsterInstance, DailyPartitionsDefinition, build_sensor_context

from maestro_assets.defs.ingestion import sensors as sensors_module
from maestro_assets.defs.ingestion.sensors import landing_files_sensor
from maestro_assets.lib.ingestion.files import landing_day
from maestro_assets.lib.ingestion.landing import EPOCH, LandingCursor, batch_run_key
from maestro_assets.lib.lake import ObjectInfo, open_lake
from maestro_assets.resources import LakeResource

TABLE = "task_events_csv"
CURSOR_KEY = f"landing/{TABLE}"  # the sensor keeps one cursor per <source>/<table>
PREFIX = "landing/task_events/"
BRONZE = AssetKey(["bronze", "landing", TABLE])
DAYS = ["2026-09-01", "2026-09-02", "2026-09-03", "2026-09-04", "2026-09-05"]
OBJECTS = 1000


@pytest.fixture(autouse=True)
def settle_after(monkeypatch):
    """Sets the files tables' settle_seconds (0 for every test unless it calls this again)."""

    def settle(seconds: float) -> None:
        for name, spec in list(sensors_module.FILE_TABLES.items()):
            monkeypatch.setitem(sensors_module.FILE_TABLES, name, spec.model_copy(update={"settle_seconds": seconds}))

    settle(0)
    return settle


def tick(cursor: str | None, resource: LakeResource, instance: DagsterInstance):
    """One sensor evaluation: (run requests, new cursor)."""
    context = build_sensor_context(cursor=cursor, instance=instance, resources={"lake": resource})
    result = landing_files_sensor(context)
    assert result.cursor is not None  # the cursor is always written back, with or without runs
    return list(result.run_requests or []), result.cursor


def seen_of(cursor: str | None, table: str = CURSOR_KEY) -> dict[str, str]:
    raw = json.loads(cursor or "{}")
    return LandingCursor.parse(raw.get(table)).seen


def reported_between(before: str | None, after: str) -> dict[str, str]:
    """Objects (key -> version) the tick from ``before`` to ``after`` took as new."""
    old, new = seen_of(before), seen_of(after)
    return {key: version for key, version in new.items() if old.get(key) != version}


def check_requests_match(requests, reported: dict[str, str]) -> None:
    """Each run request is exactly one (day, batch) of the objects the cursor took as new."""
    by_day: dict[str, list[ObjectInfo]] = defaultdict(list)
    for key, version in reported.items():
        day = landing_day(key, EPOCH).isoformat()
        by_day[day].append(ObjectInfo(key, 0, EPOCH, version.split("@", 1)[0]))
    days = [r.partition_key for r in requests]
    assert len(days) == len(set(days)), f"two runs for one day in one tick: {days}"
    assert set(days) == set(by_day)
    for request in requests:
        objects = by_day[request.partition_key]
        assert request.tags["maestro/landing_objects"] == str(len(objects))
        assert request.run_key == batch_run_key(CURSOR_KEY, request.partition_key, objects)
        assert list(request.asset_selection) == [BRONZE]


# -- 1,000 objects on the real S3 server ------------------------------------------------------
def test_thousand_objects_landing_during_ticks_each_start_exactly_one_run(
    maestro_home, s3_credentials, s3_lake_url, settle_after
):
    settle_s = 1.0  # objects are taken a second after their PUT: never while the S3 server still writes them
    settle_after(settle_s)
    endpoint = s3_credentials["endpoint_url"]
    writer_lake = open_lake(s3_lake_url, endpoint_url=endpoint)
    written: list[str] = []
    errors: list[BaseException] = []

    ticks_with_runs = [0]

    def writer():
        try:
            for n in range(OBJECTS):
                key = f"{PREFIX}date={DAYS[n % len(DAYS)]}/part-{n:04d}.csv"
                writer_lake.put(key, f"event_id,n\nev-{n},{n}\n".encode())
                written.append(key)
                if n % 250 == 249:  # make sure runs start between the writes, however slow the machine
                    waiting_from, deadline = ticks_with_runs[0], time.monotonic() + 30
                    while ticks_with_runs[0] < waiting_from + 1 and time.monotonic() < deadline:
                        time.sleep(0.01)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    instance = DagsterInstance.ephemeral()
    resource = LakeResource(url=s3_lake_url, endpoint_url=endpoint)
    cursor: str | None = None
    reported: dict[str, str] = {}
    run_keys: list[str] = []
    tagged = 0
    ticks = ticks_with_runs_while_writing = restarts = 0

    def one_tick() -> int:
        nonlocal cursor, tagged, ticks
        requests, after = tick(cursor, resource, instance)
        fresh = reported_between(cursor, after)
        assert not set(fresh) & set(reported), f"reported twice: {sorted(set(fresh) & set(reported))[:5]}"
        check_requests_match(requests, fresh)
        reported.update(fresh)
        run_keys.extend(r.run_key for r in requests)
        tagged += sum(int(r.tags["maestro/landing_objects"]) for r in requests)
        for other in ("ci_runs_jsonl", "deployments_parquet"):
            assert seen_of(after, other) == {}
        cursor = after
        ticks += 1
        ticks_with_runs[0] += bool(requests)
        return len(requests)

    def restart() -> None:
        """The daemon restarts: a new instance and lake client, the cursor read back from storage."""
        nonlocal instance, resource, cursor, restarts
        instance = DagsterInstance.ephemeral()
        resource = LakeResource(url=s3_lake_url, endpoint_url=endpoint)
        cursor = json.dumps(json.loads(cursor)) if cursor else cursor
        restarts += 1

    thread = threading.Thread(target=writer, name="landing-writer")
    thread.start()
    try:
        while thread.is_alive():
            if one_tick():
                ticks_with_runs_while_writing += 1
            if ticks % 3 == 0:
                restart()
    finally:
        thread.join()
    assert not errors, errors
    assert len(written) == OBJECTS
    # the scenario really had objects arriving between ticks, not all in one listing
    assert ticks_with_runs_while_writing >= 3, ticks_with_runs_while_writing

    time.sleep(settle_s)  # the last objects settle
    for _ in range(10):  # drain: tick until nothing new
        if not one_tick():
            break
    else:
        pytest.fail("the sensor kept finding new objects after the writer stopped")
    restart()
    quiet_before = cursor
    assert one_tick() == 0
    assert cursor == quiet_before  # a restart and an idle tick change nothing

    assert sorted(reported) == sorted(written)  # none missed, none invented
    assert sorted(o.key for o in writer_lake.list(PREFIX)) == sorted(written)
    assert tagged == OBJECTS  # every object in exactly one batch
    assert len(run_keys) == len(set(run_keys))
    assert restarts >= 2


# -- re-delivered and re-written objects (S3: the ETag is the content's MD5) ---------------------
@pytest.fixture
def s3_env(maestro_home, s3_credentials, s3_lake_url):
    endpoint = s3_credentials["endpoint_url"]
    return open_lake(s3_lake_url, endpoint_url=endpoint), LakeResource(url=s3_lake_url, endpoint_url=endpoint)


def test_object_listed_again_is_not_reported_again(s3_env):
    lake, resource = s3_env
    instance = DagsterInstance.ephemeral()
    key = f"{PREFIX}date=2026-09-01/part-a.csv"
    lake.put(key, b"event_id\n1\n")
    first, cursor = tick(None, resource, instance)
    assert [(r.partition_key, r.tags["maestro/landing_objects"]) for r in first] == [("2026-09-01", "1")]
    for _ in range(3):  # later ticks list the same object again, also after a restart
        again, cursor = tick(
            cursor, LakeResource(url=resource.url, endpoint_url=resource.endpoint_url), DagsterInstance.ephemeral()
        )
        assert again == []
    assert key in seen_of(cursor)


def test_redelivered_object_with_same_content_is_not_reported_again(s3_env):
    lake, resource = s3_env
    instance = DagsterInstance.ephemeral()
    key = f"{PREFIX}date=2026-09-01/part-a.csv"
    lake.put(key, b"event_id\n1\n")
    first, cursor = tick(None, resource, instance)
    assert len(first) == 1
    etag = lake.list(key)[0].etag
    time.sleep(0.05)
    lake.put(key, b"event_id\n1\n")  # the producer delivers the very same file again
    assert lake.list(key)[0].etag == etag
    again, cursor = tick(cursor, resource, instance)
    assert again == []


def test_same_key_with_new_content_is_a_new_run(s3_env):
    lake, resource = s3_env
    instance = DagsterInstance.ephemeral()
    key = f"{PREFIX}date=2026-09-02/part-a.csv"
    lake.put(key, b"event_id\n1\n")
    first, cursor = tick(None, resource, instance)
    old_etag = lake.list(key)[0].etag
    lake.put(key, b"event_id\n1\n2\n")  # corrected delivery: new content, new ETag
    new_etag = lake.list(key)[0].etag
    assert new_etag != old_etag
    second, cursor = tick(cursor, resource, instance)
    assert len(first) == len(second) == 1
    assert second[0].partition_key == "2026-09-02"
    assert second[0].tags["maestro/landing_objects"] == "1"
    assert second[0].run_key != first[0].run_key
    assert second[0].run_key == batch_run_key(CURSOR_KEY, "2026-09-02", [ObjectInfo(key, 0, EPOCH, new_etag)])
    assert seen_of(cursor)[key].startswith(new_etag + "@")
    third, _ = tick(cursor, resource, instance)
    assert third == []


# -- late objects, objects still being written, days without a partition (local lake) ---------------
@pytest.fixture
def local_env(maestro_home, tmp_path):
    root = tmp_path / "lake"
    return open_lake(str(root)), LakeResource(url=str(root))


def test_late_object_older_than_the_mark_is_still_reported(local_env):
    lake, resource = local_env
    instance = DagsterInstance.ephemeral()
    lake.put(f"{PREFIX}date=2026-09-01/first.csv", b"event_id\n1\n")
    first, cursor = tick(None, resource, instance)
    assert len(first) == 1
    mark = LandingCursor.parse(json.loads(cursor)[CURSOR_KEY]).mark

    # a slow writer's object becomes visible now, dated an hour before the mark
    late_key = f"{PREFIX}date=2026-09-03/late.csv"
    lake.put(late_key, b"event_id\n2\n")
    late_time = (mark - timedelta(hours=1)).timestamp()
    os.utime(lake.root / late_key, (late_time, late_time))
    late = lake.list(late_key)[0]
    assert late.last_modified < mark

    second, cursor = tick(cursor, resource, instance)
    assert [(r.partition_key, r.tags["maestro/landing_objects"]) for r in second] == [("2026-09-03", "1")]
    assert second[0].run_key == batch_run_key(CURSOR_KEY, "2026-09-03", [late])
    assert LandingCursor.parse(json.loads(cursor)[CURSOR_KEY]).mark == mark  # the mark does not go back
    third, _ = tick(cursor, resource, DagsterInstance.ephemeral())
    assert third == []


def test_an_object_modified_within_settle_seconds_waits_and_is_taken_once_settled(local_env, settle_after, capfd):
    lake, resource = local_env
    settle_after(10)
    instance = DagsterInstance.ephemeral()
    old_key, young_key = f"{PREFIX}date=2026-09-01/done.csv", f"{PREFIX}date=2026-09-01/copying.csv"
    lake.put(old_key, b"event_id\n1\n")
    lake.put(young_key, b"event_id\n2\n")  # a producer is still writing this one
    settled = (datetime.now(UTC) - timedelta(seconds=30)).timestamp()
    os.utime(lake.root / old_key, (settled, settled))
    capfd.readouterr()

    first, cursor = tick(None, resource, instance)
    assert [(r.partition_key, r.tags["maestro/landing_objects"]) for r in first] == [("2026-09-01", "1")]
    assert first[0].run_key == batch_run_key(CURSOR_KEY, "2026-09-01", lake.list(old_key))
    assert set(seen_of(cursor)) == {old_key}  # the young object is not remembered: a later tick takes it
    assert "1 object(s) under landing/task_events/ changed in the last 10s" in capfd.readouterr().err

    lake.put(young_key, b"event_id\n2\n3\n")  # the producer finishes: its final content
    assert tick(cursor, resource, instance)[0] == []  # still within 10 s of its last change
    os.utime(lake.root / young_key, (settled, settled))  # ... and now 30 s ago
    second, cursor = tick(cursor, resource, DagsterInstance.ephemeral())
    assert [(r.partition_key, r.tags["maestro/landing_objects"]) for r in second] == [("2026-09-01", "1")]
    assert second[0].run_key == batch_run_key(CURSOR_KEY, "2026-09-01", lake.list(young_key))  # the whole file
    assert tick(cursor, resource, instance)[0] == []


def test_objects_of_days_without_a_partition_start_no_run(local_env, capfd):
    lake, resource = local_env
    lake.put(f"{PREFIX}date=2020-01-01/old.csv", b"event_id\n1\n")  # before the first partition
    lake.put(f"{PREFIX}date=2026-09-04/good.csv", b"event_id\n2\n")
    capfd.readouterr()
    requests, cursor = tick(None, resource, DagsterInstance.ephemeral())
    assert [(r.partition_key, r.tags["maestro/landing_objects"]) for r in requests] == [("2026-09-04", "1")]
    logged = capfd.readouterr().err
    assert "WARNING - skipped landing/task_events/date=2020-01-01/old.csv" in logged
    assert "good.csv" not in logged

    only_old = open_lake(str(lake.root.parent / "lake2"))
    only_old.put(f"{PREFIX}date=2020-01-01/old.csv", b"event_id\n1\n")
    requests, _ = tick(None, LakeResource(url=only_old.url), DagsterInstance.ephemeral())
    assert requests == []


def test_object_landing_today_is_not_lost(local_env, monkeypatch):
    lake, resource = local_env
    instance = DagsterInstance.ephemeral()
    key = f"{PREFIX}upload-{datetime.now(UTC):%H%M%S}.csv"  # no date=: its landing day is today
    lake.put(key, b"event_id\n1\n")
    today = datetime.now(UTC).date().isoformat()
    first, cursor = tick(None, resource, instance)
    # tomorrow: today's partition exists
    monkeypatch.setattr(
        sensors_module,
        "DAILY",
        DailyPartitionsDefinition(
            start_date=sensors_module.DAILY.start.strftime("%Y-%m-%d"), timezone="UTC", end_offset=1
        ),
    )
    second, _ = tick(cursor, resource, instance)
    runs = [r for r in first + second if r.partition_key == today]
    assert len(runs) == 1 and runs[0].tags["maestro/landing_objects"] == "1"
