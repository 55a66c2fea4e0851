"""Serving ``models:/<name>@champion`` through MLflow's real scoring server over HTTP on 127.0.0.1."""

from __future__ import annotations

import socket

import numpy as np
import pandas as pd
import pytest

from maestro_assets.lib.models.serving import (
    LatencyReport,
    ScoringServer,
    ServingError,
    load_test,
    predictions_frame,
)

FEATURES = ["hours_logged", "open_subtasks", "days_to_due", "reassignments"]
MODEL_NAME = "maestro-test-serving"


def feature_rows(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "hours_logged": rng.gamma(2.0, 3.0, n),
            "open_subtasks": rng.integers(0, 8, n).astype(np.int64),
            "days_to_due": rng.normal(5.0, 4.0, n),
            "reassignments": rng.integers(0, 3, n).astype(np.int64),
        }
    )


def register_champion(tracking_uri: str, name: str, artifact_root: str | None = None) -> str:
    """A small sklearn classifier logged with signature and input example, registered as ``name``
    with alias ``champion``; returns ``models:/<name>@champion``. ``artifact_root`` for a local
    store (MLflow's default is ``./mlruns`` in the working directory); a server keeps its own."""
    import mlflow
    import sklearn
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient
    from sklearn.linear_model import LogisticRegression

    train = feature_rows(300, seed=0)
    late = (train["hours_logged"] - train["days_to_due"] + train["open_subtasks"] > 6).astype(np.int64)
    model = LogisticRegression(max_iter=500).fit(train, late)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_TRACKING_URI", tracking_uri)
        env.delenv("MLFLOW_REGISTRY_URI", raising=False)
        client = MlflowClient(tracking_uri=tracking_uri)
        experiment_id = client.create_experiment(f"maestro/test_serving/{name}", artifact_location=artifact_root)
        with mlflow.start_run(experiment_id=experiment_id):
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                signature=infer_signature(train, model.predict(train)),
                input_example=train.head(3),
                registered_model_name=name,
                pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
            )
    client.set_registered_model_alias(name, "champion", str(info.registered_model_version))
    return f"models:/{name}@champion"


@pytest.fixture(scope="module")
def store_root(tmp_path_factory):
    return tmp_path_factory.mktemp("mlflow")


@pytest.fixture(scope="module")
def store_uri(store_root) -> str:
    return f"sqlite:///{store_root / 'mlflow.db'}"


@pytest.fixture(scope="module")
def champion(store_uri, store_root) -> str:
    return register_champion(store_uri, MODEL_NAME, artifact_root=str(store_root / "artifacts"))


@pytest.fixture(scope="module")
def server(champion, store_uri):
    with ScoringServer(champion, store_uri) as running:
        yield running
    with socket.socket() as probe:  # stopped on exit: nothing listens on its port any more
        assert probe.connect_ex(("127.0.0.1", running.port)) != 0


def in_process_predictions(model_uri: str, tracking_uri: str, rows: pd.DataFrame) -> pd.DataFrame:
    import mlflow

    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_TRACKING_URI", tracking_uri)
        model = mlflow.pyfunc.load_model(model_uri)
    return predictions_frame(model.predict(rows))


def test_http_predictions_equal_the_loaded_models(server, champion, store_uri):
    rows = feature_rows(200, seed=7)
    over_http = server.predict(rows)
    in_process = in_process_predictions(champion, store_uri, rows)
    assert server.url.startswith("http://127.0.0.1:")
    assert len(over_http) == 200
    assert over_http["prediction"].nunique() == 2  # both classes occur, so equality means something
    pd.testing.assert_frame_equal(over_http, in_process, check_dtype=False)


def test_load_test_reports_consistent_latencies(server):
    payloads = [feature_rows(10, seed=s) for s in range(5)]
    report = load_test(server.predict, payloads, max_requests=50, max_seconds=60, rows_per_request=10)
    assert isinstance(report, LatencyReport)
    assert report.requests == 50
    assert report.rows == 500
    assert 0 < report.p50_ms <= report.p95_ms <= report.p99_ms
    assert report.p50_ms < report.seconds * 1000  # one request is shorter than all of them
    assert report.throughput_rows_per_s == pytest.approx(report.rows / report.seconds)
    metadata = report.as_metadata()
    assert set(metadata) == {"p50_ms", "p95_ms", "p99_ms", "requests", "rows", "seconds", "throughput_rows_per_s"}
    assert all(type(value) is float for value in metadata.values())


def test_load_test_stops_at_the_time_bound_and_skips_warm_up():
    calls = []

    def slow_call(payload):
        calls.append(payload)
        import time

        time.sleep(0.02)

    report = load_test(slow_call, [[1, 2, 3]], max_requests=10_000, max_seconds=0.2, warmup=2)
    assert 3 <= report.requests < 20  # the 0.2 s bound, not the 10,000 requests
    assert len(calls) == report.requests + 2
    assert report.rows == 3 * report.requests  # len(payload) rows per request by default
    with pytest.raises(ValueError, match="payloads is empty"):
        load_test(slow_call, [], max_requests=1, max_seconds=1)


def test_a_request_the_model_refuses_names_the_model(server, champion):
    with pytest.raises(ServingError, match="HTTP 400") as failure:
        server.predict(pd.DataFrame({"unknown_column": [1.0]}))
    assert champion in str(failure.value)


def test_a_model_uri_that_does_not_resolve_fails_fast(store_uri, champion):
    import time

    missing = f"models:/{MODEL_NAME}@nope"
    started = time.monotonic()
    with pytest.raises(ServingError) as failure:
        with ScoringServer(missing, store_uri, startup_timeout_s=90):
            pass
    message = str(failure.value)
    assert missing in message
    assert "exited with code" in message  # the process ended: not the 90 s timeout
    assert "nope" in message.split("exited with code", 1)[1].splitlines()[0]  # MLflow's error line
    assert time.monotonic() - started < 60


@pytest.mark.slow  # a tracking server and a scoring server: a multi-process topology, ~1 min
def test_serves_a_model_registered_on_a_tracking_server(mlflow_server):
    """The production shape: the registry and the model's artifacts behind a real ``mlflow server``."""
    champion = register_champion(mlflow_server, "maestro-test-serving-remote")
    rows = feature_rows(50, seed=3)
    with ScoringServer(champion, mlflow_server) as remote:
        over_http = remote.predict(rows)
    pd.testing.assert_frame_equal(over_http, in_process_predictions(champion, mlflow_server, rows), check_dtype=False)
