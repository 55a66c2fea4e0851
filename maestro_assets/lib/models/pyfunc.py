"""The MLflow model Maestro registers: the AutoML engine with the training set's fitted transforms
and the decision threshold, as one ``mlflow.pyfunc`` model that answers through
:func:`.prediction.predict_frame`. Apart from the rest, so that MLflow (half a second) is imported
when a model is logged or loaded, not with the code location.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow.pyfunc
import pandas as pd

from .prediction import AUTOML_ARTIFACT, CONFIG_ARTIFACT, TRANSFORMS_ARTIFACT, ModelConfig, predict_frame


class MaestroModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        from ..automl import AutoML
        from ..features.transforms import FittedTransforms

        self.automl = AutoML.load(context.artifacts[AUTOML_ARTIFACT])
        self.transforms = FittedTransforms.from_json(
            json.loads(Path(context.artifacts[TRANSFORMS_ARTIFACT]).read_text())
        )
        self.config = ModelConfig(**json.loads(Path(context.artifacts[CONFIG_ARTIFACT]).read_text()))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return predict_frame(self.automl, self.transforms, self.config, model_input)
