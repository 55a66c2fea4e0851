"""One silver partition from one bronze partition: validate, quarantine, clean, report.

Bronze's own columns (``_ingested_at``, ``_source``, ``_batch_id``, ``_file`` …) are not part of
the declared table: they are set aside before validation, kept on quarantined rows (so a rejected
row can be traced to its batch and file) and dropped from the silver table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from .cleaning import clean
from .engine import validate
from .results import ValidationResult
from .rules import TableRules


@dataclass
class SilverPartition:
    result: ValidationResult
    silver: pd.DataFrame
    quarantine: pd.DataFrame

    def report(self, partition: str | None) -> dict:
        return {"partition": partition, **self.result.to_report(), "rows_silver": len(self.silver)}


def bronze_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if str(c).startswith("_")]


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
