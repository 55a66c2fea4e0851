"""The model families the engine searches: their known-good defaults, search spaces and cost.

A :class:`Family` builds a scikit-learn Pipeline (preprocessing for its needs, then the model)
from a parameter dict; ``default`` is the configuration tried first (enqueued as the first
Optuna trial of the family), ``space`` the Optuna search space. ``cost`` orders families for
scheduling (cheap first) and ``max_rows`` keeps the quadratic ones (kernel SVMs, k-NN) to data
they can fit in time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import optuna
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR

from .boosting import LIGHTGBM, XGBOOST, BoostedTreesClassifier, BoostedTreesRegressor
from .preprocessing import IMPUTED, NATIVE, SCALED, ColumnPlan, build_preprocessor
from .validation import CLASSIFICATION, REGRESSION

KERNEL_SVM_MAX_ROWS = 5_000
KNN_MAX_ROWS = 50_000
LARGE_FOREST_ROWS = 50_000


@dataclass(frozen=True)
class SearchContext:
    """What the families need to know about the data and the run."""

    task: str
    n_rows: int
    n_classes: int  # 0 for regression
    imbalanced: bool  # the rarest class has under a fifth of the most common one's rows
    n_jobs: int
    random_state: int
    plan: ColumnPlan
    classes: tuple = ()  # classification: every class label, sorted (the columns of predict_proba)

    @property
    def balanced_by_default(self) -> bool:
        return self.task == CLASSIFICATION and self.imbalanced


@dataclass(frozen=True)
class Family:
    name: str
    task: str
    style: str  # the preprocessing it needs (preprocessing.SCALED / IMPUTED / NATIVE)
    cost: int  # scheduling order: cheaper first
    default: Callable[[SearchContext], dict]
    space: Callable[[optuna.Trial, SearchContext], dict]
    model: Callable[[dict, SearchContext], object]
    max_rows: int | None = None
    scale_target: bool = False  # regression: fit on the standardized target (linear models, SVR, k-NN)
    time_limited: bool = False  # the model takes a time_limit_s parameter and stops itself there

    def pipeline(self, params: dict, context: SearchContext) -> Pipeline:
        model = self.model(params, context)
        if self.scale_target:
            model = TransformedTargetRegressor(regressor=model, transformer=StandardScaler())
        return Pipeline([("preprocess", build_preprocessor(context.plan, self.style, context.task)), ("model", model)])

    def fits(self, context: SearchContext) -> bool:
        return self.task == context.task and (self.max_rows is None or context.n_rows <= self.max_rows)


def _class_weight(trial: optuna.Trial, context: SearchContext, balanced: str = "balanced") -> dict:
    if context.task != CLASSIFICATION or not context.imbalanced:
        return {}
    return {"class_weight": trial.suggest_categorical("class_weight", [balanced, "none"])}


def _default_class_weight(context: SearchContext, balanced: str = "balanced") -> dict:
    if context.task != CLASSIFICATION or not context.imbalanced:
        return {}
    return {"class_weight": balanced}


def _weight(params: dict) -> dict:
    value = params.get("class_weight")
    return {"class_weight": None if value in (None, "none") else value}


def _without(params: dict, *names: str) -> dict:
    return {k: v for k, v in params.items() if k not in names}


# ---------------------------------------------------------------- linear models


def _logistic_space(trial, context):
    return {"C": trial.suggest_float("C", 1e-3, 1e2, log=True), **_class_weight(trial, context)}


def _logistic(params, context):
    return LogisticRegression(C=params["C"], max_iter=2000, random_state=context.random_state, **_weight(params))


def _ridge(params, context):
    return Ridge(alpha=params["alpha"], random_state=context.random_state)


def _lasso(params, context):
    return Lasso(alpha=params["alpha"], max_iter=5000, random_state=context.random_state)


def _elastic_net(params, context):
    return ElasticNet(
        alpha=params["alpha"], l1_ratio=params["l1_ratio"], max_iter=5000, random_state=context.random_state
    )


# ---------------------------------------------------------------- forests


def _forest_default(context):
    trees = 100 if context.n_rows > LARGE_FOREST_ROWS else 300
    return {
        "n_estimators": trees,
        "max_features": 0.5 if context.task == REGRESSION else 0.3,
        "min_samples_leaf": 1,
        **_default_class_weight(context, "balanced_subsample"),
    }


def _forest_space(trial, context):
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 500, log=True),
        "max_features": trial.suggest_float("max_features", 0.1, 1.0),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 20, log=True),
        **_class_weight(trial, context, "balanced_subsample"),
    }


def _forest(classifier, regressor):
    def build(params, context):
        cls = classifier if context.task == CLASSIFICATION else regressor
        extra = _weight(params) if context.task == CLASSIFICATION else {}
        return cls(
            n_jobs=context.n_jobs, random_state=context.random_state, **_without(params, "class_weight"), **extra
        )

    return build


# ---------------------------------------------------------------- gradient boosting


def _hgb_default(context):
    return {
        "learning_rate": 0.1,
        "max_leaf_nodes": 31,
        "min_samples_leaf": 20,
        "l2_regularization": 1e-6,
        **_default_class_weight(context),
    }


def _hgb_space(trial, context):
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 8, 128, log=True),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 2, 100, log=True),
        "l2_regularization": trial.suggest_float("l2_regularization", 1e-6, 10.0, log=True),
        **_class_weight(trial, context),
    }


def _hgb(params, context):
    common = dict(
        max_iter=1000,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=20,
        random_state=context.random_state,
        **_without(params, "class_weight"),
    )
    if context.task == CLASSIFICATION:
        return HistGradientBoostingClassifier(**common, **_weight(params))
    return HistGradientBoostingRegressor(**common)


def _lightgbm_default(context):
    return {
        "learning_rate": 0.05,
        "num_leaves": 31,
        "min_child_samples": 20,
        "colsample_bytree": 0.9,
        "subsample": 1.0,
        "reg_lambda": 1e-6,
        **_default_class_weight(context),
    }


def _lightgbm_space(trial, context):
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 256, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 2, 100, log=True),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-6, 10.0, log=True),
        **_class_weight(trial, context),
    }


def _xgboost_default(context):
    return {
        "learning_rate": 0.05,
        "max_depth": 6,
        "min_child_weight": 1.0,
        "colsample_bytree": 0.8,
        "subsample": 0.9,
        "reg_lambda": 1.0,
        **_default_class_weight(context),
    }


def _xgboost_space(trial, context):
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "max_depth": trial.suggest_int("max_depth", 2, 10),
        "min_child_weight": trial.suggest_float("min_child_weight", 0.1, 20.0, log=True),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
        **_class_weight(trial, context),
    }


def _boosted(library):
    def build(params, context):
        cls = BoostedTreesClassifier if context.task == CLASSIFICATION else BoostedTreesRegressor
        params = dict(params)
        if library == LIGHTGBM and params.get("subsample", 1.0) < 1.0:
            params["subsample_freq"] = 1  # LightGBM bags rows only with a bagging frequency
        weight = _weight(params)["class_weight"] if context.task == CLASSIFICATION else None
        return cls(
            library=library,
            params=_without(params, "class_weight"),
            class_weight=weight,
            n_jobs=context.n_jobs,
            random_state=context.random_state,
        )

    return build


# ---------------------------------------------------------------- distance and kernel models


def _knn_space(trial, context):
    return {
        "n_neighbors": trial.suggest_int("n_neighbors", 3, 50, log=True),
        "weights": trial.suggest_categorical("weights", ["uniform", "distance"]),
        "p": trial.suggest_int("p", 1, 2),
    }


def _knn(params, context):
    cls = KNeighborsClassifier if context.task == CLASSIFICATION else KNeighborsRegressor
    return cls(n_jobs=context.n_jobs, **params)


def _svc_space(trial, context):
    return {
        "C": trial.suggest_float("C", 1e-2, 1e3, log=True),
        "gamma": trial.suggest_float("gamma", 1e-4, 1.0, log=True),
        **_class_weight(trial, context),
    }


def _svc_default(context):
    n_features = max(1, _n_features(context.plan))
    return {"C": 1.0, "gamma": min(1.0, max(1e-4, 1.0 / n_features)), **_default_class_weight(context)}


def _n_features(plan: ColumnPlan) -> int:
    return len(plan.numeric) + len(plan.low_cardinality) + len(plan.high_cardinality) + 7 * len(plan.datetime)


def _svc(params, context):
    return SVC(
        C=params["C"], gamma=params["gamma"], probability=True, random_state=context.random_state, **_weight(params)
    )


def _svr(params, context):
    return SVR(C=params["C"], gamma=params["gamma"], epsilon=params["epsilon"])


FAMILIES: tuple[Family, ...] = (
    Family(
        "logistic_regression",
        CLASSIFICATION,
        SCALED,
        1,
        lambda c: {"C": 1.0, **_default_class_weight(c)},
        _logistic_space,
        _logistic,
    ),
    Family(
        "ridge",
        REGRESSION,
        SCALED,
        1,
        lambda c: {"alpha": 1.0},
        lambda t, c: {"alpha": t.suggest_float("alpha", 1e-4, 1e3, log=True)},
        _ridge,
        scale_target=True,
    ),
    Family(
        "lasso",
        REGRESSION,
        SCALED,
        1,
        lambda c: {"alpha": 0.01},
        lambda t, c: {"alpha": t.suggest_float("alpha", 1e-5, 1.0, log=True)},
        _lasso,
        scale_target=True,
    ),
    Family(
        "elastic_net",
        REGRESSION,
        SCALED,
        1,
        lambda c: {"alpha": 0.01, "l1_ratio": 0.5},
        lambda t, c: {
            "alpha": t.suggest_float("alpha", 1e-5, 1.0, log=True),
            "l1_ratio": t.suggest_float("l1_ratio", 0.05, 0.95),
        },
        _elastic_net,
        scale_target=True,
    ),
    *(
        Family(
            "knn",
            task,
            SCALED,
            2,
            lambda c: {"n_neighbors": 15, "weights": "distance", "p": 2},
            _knn_space,
            _knn,
            max_rows=KNN_MAX_ROWS,
            scale_target=task == REGRESSION,
        )
        for task in (CLASSIFICATION, REGRESSION)
    ),
    *(
        Family(
            "lightgbm",
            task,
            NATIVE,
            3,
            _lightgbm_default,
            _lightgbm_space,
            _boosted(LIGHTGBM),
            time_limited=True,
        )
        for task in (CLASSIFICATION, REGRESSION)
    ),
    *(
        Family("hist_gradient_boosting", task, NATIVE, 4, _hgb_default, _hgb_space, _hgb)
        for task in (CLASSIFICATION, REGRESSION)
    ),
    *(
        Family(
            "xgboost",
            task,
            NATIVE,
            5,
            _xgboost_default,
            _xgboost_space,
            _boosted(XGBOOST),
            time_limited=True,
        )
        for task in (CLASSIFICATION, REGRESSION)
    ),
    *(
        Family(
            "extra_trees",
            task,
            IMPUTED,
            6,
            _forest_default,
            _forest_space,
            _forest(ExtraTreesClassifier, ExtraTreesRegressor),
        )
        for task in (CLASSIFICATION, REGRESSION)
    ),
    *(
        Family(
            "random_forest",
            task,
            IMPUTED,
            7,
            _forest_default,
            _forest_space,
            _forest(RandomForestClassifier, RandomForestRegressor),
        )
        for task in (CLASSIFICATION, REGRESSION)
    ),
    Family(
        "svc",
        CLASSIFICATION,
        SCALED,
        8,
        _svc_default,
        _svc_space,
        _svc,
        max_rows=KERNEL_SVM_MAX_ROWS,
    ),
    Family(
        "svr",
        REGRESSION,
        SCALED,
        8,
        lambda c: {**_svc_default(c), "epsilon": 0.1},
        lambda t, c: {
            "C": t.suggest_float("C", 1e-2, 1e3, log=True),
            "gamma": t.suggest_float("gamma", 1e-4, 1.0, log=True),
            "epsilon": t.suggest_float("epsilon", 1e-3, 1.0, log=True),
        },
        _svr,
        max_rows=KERNEL_SVM_MAX_ROWS,
        scale_target=True,
    ),
)


def families_for(task: str, names=None) -> list[Family]:
    """The families of ``task`` (all, or those named), cheapest first."""
    available = [f for f in FAMILIES if f.task == task]
    if names is not None:
        known = {f.name for f in available}
        unknown = [n for n in names if n not in known]
        if unknown:
            from .validation import AutoMLInputError

            raise AutoMLInputError(
                f"unknown {task} famil{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown)}: "
                f"choose from {', '.join(sorted(known))}"
            )
        available = [f for f in available if f.name in names]
    return sorted(available, key=lambda f: f.cost)
