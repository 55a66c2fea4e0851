"""Batch predictions of one day: the day's gold features of a feature service's entities, in the
columns a model was trained on, and the predictions written to the lake and the warehouse.

A row of day D is what was known at the end of D (gold's ``event_timestamp``), so a prediction of
day D uses the same point-in-time features a training label stamped then would. The entity pairs
(a task and its assignee, a project and its team) come from silver's current snapshot.
"""

from __future__ import annotations

import io
from datetime import date

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import MaestroError
from ..feature_store.services import FEATURE_SERVICES
from ..features.catalog import TABLES
from ..features.gold import FeatureInputs
from ..lake import Lake
from ..warehouse import Warehouse, check_identifier

# per service: the first entity's rows are predicted; the second entity's key comes from silver
PAIRS = {
    "task_lateness": ("tasks", "task_id", "assignee_id", "user_id"),
    "project_success": ("projects", "project_id", "team_id", "team_id"),
}
PARTITION = "partition_date"  # not "partition": a reserved word in MySQL


def _gold_day(lake: Lake, entity: str, day: date) -> pd.DataFrame:
    table = TABLES[entity]
    if str(day) not in lake.partitions("gold", table.name):
        raise MaestroError(
            f"gold/{table.name} has no partition {day}; materialize gold_features for {day} before predicting it"
        )
    frame = lake.read_table("gold", table.name, "date", [str(day)])
    return frame[[table.key, *table.feature_names]].rename(
        columns={f: f"{table.name}__{f}" for f in table.feature_names}
    )


def prediction_features(lake: Lake, service: str, inputs: FeatureInputs, day: date) -> pd.DataFrame:
    """Entity keys and ``<view>__<feature>`` columns for every row of the day to predict."""
    first, second = FEATURE_SERVICES[service]
    silver_table, key, pair_column, pair_key = PAIRS[service]
    rows = _gold_day(lake, first, day)
    silver_name = getattr(inputs, silver_table)
    pairs = lake.read_table("silver", silver_name, columns=[key, pair_column]).dropna()
    pairs = pairs.astype("int64").rename(columns={pair_column: pair_key}).drop_duplicates(key)
    rows = rows.merge(pairs, on=key, how="inner")
    other = _gold_day(lake, second, day)
    return rows.merge(other, on=pair_key, how="left").reset_index(drop=True)


def predictions_table(model: str) -> str:
    return check_identifier(f"predictions_{model}", "table")


def write_predictions(lake: Lake, warehouse: Warehouse, model: str, day: date, frame: pd.DataFrame) -> tuple[str, int]:
    """Replace day ``day``'s predictions of ``model`` in the lake and in the warehouse table."""
    key = f"predictions/{model}/date={day}/part-0.parquet"
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink, compression="zstd")
    lake.put(key, sink.getvalue())
    table = predictions_table(model)
    rows = frame.assign(**{PARTITION: str(day)})
    if warehouse.has_table(table):
        warehouse.execute(f"DELETE FROM {warehouse._quote(table)} WHERE {PARTITION} = :day", {"day": str(day)})
    if len(rows):  # an empty day only clears its rows: an empty frame would create a table without types
        warehouse.write_frame(table, rows, if_exists="append")
    return key, len(rows)
