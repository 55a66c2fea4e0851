"""The quality domain: a silver asset, with its checks, per declared table that has rules."""

from dagster import Definitions

from .assets import silver_assets

defs = Definitions(assets=silver_assets())
