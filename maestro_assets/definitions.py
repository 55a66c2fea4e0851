"""The one ``Definitions`` object of the Maestro code location."""

from __future__ import annotations

from dagster import Definitions, load_assets_from_modules

from .defs.demo import assets as demo_assets
from .defs.ingestion.assets import bronze_assets
from .defs.ingestion.schedules import ingestion_jobs_and_schedules
from .defs.ingestion.sensors import landing_files_sensor
from .defs.platform.executor import maestro_executor
from .defs.quality.assets import silver_assets, silver_of_bronze
from .resources import build_resources

jobs, schedules = ingestion_jobs_and_schedules(silver_of_bronze())

defs = Definitions(
    assets=[*load_assets_from_modules([demo_assets]), *bronze_assets(), *silver_assets()],
    jobs=jobs,
    schedules=schedules,
    sensors=[landing_files_sensor],
    resources=build_resources(),
    executor=maestro_executor,
)
