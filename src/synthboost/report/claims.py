"""Claimed boosts, each against a named baseline: equal epochs (the paper's) and equal compute.

A synth-PT → real-FT run trains twice (pre-training, then fine-tuning). The paper compared it
with a real-only run of the fine-tuning's epochs — partly a comparison of more training with
less. Here every boost is shown against both baselines present in the results: ``real`` (equal
epochs, labelled so) and ``real-equal-steps`` (as many optimiser steps as PT + FT), with the
patient-level paired test and bootstrap CI, and the optimiser steps behind each side when the
run folders are known. Across seeds, the gain of each seed is summarised as mean ± t-based 95 % CI.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from synthboost.report import stats
from synthboost.report.results import EQUAL_STEPS, select_run

BOOSTED = "synth-pt-real-ft"
#: Baselines of a boost: strategy -> how the comparison is named.
BASELINES: dict[str, str] = {
    EQUAL_STEPS: "equal compute (optimiser steps of PT + FT)",
    "real": "equal epochs (the paper's baseline; fewer steps)",
}
RUN_KEYS: tuple[str, ...] = ("model", "encoders", "prompt", "seed")


def boost_comparisons(df: Any) -> list[tuple[dict, dict, str]]:
    """``(boosted run, baseline run, baseline strategy)`` for every boosted run and baseline present."""
    runs = df[["strategy", *RUN_KEYS]].drop_duplicates()
    have = {tuple(r) for r in runs.itertuples(index=False)}
    out = []
    for strategy, *rest in sorted(have, key=str):
        if strategy != BOOSTED:
            continue
        common = dict(zip(RUN_KEYS, rest, strict=True))
        for base in BASELINES:
            if (base, *rest) in have:
                out.append(({"strategy": BOOSTED, **common}, {"strategy": base, **common}, base))
    return out


def claims_table(df: Any, steps: Mapping[tuple, int] | None = None, n_boot: int = 2000) -> Any:
    """One row per (boosted run, baseline): gain in mean Dice, patient-level CI and p-values.

    Args:
        df: per-image results (:func:`~synthboost.report.results.load_results`).
        steps: ``(strategy, model, encoders, prompt, seed) -> optimiser steps``, pre-training
            included for a fine-tuning run (:func:`synthboost.report.runs.steps_by_run`);
            ``None``: no steps columns.
        n_boot: bootstrap resamples (patients are resampled).

    Returns:
        Columns ``model, encoders, prompt, seed, baseline, comparison, n_patients, boosted,
        baseline_dice, gain, ci_low, ci_high, p_wilcoxon, p_ttest, p_holm, steps_boosted,
        steps_baseline`` (Dice ×100; Holm over the finite Wilcoxon p-values of the table).
    """
    import pandas as pd

    rows = []
    for where_a, where_b, base in boost_comparisons(df):
        a, b = select_run(df, **where_a), select_run(df, **where_b)
        w = stats.paired_test(a, b, test="wilcoxon", level="patient", n_boot=n_boot)
        t = stats.paired_test(a, b, test="ttest", level="patient", n_boot=0)
        key_a, key_b = (tuple(w[k] for k in ("strategy", *RUN_KEYS)) for w in (where_a, where_b))
        rows.append({
            **{k: where_a[k] for k in RUN_KEYS}, "baseline": base, "comparison": BASELINES[base],
            "n_patients": w.n, "boosted": w.mean_a, "baseline_dice": w.mean_b, "gain": w.mean_diff,
            "ci_low": w.ci_low, "ci_high": w.ci_high, "p_wilcoxon": w.p_value, "p_ttest": t.p_value,
            "steps_boosted": steps.get(key_a) if steps else None,
            "steps_baseline": steps.get(key_b) if steps else None,
        })  # fmt: skip
    out = pd.DataFrame(rows)
    if not out.empty:
        out.insert(out.columns.get_loc("p_ttest") + 1, "p_holm", stats.holm(out["p_wilcoxon"]))
    return out


def gains_across_seeds(claims: Any) -> Any:
    """Per (model, encoders, prompt, baseline) with ≥ 2 seeds: mean gain ± t 95 % CI across seeds."""
    import pandas as pd
    from scipy import stats as sps

    if claims.empty:
        return pd.DataFrame()
    keys = ["model", "encoders", "prompt", "baseline", "comparison"]
    rows = []
    for key, g in claims.groupby(keys, sort=False):
        if len(g) < 2:
            continue
        gains = g["gain"].to_numpy(float)
        half = sps.t.ppf(0.975, len(gains) - 1) * gains.std(ddof=1) / np.sqrt(len(gains))
        rows.append({
            **dict(zip(keys, key, strict=True)), "n_seeds": len(gains), "seeds": ", ".join(map(str, g["seed"])),
            "boosted": g["boosted"].mean(), "baseline_dice": g["baseline_dice"].mean(),
            "gain": gains.mean(), "ci_low": gains.mean() - half, "ci_high": gains.mean() + half,
        })  # fmt: skip
    return pd.DataFrame(rows)
