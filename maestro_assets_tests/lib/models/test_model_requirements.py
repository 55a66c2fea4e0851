"""Model requirements: the real models.yaml, errors naming file, model and key, the cost-minimising
threshold on hand-checked cases, metrics, and requirement results that say what failed and where."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from maestro_assets.lib import settings
from maestro_assets.lib.models.requirements import (
    ModelRequirementsError,
    choose_threshold,
    classification_metrics,
    evaluate_serving,
    evaluate_training,
    load_model_requirements,
    regression_metrics,
    requirements_markdown,
)

DEMO = load_model_requirements(settings.PACKAGE_ROOT / "models.yaml")

# hand-checked: positives at 0.3, 0.6, 0.8; negatives at 0.2, 0.4, 0.7
Y = [0, 1, 0, 1, 0, 1]
P = [0.2, 0.3, 0.4, 0.6, 0.7, 0.8]


def test_the_demo_file_declares_both_models():
    lateness, success = DEMO["task_lateness"], DEMO["project_success"]
    assert (lateness.name, lateness.task, lateness.training_set) == (
        "task_lateness",
        "classification",
        "training_set_task_lateness",
    )
    assert (success.task, success.training_set, success.primary_metric) == (
        "regression",
        "training_set_project_success",
        "r2",
    )
    assert lateness.costs.false_negative > lateness.costs.false_positive
    assert success.costs is None and success.baseline["rmse_max"] > 0
    assert lateness.greater_is_better and Path(lateness.source).name == "models.yaml"


def test_models_file_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(settings.ENV_MODELS, raising=False)
    assert settings.models_file() == settings.PACKAGE_ROOT / "models.yaml"
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump({"models": {"only": _entry()}}))
    monkeypatch.setenv(settings.ENV_MODELS, str(mine))
    assert settings.models_file() == mine
    loaded = load_model_requirements()
    assert list(loaded) == ["only"] and loaded["only"].where("costs") == "mine.yaml: only.costs"


def _entry(**changes) -> dict:
    entry = yaml.safe_load((settings.PACKAGE_ROOT / "models.yaml").read_text())["models"]["task_lateness"]
    entry.update(changes)
    return {k: v for k, v in entry.items() if v is not None}


def _error(tmp_path, document) -> str:
    path = tmp_path / "models.yaml"
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document))
    with pytest.raises(ModelRequirementsError) as caught:
        load_model_requirements(path)
    return str(caught.value)


def test_file_errors_name_the_file_the_model_and_the_key(tmp_path):
    path = str(tmp_path / "models.yaml")
    typo = _error(tmp_path, {"models": {"late": _entry(baseline={"recal": 0.5})}})
    assert typo.startswith(path) and "late: baseline.recal: not a classification metric" in typo
    assert "use one of roc_auc, accuracy, precision, recall, f1, log_loss_max" in typo
    extra = _error(tmp_path, {"models": {"late": _entry(threshold=0.4)}})
    assert path in extra and "late.threshold: Extra inputs are not permitted" in extra
    nested = _error(tmp_path, {"models": {"late": _entry(serving={"p99_ms": 100, "min_throughput": 5})}})
    assert "late.serving.min_throughput: Extra inputs are not permitted" in nested
    assert "late.serving.min_throughput_per_s: Field required" in nested
    error_metric = _error(tmp_path, {"models": {"late": _entry(baseline={"log_loss": 0.5})}})
    assert "late: baseline.log_loss: log_loss is an error metric" in error_metric
    assert "write log_loss_max: 0.5" in error_metric
    regression = _entry(task="regression", primary_metric="rmse", baseline={"r2": 0.1})
    assert "late: costs: only a classifier" in _error(tmp_path, {"models": {"late": regression}})
    metric = _error(tmp_path, {"models": {"late": _entry(primary_metric="auc")}})
    assert "primary_metric 'auc' is not a classification metric" in metric
    counts = _error(tmp_path, {"models": {"late": _entry(features={"min": 10, "max": 5})}})
    assert "late.features: max (5) is below min (10)" in counts
    assert "must hold one key, `models:`" in _error(tmp_path, {"late": _entry()})
    assert "is not valid YAML" in _error(tmp_path, "models: [unclosed")


def test_a_missing_file_names_the_variable_to_set(tmp_path):
    with pytest.raises(ModelRequirementsError, match=r"nope\.yaml.*set MAESTRO_MODELS"):
        load_model_requirements(tmp_path / "nope.yaml")


def test_costs_move_the_threshold_to_the_cheaper_side_of_one_half():
    # FN at each candidate 0.2..0.8: 0 0 1 1 1 2; FP: 3 2 2 1 1 0; at 0.5: FN 1, FP 1
    missing_is_dear = choose_threshold(Y, P, cost_false_negative=5, cost_false_positive=1)
    assert missing_is_dear.threshold == 0.3  # costs 3 2 7 6 6 10
    assert missing_is_dear.expected_cost_per_row == pytest.approx(2 / 6)
    assert missing_is_dear.cost_at_0_5 == pytest.approx(6 / 6)
    false_alarm_is_dear = choose_threshold(Y, P, cost_false_negative=1, cost_false_positive=5)
    assert false_alarm_is_dear.threshold == 0.8  # costs 15 10 11 6 6 2
    assert false_alarm_is_dear.expected_cost_per_row == pytest.approx(2 / 6)


def test_the_vectorised_threshold_is_the_brute_force_minimum():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    p = np.round(np.clip(0.3 * y + rng.random(400) * 0.7, 0, 1), 2)  # ties included
    choice = choose_threshold(y, p, 3.0, 1.0)
    brute = {t: (3 * np.sum((y == 1) & (p < t)) + np.sum((y == 0) & (p >= t))) / len(y) for t in np.unique(p)}
    assert choice.expected_cost_per_row == pytest.approx(min(brute.values()))
    assert brute[choice.threshold] == pytest.approx(choice.expected_cost_per_row)
    with pytest.raises(ValueError, match="0 and 1 only"):
        choose_threshold([0, 2], [0.1, 0.2], 1, 1)


def test_metrics_at_a_threshold():
    got = classification_metrics(Y, P, threshold=0.3)  # predicted 0 1 1 1 1 1: TP 3, FP 2, TN 1, FN 0
    assert got["accuracy"] == pytest.approx(4 / 6)
    assert got["precision"] == pytest.approx(3 / 5) and got["recall"] == 1.0 and got["f1"] == pytest.approx(0.75)
    assert got["roc_auc"] == pytest.approx(6 / 9)
    assert math.isnan(classification_metrics([1, 1], [0.2, 0.9])["roc_auc"])
    reg = regression_metrics([1, 2, 3], [1, 2, 5])
    assert reg == pytest.approx({"r2": -1.0, "rmse": math.sqrt(4 / 3), "mae": 2 / 3})


def test_failing_requirements_say_what_failed_and_where():
    lateness = DEMO["task_lateness"]
    metrics = {"roc_auc": 0.8, "accuracy": 0.7, "precision": 0.5, "recall": 0.41}  # f1 not computed
    results = {r.name: r for r in evaluate_training(lateness, metrics, 950.0, 400, 0.01, 120)}
    failed = sorted(name for name, r in results.items() if not r.passed)
    assert failed == [
        "baseline.f1",
        "baseline.recall",
        "data.min_positive_ratio",
        "data.min_training_rows",
        "features.max",
        "max_training_seconds",
    ]
    recall = results["baseline.recall"].detail
    assert recall == "recall 0.41 < 0.50 required (models.yaml: task_lateness.baseline.recall)"
    assert results["baseline.f1"].detail == "f1 was not measured (models.yaml: task_lateness.baseline.f1)"
    assert results["max_training_seconds"].detail.startswith("training time 950 s > 900 s allowed at most")
    assert results["baseline.roc_auc"].passed and results["features.min"].passed
    success = DEMO["project_success"]
    regression = {r.name: r for r in evaluate_training(success, {"r2": -0.1, "rmse": 16.2}, 5, 80, None, 20)}
    assert not regression["baseline.rmse_max"].passed and not regression["baseline.r2"].passed
    assert "rmse 16.20 > 16 allowed at most (models.yaml: project_success.baseline.rmse_max)" == (
        regression["baseline.rmse_max"].detail
    )
    assert "data.min_positive_ratio" not in regression


def test_serving_requirements_and_their_table():
    results = evaluate_serving(DEMO["task_lateness"], p99_ms=140.0, throughput_per_s=2500.0)
    assert [(r.name, r.passed) for r in results] == [("serving.p99_ms", False), ("serving.min_throughput_per_s", True)]
    table = requirements_markdown(results).splitlines()
    assert table[0] == "| requirement | status | value | limit | detail |" and len(table) == 4
    assert table[2].startswith("| serving.p99_ms | **FAIL** | 140 | 100 | p99 latency 140 ms > 100 ms allowed at most")
    assert table[3].startswith("| serving.min_throughput_per_s | pass | 2500 | 1000 |")
