"""Reading a received column as its declared dtype, vectorised, without losing track of why.

Every reader returns the typed values plus two row masks: ``null`` (no value was received:
NA, NaN, NaT, None, or — outside string columns — a blank string or a null word such as
``"NaN"``, ``"null"``, ``"N/A"``) and ``bad`` (a value was received
but cannot be read as the declared dtype: ``"abc"`` or ``2.5`` for an int64, say). A row that
is null or bad holds a placeholder in ``values`` (NA where the storage dtype has one).

Values are arrays, not Series: a numpy array for numpy dtypes, else a pandas extension array
(``Int64``, ``string``, ``datetime64[ns, UTC]``…). Building Series costs more than the checks
themselves on small frames.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from pandas.api.types import (
    is_bool_dtype,
    is_datetime64_any_dtype,
    is_integer_dtype,
    is_numeric_dtype,
    is_object_dtype,
    is_string_dtype,
)

from .dtypes import DtypeSpec, Family

NULL_WORDS = ("", "nan", "nat", "null", "none", "na", "n/a", "<na>")  # text read as null outside string columns
BOOL_WORDS = {
    "true": True,
    "t": True,
    "yes": True,
    "y": True,
    "1": True,
    "false": False,
    "f": False,
    "no": False,
    "n": False,
    "0": False,
}


@dataclass
class Coerced:
    values: np.ndarray | pd.api.extensions.ExtensionArray  # storage dtype, one per received row
    null: np.ndarray  # bool: no value received
    bad: np.ndarray  # bool: a value that cannot be read as the declared dtype

    @cached_property
    def present(self) -> np.ndarray:
        return ~(self.null | self.bad)


def as_array(series: pd.Series):
    """The values of ``series``: a numpy array when the dtype is numpy's, else the extension array."""
    return series.to_numpy() if isinstance(series.dtype, np.dtype) else series.array


def coerce_column(raw: pd.Series, spec: DtypeSpec, nullable: bool = True) -> Coerced:
    """``raw`` read as the dtype ``spec`` (stored as ``spec.storage(nullable)``)."""
    if isinstance(raw.dtype, pd.CategoricalDtype) and spec.family is not Family.CATEGORY:
        raw = raw.astype(object)
    return READERS[spec.family](raw, spec, spec.storage(nullable))


def _none(raw: pd.Series) -> np.ndarray:
    return np.zeros(len(raw), dtype=bool)


def _isna(raw: pd.Series) -> np.ndarray:
    return pd.isna(as_array(raw))


def _textual(raw: pd.Series) -> bool:
    return is_object_dtype(raw.dtype) or is_string_dtype(raw.dtype)


def _as_text(values) -> pd.Series:
    """Any values as pandas strings (``str()`` of non-strings), NA kept: safe for ``.str``."""
    return pd.Series(values, dtype=object, copy=False).astype("string")


def _null_words(raw: pd.Series, candidates: np.ndarray) -> np.ndarray:
    """Which of the ``candidates`` rows hold a blank or a null word (``"NaN"``, ``"null"``…), read
    as null outside string columns."""
    words = np.zeros(len(raw), dtype=bool)
    positions = np.flatnonzero(candidates)
    if len(positions) and _textual(raw):
        picked = _as_text(raw.to_numpy(dtype=object)[positions])
        words[positions] = picked.str.strip().str.lower().isin(NULL_WORDS).to_numpy(dtype=bool, na_value=False)
    return words


def _parsed_masks(raw: pd.Series, parsed_missing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(null, bad)`` of a column parsed from text: received nulls, blanks and null words are
    null, any other value the parser could not read is bad."""
    null = _isna(raw)
    unread = parsed_missing & ~null
    words = _null_words(raw, unread)
    return null | words, unread & ~words


def _with_nulls(values: np.ndarray, missing: np.ndarray, storage):
    """``values`` (numpy) as ``storage``: ``missing`` rows become NA when the storage has NA, or
    keep a placeholder otherwise (such rows never reach the valid output)."""
    if not isinstance(storage, pd.api.extensions.ExtensionDtype):
        return values.astype(storage, copy=False)
    array_type = pd.arrays.BooleanArray if isinstance(storage, pd.BooleanDtype) else pd.arrays.IntegerArray
    array = array_type(values, missing.copy())
    return array if array.dtype == storage else array.astype(storage)


# --- numbers -----------------------------------------------------------------------------------


def _numbers(raw: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(values, null, bad)``: values int64 when exact integers were received, else float64."""
    if is_integer_dtype(raw.dtype) or is_bool_dtype(raw.dtype):
        if isinstance(raw.dtype, np.dtype):
            return raw.to_numpy().astype(np.int64, copy=False), _none(raw), _none(raw)
        return raw.to_numpy(dtype=np.int64, na_value=0), _isna(raw), _none(raw)
    if is_numeric_dtype(raw.dtype):  # floats (numpy or masked)
        values = raw.to_numpy(dtype=np.float64, na_value=np.nan)
        return values, np.isnan(values), _none(raw)
    if _textual(raw):
        parsed = _to_numeric(raw)
        values = (
            parsed.to_numpy(dtype=np.int64)
            if is_integer_dtype(parsed.dtype) and not parsed.hasnans
            else parsed.to_numpy(dtype=np.float64, na_value=np.nan)
        )
        null, bad = _parsed_masks(raw, _isna(parsed))
        return values, null, bad
    null = _isna(raw)  # datetimes and the like: not numbers
    return np.zeros(len(raw)), null, ~null


def _to_numeric(raw: pd.Series) -> pd.Series:
    try:
        return pd.to_numeric(raw, errors="coerce")
    except (TypeError, ValueError):  # exotic objects (lists, dicts…): read one by one
        return pd.Series([_number_or_nan(value) for value in raw.to_numpy(dtype=object)], index=raw.index)


def _number_or_nan(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return np.nan


def read_integers(raw: pd.Series, spec: DtypeSpec, storage) -> Coerced:
    values, null, bad = _numbers(raw)
    numpy_dtype = np.dtype(getattr(spec.dtype, "numpy_dtype", spec.dtype))
    limits = np.iinfo(numpy_dtype)
    ok = ~(null | bad)
    if values.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            bad |= ok & ((values != np.trunc(values)) | (values < limits.min) | (values > limits.max))
    elif numpy_dtype.itemsize < 8 or numpy_dtype.kind == "u":
        bad |= ok & ((values < limits.min) | (values > limits.max))
    missing = null | bad
    if missing.any():
        values = np.where(missing, 0, values)
    return Coerced(_with_nulls(values.astype(numpy_dtype, copy=False), missing, storage), null, bad)


def read_floats(raw: pd.Series, spec: DtypeSpec, storage) -> Coerced:
    values, null, bad = _numbers(raw)
    if values.dtype.kind != "f" or bad.any():
        values = np.where(null | bad, np.nan, values)
    if isinstance(storage, pd.api.extensions.ExtensionDtype):
        return Coerced(pd.array(values, dtype=storage), null, bad)
    return Coerced(values.astype(storage, copy=False), null, bad)


def read_booleans(raw: pd.Series, spec: DtypeSpec, storage) -> Coerced:
    if is_bool_dtype(raw.dtype):
        null = _isna(raw)
        values, bad = raw.to_numpy(dtype=bool, na_value=False), _none(raw)
    elif is_numeric_dtype(raw.dtype):
        numbers, null, bad = _numbers(raw)
        bad |= ~(null | bad) & (numbers != 0) & (numbers != 1)
        values = numbers == 1
    else:
        parsed = raw.astype(str).str.strip().str.lower().map(BOOL_WORDS)
        null, bad = _parsed_masks(raw, _isna(parsed))
        values = parsed.to_numpy(dtype=bool, na_value=False)
    return Coerced(_with_nulls(values, null | bad, storage), null, bad)


# --- text --------------------------------------------------------------------------------------


def read_strings(raw: pd.Series, spec: DtypeSpec, storage) -> Coerced:
    """Any received value has a text (numbers included); only nulls are nulls."""
    values = raw.array if raw.dtype == storage else pd.array(as_array(raw), dtype=storage)
    return Coerced(values, pd.isna(values), _none(raw))


def read_categories(raw: pd.Series, spec: DtypeSpec, storage) -> Coerced:
    """Any hashable value can be a category; unhashable ones (lists, dicts) are bad."""
    try:
        return read_strings(raw, spec, storage)  # the same, with a categorical storage
    except TypeError:
        received = as_array(raw)
        bad = np.fromiter((not isinstance(value, Hashable) for value in received), dtype=bool, count=len(received))
        values = pd.array(np.where(bad, None, received), dtype=storage)
        return Coerced(values, pd.isna(values) & ~bad, bad)


# --- timestamps --------------------------------------------------------------------------------


def read_datetimes(raw: pd.Series, spec: DtypeSpec, storage) -> Coerced:
    if raw.dtype == storage:
        return Coerced(as_array(raw), _isna(raw), _none(raw))
    if is_datetime64_any_dtype(raw.dtype):
        try:
            return Coerced(as_array(_to_zone(raw, spec).astype(storage)), _isna(raw), _none(raw))
        except (OverflowError, ValueError):  # out of the storage unit's bounds: read value by value
            raw = raw.astype(object)
    if not _textual(raw):
        null = _isna(raw)  # numbers are not timestamps (which epoch? which unit?)
        return Coerced(as_array(pd.Series(pd.NaT, index=raw.index, dtype=storage)), null, ~null)
    parsed = _to_datetime(raw)
    null, bad = _parsed_masks(raw, _isna(parsed))
    return Coerced(as_array(_to_zone(parsed, spec).astype(storage)), null, bad)


def _to_datetime(raw: pd.Series) -> pd.Series:
    """Timestamps (UTC) from text or datetime objects; unreadable ones NaT. Text with an offset
    and text without one are parsed apart: pandas would carry an offset over to later naive
    strings of the same call."""
    raw = pd.Series(raw.array, copy=False)  # positional index: the parts are put back by position
    zoned = _zoned(raw.to_numpy(dtype=object))
    if zoned.all() or not zoned.any():
        return _parse_datetimes(raw)
    parsed = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]")
    for part in (zoned, ~zoned):
        parsed[part] = _parse_datetimes(raw[part])
    return parsed


def _zoned(values: np.ndarray) -> np.ndarray:
    """Which values read as text end in a UTC offset (``Z``, ``+02:00``, ``-0500``): a ``+`` or
    ``-`` past the ``YYYY-MM-DD`` date, or a final ``Z``."""
    text = np.char.upper(np.char.strip(_as_text(values).to_numpy(dtype=str, na_value="")))
    past_date = len("YYYY-MM-DD")
    return (
        np.char.endswith(text, "Z") | (np.char.rfind(text, "+") >= past_date) | (np.char.rfind(text, "-") >= past_date)
    )


def _parse_datetimes(raw: pd.Series) -> pd.Series:
    try:
        return pd.to_datetime(raw, errors="coerce", utc=True, format="ISO8601")
    except (TypeError, ValueError, OverflowError):
        return pd.Series(
            [pd.to_datetime(value, errors="coerce", utc=True) for value in raw.to_numpy(dtype=object)],
            index=raw.index,
            dtype="datetime64[ns, UTC]",
        )


def _to_zone(values: pd.Series, spec: DtypeSpec) -> pd.Series:
    """Timestamps in the declared zone; naive timestamps are taken as UTC."""
    zone = values.dt.tz
    if spec.tz is None:
        return values if zone is None else values.dt.tz_convert("UTC").dt.tz_localize(None)
    return (values.dt.tz_localize("UTC") if zone is None else values).dt.tz_convert(spec.tz)


READERS: dict[Family, Callable[[pd.Series, DtypeSpec, object], Coerced]] = {
    Family.INTEGER: read_integers,
    Family.FLOAT: read_floats,
    Family.BOOLEAN: read_booleans,
    Family.STRING: read_strings,
    Family.CATEGORY: read_categories,
    Family.DATETIME: read_datetimes,
}
