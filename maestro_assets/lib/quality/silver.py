"""Silver from bronze: validate, quarantine, clean and report, one partition at a time.

Bronze's own columns (``_ingested_at``, ``_source``, ``_batch_id``, ``_file``) are not part of
the declared table: they are set aside before validation, kept on quarantined rows (so a rejected
row can be traced to its batch and file) and dropped from the silver table. Every other column —
``_id`` included, a legal source column — is the source's.

Lake layout, per table ``<source>/<table>``: ``silver/…/date=D/``, ``quarantine/…/date=D/`` (rows
as received, with ``_failed_checks`` and ``_reason``) and ``reports/silver/…/date=D/report.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pandas as pd

from ..dates import end_of_day
from ..errors import MaestroError
from ..ingestion.bronze import BRONZE_COLUMNS
from ..lake import Lake, LakeKeyError
from .cleaning import clean
from .engine import validate
from .results import CheckResult, ValidationResult
from .rules import TableRules

PARTITION_COLUMN = "date"
QUARANTINE_LAYER = "quarantine"  # the rows a table's checks set aside, partitioned as silver


@dataclass
class SilverPartition:
    result: ValidationResult
    silver: pd.DataFrame
    quarantine: pd.DataFrame

    def report(self, partition: str | None) -> dict:
        return {"partition": partition, **self.result.to_report(), "rows_silver": len(self.silver)}


@dataclass
class PartitionCounts:
    rows_in: int
    rows_valid: int
    rows_quarantined: int
    rows_silver: int


@dataclass
class SilverRun:
    """What one run wrote: counts per partition (``None`` for an unpartitioned table), every check result."""

    table: str
    partitions: dict[str | None, PartitionCounts] = field(default_factory=dict)
    checks: list[CheckResult] = field(default_factory=list)
    last_silver: pd.DataFrame | None = None

    def total(self, name: str) -> int:
        return sum(getattr(counts, name) for counts in self.partitions.values())

    @property
    def totals(self) -> dict[str, int]:
        return {name: self.total(name) for name in ("rows_in", "rows_valid", "rows_quarantined", "rows_silver")}


def bronze_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c in BRONZE_COLUMNS]


def build_silver(
    bronze: pd.DataFrame, rules: TableRules, now: datetime | None = None, reference: pd.DataFrame | None = None
) -> SilverPartition:
    meta = bronze_columns(bronze)
    received = bronze.drop(columns=meta)
    if received.empty and received.columns.empty:  # a partition that had no rows at all: no columns either
        received = pd.DataFrame({c.name: pd.Series([], dtype=object) for c in rules.columns})
    if reference is not None:
        reference = reference.drop(columns=bronze_columns(reference))
    result = validate(received, rules, now=now, reference=reference)
    quarantine = result.quarantine.join(bronze[meta], how="left") if meta else result.quarantine
    return SilverPartition(result, clean(result.valid, rules), quarantine)


def read_bronze(lake: Lake, table: str, day: str | None) -> pd.DataFrame:
    """One bronze partition (``table`` is ``<source>/<table>``) as pandas."""
    partition = (PARTITION_COLUMN, day) if day else None
    try:
        return lake.read_partition("bronze", table, partition).to_pandas()
    except LakeKeyError:
        where = f" partition {day}" if day else ""
        raise MaestroError(f"silver/{table}: bronze/{table}{where} has not been materialized") from None


def _reference(lake: Lake, table: str, day: str | None) -> pd.DataFrame | None:
    """The distribution reference: the previous day's bronze partition, when there is one."""
    if day is None:
        return None
    previous = (date.fromisoformat(day) - timedelta(days=1)).isoformat()
    try:
        return lake.read_partition("bronze", table, (PARTITION_COLUMN, previous)).to_pandas()
    except LakeKeyError:
        return None


def report_key(table: str, day: str | None) -> str:
    return f"reports/silver/{table}/" + (f"date={day}/" if day else "") + "report.json"


def materialize_silver(lake: Lake, table: str, rules: TableRules, days: list[str] | None) -> SilverRun:
    """Build and write the silver partitions of ``days`` (``None``: the unpartitioned table) of
    ``table`` (``<source>/<table>``). Freshness and future timestamps of a partition are judged at
    the end of its day, so a backfilled old partition is judged as it was on that day."""
    run = SilverRun(table)
    previous: tuple[str | None, pd.DataFrame] | None = None  # the day just read: tomorrow's reference
    for day in days if days is not None else [None]:
        bronze = read_bronze(lake, table, day)
        now = end_of_day(date.fromisoformat(day)) if day else None
        yesterday = (date.fromisoformat(day) - timedelta(days=1)).isoformat() if day else None
        reference = previous[1] if previous and previous[0] == yesterday else _reference(lake, table, day)
        previous = (day, bronze)
        part = build_silver(bronze, rules, now=now, reference=reference)
        partition = (PARTITION_COLUMN, day) if day else None
        lake.write_partition("silver", table, partition, part.silver)
        # as received: mixed types kept as text, nulls stay null
        lake.write_partition(QUARANTINE_LAYER, table, partition, part.quarantine.astype("string"))
        lake.put(report_key(table, day), json.dumps(part.report(day), indent=1).encode())
        result = part.result
        run.partitions[day] = PartitionCounts(
            result.rows_in, result.rows_valid, result.rows_quarantined, len(part.silver)
        )
        run.checks.extend(result.checks)
        run.last_silver = part.silver
    return run
