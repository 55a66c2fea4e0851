"""The ingestion domain: a bronze asset per declared table, the landing sensor, daily schedules."""

from dagster import Definitions

from .assets import bronze_assets
from .schedules import ingestion_jobs_and_schedules
from .sensors import SENSORS

jobs, schedules = ingestion_jobs_and_schedules()
defs = Definitions(assets=bronze_assets(), jobs=jobs, schedules=schedules, sensors=SENSORS)
