"""The schema part of the rules as a pandera ``DataFrameSchema``, and the column-level findings.

pandera judges what is true of a column as a whole: is every required column there, does each
read column have its declared (storage) dtype. Those findings depend only on the columns and
their dtypes, so pandera runs lazily over a zero-row frame of the read columns and the findings
are cached per dtype signature: a 1,000-row call and a 10M-row call cost the same here.
Row-level findings (unreadable values, nulls) come from the vectorised readers instead: pandera
finds unreadable values one row at a time, and its error path costs more than the rest of a
small validation.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import pandas as pd
import pandera.pandas as pa

from .rules import TableRules


@lru_cache(maxsize=128)
def pandera_schema(rules: TableRules) -> pa.DataFrameSchema:
    """The columns of ``rules`` as a pandera schema (dtypes as stored once read, see ``ColumnRule.storage_dtype``)."""
    columns = {
        rule.name: pa.Column(rule.storage_dtype, nullable=rule.nullable, required=rule.required)
        for rule in rules.columns
    }
    return pa.DataFrameSchema(columns, name=rules.table, strict=False)


def column_problems(rules: TableRules, dtypes: Mapping[str, Any]) -> dict[str, str]:
    """Column name -> sentence, for each required column that is missing or read column whose
    dtype is not the declared one. ``dtypes`` are those of the read columns."""
    return dict(_column_problems(rules, tuple(dtypes.items())))


@lru_cache(maxsize=1024)
def _column_problems(rules: TableRules, signature: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, str], ...]:
    empty = pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in signature})
    try:
        pandera_schema(rules).validate(empty, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as errors:
        return tuple(_problem(rules.table, case) for case in errors.failure_cases.itertuples(index=False))
    return ()


def _problem(table: str, case) -> tuple[str, str]:
    if case.check == "column_in_dataframe":
        return str(case.failure_case), f"table {table!r}: required column {case.failure_case!r} is missing"
    return str(case.column), f"table {table!r}: column {case.column!r} failed {case.check} (found {case.failure_case})"
