"""The platform domain: the resources every asset uses and the default executor."""

from dagster import Definitions

from ...resources import build_resources
from .executor import maestro_executor

defs = Definitions(resources=build_resources(), executor=maestro_executor)
