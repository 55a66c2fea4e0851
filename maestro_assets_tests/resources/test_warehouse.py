"""The warehouse on SQLite and on a real PostgreSQL server, with the same test bodies."""

from __future__ import annotations

import threading

import pandas as pd
import pytest
import sqlalchemy as sa

from maestro_assets.lib.errors import ConfigurationError, UnknownIdentifierError
from maestro_assets.lib.redact import redact_url
from maestro_assets.lib.warehouse import Warehouse, check_identifier, get_engine


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse(request, tmp_path) -> Warehouse:
    if request.param == "sqlite":
        return Warehouse(f"sqlite:///{tmp_path / 'wh.db'}")
    return Warehouse(request.getfixturevalue("postgres_url"))


def people(n: int = 5) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "person_id": range(1, n + 1),
            "name": [f"p{i}" for i in range(1, n + 1)],
            "score": [i / 10 for i in range(1, n + 1)],
            "active": [i % 2 == 0 for i in range(1, n + 1)],
            "joined_at": pd.date_range("2026-01-01", periods=n, freq="D", tz="UTC"),
        }
    )


def test_round_trip_keeps_values_and_types(warehouse):
    frame = people()
    assert warehouse.write_frame("people", frame) == 5
    back = warehouse.read_frame("people", order_by=["person_id"])
    assert back["person_id"].tolist() == [1, 2, 3, 4, 5]
    assert back["name"].tolist() == frame["name"].tolist()
    assert back["score"].tolist() == pytest.approx(frame["score"].tolist())
    assert [bool(v) for v in back["active"]] == frame["active"].tolist()
    assert pd.to_datetime(back["joined_at"], utc=True).tolist() == frame["joined_at"].tolist()


def test_replace_swaps_whole_table_and_append_adds(warehouse):
    warehouse.write_frame("people", people(5))
    warehouse.write_frame("people", people(3))
    assert warehouse.row_count("people") == 3
    warehouse.write_frame("people", people(2), if_exists="append")
    assert warehouse.row_count("people") == 5
    # no staging tables left behind by the swap
    assert [t for t in warehouse.table_names() if t.startswith("_")] == []


def test_values_are_bound_parameters_not_sql(warehouse):
    warehouse.write_frame("people", people())
    hostile = "p1' OR '1'='1"
    assert warehouse.read_frame("people", where={"name": hostile}).empty
    assert len(warehouse.read_frame("people", where={"name": "p2"})) == 1
    found = warehouse.query("SELECT name FROM people WHERE score > :low ORDER BY name", {"low": 0.35})
    assert found["name"].tolist() == ["p4", "p5"]


@pytest.mark.parametrize("name", ["people; DROP TABLE people", "people--", 'pe"ople', "1people", ""])
def test_identifiers_checked_against_catalog_and_allow_list(warehouse, name):
    warehouse.write_frame("people", people())
    with pytest.raises(UnknownIdentifierError):
        warehouse.read_frame(name)
    with pytest.raises(UnknownIdentifierError):
        warehouse.write_frame(name, people())
    with pytest.raises(UnknownIdentifierError):
        warehouse.read_frame("people", columns=["name", name or "missing"])
    assert warehouse.row_count("people") == 5  # nothing was dropped


@pytest.mark.parametrize("name", ["people\n", "people;", "people "])
def test_allow_list_holds_to_the_end_of_the_name(name):
    """Python's ``$`` also matches before a final newline: the whole name must match."""
    with pytest.raises(UnknownIdentifierError):
        check_identifier(name)
    assert check_identifier("people") == "people"


def test_unknown_column_names_the_table_and_known_columns(warehouse):
    warehouse.write_frame("people", people())
    with pytest.raises(UnknownIdentifierError, match=r"'nope'.*'people'.*person_id"):
        warehouse.read_frame("people", where={"nope": 1})


def test_stream_batches_covers_every_row_once(warehouse):
    warehouse.write_frame("people", people(1234))
    stmt = warehouse.select("people", columns=["person_id"], order_by=["person_id"])
    batches = list(warehouse.iter_batches(stmt, batch_size=100))
    assert [len(b) for b in batches] == [100] * 12 + [34]
    ids = pd.concat(batches)["person_id"].tolist()
    assert ids == list(range(1, 1235))


def test_one_pooled_engine_per_url(warehouse):
    assert get_engine(warehouse.url) is warehouse.engine
    assert Warehouse(warehouse.url).engine is warehouse.engine
    warehouse.write_frame("people", people(50))
    errors = []

    def read():
        try:
            assert warehouse.row_count("people") == 50
        except Exception as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_bad_url_names_the_setting_and_hides_the_password(postgres_server_url):
    url = (
        sa.engine.make_url(postgres_server_url)
        .set(password="s3cr3t-pw", database="no_such_database_here")
        .render_as_string(hide_password=False)
    )
    with pytest.raises(ConfigurationError) as info:
        Warehouse(url).check()
    message = str(info.value)
    assert message.startswith("MAESTRO_WAREHOUSE_URL:")
    assert "no_such_database_here" in message
    assert "s3cr3t-pw" not in message
    with pytest.raises(ConfigurationError, match="MAESTRO_WAREHOUSE_URL.*not a database URL"):
        Warehouse("this is not a url")
    assert "hunter2" not in redact_url("postgresql://u:hunter2@h/db")
