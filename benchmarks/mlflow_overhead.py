"""mlflow_overhead: what Maestro's MLflow logging adds to a training.

The same 100-trial study (trial-count budget, fixed seed: both contenders run the very same trials)
on the same training-set snapshot, in the same run, alternated: with Maestro's logging — the parent
run, a child run per trial (MlflowClient, one log_batch each, from the background thread), the
leaderboard artifact and the pyfunc model — and without it (the engine's fit alone). The store is a
throwaway SQLite MLflow store, as the embedded default. Target: logging adds at most 5 %.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.harness import figure, note

TARGET = "<= 1.05"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="mlflow_overhead", description=__doc__)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--rows", type=int, default=2000, help="training-set rows (task-lateness features)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    from maestro_assets.lib.automl import AutoML
    from maestro_assets.lib.lake import open_lake
    from maestro_assets.lib.models.training import ModelTraining, SearchSettings, TrainingData
    from maestro_assets.lib.tracking import Tracking
    from maestro_assets_tests.lib.models.snapshots import write_snapshot

    settings = SearchSettings(
        time_budget_s=None,
        max_trials=args.trials,
        families=["logistic_regression", "lightgbm"],
        cv=3,
        n_jobs=1,
        random_state=0,
    )
    with tempfile.TemporaryDirectory() as tmp:
        lake = open_lake(str(Path(tmp) / "lake"))
        write_snapshot(lake, rows=args.rows, seed=0)
        data = TrainingData.latest(lake, "task_lateness")
        tracking = Tracking(f"sqlite:///{Path(tmp) / 'mlflow.db'}", artifact_root=str(Path(tmp) / "artifacts"))
        tracking.check()

        parents = []

        def with_logging() -> float:
            started = time.perf_counter()
            with ModelTraining(tracking, "task_lateness", data, "bench", {"bench": "1"}) as training:
                parents.append(training.run_id)
                automl = training.fit(settings, "classification")
                board = automl.leaderboard().drop(columns=["params"]).to_csv(index=False).encode()
                training.log_artifacts({"leaderboard.csv": board})
                training.log_model(automl, threshold=0.5)
            return time.perf_counter() - started

        def without_logging() -> float:
            X, y = data.part("train")
            started = time.perf_counter()
            AutoML(task="classification", **settings.engine_params()).fit(data.transforms.apply(X), y)
            return time.perf_counter() - started

        without_logging()  # warm the fit processes and imports once, for both
        logged, plain = [], []
        for round_ in range(args.rounds):
            order = (with_logging, without_logging) if round_ % 2 == 0 else (without_logging, with_logging)
            for contender in order:
                (logged if contender is with_logging else plain).append(contender())
            note(f"round {round_ + 1}: with logging {logged[-1]:.2f}s, without {plain[-1]:.2f}s")
        children = len(tracking.child_runs(parents[-1]))
    with_s, without_s = statistics.median(logged), statistics.median(plain)
    figure(
        "mlflow_overhead.vs_no_logging",
        with_s,
        "s",
        "no_logging",
        without_s,
        TARGET,
        {
            "trials": args.trials,
            "rows": args.rows,
            "rounds": args.rounds,
            "with_logging_s": [round(v, 3) for v in logged],
            "without_logging_s": [round(v, 3) for v in plain],
            "child_runs_of_last_training": children,
        },
        target_of="ratio",
    )
    return 0
