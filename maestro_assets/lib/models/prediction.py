"""What a Maestro model answers, without MLflow: its configuration, the check of its input frame and
``predict_frame`` — the one prediction path of the registered pyfunc model (:mod:`.pyfunc`), batch
predictions, the scoring server and the in-process floor, so all of them give the same values.

Its input is the raw point-in-time features (``<view>__<feature>`` columns, as Feast names them);
it applies the transforms fitted on the training split, then the engine. Its output is a frame
with ``prediction`` and, for a classifier, ``probability`` (of the positive class,
``classes[1]``) — the prediction being the positive class when the probability reaches the
threshold chosen from the business costs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ..errors import MaestroError

AUTOML_ARTIFACT = "automl"
TRANSFORMS_ARTIFACT = "transforms"
CONFIG_ARTIFACT = "config"
PREDICTION = "prediction"
PROBABILITY = "probability"


class ModelInputError(MaestroError):
    """The frame given to a model does not match the features it was trained on."""


@dataclass(frozen=True)
class ModelConfig:
    model: str
    task: str  # classification or regression
    features: list[str]
    threshold: float | None = None  # classifiers: probability of classes[1] from which it is predicted
    classes: list | None = None

    def to_json(self) -> dict:
        return asdict(self)


def check_input(config: ModelConfig, frame: pd.DataFrame, version: str = "") -> None:
    """The frame holds every feature the model was trained on, as numbers; else a clear error."""
    where = f"model {config.model}" + (f" version {version}" if version else "")
    missing = [c for c in config.features if c not in frame.columns]
    if missing:
        raise ModelInputError(
            f"{where}: the input lacks {len(missing)} feature(s) it was trained on: {', '.join(missing[:8])}"
            f"{' …' if len(missing) > 8 else ''}; the model's signature and the feature service differ — "
            "retrain the model on the current training set"
        )
    text = [c for c in config.features if not pd.api.types.is_numeric_dtype(frame[c]) and frame[c].notna().any()]
    if text:
        raise ModelInputError(f"{where}: feature(s) {', '.join(text)} are not numeric ({frame[text[0]].dtype})")


def predict_frame(automl, transforms, config: ModelConfig, frame: pd.DataFrame) -> pd.DataFrame:
    """``prediction`` (and ``probability`` for a classifier) for each row of the raw features."""
    check_input(config, frame)
    features = transforms.apply(frame[config.features].astype(float), drop_rows=False)
    if config.task == "classification":
        proba = automl.predict_proba(features)
        classes = list(automl.classes_)
        if len(classes) != 2 or config.threshold is None:  # multiclass: the likeliest class
            return pd.DataFrame({PREDICTION: automl.predict(features), PROBABILITY: proba.max(axis=1)})
        labels = np.where(proba[:, 1] >= config.threshold, classes[1], classes[0])
        return pd.DataFrame({PREDICTION: labels, PROBABILITY: proba[:, 1]})
    return pd.DataFrame({PREDICTION: automl.predict(features).astype(float)})
