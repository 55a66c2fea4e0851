"""The alerts domain: the sensors that post failed runs and failed blocking checks to a webhook."""

from dagster import Definitions

from .sensors import ALERT_SENSORS

defs = Definitions(sensors=ALERT_SENSORS)
