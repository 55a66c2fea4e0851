"""The demo domain: the seeded source system every other asset's data comes from."""

from dagster import Definitions

from .assets import demo_source_system

defs = Definitions(assets=[demo_source_system])
