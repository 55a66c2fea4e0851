"""The feature_store domain: Feast's registry and online store over the gold feature tables."""

from dagster import Definitions

from .assets import FEATURE_STORE_ASSETS
from .schedules import feast_online_store_hourly, feast_online_store_job
from .training import TRAINING_SET_ASSETS

defs = Definitions(
    assets=[*FEATURE_STORE_ASSETS, *TRAINING_SET_ASSETS],
    jobs=[feast_online_store_job],
    schedules=[feast_online_store_hourly],
)
