"""``automl_vs_flaml``: Maestro's AutoML (``lib.automl.AutoML``) against FLAML (``flaml.AutoML``) at
equal time budgets (``--budget`` seconds each, ``n_jobs`` = the cores this process may use), with a
default ``HistGradientBoosting`` (``random_state=0``) as the floor, all on the same outer 75/25
train/test split (stratified for classification, ``--seed``), in the same run, the two contenders
taking turns (Maestro first on the first data set, FLAML first on the next, ...).

Data sets (``--datasets``): scikit-learn's breast_cancer (binary: test ROC AUC), wine and digits
(multiclass: accuracy), diabetes (regression: R2 and RMSE), and ISLP's Default (binary, target
``default``), Caravan (binary, ``Purchase``) and Bikeshare (regression, ``bikers``; ``casual`` and
``registered`` are its parts and are dropped). ISLP's categorical columns go to FLAML and the floor
as pandas categoricals and to Maestro as text. Both systems search the same metric: ROC AUC
(binary), log-loss (multiclass), RMSE (regression).

Figures per data set: ``automl_vs_flaml.<dataset>.<metric>`` — Maestro's test metric against
FLAML's (target: within 1% of FLAML for the scores, RMSE at most 3% above FLAML's;
``params.hgb`` holds the floor's value and ``params.hgb_floor_met`` whether Maestro is not worse
than it); ``automl_vs_flaml.<dataset>.wall_time`` — Maestro's fit seconds against the budget
(target: at most 1.1x; FLAML's in params). Then ``automl_vs_flaml.wins``: the data sets where
Maestro's primary metric (ROC AUC, accuracy, RMSE) is at least as good as FLAML's (target: 5 of 7,
scaled to the number of data sets run).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import time
import warnings

import numpy as np
import pandas as pd

from .harness import figure, note, peak_rss_mb

SKLEARN_DATASETS = ("breast_cancer", "wine", "digits", "diabetes")
ISLP_DATASETS = {"Default": "default", "Caravan": "Purchase", "Bikeshare": "bikers"}
DATASETS = (*SKLEARN_DATASETS, *ISLP_DATASETS)
LEAKAGE = {"Bikeshare": ["casual", "registered"]}  # the two parts of the target bikers
BINARY, MULTICLASS, REGRESSION = "binary", "multiclass", "regression"
# the metric both systems search: Maestro's defaults, named for FLAML
MAESTRO_METRIC = {BINARY: "roc_auc", MULTICLASS: "log_loss", REGRESSION: "rmse"}
FLAML_METRIC = {BINARY: "roc_auc", MULTICLASS: "log_loss", REGRESSION: "rmse"}
SCORE_TOLERANCE = 0.99  # scores (ROC AUC, accuracy, R2): at least 99% of FLAML's
RMSE_TOLERANCE = 1.03  # RMSE: at most 3% above FLAML's
WALL_TIME_TARGET = "<= 1.1"
WINS_OF_SEVEN = 5


def load_dataset(name: str) -> tuple[pd.DataFrame, pd.Series, str]:
    """Features (categoricals as pandas ``category``), target and kind of data set ``name``."""
    if name in SKLEARN_DATASETS:
        from sklearn import datasets

        bunch = getattr(datasets, f"load_{name}")(as_frame=True)
        X, y = bunch.data, bunch.target
        kind = REGRESSION if name == "diabetes" else (BINARY if y.nunique() == 2 else MULTICLASS)
        return X, y, kind
    try:
        from ISLP import load_data
    except ImportError:
        raise SystemExit(
            f"data set {name!r} comes from the ISLP package, which is not installed: `make bench` installs it "
            "(pip install --no-deps ISLP), or run --datasets with scikit-learn's only "
            f"({','.join(SKLEARN_DATASETS)})"
        ) from None
    frame = load_data(name)
    target = ISLP_DATASETS[name]
    X = frame.drop(columns=[target, *[c for c in LEAKAGE.get(name, []) if c in frame.columns]])
    y = frame[target]
    if isinstance(y.dtype, pd.CategoricalDtype):
        return X, y, BINARY if y.nunique() == 2 else MULTICLASS
    return X, y.astype(float), REGRESSION


def encode_target(y: pd.Series, kind: str) -> pd.Series:
    """Class labels as 0..k-1 in sorted order (so column 1 of every ``predict_proba`` is the label that
    sorts last); regression values unchanged."""
    if kind == REGRESSION:
        return y.astype(float)
    labels = sorted(y.unique())
    return y.map({label: i for i, label in enumerate(labels)}).astype(np.int64)


def as_text(X: pd.DataFrame) -> pd.DataFrame:
    """The categorical columns as text (missing values kept missing): what Maestro is given."""
    X = X.copy()
    for column in X.columns:
        if isinstance(X[column].dtype, pd.CategoricalDtype):
            X[column] = X[column].astype(object).where(X[column].notna()).map(lambda v: v if pd.isna(v) else str(v))
    return X


def holdout_metrics(kind: str, y_true: np.ndarray, predict, predict_proba) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, r2_score, roc_auc_score, root_mean_squared_error

    if kind == BINARY:
        return {"roc_auc": float(roc_auc_score(y_true, np.asarray(predict_proba())[:, 1]))}
    if kind == MULTICLASS:
        return {"accuracy": float(accuracy_score(y_true, np.asarray(predict())))}
    predictions = np.asarray(predict(), dtype=float)
    return {
        "r2": float(r2_score(y_true, predictions)),
        "rmse": float(root_mean_squared_error(y_true, predictions)),
    }


def run_maestro(X_train, y_train, X_test, y_test, kind, budget, seed, cores) -> tuple[dict, float, dict]:
    from maestro_assets.lib.automl import AutoML

    model = AutoML(
        task="regression" if kind == REGRESSION else "classification",
        metric=MAESTRO_METRIC[kind],
        time_budget_s=budget,
        n_jobs=cores,
        random_state=seed,
    )
    X_train, X_test = as_text(X_train), as_text(X_test)
    started = time.perf_counter()
    model.fit(X_train, y_train)
    wall = time.perf_counter() - started
    scores = holdout_metrics(kind, y_test, lambda: model.predict(X_test), lambda: model.predict_proba(X_test))
    meta = model.metadata_
    return scores, wall, {"trials": meta["trials"], "final_model": meta["final_model"]}


def run_flaml(X_train, y_train, X_test, y_test, kind, budget, seed, cores) -> tuple[dict, float, dict]:
    from flaml import AutoML as FLAML

    model = FLAML()
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(
            X_train,
            y_train,
            task="regression" if kind == REGRESSION else "classification",
            metric=FLAML_METRIC[kind],
            time_budget=budget,
            n_jobs=cores,
            seed=seed,
            verbose=0,
        )
    wall = time.perf_counter() - started
    scores = holdout_metrics(kind, y_test, lambda: model.predict(X_test), lambda: model.predict_proba(X_test))
    return scores, wall, {"best_estimator": model.best_estimator}


def run_floor(X_train, y_train, X_test, y_test, kind) -> tuple[dict, float]:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    model = (HistGradientBoostingRegressor if kind == REGRESSION else HistGradientBoostingClassifier)(random_state=0)
    started = time.perf_counter()
    model.fit(X_train, y_train)  # categoricals by dtype (scikit-learn's default "from_dtype")
    wall = time.perf_counter() - started
    return holdout_metrics(kind, y_test, lambda: model.predict(X_test), lambda: model.predict_proba(X_test)), wall


def parse_datasets(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    by_lower = {d.lower(): d for d in DATASETS}
    unknown = [n for n in names if n.lower() not in by_lower]
    if unknown or not names:
        raise SystemExit(f"--datasets {text!r}: unknown {unknown or 'empty list'}; choose from {','.join(DATASETS)}")
    return [by_lower[n.lower()] for n in names]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks automl_vs_flaml", description=__doc__)
    parser.add_argument("--budget", type=float, default=60.0, help="seconds each system may search per data set")
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma list of data sets")
    parser.add_argument("--seed", type=int, default=0, help="the outer split's and both systems' seed")
    args = parser.parse_args(argv)
    datasets = parse_datasets(args.datasets)
    loaded = {name: load_dataset(name) for name in datasets}  # a missing ISLP fails before any search

    import flaml
    from sklearn.model_selection import train_test_split

    import maestro_assets.lib.automl.engine  # noqa: F401 (imported before the clock, as flaml is)
    from maestro_assets.lib.automl.budget import available_cores, warm_up

    logging.getLogger("flaml").setLevel(logging.WARNING)
    cores = available_cores()
    warm_up_s = warm_up()  # Maestro's fit-process server: started once per Python process, not per fit
    wins, primary = 0, {}
    for i, name in enumerate(datasets):
        X, y, kind = loaded[name]
        y = encode_target(y, kind)
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.25, random_state=args.seed, stratify=None if kind == REGRESSION else y
        )
        y_test_values = y_test.to_numpy()
        contenders = {"maestro": run_maestro, "flaml": run_flaml}
        order = ("maestro", "flaml") if i % 2 == 0 else ("flaml", "maestro")
        results, load = {}, [round(x, 2) for x in os.getloadavg()]
        for who in order:
            note(f"automl_vs_flaml: {name}: {who} ({args.budget:g}s)")
            results[who] = contenders[who](X_train, y_train, X_test, y_test_values, kind, args.budget, args.seed, cores)
        floor, floor_s = run_floor(X_train, y_train, X_test, y_test_values, kind)
        (mine, mine_s, mine_info), (theirs, theirs_s, theirs_info) = results["maestro"], results["flaml"]
        common = {
            "dataset": name,
            "kind": kind,
            "rows_train": len(y_train),
            "rows_test": len(y_test),
            "columns": X.shape[1],
            "budget_s": args.budget,
            "seed": args.seed,
            "n_jobs": cores,
            "order": list(order),
            "maestro_s": round(mine_s, 2),
            "flaml_s": round(theirs_s, 2),
            "search_metric": MAESTRO_METRIC[kind],
        }
        for metric, value in mine.items():
            lower_is_better = metric == "rmse"
            floor_met = value <= floor[metric] if lower_is_better else value >= floor[metric]
            params = {
                **common,
                "hgb": round(floor[metric], 4),
                "hgb_floor_met": bool(floor_met),
                "hgb_s": round(floor_s, 2),
                "maestro": mine_info,
                "flaml": theirs_info,
                "load_average": load,
            }
            target = f"<= {RMSE_TOLERANCE}" if lower_is_better else f">= {SCORE_TOLERANCE}"
            figure(
                f"automl_vs_flaml.{name}.{metric}",
                value,
                metric,
                "flaml",
                theirs[metric],
                target,
                params,
                target_of="ratio",
            )
        metric = next(iter(m for m in ("roc_auc", "accuracy", "rmse") if m in mine))
        won = mine[metric] <= theirs[metric] if metric == "rmse" else mine[metric] >= theirs[metric]
        wins += won
        primary[name] = {"metric": metric, "maestro": round(mine[metric], 4), "flaml": round(theirs[metric], 4)}
        figure(
            f"automl_vs_flaml.{name}.wall_time",
            mine_s,
            "s",
            "budget",
            args.budget,
            WALL_TIME_TARGET,
            {**common, "flaml_ratio": round(theirs_s / args.budget, 3)},
            target_of="ratio",
        )
    needed = math.ceil(WINS_OF_SEVEN * len(datasets) / len(DATASETS))
    figure(
        "automl_vs_flaml.wins",
        wins,
        "datasets",
        "datasets_run",
        len(datasets),
        f">= {needed}",
        {
            "by_dataset": primary,
            "budget_s": args.budget,
            "seed": args.seed,
            "n_jobs": cores,
            "flaml_version": flaml.__version__,
            "maestro_warm_up_s": round(warm_up_s, 2),
            "cpus": os.cpu_count(),
            "peak_rss_mb": round(peak_rss_mb(), 1),
        },
    )
    return 0
