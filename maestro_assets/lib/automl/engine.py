"""``AutoML``: the engine as one scikit-learn-style estimator.

    from maestro_assets.lib.automl import AutoML
    automl = AutoML(time_budget_s=60).fit(frame, "churned")
    automl.leaderboard()             # ranked trials: family, score ± std, fit time, params
    automl.predict_proba(new_frame)  # columns in the order of automl.classes_
    automl.save("model/")            # AutoML.load("model/") predicts the same

``fit`` checks the input (:mod:`.validation`), plans the columns (:mod:`.preprocessing`), runs
the search (:mod:`.search`) with every fit in a worker process under a time limit
(:mod:`.budget`), tries a greedy ensemble of the best trials (:mod:`.ensemble`), and refits the
winner on all rows. The constructor only stores its arguments, so ``get_params``,
``set_params`` and ``clone`` work as for any scikit-learn estimator.
"""

from __future__ import annotations

import json
import logging
import platform
import time
import warnings
from datetime import UTC, datetime
from importlib import import_module
from importlib import metadata as importlib_metadata
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ..redact import redact_url
from .budget import Clock, FitRequest, FitWorker, available_cores, start_fit_server
from .ensemble import WeightedEnsemble, cross_validated_selection
from .families import SearchContext, families_for
from .preprocessing import plan_columns
from .search import COMPLETE, Search, TrialRecord
from .validation import (
    CLASSIFICATION,
    TASKS,
    AutoMLInputError,
    FeatureError,
    FeatureSchema,
    TargetError,
    check_features,
    check_target,
    infer_task,
    make_folds,
    resolve_metric,
    split_target,
)

MODEL_FILE = "automl.joblib"
MANIFEST_FILE = "manifest.json"
IMBALANCE_RATIO = 0.2  # the rarest class under a fifth of the most common one: class weights are searched
DEFAULT_TRIAL_SHARE = 0.25  # with a time budget, one trial may use at most this share of it
REFIT_SLACK_SHARE = 0.05  # the final refit may run this share of the budget past it before it is given up
ENSEMBLE_CANDIDATES = 8
SELECTION_CHUNKS = 5
SELECTION_ROUNDS = 15  # ensemble.greedy_selection's default
ENSEMBLE_SHARE = 0.02  # with a time budget, selection may use this share of it beyond the search's time
MIN_SELECTION_ROWS = 200
# the libraries whose versions a model depends on: label -> module (xgboost installs as xgboost-cpu)
VERSIONED_MODULES = {
    "scikit-learn": "sklearn",
    "optuna": "optuna",
    "lightgbm": "lightgbm",
    "xgboost": "xgboost",
    "numpy": "numpy",
    "pandas": "pandas",
    "joblib": "joblib",
}


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for label, module in VERSIONED_MODULES.items():
        try:
            versions[label] = str(import_module(module).__version__)
        except ImportError:
            versions[label] = "not installed"
    try:
        versions["maestro-assets"] = importlib_metadata.version("maestro-assets")
    except importlib_metadata.PackageNotFoundError:
        versions["maestro-assets"] = "not installed"
    return versions


class AutoML(BaseEstimator):
    """Model search over scikit-learn, LightGBM and XGBoost families within a time or trial budget.

    Parameters
    ----------
    task : "auto", "classification" or "regression" ("auto": classification for text, boolean
        and few-valued integer targets).
    metric : a scikit-learn scorer name (``roc_auc``, ``accuracy``, ``neg_log_loss``, ``r2`` …)
        or ``rmse``/``mae``/``log_loss``/``auc``; default ROC AUC (binary), log-loss
        (multiclass), RMSE (regression).
    time_budget_s : seconds for the whole ``fit``, refit included (None: no time limit).
    max_trials : the most trials (None: as many as the time allows). With ``time_budget_s=None``
        the search depends on the seed alone: two fits give the same leaderboard and predictions.
    cv : folds (stratified for classification, grouped with ``groups``; a 20% holdout above
        ``large_data_rows`` rows), ``"holdout"``, ``"timeseries"`` or a scikit-learn splitter.
    n_jobs : threads per fit (-1: the cores this process may use).
    random_state : the seed of the folds, the samplers and every model.
    callbacks : callables given a :class:`~.search.Progress` after each trial.
    families : names of the families to search (None: all that suit the task and data size).
    ensemble : try a greedy ensemble of the best trials; kept only when it beats the best single
        model on held-out out-of-fold rows.
    trial_time_limit_s : the most one trial may take (default with a time budget: a quarter of it).
    large_data_rows : above this many rows an integer ``cv`` becomes one holdout split.
    study_storage : an Optuna storage URL (an RDB such as the warehouse's SQLAlchemy URL) where the
        studies live; with ``study_name``, a fit with the same name resumes them: the samplers start
        from every earlier trial and the families' defaults are not tried again.
    study_name : the studies' common name (one study per family, ``<study_name>.<family>``).
    """

    def __init__(
        self,
        task: str = "auto",
        metric: str | None = None,
        time_budget_s: float | None = 60.0,
        max_trials: int | None = None,
        cv=5,
        n_jobs: int = -1,
        random_state: int = 0,
        callbacks=None,
        families=None,
        ensemble: bool = True,
        trial_time_limit_s: float | None = None,
        large_data_rows: int = 100_000,
        study_storage: str | None = None,
        study_name: str | None = None,
    ):
        self.task = task
        self.metric = metric
        self.time_budget_s = time_budget_s
        self.max_trials = max_trials
        self.cv = cv
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.callbacks = callbacks
        self.families = families
        self.ensemble = ensemble
        self.trial_time_limit_s = trial_time_limit_s
        self.large_data_rows = large_data_rows
        self.study_storage = study_storage
        self.study_name = study_name

    # ------------------------------------------------------------ fit

    def _check_settings(self) -> None:
        if self.task not in TASKS:
            raise AutoMLInputError(f"task={self.task!r}: use one of {', '.join(TASKS)}")
        if self.time_budget_s is None and self.max_trials is None:
            raise AutoMLInputError("give a time budget (time_budget_s) or a number of trials (max_trials), or both")
        if self.time_budget_s is not None and self.time_budget_s <= 0:
            raise AutoMLInputError(f"time_budget_s={self.time_budget_s}: the budget must be positive")
        if self.max_trials is not None and self.max_trials < 1:
            raise AutoMLInputError(f"max_trials={self.max_trials}: at least one trial")
        if (self.study_storage is None) != (self.study_name is None):
            raise AutoMLInputError("study_storage and study_name go together: give both or neither")

    def fit(self, X, y, groups=None):
        """Search, then refit the best model (or ensemble) on every row. ``y`` may name a column of
        ``X``; so may ``groups`` (the column is then not a feature)."""
        clock = Clock(self.time_budget_s)
        self._check_settings()
        X, y = split_target(X, y)
        if isinstance(groups, str):
            if groups not in X.columns:
                raise AutoMLInputError(f"groups column {groups!r} is not in the data")
            X, groups = X.drop(columns=[groups]), X[groups].to_numpy()
        task = infer_task(y) if self.task == "auto" else self.task
        check_target(y, task)
        check_features(X)
        start_fit_server()  # its imports overlap the rest of the preparation
        classes: tuple = ()
        if task == CLASSIFICATION:
            try:
                classes = tuple(np.unique(y.to_numpy()))
            except TypeError:
                raise TargetError(f"target {y.name!r} mixes value types (e.g. numbers and text)") from None
        metric = resolve_metric(self.metric, task, len(classes))
        folds, split = make_folds(task, y, groups, self.cv, self.large_data_rows, self.random_state)
        plan = plan_columns(X)
        if not plan.columns:
            raise FeatureError(f"no usable feature column: {plan.dropped}")
        counts = y.value_counts()
        context = SearchContext(
            task=task,
            n_rows=len(y),
            n_classes=len(classes),
            imbalanced=task == CLASSIFICATION and counts.min() < IMBALANCE_RATIO * counts.max(),
            n_jobs=available_cores() if self.n_jobs in (None, -1) else int(self.n_jobs),
            random_state=self.random_state,
            plan=plan,
            classes=classes,
        )
        families = [f for f in families_for(task, self.families) if f.fits(context)]
        if not families:
            raise AutoMLInputError(
                f"no family fits {len(y)} rows of {task}: the named ones ({self.families}) are limited to smaller data"
            )
        trial_limit = self.trial_time_limit_s
        if trial_limit is None and self.time_budget_s is not None:
            trial_limit = DEFAULT_TRIAL_SHARE * self.time_budget_s
        y_values = y.to_numpy()
        worker = FitWorker(X, y_values, context.n_jobs)
        optuna_logger = logging.getLogger("optuna")
        level = optuna_logger.level
        optuna_logger.setLevel(logging.WARNING)
        try:
            search = Search(
                families,
                context,
                metric,
                folds,
                y_values,
                worker,
                clock,
                self.max_trials,
                trial_limit,
                list(self.callbacks or []),
                reserve_for_ensemble=bool(self.ensemble),
                storage=self.study_storage,
                study_name=self.study_name,
            )
            records = search.run()
            search_s = clock.elapsed()
            ranked = sorted(
                (r for r in records if r.state == COMPLETE), key=lambda r: (r.score, -r.number), reverse=True
            )
            if not ranked:
                problems = "; ".join(f"{r.family}: {r.state} {r.error}".strip() for r in records[:8])
                startup = f"; starting the fit processes took {worker.startup_s:.1f}s" if worker.startup_s > 1 else ""
                raise AutoMLInputError(
                    f"no trial completed within the budget ({problems or 'no trial started'}{startup}): "
                    "give a larger time budget"
                )
            selection = self._select_ensemble(search, ranked, metric) if self.ensemble else None
            final, final_name = self._refit(search, worker, ranked, selection, clock)
        finally:
            worker.close()
            optuna_logger.setLevel(level)
        self.task_ = task
        self.metric_ = metric
        self.classes_ = np.asarray(classes) if task == CLASSIFICATION else None
        self.feature_schema_ = FeatureSchema.of(X)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.best_estimator_ = final
        self.best_trial_ = ranked[0].number
        for record in records:
            record.predictions = None  # the search's working data, not part of the model
        self.trials_ = records
        self.ensemble_ = selection
        self.metadata_ = {
            "task": task,
            "metric": metric.display_name,
            "scorer": metric.scorer_name,
            "greater_is_better": metric.sign > 0,
            "validation": split,
            "rows": len(y),
            "classes": [_plain(c) for c in classes],
            "columns": plan.describe(),
            "random_state": self.random_state,
            "seeds": {"folds": self.random_state, "models": self.random_state, "samplers": dict(search.seeds)},
            "versions": library_versions(),
            "time_budget_s": self.time_budget_s,
            "max_trials": self.max_trials,
            "trials": search.trials_done,
            "search_s": round(search_s, 3),
            "elapsed_s": round(clock.elapsed(), 3),
            "final_model": final_name,
            "fit_process_restarts": worker.restarts,
            "fit_process_startup_s": round(worker.startup_s, 3),
        }
        if self.study_name is not None:
            self.metadata_["study"] = {
                "name": self.study_name,
                "storage": redact_url(self.study_storage),
                "earlier_trials": search.resumed_trials,
            }
        if selection is not None:
            self.metadata_["ensemble"] = selection["summary"]
        return self

    def _select_ensemble(self, search: Search, ranked: list[TrialRecord], metric):
        candidates = [r for r in ranked if r.predictions is not None][:ENSEMBLE_CANDIDATES]
        if len(candidates) < 2:
            return None
        predictions = [r.predictions for r in candidates]
        if np.isnan(np.concatenate([np.ravel(p) for p in predictions])).any():
            return None
        y_scored = search.y[search.scored_rows]
        classes = search.context.classes if search.context.task == CLASSIFICATION else None

        def score(rows, values):
            return metric.score(y_scored[rows], values, classes)

        max_rows = len(y_scored)
        allowed = search.search_remaining_s()
        if allowed is not None:  # with a time budget: on as many rows as the time left allows
            timing = time.monotonic()
            score(np.arange(len(y_scored)), predictions[0])
            per_call = (time.monotonic() - timing) / len(y_scored)  # scoring is about linear in rows
            calls = (SELECTION_CHUNKS + 1) * (SELECTION_ROUNDS + 1) * len(candidates)
            max_rows = int(max(0.0, allowed + ENSEMBLE_SHARE * self.time_budget_s) / max(per_call * calls, 1e-9))
            if max_rows < MIN_SELECTION_ROWS:
                return None
        result = cross_validated_selection(
            predictions, len(y_scored), score, self.random_state, chunks=SELECTION_CHUNKS, max_rows=max_rows
        )
        members = [(c, int(w)) for c, w in zip(candidates, result.weights) if w]
        summary = {
            "members": {f"trial {c.number} ({c.family})": w for c, w in members},
            "score": metric.natural(result.ensemble_score),
            "score_std": float(np.std(result.ensemble_chunk_scores)),
            "best_single_same_rows": metric.natural(result.single_score),
            "kept": bool(result.beats_single),
            "why": "beats the best single model on held-out out-of-fold rows"
            if result.beats_single
            else "does not beat the best single model on held-out out-of-fold rows",
        }
        return {"result": result, "members": members, "summary": summary}

    def _refit(self, search: Search, worker: FitWorker, ranked, selection, clock: Clock):
        """The final model fitted on all rows: the ensemble if it won and its refits fit in the time
        left, else the best single model (or, if its refit overruns, the next that fits in time)."""
        budget = self.time_budget_s

        def time_left():
            return None if budget is None else budget * (1 + REFIT_SLACK_SHARE) - clock.elapsed()

        def fit_all(record: TrialRecord, wait, share=None):
            """A self-stopping model stops at ``share`` of the time (default: all of it), the kill comes at ``wait``."""
            limit = wait if share is None else share
            request = FitRequest(record.family, record.params, search.context, None, None, limit, return_model=True)
            return worker.fit(request, wait)

        if selection is not None and selection["summary"]["kept"]:
            members = selection["members"]
            needed = sum(search.refit_estimate_s(r) for r, _ in members)
            left = time_left()
            if left is None or needed < left:
                fitted = []
                for i, (record, _) in enumerate(members):
                    left = time_left()
                    result = fit_all(record, left, None if left is None else left / (len(members) - i))
                    if not result.ok:
                        break
                    fitted.append(result.model)
                else:
                    ensemble = WeightedEnsemble(
                        fitted, np.asarray([w for _, w in members], dtype=float), search.context.classes or None
                    )
                    return ensemble, "ensemble of " + ", ".join(selection["summary"]["members"])
            selection["summary"]["kept"] = False
            selection["summary"]["why"] = "beats the best single model, but its refits did not fit in the time left"
        for record in ranked:
            left = time_left()
            if left is not None and search.refit_estimate_s(record) > left:
                continue
            result = fit_all(record, left)
            if result.ok:
                return result.model, f"trial {record.number} ({record.family})"
        quickest = min(ranked, key=lambda r: r.seconds)  # the last resort, without a limit
        result = fit_all(quickest, None)
        if not result.ok:
            raise AutoMLInputError(
                f"the final refit of trial {quickest.number} ({quickest.family}) failed: {result.error}"
            )
        return result.model, f"trial {quickest.number} ({quickest.family})"

    # ------------------------------------------------------------ predict

    def _features(self, X) -> pd.DataFrame:
        check_is_fitted(self, "best_estimator_")
        return self.feature_schema_.conform(X)

    def predict(self, X) -> np.ndarray:
        """The predicted class label or value of each row."""
        return np.asarray(self.best_estimator_.predict(self._features(X)))

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, one column per class of :attr:`classes_`."""
        from .budget import aligned_probabilities

        check_is_fitted(self, "best_estimator_")
        if self.task_ != CLASSIFICATION:
            raise AutoMLInputError("predict_proba is for classification; this model is a regression")
        return aligned_probabilities(self.best_estimator_, self._features(X), self.classes_)

    def prediction_frame(self, X) -> pd.DataFrame:
        """One row per row of ``X``: ``pred`` (the label or value) and, for classification, ``proba``
        (binary: the probability of ``classes_[1]``, the label that sorts last) or ``proba_<class>``
        per class."""
        X = self._features(X)
        frame = pd.DataFrame({"pred": self.best_estimator_.predict(X)})
        if self.task_ == CLASSIFICATION:
            proba = self.predict_proba(X)
            if len(self.classes_) == 2:
                frame["proba"] = proba[:, 1]
            else:
                for i, label in enumerate(self.classes_):
                    frame[f"proba_{label}"] = proba[:, i]
        return frame

    def score(self, X, y) -> float:
        """The search metric (greater is better, as a scikit-learn scorer) on ``X``, ``y``."""
        values = self.predict_proba(X) if self.task_ == CLASSIFICATION else self.predict(X)
        return self.metric_.score(np.asarray(y), values, tuple(self.classes_) if self.task_ == CLASSIFICATION else None)

    # ------------------------------------------------------------ leaderboard

    def leaderboard(self, all_trials: bool = False) -> pd.DataFrame:
        """Completed trials ranked by mean CV score (in the metric's own units); the ensemble first when
        it is the final model, else after them (its score is on held-out out-of-fold rows, compared in
        its params with the best single model's on the same rows); ``all_trials`` adds the pruned,
        timed-out, failed and screening ones. The run's metadata (seeds, library versions, validation,
        budget) is in ``.attrs["metadata"]``."""
        check_is_fitted(self, "best_estimator_")
        metric = self.metric_
        rows = []
        for r in self.trials_:
            if r.state != COMPLETE and not all_trials:
                continue
            rows.append(
                {
                    "trial": r.number,
                    "family": r.family,
                    "score": metric.natural(r.score) if r.fold_scores else np.nan,
                    "score_std": r.score_std if r.fold_scores else np.nan,
                    "folds": len(r.fold_scores),
                    "fit_time_s": round(r.seconds, 3),
                    "state": r.state,
                    "params": r.params,
                    "_key": r.score if r.state == COMPLETE else -np.inf,
                }
            )
        if self.ensemble_ is not None:
            summary = self.ensemble_["summary"]
            rows.append(
                {
                    "trial": -1,
                    "family": "ensemble",
                    "score": summary["score"],
                    "score_std": summary["score_std"],
                    "folds": len(self.ensemble_["result"].ensemble_chunk_scores),
                    "fit_time_s": 0.0,
                    "state": "kept" if summary["kept"] else "not kept",
                    "params": {
                        **summary["members"],
                        "best single model on the same rows": summary["best_single_same_rows"],
                    },
                    "_key": np.inf if summary["kept"] else -np.inf,  # the final model first; else after the trials
                }
            )
        frame = pd.DataFrame(rows, columns=["trial", "family", "score", "score_std", "folds", "fit_time_s", "state"])
        if rows:
            frame["params"] = [r["params"] for r in rows]
            order = sorted(
                range(len(rows)), key=lambda i: (-rows[i]["_key"], rows[i]["state"] != "not kept", rows[i]["trial"])
            )
            frame = frame.iloc[order].reset_index(drop=True)
            ranked = frame["state"].isin([COMPLETE, "kept", "not kept"]).to_numpy()
            frame.insert(0, "rank", np.where(ranked, np.cumsum(ranked), 0))
        frame = frame.rename(columns={"score": metric.display_name, "score_std": f"{metric.display_name}_std"})
        frame.attrs["metadata"] = self.metadata_
        return frame

    # ------------------------------------------------------------ persistence

    def __getstate__(self):
        state = super().__getstate__()
        state["callbacks"] = None  # functions of the caller's session: not part of the model
        return state

    def save(self, path) -> Path:
        """Write the fitted engine (``automl.joblib``) and a JSON manifest into folder ``path``."""
        check_is_fitted(self, "best_estimator_")
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, folder / MODEL_FILE)
        manifest = {
            "format": "maestro-automl/1",
            "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "task": self.task_,
            "metric": self.metric_.display_name,
            "classes": [_plain(c) for c in self.classes_] if self.classes_ is not None else None,
            "features": [
                {"name": str(c), "dtype": d, "kind": k}
                for c, d, k in zip(
                    self.feature_schema_.columns, self.feature_schema_.dtypes, self.feature_schema_.kinds
                )
            ],
            "final_model": self.metadata_["final_model"],
            "params": {k: _plain(v) for k, v in self.get_params().items() if k != "callbacks"},
            "metadata": self.metadata_,
        }
        (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, default=_plain) + "\n")
        return folder

    @classmethod
    def load(cls, path) -> AutoML:
        folder = Path(path)
        if not (folder / MODEL_FILE).exists():
            raise AutoMLInputError(f"{folder} holds no saved AutoML model ({MODEL_FILE} is missing)")
        model = joblib.load(folder / MODEL_FILE)
        if not isinstance(model, cls):
            raise AutoMLInputError(f"{folder / MODEL_FILE} holds a {type(model).__name__}, not an AutoML model")
        saved = model.metadata_.get("versions", {})
        changed = {k: (v, saved.get(k)) for k, v in library_versions().items() if saved.get(k) not in (None, v)}
        if changed:
            warnings.warn(
                f"{folder} was saved with other library versions: "
                + ", ".join(f"{k} {old} (now {new})" for k, (new, old) in changed.items()),
                stacklevel=2,
            )
        return model


def _plain(value):
    """A JSON-friendly value (numpy scalars as Python ones, anything else as text)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)
