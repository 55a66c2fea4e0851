"""Shared helpers of the demo generator: the time window, timestamp columns and random picks.

Times are handled as int64 seconds since the Unix epoch (UTC) while generating, and turned
into ``datetime64[ns, UTC]`` columns only when a table is assembled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd

MINUTE = 60
HOUR = 3_600
DAY = 86_400


@dataclass(frozen=True)
class Window:
    """The simulated period ``[start, end)``: midnight UTC of ``start_date`` to midnight of ``end_date``."""

    start_date: date
    end_date: date

    @property
    def start(self) -> int:
        return epoch_seconds(self.start_date)

    @property
    def end(self) -> int:
        return epoch_seconds(self.end_date)


def epoch_seconds(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def timestamps(seconds: np.ndarray, valid: np.ndarray | None = None) -> pd.Series:
    """A ``datetime64[ns, UTC]`` column from epoch seconds; rows where ``valid`` is false become NaT."""
    values = np.asarray(seconds, dtype=np.int64).astype("datetime64[s]").astype("datetime64[ns]")
    if valid is not None:
        values[~np.asarray(valid, dtype=bool)] = np.datetime64("NaT")
    return pd.Series(values).dt.tz_localize("UTC")


def epoch_of(column: pd.Series) -> np.ndarray:
    """Epoch seconds of a (non-null) ``datetime64[ns, UTC]`` column."""
    return column.astype("int64").to_numpy() // 1_000_000_000


def dates(seconds: np.ndarray, valid: np.ndarray | None = None) -> pd.Series:
    """A naive ``datetime64[ns]`` column of calendar dates (midnight) from epoch seconds."""
    days = np.asarray(seconds, dtype=np.int64) // DAY
    values = days.astype("datetime64[D]").astype("datetime64[ns]")
    if valid is not None:
        values[~np.asarray(valid, dtype=bool)] = np.datetime64("NaT")
    return pd.Series(values)


def nullable(values: np.ndarray, valid: np.ndarray, dtype: str):
    """A pandas nullable array (``Int64``, ``boolean``, ...) that is missing where ``valid`` is false."""
    array = pd.array(np.asarray(values), dtype=dtype)
    array[~np.asarray(valid, dtype=bool)] = pd.NA
    return array


def between(rng: np.random.Generator, low: np.ndarray, high: np.ndarray, shape_power: float = 1.0) -> np.ndarray:
    """Whole seconds in ``[low, high)`` (``low`` where the interval is empty).

    ``shape_power`` > 1 skews the draws towards ``low``, < 1 towards ``high``.
    """
    low = np.asarray(low, dtype=np.int64)
    span = np.maximum(np.asarray(high, dtype=np.int64) - low, 0)
    fraction = rng.random(low.shape) ** shape_power
    offset = np.minimum(np.floor(fraction * span).astype(np.int64), np.maximum(span - 1, 0))
    return low + offset


def scaled(base: float, scale: float, minimum: int) -> int:
    return max(minimum, int(round(base * scale)))


def allocate(rng: np.random.Generator, total: int, weights: np.ndarray, minimum: int = 0) -> np.ndarray:
    """Split ``total`` into integer counts proportional to ``weights``, each at least ``minimum``."""
    weights = np.asarray(weights, dtype=float)
    base = np.where(weights > 0, minimum, 0)
    rest = max(total - int(base.sum()), 0)
    if weights.sum() <= 0 or rest == 0:
        return base.astype(np.int64)
    return base + rng.multinomial(rest, weights / weights.sum())


def hex_shas(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random 40-hex-digit commit SHAs as an object array of ``str``."""
    text = rng.integers(0, 256, size=(n, 20), dtype=np.uint8).tobytes().hex()
    return np.frombuffer(text.encode("ascii"), dtype="S40").astype(str).astype(object)


def choose(rng: np.random.Generator, options: tuple | list, n: int, weights=None) -> np.ndarray:
    """``n`` picks from ``options`` (an object array, so strings stay Python ``str``)."""
    values = np.asarray(options, dtype=object)
    p = None if weights is None else np.asarray(weights, dtype=float) / np.sum(weights)
    return values[rng.choice(len(values), size=n, p=p)]


def unique_names(rng: np.random.Generator, first: tuple[str, ...], second: tuple[str, ...], n: int) -> np.ndarray:
    """``n`` distinct "<first> <second>" names; once every pair is used, a number is appended."""
    combos = len(first) * len(second)
    pick = rng.permutation(combos)[np.arange(n) % combos]
    first, second = np.asarray(first, dtype=object), np.asarray(second, dtype=object)
    names = first[pick // len(second)] + " " + second[pick % len(second)]
    lap = np.arange(n) // combos
    return np.where(lap > 0, names + " " + (lap + 1).astype(str).astype(object), names)


def standardised(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    spread = values.std()
    return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def logins(emails: pd.Series) -> pd.Series:
    """GitHub-style logins of users: the local part of their e-mail with dots as dashes."""
    return emails.str.split("@").str[0].str.replace(".", "-", regex=False)


class Roster:
    """Users grouped by team, for picking members of given teams in bulk (optionally weighted)."""

    def __init__(self, team_of_user: np.ndarray, n_teams: int, weights: np.ndarray | None = None):
        self.order = np.argsort(team_of_user, kind="stable")
        counts = np.bincount(team_of_user, minlength=n_teams)
        self.sizes = counts
        self.offsets = np.concatenate([[0], np.cumsum(counts)])
        w = np.ones(len(team_of_user)) if weights is None else np.asarray(weights, dtype=float)
        self.cumulative = np.concatenate([[0.0], np.cumsum(w[self.order])])

    def members(self, team: int) -> np.ndarray:
        return self.order[self.offsets[team] : self.offsets[team + 1]]

    def pick(self, rng: np.random.Generator, teams: np.ndarray, weighted: bool = True) -> np.ndarray:
        """One user (positional index) per entry of ``teams``, from that team."""
        teams = np.asarray(teams, dtype=np.int64)
        first, last = self.offsets[teams], self.offsets[teams + 1]
        if weighted:
            low, high = self.cumulative[first], self.cumulative[last]
            target = low + rng.random(len(teams)) * (high - low)
            slot = np.searchsorted(self.cumulative, target, side="right") - 1
        else:
            slot = first + np.floor(rng.random(len(teams)) * (last - first)).astype(np.int64)
        return self.order[np.clip(slot, first, last - 1)]

    def pick_anyone(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` users from the whole organisation, weighted like :meth:`pick`."""
        target = rng.random(n) * self.cumulative[-1]
        slot = np.searchsorted(self.cumulative, target, side="right") - 1
        return self.order[np.clip(slot, 0, len(self.order) - 1)]
