"""LightGBM and XGBoost as scikit-learn estimators that stop early and keep to a time limit.

Each ``fit`` holds out ``validation_fraction`` of its own training rows (stratified for
classification) for early stopping, so the rows it is scored on later never steer it, and stops
boosting once ``time_limit_s`` has passed (a LightGBM callback / an XGBoost ``TrainingCallback``),
keeping the rounds done so far. Labels may be anything scikit-learn accepts: they are encoded
to 0..K-1 for the library and decoded on ``predict``.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_sample_weight

LIGHTGBM = "lightgbm"
XGBOOST = "xgboost"
MIN_ROWS_FOR_EARLY_STOPPING = 100
ROUNDS_WITHOUT_EARLY_STOPPING = 200


def _lightgbm_deadline(deadline: float):
    import lightgbm

    def stop_at_deadline(env) -> None:
        if time.monotonic() > deadline:
            raise lightgbm.callback.EarlyStopException(env.iteration, env.evaluation_result_list or [])

    stop_at_deadline.order = 40  # after LightGBM's own early stopping (order 30)
    return stop_at_deadline


def _xgboost_deadline(deadline: float):
    import xgboost

    class StopAtDeadline(xgboost.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log) -> bool:
            return time.monotonic() > deadline

    return StopAtDeadline()


class _BoostedTrees(BaseEstimator):
    def __init__(
        self,
        library: str = LIGHTGBM,
        params: dict | None = None,
        n_estimators: int = 2000,
        early_stopping_rounds: int = 50,
        validation_fraction: float = 0.1,
        class_weight: str | None = None,
        n_jobs: int = 1,
        random_state: int = 0,
        time_limit_s: float | None = None,
    ):
        self.library = library
        self.params = params
        self.n_estimators = n_estimators
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.class_weight = class_weight
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.time_limit_s = time_limit_s

    _classifier = False

    def _model(self, n_estimators: int, deadline: float | None, early_stopping: bool):
        params = dict(self.params or {})
        if self.library == LIGHTGBM:
            import lightgbm

            cls = lightgbm.LGBMClassifier if self._classifier else lightgbm.LGBMRegressor
            return cls(
                n_estimators=n_estimators,
                n_jobs=self.n_jobs,
                random_state=self.random_state,
                deterministic=True,
                force_col_wise=True,
                verbose=-1,
                **params,
            )
        if self.library == XGBOOST:
            import xgboost

            cls = xgboost.XGBClassifier if self._classifier else xgboost.XGBRegressor
            return cls(
                n_estimators=n_estimators,
                n_jobs=self.n_jobs,
                random_state=self.random_state,
                tree_method="hist",
                early_stopping_rounds=self.early_stopping_rounds if early_stopping else None,
                callbacks=[_xgboost_deadline(deadline)] if deadline is not None else None,
                **params,
            )
        raise ValueError(f"unknown boosting library {self.library!r}")

    def fit(self, X, y, sample_weight=None):
        started = time.monotonic()
        deadline = started + self.time_limit_s if self.time_limit_s else None
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        if self._classifier:
            self.classes_, y = np.unique(y, return_inverse=True)
        if sample_weight is None and self.class_weight == "balanced" and self._classifier:
            sample_weight = compute_sample_weight("balanced", y)
        early_stopping = len(y) >= MIN_ROWS_FOR_EARLY_STOPPING and self.early_stopping_rounds
        if early_stopping and self._classifier:
            counts = np.bincount(y)
            early_stopping = counts.min() * self.validation_fraction >= 1
        if not early_stopping:
            self.model_ = self._model(min(self.n_estimators, ROUNDS_WITHOUT_EARLY_STOPPING), deadline, False)
            self._fit_model(X, y, sample_weight, None, deadline)
            return self
        index = np.arange(len(y))
        train, valid = train_test_split(
            index,
            test_size=self.validation_fraction,
            random_state=self.random_state,
            stratify=y if self._classifier else None,
        )
        weights = (None, None) if sample_weight is None else (sample_weight[train], sample_weight[valid])
        self.model_ = self._model(self.n_estimators, deadline, True)
        self._fit_model(X[train], y[train], weights[0], (X[valid], y[valid], weights[1]), deadline)
        return self

    def _fit_model(self, X, y, weight, validation, deadline) -> None:
        if self.library == LIGHTGBM:
            import lightgbm

            callbacks = [_lightgbm_deadline(deadline)] if deadline is not None else []
            kwargs = {}
            if validation is not None:
                callbacks.append(lightgbm.early_stopping(self.early_stopping_rounds, verbose=False))
                kwargs = {"eval_set": [validation[:2]]}
                if validation[2] is not None:
                    kwargs["eval_sample_weight"] = [validation[2]]
            self.model_.fit(X, y, sample_weight=weight, callbacks=callbacks, **kwargs)
        else:
            kwargs = {}
            if validation is not None:
                kwargs = {"eval_set": [validation[:2]], "verbose": False}
                if validation[2] is not None:
                    kwargs["sample_weight_eval_set"] = [validation[2]]
            self.model_.fit(X, y, sample_weight=weight, **kwargs)
        self.n_estimators_ = self._rounds()

    def _rounds(self) -> int:
        if self.library == LIGHTGBM:
            return int(self.model_.best_iteration_ or self.model_.booster_.current_iteration())
        best = getattr(self.model_, "best_iteration", None)
        return int(best + 1) if best is not None else int(self.model_.get_booster().num_boosted_rounds())

    def _predict_raw(self, X):
        return np.asarray(X, dtype=np.float64)


class BoostedTreesClassifier(ClassifierMixin, _BoostedTrees):
    _classifier = True

    def predict_proba(self, X):
        return self.model_.predict_proba(self._predict_raw(X))

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class BoostedTreesRegressor(RegressorMixin, _BoostedTrees):
    def predict(self, X):
        return self.model_.predict(self._predict_raw(X))
