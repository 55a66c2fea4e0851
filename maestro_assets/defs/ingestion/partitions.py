"""Partitions of time-based assets: daily, from the sources file's start date, in UTC."""

from dagster import DailyPartitionsDefinition

from ...lib.ingestion.sources import load_sources

SOURCES = load_sources()
DAILY = DailyPartitionsDefinition(start_date=SOURCES.start_date.isoformat(), timezone="UTC")
