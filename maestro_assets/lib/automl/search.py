"""The search: Optuna TPE per family, scheduled by successive halving over the families.

1. *Screening* (data above ``SCREEN_ABOVE_ROWS`` rows only): every family's default on a
   sample of ``SCREEN_ROWS`` rows, one split — cheap, and enough to rank the families.
2. *Rung 0*: every family's known-good default (the first, enqueued trial of its study), cheap
   families first (or, after screening, best-screened first).
3. *Rounds*: the families are ranked by their best score; the better half goes on (never
   fewer than two, so the ensemble has something to mix), each with twice the trials of the
   round before, the families taking turns trial by trial so a time cut-off starves none.

Each trial fits the folds one by one in the :class:`~.budget.FitWorker`; after each fold it
reports the running mean of the fold scores to Optuna and the family's median pruner may stop
it. With a time budget each fold may run for what is left of the trial's limit and of the
search (the budget less a reserve for the final refit); a fold that overruns is killed.
With ``max_trials`` and no time budget, nothing depends on the clock: the same seed gives the
same trials.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import optuna
from optuna.trial import TrialState

from .budget import Clock, FitRequest, FitWorker
from .families import Family, SearchContext
from .validation import CLASSIFICATION, Metric

SCREEN_ABOVE_ROWS = 20_000
SCREEN_ROWS = 10_000
KEEP_PREDICTIONS = 8  # out-of-fold predictions kept for the ensemble: of this many best trials
MIN_FAMILIES_KEPT = 2
REFIT_SAFETY = 1.5  # the reserve for the final refit: this many times its estimate

COMPLETE, PRUNED, TIMED_OUT, FAILED, SCREENED = "complete", "pruned", "timed out", "failed", "screening"


@dataclass
class TrialRecord:
    number: int
    family: str
    params: dict
    state: str = COMPLETE
    fold_scores: list[float] = field(default_factory=list)
    seconds: float = 0.0  # wall time of its fits
    train_rows: float = 0.0  # mean training rows per fit
    predictions: np.ndarray | None = None  # out of fold, on the search's scored rows
    error: str = ""

    @property
    def score(self) -> float:
        return float(np.mean(self.fold_scores)) if self.fold_scores else -math.inf

    @property
    def score_std(self) -> float:
        return float(np.std(self.fold_scores)) if len(self.fold_scores) > 1 else 0.0

    def fold_seconds(self) -> float:
        return self.seconds / max(1, len(self.fold_scores))


@dataclass(frozen=True)
class Progress:
    """What a callback is told after each trial."""

    trials_done: int
    trial: TrialRecord
    best: TrialRecord | None
    metric: Metric
    elapsed_s: float
    remaining_s: float | None


class Search:
    def __init__(
        self,
        families: list[Family],
        context: SearchContext,
        metric: Metric,
        folds: list[tuple[np.ndarray, np.ndarray]],
        y: np.ndarray,
        worker: FitWorker,
        clock: Clock,
        max_trials: int | None,
        trial_time_limit_s: float | None,
        callbacks: list[Callable[[Progress], None]],
        reserve_for_ensemble: bool = True,
        storage: str | None = None,
        study_name: str | None = None,
    ):
        self.families = families
        self.context = context
        self.metric = metric
        self.folds = folds
        self.y = y
        self.worker = worker
        self.clock = clock
        self.max_trials = max_trials
        self.trial_time_limit_s = trial_time_limit_s
        self.callbacks = callbacks
        self.reserve_for_ensemble = reserve_for_ensemble
        self.scored_rows = np.unique(np.concatenate([valid for _, valid in folds]))
        self._position = np.full(len(y), -1)
        self._position[self.scored_rows] = np.arange(len(self.scored_rows))
        self.records: list[TrialRecord] = []
        self.seeds = {f.name: context.random_state + i for i, f in enumerate(families)}
        self.studies = {}
        self.resumed_trials = 0  # trials of earlier fits found in the storage
        for family in families:
            study = optuna.create_study(
                direction="maximize",
                sampler=optuna.samplers.TPESampler(seed=self.seeds[family.name], n_startup_trials=5),
                pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0),
                study_name=f"{study_name}.{family.name}" if study_name else family.name,
                storage=storage,
                load_if_exists=storage is not None,
            )
            earlier = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
            self.resumed_trials += earlier
            if not earlier:
                study.enqueue_trial(family.default(context))
            self.studies[family.name] = study

    # ------------------------------------------------------------ budget

    @property
    def trials_done(self) -> int:
        return sum(1 for r in self.records if r.state != SCREENED)

    def best(self) -> TrialRecord | None:
        complete = [r for r in self.records if r.state == COMPLETE]
        return max(complete, key=lambda r: (r.score, -r.number)) if complete else None

    def refit_estimate_s(self, record: TrialRecord) -> float:
        """The time a fit of ``record``'s configuration on every row should take."""
        return record.fold_seconds() * len(self.y) / max(1.0, record.train_rows)

    def search_remaining_s(self) -> float | None:
        """Time left for trials: the budget less a reserve for refitting the best model."""
        remaining = self.clock.remaining()
        if remaining is None:
            return None
        return remaining - self.refit_reserve_s() - 0.02 * self.clock.budget_s

    def refit_reserve_s(self) -> float:
        """Time kept for the final refit: of the best trial, and of the second best too when an
        ensemble may need both."""
        complete = sorted((r for r in self.records if r.state == COMPLETE), key=lambda r: r.score, reverse=True)
        top = complete[: 2 if self.reserve_for_ensemble else 1]
        return REFIT_SAFETY * sum(self.refit_estimate_s(r) for r in top)

    def _out_of_trials(self) -> bool:
        return self.max_trials is not None and self.trials_done >= self.max_trials

    def _out_of_time(self) -> bool:
        remaining = self.search_remaining_s()
        return remaining is not None and remaining <= 0

    def _fits_in_time(self, family: Family) -> bool:
        """A family whose trials so far took longer than the time left is not started again."""
        remaining = self.search_remaining_s()
        if remaining is None:
            return True
        own = [r.seconds for r in self.records if r.family == family.name and r.state == COMPLETE]
        return not own or float(np.median(own)) < remaining

    def _wait_s(self, trial_seconds: float) -> float | None:
        """How long the next fit may run: what is left of the search, and of the trial's own limit
        after its fits so far (``trial_seconds``: fits only, not starting a worker process)."""
        limits = [self.search_remaining_s()]
        if self.trial_time_limit_s is not None:
            limits.append(self.trial_time_limit_s - trial_seconds)
        limits = [x for x in limits if x is not None]
        return min(limits) if limits else None

    # ------------------------------------------------------------ trials

    def _record(self, record: TrialRecord) -> None:
        self.records.append(record)
        self._drop_surplus_predictions()
        progress = Progress(
            self.trials_done, record, self.best(), self.metric, self.clock.elapsed(), self.clock.remaining()
        )
        for callback in self.callbacks:
            callback(progress)

    def _drop_surplus_predictions(self) -> None:
        kept = sorted(
            (r for r in self.records if r.predictions is not None), key=lambda r: (r.score, -r.number), reverse=True
        )
        for record in kept[KEEP_PREDICTIONS:]:
            record.predictions = None

    def _score(self, rows: np.ndarray, predictions: np.ndarray) -> float:
        classes = self.context.classes if self.context.task == CLASSIFICATION else None
        return self.metric.score(self.y[rows], predictions, classes)

    def run_trial(self, family: Family) -> TrialRecord:
        study = self.studies[family.name]
        trial = study.ask()
        params = family.space(trial, self.context)
        record = TrialRecord(len(self.records), family.name, params)
        shape = (len(self.scored_rows), len(self.context.classes)) if self.context.classes else len(self.scored_rows)
        predictions = np.full(shape, np.nan)
        rows = []
        for step, (train, valid) in enumerate(self.folds):
            wait = self._wait_s(record.seconds)
            if wait is not None and wait <= 0:
                record.state, record.error = TIMED_OUT, "no time left for the next fold"
                break
            # a self-stopping model gets its share of the trial's time left, so every fold can finish;
            # the kill comes only at the end of the whole time left
            share = None if wait is None else wait / (len(self.folds) - step)
            result = self.worker.fit(
                FitRequest(family.name, params, self.context, train, valid, time_limit_s=share), wait
            )
            record.seconds += result.seconds
            if not result.ok:
                record.state, record.error = (TIMED_OUT if result.timed_out else FAILED), result.error
                break
            score = self._score(valid, result.predictions)
            if not np.isfinite(score):
                record.state, record.error = FAILED, f"fold {step} scored {score}"
                break
            rows.append(len(train))
            predictions[self._position[valid]] = result.predictions
            record.fold_scores.append(score)
            trial.report(record.score, step)
            if step < len(self.folds) - 1 and trial.should_prune():
                record.state = PRUNED
                break
        record.train_rows = float(np.mean(rows)) if rows else 0.0
        if record.state == COMPLETE:
            study.tell(trial, record.score)
            record.predictions = predictions
        else:
            study.tell(trial, state=TrialState.PRUNED if record.fold_scores else TrialState.FAIL)
            if record.state != PRUNED:
                record.fold_scores = [] if record.state == FAILED else record.fold_scores
        self._record(record)
        return record

    def screen(self, family: Family, rng: np.random.Generator) -> TrialRecord:
        """The family's default on a sample: trained on SCREEN_ROWS rows of the first fold's training
        rows, scored on at most a quarter as many of its validation rows."""
        train, valid = self.folds[0]
        train = np.sort(rng.choice(train, min(len(train), SCREEN_ROWS), replace=False))
        valid = np.sort(rng.choice(valid, min(len(valid), SCREEN_ROWS // 4), replace=False))
        params = family.default(self.context)
        record = TrialRecord(len(self.records), family.name, params, state=SCREENED, train_rows=len(train))
        wait = self._wait_s(0.0)
        if wait is None or wait > 0:
            result = self.worker.fit(FitRequest(family.name, params, self.context, train, valid, wait), wait)
            record.seconds = result.seconds
            if result.ok:
                record.fold_scores = [self._score(valid, result.predictions)]
            else:
                record.error = result.error
        self._record(record)
        return record

    # ------------------------------------------------------------ schedule

    def _stop(self) -> bool:
        return self._out_of_trials() or self._out_of_time()

    def _rank(self, families: list[Family], state: str = COMPLETE) -> list[Family]:
        best = {}
        for r in self.records:
            if r.state == state and np.isfinite(r.score):
                best[r.family] = max(best.get(r.family, -math.inf), r.score)
        ranked = [f for f in families if f.name in best]
        return sorted(ranked, key=lambda f: (-best[f.name], f.cost, f.name))

    def run(self) -> list[TrialRecord]:
        families = list(self.families)
        if len(self.y) > SCREEN_ABOVE_ROWS:
            rng = np.random.default_rng(self.context.random_state)
            for family in families:
                if self._out_of_time():
                    break
                self.screen(family, rng)
            screened = self._rank(families, SCREENED)
            families = screened[: max(MIN_FAMILIES_KEPT, math.ceil(len(screened) / 2))] or families[:1]
        for family in families:  # rung 0: the defaults
            if self._stop():
                return self.records
            if self._fits_in_time(family):
                self.run_trial(family)
        alive = self._rank(families)
        per_family = 1
        while alive and not self._stop():
            alive = alive[: max(MIN_FAMILIES_KEPT, math.ceil(len(alive) / 2))]
            per_family *= 2
            started_any = False
            for _ in range(per_family):
                for family in alive:
                    if self._stop():
                        return self.records
                    if self._fits_in_time(family):
                        self.run_trial(family)
                        started_any = True
            if not started_any:
                break
            alive = self._rank(alive)
        return self.records
