"""The AutoML engine: model search over scikit-learn, LightGBM and XGBoost, with no Dagster in sight.

``AutoML`` (engine.py) is the estimator; families.py the model families and their search spaces,
preprocessing.py the fold-fitted column handling, validation.py input checks, metrics and folds,
search.py the Optuna scheduling, budget.py the time-limited fit worker, ensemble.py the greedy
ensemble selection, boosting.py LightGBM/XGBoost with early stopping.

The names below are imported on first use, so a fit worker importing one module of the package
(threads.py must run before scikit-learn loads OpenMP) does not import them all.
"""

from importlib import import_module

_EXPORTS = {
    "AutoML": "engine",
    "Progress": "search",
    "AutoMLInputError": "validation",
    "FeatureError": "validation",
    "FoldError": "validation",
    "SchemaMismatchError": "validation",
    "TargetError": "validation",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
