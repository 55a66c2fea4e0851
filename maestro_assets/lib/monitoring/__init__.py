"""Model monitoring, with no Dagster in sight: drift of features and predictions against a reference
profile of the training set (drift.py)."""

from .drift import (
    DriftInputError,
    DriftReport,
    DriftThresholds,
    FeatureDrift,
    ReferenceProfile,
    check_drift,
    counts_at_points,
    ks_p_value,
    prediction_drift,
    prediction_profile,
)

__all__ = [
    "DriftInputError",
    "DriftReport",
    "DriftThresholds",
    "FeatureDrift",
    "ReferenceProfile",
    "check_drift",
    "counts_at_points",
    "ks_p_value",
    "prediction_drift",
    "prediction_profile",
]
