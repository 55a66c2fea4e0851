"""Declared column dtypes: which family a dtype belongs to and how a column of it is stored."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any

import pandas as pd
from pandas.api.types import (
    is_bool_dtype,
    is_datetime64_any_dtype,
    is_float_dtype,
    is_integer_dtype,
    pandas_dtype,
)

STRING_NAMES = ("string", "str")


class Family(str, Enum):
    INTEGER = "integer"
    FLOAT = "float"
    BOOLEAN = "boolean"
    STRING = "string"
    CATEGORY = "category"
    DATETIME = "datetime"


@dataclass(frozen=True)
class DtypeSpec:
    """A declared dtype (``"int64"``, ``"datetime64[ns, UTC]"``…) resolved once."""

    declared: str
    family: Family
    dtype: Any  # the numpy or pandas dtype the name stands for

    @property
    def numeric(self) -> bool:
        return self.family in (Family.INTEGER, Family.FLOAT)

    @property
    def ordered(self) -> bool:
        """Can values be compared with ``<`` (range checks)?"""
        return self.numeric or self.family is Family.DATETIME

    @property
    def tz(self):
        return getattr(self.dtype, "tz", None)

    def storage(self, nullable: bool):
        """The dtype a column has once read: integers and booleans that may hold nulls use the
        pandas masked dtypes (``Int64``, ``boolean``), everything else the declared dtype."""
        if not nullable or isinstance(self.dtype, pd.api.extensions.ExtensionDtype):
            return self.dtype
        if self.family is Family.INTEGER:
            return pandas_dtype({"i": "Int", "u": "UInt"}[self.dtype.kind] + str(self.dtype.itemsize * 8))
        if self.family is Family.BOOLEAN:
            return pd.BooleanDtype()
        return self.dtype

    def in_zone(self, stamp: pd.Timestamp) -> pd.Timestamp:
        """``stamp`` comparable with this (datetime) column: in its zone, or naive UTC."""
        utc = as_utc(stamp)
        return utc.tz_convert(self.tz) if self.tz is not None else utc.tz_localize(None)

    def __str__(self) -> str:
        return self.declared


def as_utc(value) -> pd.Timestamp:
    """A timestamp in UTC; a naive one is taken as UTC already."""
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")


@cache
def parse_dtype(declared: str) -> DtypeSpec:
    """Resolve a dtype name; ``ValueError`` names the dtype when it is unknown or unsupported."""
    if not isinstance(declared, str) or not declared:
        raise ValueError(f"dtype must be a non-empty string, got {declared!r}")
    if declared in STRING_NAMES:
        return DtypeSpec(declared, Family.STRING, pd.StringDtype())
    try:
        dtype = pandas_dtype(declared)
    except (TypeError, ValueError):
        raise ValueError(f"unknown dtype {declared!r}") from None
    family = _family(dtype)
    if family is None:
        raise ValueError(
            f"unsupported dtype {declared!r} (use an int, uint, float, bool, string, category or datetime64 dtype)"
        )
    return DtypeSpec(declared, family, dtype)


def _family(dtype) -> Family | None:
    if is_bool_dtype(dtype):
        return Family.BOOLEAN
    if is_integer_dtype(dtype):
        return Family.INTEGER
    if is_float_dtype(dtype):
        return Family.FLOAT
    if is_datetime64_any_dtype(dtype):
        return Family.DATETIME
    if isinstance(dtype, pd.StringDtype):
        return Family.STRING
    if isinstance(dtype, pd.CategoricalDtype):
        return Family.CATEGORY
    return None
