"""``drift``: the drift check of one partition of ``--rows`` rows × ``--features`` features (four in
five numeric, the rest categorical) against a stored reference profile, with Maestro's
``lib.monitoring.check_drift`` (the profile read from its JSON file, then one sort per numeric
column), against the naive way: the reference recomputed from the raw training frame of
``--reference-rows`` rows, ``scipy.stats.ks_2samp`` on every numeric feature and
``scipy.stats.chi2_contingency`` plus PSI on the category counts of both frames, with the same
decision rule (``DriftThresholds``' defaults: p < 0.01 and KS ≥ 0.1 or PSI ≥ 0.2, at least 100
values, a null share up by more than 10 points). The contenders take turns over ``--repeat`` rounds.

Setup (not timed): a seeded training frame and a partition of the same features, some of them
shifted: every fifth numeric feature by a mean shift, variance change or new tail (KS 0.1–0.4),
one by a trivial shift (significant at a million rows, KS < 0.02: not drift by the effect-size
rule), one with nulls rising; one categorical with changed frequencies, one with an unseen
category. The profile is built from the training frame and saved as JSON.

Figures: ``drift.vs_naive`` — Maestro's median seconds against the naive way's (target: a ratio of
at most 0.2, i.e. at least 5× faster); ``drift.decisions_equal`` — 1 when both flag the same
features (params: the features either flags, the largest difference of KS statistics).
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

PSI_FLOOR = 1e-4  # the floor lib.quality.stats uses for a share of 0


def make_frames(rows: int, reference_rows: int, features: int) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The training frame, the partition and the features the partition was made to drift on."""
    rng = np.random.default_rng(0)
    n_categorical = max(1, features // 5)
    n_numeric = features - n_categorical
    train, current, shifted = {}, {}, []
    for i in range(n_numeric):
        name = f"num{i:02d}"
        family = i % 4
        draw = {
            0: lambda n: rng.normal(50.0, 10.0, n),
            1: lambda n: rng.exponential(3.0, n),
            2: lambda n: rng.poisson(4.0, n).astype(np.float64),  # counts: many ties
            3: lambda n: rng.lognormal(1.0, 0.5, n),
        }[family]
        train[name], values = draw(reference_rows), draw(rows)
        if i % 5 == 4:  # a real shift, different per family
            if family == 0:
                values = values + 4.0
            elif family == 1:
                values = values * 1.6
            elif family == 2:
                values = values + rng.poisson(1.0, rows)
            else:
                values = values**1.3
            shifted.append(name)
        elif i == 1:  # a trivial shift: significant at a million rows, KS well under 0.1
            values = values * 1.02
        if i == 2:  # nulls rising from 1 % to 20 %
            train[name][rng.random(reference_rows) < 0.01] = np.nan
            values[rng.random(rows) < 0.2] = np.nan
            shifted.append(name)
        current[name] = values
    levels = np.array([f"level_{k:02d}" for k in range(12)], dtype=object)
    for j in range(n_categorical):
        name = f"cat{j:02d}"
        k = 3 + j % 10
        p = np.linspace(2.0, 1.0, k)
        p /= p.sum()
        train[name] = rng.choice(levels[:k], reference_rows, p=p)
        values = rng.choice(levels[:k], rows, p=p)
        if j == 0:  # frequencies reversed
            values = rng.choice(levels[:k], rows, p=p[::-1])
            shifted.append(name)
        elif j == 1 and n_categorical > 1:  # a quarter of the rows in a category training never saw
            values = np.where(rng.random(rows) < 0.25, "level_unseen", values).astype(object)
            shifted.append(name)
        current[name] = values
    return pd.DataFrame(train), pd.DataFrame(current), shifted


def naive_check(train: pd.DataFrame, current: pd.DataFrame, thresholds) -> dict[str, dict]:
    """The reference recomputed from the raw training frame, scipy's tests on every feature."""
    from scipy.stats import chi2_contingency, ks_2samp

    t = thresholds
    out = {}
    for name in current.columns:
        ref, cur = train[name], current[name]
        ref_null, cur_null = ref.isna().mean(), cur.isna().mean()
        ref, cur = ref.dropna(), cur.dropna()
        stat = p = float("nan")
        drifted = False
        if min(len(ref), len(cur)) >= t.min_rows:
            if pd.api.types.is_numeric_dtype(cur):
                result = ks_2samp(ref.to_numpy(), cur.to_numpy())
                stat, p = float(result.statistic), float(result.pvalue)
                drifted = p < t.p_value and stat >= t.min_ks_statistic
            else:
                a, b = ref.value_counts(), cur.value_counts()
                categories = a.index.union(b.index)
                table = np.vstack([b.reindex(categories, fill_value=0), a.reindex(categories, fill_value=0)])
                p = float(chi2_contingency(table).pvalue)
                shares_cur = np.maximum(table[0] / table[0].sum(), PSI_FLOOR)
                shares_ref = np.maximum(table[1] / table[1].sum(), PSI_FLOOR)
                stat = float(np.sum((shares_cur - shares_ref) * np.log(shares_cur / shares_ref)))
                drifted = p < t.p_value and stat >= t.min_psi
        if t.max_null_share_increase is not None and cur_null - ref_null > t.max_null_share_increase:
            drifted = True
        out[name] = {"statistic": stat, "p_value": p, "drifted": bool(drifted)}
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks drift", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the partition checked")
    parser.add_argument("--reference-rows", type=int, default=None, help="rows of the training frame (default --rows)")
    parser.add_argument("--features", type=int, default=50, help="features (a fifth of them categorical)")
    parser.add_argument("--repeat", type=int, default=3, help="alternated rounds (medians)")
    args = parser.parse_args(argv)
    reference_rows = args.reference_rows or args.rows

    from maestro_assets.lib.monitoring import DriftThresholds, ReferenceProfile, check_drift

    tmp = Path(tempfile.mkdtemp(prefix="maestro-bench-drift-"))
    try:
        started = time.perf_counter()
        train, current, shifted = make_frames(args.rows, reference_rows, args.features)
        profile_path = ReferenceProfile.from_frame(train).save(tmp / "reference_profile.json")
        thresholds = DriftThresholds()
        warm = current.iloc[:2_000]  # first calls import scipy's pieces: not timed
        check_drift(ReferenceProfile.load(profile_path), warm, thresholds)
        naive_check(train.iloc[:2_000], warm, thresholds)
        setup_s = time.perf_counter() - started
        times = {"maestro": [], "naive": []}
        load = []
        maestro = naive = None
        for i in range(args.repeat):
            load.append([round(x, 2) for x in os.getloadavg()])
            order = ("maestro", "naive") if i % 2 == 0 else ("naive", "maestro")
            for who in order:
                start = time.perf_counter()
                if who == "maestro":
                    maestro = check_drift(ReferenceProfile.load(profile_path), current, thresholds)
                else:
                    naive = naive_check(train, current, thresholds)
                times[who].append(round(time.perf_counter() - start, 4))
            note(f"drift: round {i + 1}/{args.repeat}: {times['maestro'][-1]}s vs naive {times['naive'][-1]}s")
        mine, floor = statistics.median(times["maestro"]), statistics.median(times["naive"])
        flagged_maestro = sorted(maestro.drifted_features)
        flagged_naive = sorted(name for name, v in naive.items() if v["drifted"])
        ks_gaps = [
            abs(f.statistic - naive[f.feature]["statistic"])
            for f in maestro.features
            if f.kind == "numeric" and f.judged and not np.isnan(naive[f.feature]["statistic"])
        ]
        common = {
            "rows": args.rows,
            "reference_rows": reference_rows,
            "features": args.features,
            "numeric": sum(k == "numeric" for k in maestro.table()["kind"]),
            "repeats": args.repeat,
            "maestro_s": times["maestro"],
            "naive_s": times["naive"],
            "maestro_path": "check_drift(ReferenceProfile.load(path), partition, DriftThresholds())",
            "naive": "ks_2samp per numeric feature, value_counts + chi2_contingency + PSI per categorical, "
            "on the raw training frame and the partition",
            "thresholds": thresholds.to_dict(),
            "profile_json_bytes": profile_path.stat().st_size,
            "load_average_by_round": load,
            "cpus": os.cpu_count(),
            "setup_s": round(setup_s, 2),
            "peak_rss_mb": round(peak_rss_mb(), 1),
        }
        figure(
            "drift.vs_naive",
            mine,
            "s",
            "naive_ks_2samp_chi2",
            floor,
            "<= 0.2",
            {**common, "speedup": round(floor / mine, 2) if mine else None},
            target_of="ratio",
        )
        equal = flagged_maestro == flagged_naive
        figure(
            "drift.decisions_equal",
            1.0 if equal else 0.0,
            "bool",
            "naive_decisions",
            1.0,
            ">= 1",
            {
                **common,
                "flagged_by_maestro": flagged_maestro,
                "flagged_by_naive": flagged_naive,
                "made_to_drift": sorted(shifted),
                "largest_ks_statistic_difference": round(max(ks_gaps, default=0.0), 6),
                "trivial_shift": {  # significant at this size, too small to be drift
                    f.feature: {"ks": round(f.statistic, 5), "p_value": f.p_value, "drifted": f.drifted}
                    for f in maestro.features
                    if f.feature == "num01"
                },
            },
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0
