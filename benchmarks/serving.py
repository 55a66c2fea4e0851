"""``serving``: predictions of a registered model through MLflow's scoring server over HTTP, with
Maestro's ``lib.models.serving`` (``ScoringServer``: ``mlflow models serve --env-manager local``, one
uvicorn worker on 127.0.0.1, ``dataframe_split`` requests over one kept-alive connection), against
the same model loaded in-process with ``mlflow.pyfunc.load_model`` and its ``predict`` called on the
same rows (the floor), both timed by ``load_test``.

Setup (not timed): a seeded ``HistGradientBoostingClassifier`` trained on ``--rows`` x 30 synthetic
rows (two classes), logged with signature and input example to a throwaway SQLite MLflow store in a
temp dir, registered, alias ``champion``; the server serves ``models:/<name>@champion``. Its HTTP
predictions are checked equal to the floor's on 100 rows (``params.outputs_equal``).

Each of ``--rounds`` rounds runs ``--requests`` requests of 1 row and of 100 rows (3 warm-up requests
not counted) through both contenders, taking turns; figures are medians over rounds:
``serving.p99_1row`` (p99 milliseconds of a 1-row request; target <= 100 ms, baseline the floor's p99)
and ``serving.throughput_100rows`` (predictions per second with 100-row requests; target >= 1,000,
baseline the floor's).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .harness import figure, note, peak_rss_mb

N_FEATURES = 30
FEATURES = [f"f{i:02d}" for i in range(N_FEATURES)]
MODEL_NAME = "maestro-bench-serving"
SIZES = (1, 100)
DISTINCT_PAYLOADS = 20
MAX_SECONDS_PER_RUN = 120.0
HGB_TREE_TYPE = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"


def synthetic(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, N_FEATURES))
    weights = rng.normal(size=N_FEATURES)
    y = (x @ weights + 0.5 * x[:, 0] * x[:, 1] + rng.normal(scale=2.0, size=rows) > 0).astype(np.int64)
    return pd.DataFrame(x, columns=FEATURES), y


def train_and_register(tracking_uri: str, artifact_root: Path, rows: int) -> tuple[str, dict]:
    """Train, log and register the model; alias ``champion``. Returns its URI and a description."""
    import mlflow
    import sklearn
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient
    from sklearn.ensemble import HistGradientBoostingClassifier

    x, y = synthetic(rows, seed=0)
    started = time.perf_counter()
    model = HistGradientBoostingClassifier(random_state=0).fit(x, y)
    train_s = time.perf_counter() - started
    client = MlflowClient(tracking_uri=tracking_uri)
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    try:
        experiment_id = client.create_experiment("maestro/bench_serving", artifact_location=str(artifact_root))
        with mlflow.start_run(experiment_id=experiment_id):
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                signature=infer_signature(x.head(100), model.predict(x.head(100))),
                input_example=x.head(3),
                registered_model_name=MODEL_NAME,
                pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
                # MLflow 3.17 saves sklearn models with skops, which refuses the boosting's tree type
                # unless trusted; this process trained it
                skops_trusted_types=[HGB_TREE_TYPE],
            )
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous
    client.set_registered_model_alias(MODEL_NAME, "champion", str(info.registered_model_version))
    described = {
        "model": "HistGradientBoostingClassifier(random_state=0)",
        "iterations": int(model.n_iter_),
        "training_rows": rows,
        "train_s": round(train_s, 2),
    }
    return f"models:/{MODEL_NAME}@champion", described


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks serving", description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000, help="training rows (30 features)")
    parser.add_argument("--requests", type=int, default=300, help="measured requests per size, contender and round")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds (medians)")
    args = parser.parse_args(argv)

    import mlflow
    import sklearn

    from maestro_assets.lib.models.serving import ScoringServer, load_test, predictions_frame

    tmp = Path(tempfile.mkdtemp(prefix="maestro-bench-serving-"))
    try:
        tracking_uri = f"sqlite:///{tmp / 'mlflow.db'}"
        model_uri, described = train_and_register(tracking_uri, tmp / "artifacts", args.rows)
        os.environ["MLFLOW_TRACKING_URI"] = tracking_uri  # the floor loads models:/ from the same store
        floor_model = mlflow.pyfunc.load_model(model_uri)
        requests_x, _ = synthetic(DISTINCT_PAYLOADS * max(SIZES), seed=1)
        payloads = {
            size: [requests_x.iloc[i * size : (i + 1) * size].reset_index(drop=True) for i in range(DISTINCT_PAYLOADS)]
            for size in SIZES
        }
        started = time.perf_counter()
        with ScoringServer(model_uri, tracking_uri) as server:
            startup_s = time.perf_counter() - started
            check_rows = payloads[100][0]
            outputs_equal = bool(server.predict(check_rows).equals(predictions_frame(floor_model.predict(check_rows))))
            contenders = {"server": server.predict, "in_process": floor_model.predict}
            reports = {(who, size): [] for who in contenders for size in SIZES}
            load = []
            for i in range(args.rounds):
                load.append([round(x, 2) for x in os.getloadavg()])
                order = ("server", "in_process") if i % 2 == 0 else ("in_process", "server")
                for size in SIZES:
                    for who in order:
                        report = load_test(
                            contenders[who],
                            payloads[size],
                            max_requests=args.requests,
                            max_seconds=MAX_SECONDS_PER_RUN,
                            rows_per_request=size,
                        )
                        reports[(who, size)].append(report)
                        note(
                            f"serving: round {i + 1}/{args.rounds} {who} {size} row(s): p50 {report.p50_ms:.2f} ms, "
                            f"p99 {report.p99_ms:.2f} ms, {report.throughput_rows_per_s:.0f} rows/s"
                        )

        def median(who: str, size: int, field: str) -> float:
            return statistics.median(getattr(r, field) for r in reports[(who, size)])

        def by_round(who: str, size: int) -> list[dict]:
            return [{k: round(v, 3) for k, v in r.as_metadata().items() if k != "rows"} for r in reports[(who, size)]]

        params = {
            **described,
            "features": N_FEATURES,
            "requests": args.requests,
            "rounds": args.rounds,
            "warmup_requests": 3,
            "workers": 1,
            "server_path": "lib.models.serving.ScoringServer(models:/…@champion).predict (HTTP dataframe_split)",
            "floor": "mlflow.pyfunc.load_model(models:/…@champion).predict in-process, same rows",
            "outputs_equal": outputs_equal,
            "server_1row": by_round("server", 1),
            "in_process_1row": by_round("in_process", 1),
            "server_100rows": by_round("server", 100),
            "in_process_100rows": by_round("in_process", 100),
            "server_startup_s": round(startup_s, 2),
            "load_average_by_round": load,
            "mlflow_version": mlflow.__version__,
            "sklearn_version": sklearn.__version__,
            "cpus": os.cpu_count(),
            "peak_rss_mb": round(peak_rss_mb(), 1),
        }
        figure(
            "serving.p99_1row",
            median("server", 1, "p99_ms"),
            "ms",
            "in_process_predict_p99",
            median("in_process", 1, "p99_ms"),
            "<= 100",
            params,
        )
        figure(
            "serving.throughput_100rows",
            median("server", 100, "throughput_rows_per_s"),
            "predictions/s",
            "in_process_predict",
            median("in_process", 100, "throughput_rows_per_s"),
            ">= 1000",
            params,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0
