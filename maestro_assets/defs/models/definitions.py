"""The models domain: training, load test, promotion and batch predictions per declared model."""

from dagster import Definitions

from .assets import MODEL_ASSETS
from .sensors import model_retraining_on_drift

defs = Definitions(assets=MODEL_ASSETS, sensors=[model_retraining_on_drift])
