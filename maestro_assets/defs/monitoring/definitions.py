"""The monitoring domain: each model's ML readiness and model card."""

from dagster import Definitions

from .assets import READINESS_ASSETS

defs = Definitions(assets=READINESS_ASSETS)
