"""Drift against a reference profile: hand-checkable frames whose drift (or its absence) is known."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from maestro_assets.lib.monitoring import (
    DriftInputError,
    DriftThresholds,
    ReferenceProfile,
    check_drift,
    counts_at_points,
    prediction_drift,
    prediction_profile,
)


def training(n: int = 20_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "hours": rng.normal(10.0, 2.0, n),
            "delay": rng.exponential(3.0, n),
            "story_points": rng.integers(1, 9, n),
            "priority": rng.choice(np.array(["low", "medium", "high"], dtype=object), n, p=[0.5, 0.3, 0.2]),
            "blocked": rng.random(n) < 0.1,
        }
    )


@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    return ReferenceProfile.from_frame(training())


def verdict(report, feature: str):
    return next(f for f in report.features if f.feature == feature)


def test_profile_kinds(profile):
    assert profile.kinds == {
        "hours": "numeric",
        "delay": "numeric",
        "story_points": "numeric",
        "priority": "categorical",
        "blocked": "categorical",
    }
    assert ReferenceProfile.from_frame(training(500), categorical=["story_points"]).kinds["story_points"] == (
        "categorical"
    )


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_fresh_sample_of_the_same_distribution_does_not_drift(profile, seed):
    report = check_drift(profile, training(5_000, seed))
    assert report.drifted_features == [], report.markdown()
    assert report.share_drifted == 0.0 and not report.drifted
    assert all(f.judged for f in report.features)


def test_mean_shift_and_variance_change_are_detected(profile):
    current = training(5_000, 7)
    current["hours"] += 1.0  # half a standard deviation: KS about 0.2
    current["delay"] = current["delay"] * 2.0
    report = check_drift(profile, current)
    assert report.drifted_features == ["hours", "delay"]
    assert verdict(report, "hours").statistic == pytest.approx(0.197, abs=0.03)
    assert report.share_drifted == pytest.approx(2 / 5)
    assert report.drifted


def test_variance_change_with_the_same_mean_is_detected(profile):
    current = training(5_000, 8)
    current["hours"] = 10.0 + (current["hours"] - 10.0) * 2.0
    assert check_drift(profile, current).drifted_features == ["hours"]


def test_categorical_frequency_change_is_detected(profile):
    current = training(5_000, 9)
    rng = np.random.default_rng(9)
    current["priority"] = rng.choice(np.array(["low", "medium", "high"], dtype=object), 5_000, p=[0.2, 0.3, 0.5])
    report = check_drift(profile, current)
    assert report.drifted_features == ["priority"]
    row = verdict(report, "priority")
    # PSI by hand: (0.2-0.5)ln(0.2/0.5) + 0 + (0.5-0.2)ln(0.5/0.2) = 0.6 ln 2.5 = 0.55
    assert row.psi == pytest.approx(0.6 * np.log(2.5), abs=0.05)
    assert row.p_value < 1e-10


def test_a_new_unseen_category_is_detected_and_named(profile):
    current = training(5_000, 10)
    current.loc[:1_499, "priority"] = "critical"  # 30 % of rows
    row = verdict(check_drift(profile, current), "priority")
    assert row.drifted
    assert "unseen categories: 'critical' (30.0%)" in row.reason


def test_too_few_rows_are_not_judged(profile):
    current = training(50, 11)
    current["hours"] += 100.0  # would be drift with enough rows
    report = check_drift(profile, current)
    assert report.drifted_features == []
    assert report.not_judged == list(profile.features)
    assert "not enough data" in verdict(report, "hours").reason
    assert report.share_drifted == 0.0


def test_a_rising_null_share_is_drift(profile):
    current = training(5_000, 12)
    current.loc[:1_999, "hours"] = np.nan  # 40 % nulls, none in training
    row = verdict(check_drift(profile, current), "hours")
    assert row.drifted and row.null_share_current == pytest.approx(0.4)
    assert "null share rose from 0.0% to 40.0%" in row.reason
    assert row.n_current == 3_000


def test_a_million_rows_flag_a_real_shift_but_not_a_trivial_one():
    rng = np.random.default_rng(13)
    profile = ReferenceProfile.from_frame(pd.DataFrame({"x": rng.normal(size=200_000)}))
    tiny = pd.DataFrame({"x": rng.normal(0.02, 1.0, 1_000_000)})  # KS about 0.008: significant, trivial
    row = verdict(check_drift(profile, tiny), "x")
    assert row.p_value < 0.01 and row.statistic < 0.02
    assert not row.drifted and "too small to matter" in row.reason
    real = pd.DataFrame({"x": rng.normal(0.5, 1.0, 1_000_000)})
    assert verdict(check_drift(profile, real), "x").drifted


@pytest.mark.parametrize("shift", [0.0, 0.05, 0.3])
def test_statistic_and_p_value_match_scipy_on_the_full_data(shift):
    rng = np.random.default_rng(14)
    reference, current = rng.gamma(2.0, size=100_000), rng.gamma(2.0, size=30_000) + shift
    row = verdict(
        check_drift(ReferenceProfile.from_frame(pd.DataFrame({"x": reference})), pd.DataFrame({"x": current})), "x"
    )
    exact = stats.ks_2samp(reference, current)
    assert row.statistic == pytest.approx(exact.statistic, abs=1 / 2048 + 1e-6)
    assert row.statistic <= exact.statistic + 1e-6  # the sketch can only miss a gap, never invent one
    assert row.p_value == pytest.approx(exact.pvalue, rel=0.5, abs=1e-12)


def test_statistic_is_exact_when_every_distinct_value_is_kept():
    rng = np.random.default_rng(15)
    reference, current = rng.integers(0, 50, 100_000), rng.integers(0, 55, 20_000)
    row = verdict(
        check_drift(ReferenceProfile.from_frame(pd.DataFrame({"x": reference})), pd.DataFrame({"x": current})), "x"
    )
    assert row.statistic == pytest.approx(stats.ks_2samp(reference, current).statistic, abs=1e-9)


def test_json_round_trip_gives_the_same_report(profile, tmp_path):
    current = training(3_000, 16)
    current["hours"] += 0.5
    again = ReferenceProfile.load(profile.save(tmp_path / "reference_profile.json"))
    assert json.loads(json.dumps(again.to_dict())) == profile.to_dict()
    pd.testing.assert_frame_equal(check_drift(again, current).table(), check_drift(profile, current).table())


def test_missing_and_extra_columns_are_named(profile):
    current = training(1_000, 17).drop(columns=["delay"]).assign(task_id=1)
    with pytest.raises(
        DriftInputError, match=r"missing profiled features: delay; columns the profile does not know: task_id"
    ):
        check_drift(profile, current)


def test_a_numeric_feature_arriving_as_text_is_named(profile):
    current = training(1_000, 18).assign(hours=lambda f: f["hours"].astype(str))
    with pytest.raises(DriftInputError, match=r"feature 'hours' is numeric .* arrives as object"):
        check_drift(profile, current)


def test_prediction_drift_on_probabilities():
    rng = np.random.default_rng(19)
    stored = prediction_profile(rng.beta(2, 5, 10_000), name="probability")
    assert prediction_drift(stored, rng.beta(2, 5, 5_000)).drifted_features == []
    shifted = prediction_drift(stored, rng.beta(5, 2, 5_000))
    assert shifted.drifted_features == ["probability"]
    assert prediction_drift(rng.beta(2, 5, 10_000), rng.beta(5, 2, 5_000)).drifted  # raw reference values


def test_markdown_table_and_plot(profile):
    current = training(5_000, 20)
    current["hours"] += 1.0
    report = check_drift(profile, current)
    text = report.markdown()
    assert text.startswith("**1 of 5 features drifted**")
    assert text.splitlines()[4].startswith("| hours | numeric | ks |")  # drifted first
    table = report.table()
    assert list(table["feature"]) == list(profile.features) and table["drifted"].sum() == 1
    buffer = io.BytesIO()
    report.plot_png(buffer)
    assert buffer.getvalue()[:8] == b"\x89PNG\r\n\x1a\n" and len(buffer.getvalue()) > 10_000


def test_thresholds_reject_nonsense():
    with pytest.raises(DriftInputError, match="p_value must be between 0 and 1"):
        DriftThresholds(p_value=5)


@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(21).normal(0.3, 1.2, 50_000),  # partly outside the points' range
        np.random.default_rng(22).integers(-3, 12, 50_000).astype(float),  # ties on the points
        np.r_[np.random.default_rng(23).normal(size=1_000), [np.inf, -np.inf, 1e30, -1e30]],
    ],
)
@pytest.mark.parametrize("outliers", [False, True])  # points crowded into a few cells: binary search
def test_counts_at_points_equal_searchsorted(values, outliers):
    points = np.unique(np.r_[np.random.default_rng(24).normal(size=2_000), np.arange(-2, 10)]).astype(np.float32)
    if outliers:
        points = np.r_[points, np.float32(1e9)]
    values = values.astype(np.float32)
    below, at = counts_at_points(points, values)
    ordered = np.sort(values)
    np.testing.assert_array_equal(below, np.searchsorted(ordered, points, side="left"))
    np.testing.assert_array_equal(below + at, np.searchsorted(ordered, points, side="right"))
