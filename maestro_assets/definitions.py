"""The one ``Definitions`` object of the Maestro code location."""

from __future__ import annotations

from dagster import Definitions, load_assets_from_modules

from .defs.demo import assets as demo_assets
from .defs.ingestion.assets import bronze_assets
from .defs.ingestion.sensors import landing_files_sensor
from .defs.quality.assets import silver_assets
from .defs.platform.executor import maestro_executor
from .resources import build_resources

defs = Definitions(
    assets=[*load_assets_from_modules([demo_assets]), *bronze_assets(), *silver_assets()],
    sensors=[landing_files_sensor],
    resources=build_resources(),
    executor=maestro_executor,
)
