"""A re-run of a bronze SQL asset after the source lost a day's rows: that day's partition is
replaced by an empty one, never left holding the rows of the earlier run."""

from __future__ import annotations

import sqlalchemy as sa
from dagster import DagsterInstance, materialize

from maestro_assets.defs.ingestion.assets import build_bronze_asset
from maestro_assets.defs.runs import partition_range_tags
from maestro_assets.resources import LakeResource
from maestro_assets_tests.defs.ingestion.test_bronze_sql import shop_orders_source

FIRST, LAST = "2026-09-01", "2026-09-02"


def bronze_rows(lake: LakeResource, day: str) -> list[int]:
    table = lake.client().read_partition("bronze", "shop/orders", ("date", day))
    return sorted(table.column("id").to_pylist()) if "id" in table.column_names else []


def run(asset, lake, **partition):
    tags = partition.pop("tags", None)
    with DagsterInstance.ephemeral() as instance:
        result = materialize([asset], resources={"lake": lake}, instance=instance, tags=tags, **partition)
    assert result.success
    return result.asset_materializations_for_node(asset.op.name)[-1].metadata["rows_per_partition"].value


def test_a_day_that_lost_its_source_rows_is_replaced_by_an_empty_partition(maestro_home, monkeypatch):
    url = f"sqlite:///{maestro_home / 'shop.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE orders (id integer PRIMARY KEY, placed_at timestamp NOT NULL)")
        conn.exec_driver_sql(
            "INSERT INTO orders VALUES (1, '2026-09-01 10:00:00'), (2, '2026-09-02 09:00:00'), "
            "(3, '2026-09-02 17:30:00')"
        )
    monkeypatch.setenv("SHOP_DB_URL", url)
    source = shop_orders_source(maestro_home)
    asset = build_bronze_asset(source, source.tables[0])
    lake = LakeResource(url=str(maestro_home / "lake"))
    both_days = partition_range_tags(FIRST, LAST)

    assert run(asset, lake, tags=both_days) == {FIRST: 1, LAST: 2}
    assert bronze_rows(lake, LAST) == [2, 3]

    with engine.begin() as conn:  # the source loses the second day's rows
        conn.exec_driver_sql("DELETE FROM orders WHERE placed_at >= '2026-09-02'")

    # a range re-run: one day still has rows, the other has none
    rows_per_partition = run(asset, lake, tags=both_days)
    assert bronze_rows(lake, LAST) == []  # the old rows did not survive
    assert bronze_rows(lake, FIRST) == [1]
    assert rows_per_partition == {FIRST: 1, LAST: 0}

    # a one-day re-run that finds no rows at all
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO orders VALUES (4, '2026-09-02 08:00:00')")
    assert run(asset, lake, partition_key=LAST) == {LAST: 1}
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM orders WHERE id = 4")
    rows_per_partition = run(asset, lake, partition_key=LAST)
    assert bronze_rows(lake, LAST) == []
    assert rows_per_partition == {LAST: 0}
    assert bronze_rows(lake, FIRST) == [1]  # a day outside the run is left alone
    engine.dispose()
