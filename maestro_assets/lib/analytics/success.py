"""Project success prediction: a meta-model over historical projects, with honest intervals.

Three steps, no Dagster:

* :func:`project_history` turns the operational tables (projects, tasks, users, teams, optional
  artifact reuse and collaboration scores) into one row per project: the meta-features that are
  known when the project STARTS, and its outcomes (success score, duration, cost) once it finished.
* :class:`SuccessPredictor` trains one AutoML regressor per outcome on finished projects and wraps
  each in a split-conformal prediction interval, then measures the intervals on projects it never
  saw (neither for training nor for calibration).
* :func:`team_size_recommendation` asks the fitted model, per band of task complexity, which team
  size it expects to succeed most, and shows the evidence.

When each feature is known (``FEATURES`` holds the same text for every column). A project's own
outcome (its actual end date, its spending, how many of its tasks were late, its own pace) never
enters its features, so a model cannot learn an outcome from itself:

* ``team_size``, ``role_share_<role>``, ``mean_years_experience``, ``senior_share`` — the team's
  members hired on or before the project's start day (all members when ``users`` has no
  ``hired_at``). Years of experience are the users table's current figures: an approximation of
  the figure at the start, which differs by at most the project's age.
* ``mean_task_complexity``, ``task_count``, ``estimated_hours`` — the project's planned scope: its
  tasks' complexity ratings and estimates, which are set when a task is planned, not when it ends.
* ``budget``, ``planned_duration_days`` — the plan: budget and planned end date.
* ``artifact_reuse`` — the per-project count passed in ``reuse`` (0 when not given). The caller
  decides what is known at the start (e.g. the artifacts a project plans to reuse); passing the
  uses over the project's whole life makes this feature partly an outcome.
* ``team_velocity`` — tasks per week the TEAM completed on its other projects in the
  ``VELOCITY_WINDOW_DAYS`` before this project's start: known at the start by construction.
  NaN when the team had no project started before this one (nothing to measure).
* ``collaboration_score`` — the per-team or per-project score passed in ``collaboration`` (the git
  metrics' 0–100 score); NaN when not given.

Intervals: SPLIT CONFORMAL prediction. The finished projects are shuffled (``random_state``) and
cut into a test split (``test_share``, never used to fit or calibrate), a calibration split
(``calibration_share`` of the rest) and the training rows. Each target's AutoML is fitted on the
training rows only; on the calibration rows the absolute residuals ``|y - ŷ|`` are sorted and the
half-width ``q`` is the k-th smallest with ``k = ceil((n + 1) · coverage)`` — the finite-sample
correction that makes ``P(y ∈ [ŷ - q, ŷ + q]) ≥ coverage`` for a new exchangeable project. When
``k > n`` no finite interval is valid: ``fit`` refuses, naming the calibration rows the level needs
(:func:`calibration_rows_needed`; 4 at 0.8, 19 at 0.95). Point predictions and bounds are then
clipped to the target's possible range (score 0–100, duration and cost ≥ 0), which can only keep a
true value inside. The fitted models are
the ones evaluated: they are not refitted on the test rows afterwards, so ``report()`` describes
exactly the models that predict.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import MaestroError

TARGETS = ("success_score", "duration_days", "cost")
TARGET_RANGES = {"success_score": (0.0, 100.0), "duration_days": (0.0, np.inf), "cost": (0.0, np.inf)}
FINISHED_STATUS = "completed"
VELOCITY_WINDOW_DAYS = 28
SENIOR_YEARS = 7.0  # a member with at least this many years of experience counts as senior
MIN_FINISHED_PROJECTS = 30
MIN_CALIBRATION_ROWS = 10
MANIFEST_FILE = "success_predictor.json"
TEAM_SIZE_RULE = "best_mean_predicted_success_per_complexity_tercile"
SIZE_QUANTILES = (0.0, 0.25, 0.5, 0.75, 1.0)  # the candidate team sizes of a band: its own sizes at these
REUSE_WINDOW_DAYS = 14  # early_artifact_reuse: the artifacts a project used in its first two weeks

FEATURES = {
    "team_size": "members of the team hired on or before the start day",
    "mean_years_experience": "mean years of experience of those members (current figures)",
    "senior_share": f"share of those members with at least {SENIOR_YEARS:g} years of experience",
    "mean_task_complexity": "mean complexity (1-10) of the project's planned tasks",
    "task_count": "number of the project's planned tasks",
    "estimated_hours": "sum of the project's tasks' estimated hours",
    "budget": "the project's budget",
    "planned_duration_days": "planned end date minus start date, in days",
    "artifact_reuse": "artifacts reused by the project, as passed in (0 when not given)",
    "team_velocity": f"tasks/week the team completed on other projects in the {VELOCITY_WINDOW_DAYS} days before start",
    "collaboration_score": "the team's or project's collaboration score as passed in (NaN when not given)",
}
ROLE_SHARE_PREFIX = "role_share_"  # one column per role seen in ``users``: share of the members with it


class SuccessPredictionError(MaestroError):
    """Bad input to the success meta-model: the message names the table, column or count."""


class TooFewProjectsError(SuccessPredictionError):
    def __init__(self, count: int, minimum: int):
        self.count, self.minimum = count, minimum
        super().__init__(
            f"{count} finished projects with known success score, duration and cost; "
            f"the success meta-model needs at least {minimum} (training, calibration and test splits)"
        )


def _require(frame: pd.DataFrame, table: str, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SuccessPredictionError(f"{table}: missing column(s) {', '.join(missing)}")


def _day(values: pd.Series) -> pd.Series:
    """Timestamps or dates as naive UTC days (datetime64), so dates and aware times compare."""
    stamps = pd.to_datetime(values, utc=True)
    return stamps.dt.tz_localize(None).dt.normalize()


def _team_composition(projects: pd.DataFrame, users: pd.DataFrame) -> pd.DataFrame:
    roles = sorted(users["role"].dropna().unique())
    hired = _day(users["hired_at"]) if "hired_at" in users.columns else None
    rows = []
    for project_id, team_id, start in zip(projects["project_id"], projects["team_id"], projects["_start"]):
        mask = users["team_id"].to_numpy() == team_id
        if hired is not None:
            mask &= (hired <= start).to_numpy()
        members = users.loc[mask]
        size = len(members)
        years = members["years_experience"].astype(float)
        row = {
            "project_id": project_id,
            "team_size": size,
            "mean_years_experience": years.mean() if size else np.nan,
            "senior_share": (years >= SENIOR_YEARS).mean() if size else np.nan,
        }
        counts = members["role"].value_counts()
        for role in roles:
            row[f"{ROLE_SHARE_PREFIX}{role}"] = counts.get(role, 0) / size if size else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _team_velocity(projects: pd.DataFrame, tasks: pd.DataFrame) -> pd.Series:
    """Per project: tasks/week its team completed on other projects in the window before its start."""
    team_of = projects.set_index("project_id")["team_id"]
    done = tasks.loc[tasks["completed_at"].notna(), ["project_id", "completed_at"]].copy()
    done["team_id"] = done["project_id"].map(team_of)
    done["day"] = _day(done["completed_at"])
    window = pd.Timedelta(days=VELOCITY_WINDOW_DAYS)
    velocity = []
    for project_id, team_id, start in zip(projects["project_id"], projects["team_id"], projects["_start"]):
        earlier = (projects["team_id"] == team_id) & (projects["_start"] < start)
        if not earlier.any():
            velocity.append(np.nan)
            continue
        mine = done[(done["team_id"] == team_id) & (done["project_id"] != project_id)]
        in_window = ((mine["day"] < start) & (mine["day"] >= start - window)).sum()
        velocity.append(in_window / (VELOCITY_WINDOW_DAYS / 7))
    return pd.Series(velocity, index=projects.index, dtype=float)


def _collaboration(projects: pd.DataFrame, collaboration: pd.DataFrame | None) -> pd.Series:
    if collaboration is None:
        return pd.Series(np.nan, index=projects.index, dtype=float)
    if "collaboration_score" not in collaboration.columns:
        raise SuccessPredictionError("collaboration: missing column collaboration_score")
    for key in ("project_id", "team_id"):
        if key in collaboration.columns:
            scores = collaboration.groupby(key)["collaboration_score"].mean()
            return projects[key].map(scores).astype(float)
    raise SuccessPredictionError("collaboration: give a project_id or a team_id column next to collaboration_score")


def project_history(
    projects: pd.DataFrame,
    tasks: pd.DataFrame,
    users: pd.DataFrame,
    teams: pd.DataFrame,
    reuse: Mapping[int, float] | pd.Series | None = None,
    collaboration: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per project: project_id, team_id, start_date, the ``FEATURES`` (plus one
    ``role_share_<role>`` per role), the targets (NaN until finished) and ``finished``."""
    _require(projects, "projects", ("project_id", "team_id", "start_date", "planned_end_date", "budget", "status"))
    _require(projects, "projects", TARGETS)
    _require(tasks, "tasks", ("project_id", "complexity", "estimated_hours", "completed_at"))
    _require(users, "users", ("team_id", "role", "years_experience"))
    _require(teams, "teams", ("team_id",))
    unknown = set(projects["team_id"]) - set(teams["team_id"])
    if unknown:
        raise SuccessPredictionError(f"projects: team_id {sorted(unknown)[:5]} not in teams")
    if projects["project_id"].duplicated().any():
        raise SuccessPredictionError("projects: project_id is not unique")
    projects = projects.reset_index(drop=True).copy()
    projects["_start"] = _day(projects["start_date"])
    if projects["_start"].isna().any():
        raise SuccessPredictionError("projects: start_date is missing for some projects")

    scope = tasks.groupby("project_id").agg(
        mean_task_complexity=("complexity", "mean"),
        task_count=("complexity", "size"),
        estimated_hours=("estimated_hours", "sum"),
    )
    history = projects[["project_id", "team_id", "start_date"]].copy()
    history = history.merge(_team_composition(projects, users), on="project_id", how="left")
    history = history.join(scope, on="project_id")
    history["task_count"] = history["task_count"].fillna(0).astype(int)
    history["estimated_hours"] = history["estimated_hours"].fillna(0.0)
    history["budget"] = projects["budget"].astype(float)
    history["planned_duration_days"] = (_day(projects["planned_end_date"]) - projects["_start"]).dt.days.astype(float)
    reuse_counts = pd.Series(reuse, dtype=float) if reuse is not None else pd.Series(dtype=float)
    history["artifact_reuse"] = projects["project_id"].map(reuse_counts).fillna(0.0)
    history["team_velocity"] = _team_velocity(projects, tasks)
    history["collaboration_score"] = _collaboration(projects, collaboration)

    finished = (projects["status"] == FINISHED_STATUS) & projects[list(TARGETS)].notna().all(axis=1)
    for target in TARGETS:
        history[target] = projects[target].astype(float).where(finished)
    history["finished"] = finished.to_numpy()
    return history


def feature_columns(history: pd.DataFrame) -> list[str]:
    """The meta-features of a history frame: ``FEATURES`` plus its role-share columns."""
    roles = sorted(c for c in history.columns if c.startswith(ROLE_SHARE_PREFIX))
    return [c for c in FEATURES if c in history.columns] + roles


def conformal_half_width(residuals: np.ndarray, coverage: float) -> float:
    """The k-th smallest absolute residual, k = ceil((n + 1) · coverage); inf when k > n."""
    n = len(residuals)
    k = math.ceil((n + 1) * coverage)
    return float(np.sort(np.abs(residuals))[k - 1]) if k <= n else math.inf


def calibration_rows_needed(coverage: float) -> int:
    """The fewest calibration rows n with ceil((n + 1) · coverage) <= n: a finite interval."""
    n = 1
    while math.ceil((n + 1) * coverage) > n:
        n += 1
    return n


def _r2(actual: np.ndarray, predicted: np.ndarray) -> float:
    spread = float(((actual - actual.mean()) ** 2).sum())
    return 1.0 - float(((actual - predicted) ** 2).sum()) / spread if spread > 0 else float("nan")


class SuccessPredictor:
    """Success score, duration and cost of a project from its start-time meta-features.

    ``fit(history)`` takes :func:`project_history`'s frame; ``predict`` gives one row per project
    and target with a split-conformal interval at ``coverage``; ``report()`` the intervals'
    coverage and width and the point metrics on the held-back test projects.
    """

    def __init__(
        self,
        time_budget_s: float | None = None,
        max_trials: int | None = 10,
        random_state: int = 0,
        coverage: float = 0.8,
        families: list[str] | None = None,
        cv: int = 3,
        test_share: float = 0.2,
        calibration_share: float = 0.3,
        n_jobs: int = 1,
    ):
        if not 0 < coverage < 1:
            raise SuccessPredictionError(f"coverage={coverage}: give a level between 0 and 1 (e.g. 0.8)")
        for name, share in (("test_share", test_share), ("calibration_share", calibration_share)):
            if not 0 < share < 1:
                raise SuccessPredictionError(f"{name}={share}: give a share between 0 and 1")
        self.time_budget_s = time_budget_s
        self.max_trials = max_trials
        self.random_state = random_state
        self.coverage = coverage
        self.families = families
        self.cv = cv
        self.test_share = test_share
        self.calibration_share = calibration_share
        self.n_jobs = n_jobs
        self.models_: dict = {}
        self.half_widths_: dict[str, float] = {}
        self.features_: list[str] = []
        self.report_: pd.DataFrame | None = None
        self.held_back_: pd.DataFrame | None = None  # the test projects' predictions and actual values
        self.split_: dict[str, list] = {}

    def _automl(self):
        from ..automl import AutoML

        return AutoML(
            task="regression",
            time_budget_s=self.time_budget_s,
            max_trials=self.max_trials,
            cv=self.cv,
            families=self.families,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        )

    def fit(self, history: pd.DataFrame) -> SuccessPredictor:
        _require(history, "history", ("project_id", "finished", *TARGETS))
        finished = history[history["finished"].astype(bool)].dropna(subset=list(TARGETS)).reset_index(drop=True)
        if len(finished) < MIN_FINISHED_PROJECTS:
            raise TooFewProjectsError(len(finished), MIN_FINISHED_PROJECTS)
        self.features_ = feature_columns(history)
        order = np.random.default_rng(self.random_state).permutation(len(finished))
        n_test = max(1, round(self.test_share * len(finished)))
        n_calibration = max(MIN_CALIBRATION_ROWS, round(self.calibration_share * (len(finished) - n_test)))
        if n_calibration < calibration_rows_needed(self.coverage):
            raise SuccessPredictionError(
                f"coverage={self.coverage}: a finite split-conformal interval needs at least "
                f"{calibration_rows_needed(self.coverage)} calibration projects, the split gives {n_calibration} "
                f"(more finished projects, a larger calibration_share or a lower coverage)"
            )
        test, calibration, train = np.split(order, [n_test, n_test + n_calibration])
        self.split_ = {
            name: finished["project_id"].iloc[rows].tolist()
            for name, rows in (("train", train), ("calibration", calibration), ("test", test))
        }
        X = finished[self.features_]
        self.models_, self.half_widths_ = {}, {}
        for target in TARGETS:
            model = self._automl().fit(X.iloc[train], finished[target].iloc[train])
            residuals = finished[target].iloc[calibration].to_numpy() - model.predict(X.iloc[calibration])
            self.models_[target] = model
            self.half_widths_[target] = conformal_half_width(residuals, self.coverage)
        self.report_ = self._evaluate(finished.iloc[test])
        return self

    def _check_fitted(self) -> None:
        if not self.models_:
            raise SuccessPredictionError("the success predictor is not fitted: call fit(history) or load(path) first")

    def model_description(self, target: str) -> str:
        self._check_fitted()
        model = self.models_[target]
        return (
            f"AutoML regressor ({model.metadata_['final_model']}, {model.metadata_['metric']} "
            f"{model.metadata_['validation']}) with a split-conformal {self.coverage:.0%} interval "
            f"(±{self.half_widths_[target]:.4g})"
        )

    def predict(self, history_rows: pd.DataFrame) -> pd.DataFrame:
        """One row per project and target: project_id, target, value, lower, upper, model."""
        self._check_fitted()
        _require(history_rows, "history_rows", ("project_id", *self.features_))
        X = history_rows[self.features_]
        frames = []
        for target in TARGETS:
            low, high = TARGET_RANGES[target]
            value = np.clip(self.models_[target].predict(X), low, high)
            q = self.half_widths_[target]
            frames.append(
                pd.DataFrame(
                    {
                        "project_id": history_rows["project_id"].to_numpy(),
                        "target": target,
                        "value": value,
                        "lower": np.clip(value - q, low, high),
                        "upper": np.clip(value + q, low, high),
                        "model": self.model_description(target),
                    }
                )
            )
        return pd.concat(frames, ignore_index=True)

    def _evaluate(self, test: pd.DataFrame) -> pd.DataFrame:
        predictions = self.predict(test)
        actual = {t: test.set_index("project_id")[t] for t in TARGETS}
        predictions["actual"] = [actual[t][p] for t, p in zip(predictions["target"], predictions["project_id"])]
        self.held_back_ = predictions.drop(columns="model")
        rows = []
        for target in TARGETS:
            mine = predictions[predictions["target"] == target]
            actual = test[target].to_numpy(dtype=float)
            value = mine["value"].to_numpy()
            inside = (mine["lower"].to_numpy() <= actual) & (actual <= mine["upper"].to_numpy())
            rows.append(
                {
                    "target": target,
                    "n_train": len(self.split_["train"]),
                    "n_calibration": len(self.split_["calibration"]),
                    "n_test": len(test),
                    "nominal_coverage": self.coverage,
                    "coverage": float(inside.mean()),
                    "mean_width": float((mine["upper"] - mine["lower"]).mean()),
                    "mae": float(np.abs(actual - value).mean()),
                    "r2": _r2(actual, value),
                    "model": self.model_description(target),
                }
            )
        return pd.DataFrame(rows)

    def report(self) -> pd.DataFrame:
        """Per target, on the held-back test projects: interval coverage and mean width, MAE, R²."""
        self._check_fitted()
        return self.report_.copy()

    def save(self, path) -> Path:
        """Each target's AutoML in ``<path>/<target>/`` plus a JSON manifest of the intervals."""
        self._check_fitted()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        for target, model in self.models_.items():
            model.save(folder / target)
        manifest = {
            "format": "maestro-success-predictor/1",
            "coverage": self.coverage,
            "features": self.features_,
            "half_widths": self.half_widths_,
            "split": self.split_,
            "settings": {
                k: getattr(self, k)
                for k in ("time_budget_s", "max_trials", "random_state", "families", "cv", "test_share")
                + ("calibration_share", "n_jobs")
            },
            "report": self.report_.to_dict(orient="records"),
        }
        (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        return folder

    @classmethod
    def load(cls, path) -> SuccessPredictor:
        from ..automl import AutoML

        folder = Path(path)
        if not (folder / MANIFEST_FILE).exists():
            raise SuccessPredictionError(f"{folder} holds no saved success predictor ({MANIFEST_FILE} is missing)")
        manifest = json.loads((folder / MANIFEST_FILE).read_text())
        predictor = cls(coverage=manifest["coverage"], **manifest["settings"])
        predictor.features_ = manifest["features"]
        predictor.half_widths_ = {k: float(v) for k, v in manifest["half_widths"].items()}
        predictor.split_ = manifest["split"]
        predictor.models_ = {target: AutoML.load(folder / target) for target in TARGETS}
        predictor.report_ = pd.DataFrame(manifest["report"])
        return predictor


def early_artifact_reuse(usage: pd.DataFrame, projects: pd.DataFrame, days: int = REUSE_WINDOW_DAYS) -> pd.Series:
    """Per project_id: the distinct artifacts the project used in its first ``days`` days.

    The ``artifact_reuse`` feature as the assets give it: a project's reuse over its whole life
    grows with its length (an outcome), while what it picked up in its first weeks is known early
    and counted the same way for a finished project and for one still running."""
    _require(usage, "artifact usage", ("artifact_id", "project_id", "used_at"))
    _require(projects, "projects", ("project_id", "start_date"))
    start = pd.Series(_day(projects["start_date"]).to_numpy(), index=projects["project_id"].to_numpy())
    used = usage[["artifact_id", "project_id"]].copy()
    used["day"] = _day(usage["used_at"]).to_numpy()
    used["start"] = used["project_id"].map(start).to_numpy()
    early = used[(used["day"] >= used["start"]) & (used["day"] < used["start"] + pd.Timedelta(days=days))]
    counts = early.groupby("project_id")["artifact_id"].nunique()
    return counts.reindex(projects["project_id"].to_numpy(), fill_value=0).astype(float)


def team_size_recommendation(history: pd.DataFrame, predictor: SuccessPredictor, bands: int = 3) -> pd.DataFrame:
    """Per band of mean task complexity (quantiles: terciles by default), the team size with the
    highest mean predicted success score over the band's projects, each predicted with its team
    size replaced by each candidate size.

    The candidates are team sizes SEEN IN THE BAND (its projects' sizes at the quantiles 0, ¼, ½,
    ¾ and 1): a size no project of that complexity had would be an extrapolation, which a linear
    model turns into "the biggest team ever seen" in every band.

    Columns: band (its complexity range), complexity_low, complexity_high, n_projects,
    recommended_team_size, predicted_success_score, predicted_score_by_size (size -> mean score),
    model, rule.
    """
    _require(history, "history", ("project_id", "team_size", "mean_task_complexity"))
    rows_known = history.dropna(subset=["mean_task_complexity", "team_size"])
    if rows_known.empty:
        raise SuccessPredictionError("history: no project with a mean task complexity and a team size")
    band_of = pd.qcut(rows_known["mean_task_complexity"], q=bands, duplicates="drop")
    out = []
    for _, members in rows_known.groupby(band_of, observed=True):
        quantiles = np.quantile(members["team_size"].to_numpy(), SIZE_QUANTILES, method="nearest")
        by_size = {}
        for size in sorted({int(s) for s in quantiles}):
            candidate = members.copy()
            candidate["team_size"] = size
            predicted = predictor.predict(candidate)
            by_size[size] = float(predicted.loc[predicted["target"] == "success_score", "value"].mean())
        best = max(by_size, key=by_size.get)
        low, high = float(members["mean_task_complexity"].min()), float(members["mean_task_complexity"].max())
        out.append(
            {
                "band": f"complexity {low:.2f}–{high:.2f}",
                "complexity_low": low,
                "complexity_high": high,
                "n_projects": len(members),
                "recommended_team_size": best,
                "predicted_success_score": by_size[best],
                "predicted_score_by_size": by_size,
                "model": predictor.model_description("success_score"),
                "rule": TEAM_SIZE_RULE,
            }
        )
    return pd.DataFrame(out)
