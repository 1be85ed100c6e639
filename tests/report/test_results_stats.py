"""Loading results folders, summaries, paired tests, Holm, bootstrap, seeds."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from report_fixtures import FILES, write_results
from scipy import stats as sps

from synthboost.report import stats
from synthboost.report.results import load_results, run_from_parts, select_run


def test_load_results_our_layout(results_dir):
    df = load_results(results_dir)
    assert len(df) == 3 * 2 * 2 * 3 * len(FILES)
    assert set(df["encoders"]) == {"trained", "frozen"} and set(df["prompt"]) == {"p0", "p1", "p2"}
    row = df.iloc[0]
    assert row["key"].startswith("mask_") and row["patient"].startswith("patient")
    assert set(df["structure"]) == {"lv", "myo", "la"} and set(df["view"]) == {"2CH", "4CH"}


def test_reference_folder_names_are_mapped(tmp_path):
    run = run_from_parts(("pt_on_sdm_camus_ft_on_camus_metrics_reduce_lr", "clip_seg_bs_128", "p3"), tmp_path)
    assert run == {
        "strategy": "synth-pt-real-ft",
        "model": "CLIPSeg",
        "encoders": "trained",
        "prompt": "p3",
        "seed": 0,
    }
    with pytest.raises(ValueError, match="p<k>"):
        run_from_parts(("a", "b", "c"), tmp_path / "metrics.csv")


def test_summarize_uses_ddof_1(results_dir):
    df = load_results(results_dir)
    s = stats.summarize(df)
    one = select_run(df, strategy="real", model="CRIS", encoders="trained", prompt="p1")
    got = s[(s.strategy == "real") & (s.model == "CRIS") & (s.encoders == "trained") & (s.prompt == "p1")]
    assert got["std"].item() == pytest.approx(np.std(one["dice"], ddof=1))
    assert got["n"].item() == len(FILES)
    by_structure = stats.summarize(df, by=("strategy", "structure"))
    assert len(by_structure) == 9


def _runs(a, b):
    keys = [f"mask_1/patient{i // 2:04d}_2CH_E{'DS'[i % 2]}_gt.png" for i in range(len(a))]

    def mk(v):
        patients = [f"patient{i // 2:04d}" for i in range(len(v))]
        return pd.DataFrame({"key": keys, "patient": patients, "dice": v})

    return mk(np.asarray(a, float)), mk(np.asarray(b, float))


def test_paired_tests_match_scipy_and_patient_level():
    rng = np.random.default_rng(1)
    x = rng.normal(80, 5, 20)
    y = x - 1 + rng.normal(0, 1, 20)
    a, b = _runs(x, y)
    w = stats.paired_test(a, b, alternative="greater", level="image", n_boot=500)
    assert w.p_value == pytest.approx(sps.wilcoxon(x, y, alternative="greater").pvalue)
    t = stats.paired_test(a, b, test="ttest", level="image", n_boot=500)
    assert t.p_value == pytest.approx(sps.ttest_rel(x, y).pvalue)
    assert t.mean_diff == pytest.approx((x - y).mean()) and t.ci_low < t.mean_diff < t.ci_high
    pt = stats.paired_test(a, b, test="ttest", n_boot=500)  # patient level is the default
    xm, ym = x.reshape(10, 2).mean(1), y.reshape(10, 2).mean(1)
    assert pt.level == "patient" and pt.n == 10 and pt.p_value == pytest.approx(sps.ttest_rel(xm, ym).pvalue)
    diffs = xm - ym  # the bootstrap resamples patients: same CI as bootstrapping the patient differences
    assert (pt.ci_low, pt.ci_high) == pytest.approx(stats.bootstrap_ci(diffs, n_boot=500))


def test_patient_level_default_does_not_pseudo_replicate():
    """No systematic effect, only patient-level variation: image-level tests reject far too often."""
    n_pat, per = 12, 12
    keys = [f"mask_1/patient{i // per:04d}_{i % per}_gt.png" for i in range(n_pat * per)]
    frame = {"key": keys, "patient": [f"patient{i // per:04d}" for i in range(n_pat * per)]}
    rejected = {"image": 0, "patient": 0}
    for seed in range(20):
        rng = np.random.default_rng(seed)
        shift = np.repeat(rng.normal(0, 3, n_pat), per)  # A better on some patients, worse on others
        a = pd.DataFrame({**frame, "dice": 80 + shift + rng.normal(0, 0.5, n_pat * per)})
        b = pd.DataFrame({**frame, "dice": 80 + rng.normal(0, 0.5, n_pat * per)})
        for level in rejected:
            rejected[level] += stats.paired_test(a, b, level=level, n_boot=0).p_value < 0.05
    assert rejected == {"image": 11, "patient": 0}  # nominal rate 5 %: 1 of 20
    assert stats.paired_test(a, b, n_boot=0).level == "patient" and stats.LEVELS[0] == "patient"
    assert "correlated" in stats.LEVEL_LABELS["image"]


def test_pairing_errors_and_bad_options():
    a, b = _runs([1, 2, 3, 4], [1, 2, 3, 5])
    b.loc[0, "key"] = "mask_9/other.png"
    with pytest.raises(ValueError, match="do not pair"):
        stats.paired_test(a, b)
    with pytest.raises(ValueError, match="alternative"):
        stats.paired_test(a, a, alternative="bigger")


def test_holm_known_values():
    np.testing.assert_allclose(stats.holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(stats.holm([0.5, 0.6]), [1.0, 1.0])


def test_holm_leaves_nan_out_of_the_family():
    np.testing.assert_allclose(
        stats.holm([0.01, np.nan, 0.04, 0.03, np.nan]), [0.03, np.nan, 0.06, 0.06, np.nan]
    )
    assert np.isnan(stats.holm([np.nan])).all() and stats.holm([]).size == 0


def test_bootstrap_seeded():
    d = np.arange(10.0)
    assert stats.bootstrap_ci(d, seed=3) == stats.bootstrap_ci(d, seed=3)
    lo, hi = stats.bootstrap_ci(d, n_boot=2000, seed=0)
    assert lo < 4.5 < hi and hi - lo < 5


def test_across_seeds(tmp_path):
    df = load_results(write_results(tmp_path / "r", seeds=(0, 1, 2)))
    assert set(df["seed"]) == {0, 1, 2}
    out = stats.across_seeds(df)
    row = out[
        (out.strategy == "real") & (out.model == "CRIS") & (out.encoders == "trained") & (out.prompt == "p1")
    ]
    per_seed = df[
        (df.strategy == "real") & (df.model == "CRIS") & (df.encoders == "trained") & (df.prompt == "p1")
    ]
    means = per_seed.groupby("seed")["dice"].mean()
    assert row["mean"].item() == pytest.approx(means.mean()) and row["n_seeds"].item() == 3
    half = sps.t.ppf(0.975, 2) * means.std() / np.sqrt(3)
    assert row["ci_high"].item() == pytest.approx(means.mean() + half)


def test_compare_runs_adds_holm(results_dir):
    df = load_results(results_dir)
    base = {"model": "CRIS", "encoders": "trained"}
    comps = [({"strategy": s, "prompt": p, **base}, {"strategy": "real", "prompt": p, **base})
             for s in ("synthetic", "synth-pt-real-ft") for p in ("p1", "p2")]  # fmt: skip
    res = stats.compare_runs(df, comps, test="ttest", n_boot=200)
    assert len(res) == 4 and (res["p_holm"] >= res["p_value"]).all()
    assert (res.loc[res.a.str.startswith("synthetic"), "mean_diff"] < 0).all()
    assert res["a"].iloc[0] in {"synthetic · CRIS · P1", "synthetic · CRIS · P2"}  # readable names


def test_paired_test_with_one_pair_is_nan_not_a_warning() -> None:
    import warnings

    from synthboost.report.stats import paired_test

    a = pd.DataFrame({"key": ["mask_1/x.png"], "patient": ["patient0001"], "dice": [80.0]})
    b = a.assign(dice=[70.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = paired_test(a, b, test="ttest", level="patient", n_boot=10)
    assert res.n == 1 and res.mean_diff == 10.0
    assert math.isnan(res.p_value) and math.isnan(res.statistic)
