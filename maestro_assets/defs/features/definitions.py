"""The features domain: the gold feature tables (user, task, project, team) from silver."""

from dagster import Definitions

from .assets import GOLD_FEATURE_ASSETS

defs = Definitions(assets=GOLD_FEATURE_ASSETS)
