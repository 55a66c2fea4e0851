"""The configuration every domain's definitions are built from, loaded once at import time.

Where each file comes from is decided in :mod:`maestro_assets.lib.settings` (``MAESTRO_SOURCES``,
``MAESTRO_QUALITY_RULES``, ``MAESTRO_ANALYTICS``); a wrong file stops the code location from loading with a message that
names the file, the entry and the setting.
"""

from datetime import date, timedelta

from dagster import DailyPartitionsDefinition, WeeklyPartitionsDefinition

from ..lib import settings
from ..lib.analytics.config import load_analytics_config
from ..lib.ingestion.sources import TableSource, load_sources
from ..lib.models.requirements import load_model_requirements
from ..lib.quality import TableRules, load_rules

SOURCES = load_sources()
RULES = load_rules(settings.quality_rules_file())
ANALYTICS = load_analytics_config()  # analytics.yaml (MAESTRO_ANALYTICS): git repositories and CI sources
MODELS = load_model_requirements()  # models.yaml (MAESTRO_MODELS): a chain of model assets per model
# daily partitions of every time-based asset, from the sources file's start date (to its end date), in UTC
DAILY = DailyPartitionsDefinition(
    start_date=SOURCES.start_date.isoformat(),
    end_date=SOURCES.end_date.isoformat() if SOURCES.end_date else None,
    timezone="UTC",
)


def _monday_on_or_before(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _monday_on_or_after(day: date) -> date:
    return _monday_on_or_before(day + timedelta(days=6))


# weekly partitions of the analytics assets (Monday 00:00 UTC), over the same span as DAILY: from the
# Monday of the start date to the Monday after the end date, so the week holding the last day is one
WEEKLY = WeeklyPartitionsDefinition(
    start_date=_monday_on_or_before(SOURCES.start_date).isoformat(),
    end_date=_monday_on_or_after(SOURCES.end_date).isoformat() if SOURCES.end_date else None,
    day_offset=1,
    timezone="UTC",
)


def rules_for(spec: TableSource) -> TableRules | None:
    """The silver rules bound to a declared table, if it has any."""
    return RULES.for_table(spec.source, spec.table)
