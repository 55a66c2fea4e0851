"""Days and windows in UTC: the one place time-partition arithmetic lives.

A daily partition ``D`` covers the half-open window ``[D 00:00 UTC, D+1 00:00 UTC)``; a range of
partitions ``[first, last]`` covers ``[first 00:00, last+1 00:00)``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

ONE_DAY = timedelta(days=1)


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)


def end_of_day(day: date) -> datetime:
    """The first instant after ``day`` (what freshness is judged against for a past partition)."""
    return start_of_day(day) + ONE_DAY


def days_between(start: date, end: date) -> list[date]:
    """The days of the half-open range [start, end)."""
    return [start + timedelta(days=i) for i in range((end - start).days)]


def days_of_window(start: datetime, end: datetime) -> list[date]:
    """The days a UTC window of whole days covers."""
    return days_between(as_utc(start).date(), as_utc(end).date())
