"""Statistics over per-image results: summaries, paired tests, corrections, intervals.

Runs are paired by ``key`` (``mask_<k>/<file>``, see :mod:`synthboost.report.results`).
Standard deviations use ``ddof=1`` (pandas' default), as the paper's tables.

Paired tests and bootstrap intervals are **patient-level by default**: a patient's pairs are
averaged first, so the unit of the test is the patient. Image-level results (``level="image"``)
treat the images of one patient as independent although they are correlated; they are kept for
comparison with the paper and always labelled so (:data:`LEVEL_LABELS`).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from synthboost.report.results import select_run

TESTS: tuple[str, ...] = ("wilcoxon", "ttest")
ALTERNATIVES: tuple[str, ...] = ("two-sided", "greater", "less")
LEVELS: tuple[str, ...] = ("patient", "image")
#: How each level is named wherever a result is shown.
LEVEL_LABELS: dict[str, str] = {
    "patient": "patient-level",
    "image": "image-level (images of one patient are correlated)",
}


def summarize(
    df: Any, by: Sequence[str] = ("strategy", "model", "encoders", "prompt"), value: str = "dice"
) -> Any:
    """Mean, std (ddof 1) and count of ``value`` per group; also accepts structure/view/phase/quality."""
    missing = [c for c in (*by, value) if c not in df.columns]
    if missing:
        raise ValueError(f"summarize: columns {missing} not in the results")
    out = df.groupby(list(by), dropna=False)[value].agg(mean="mean", std="std", n="count").reset_index()
    return out


def pair(a: Any, b: Any, value: str = "dice") -> Any:
    """Align two runs by ``key``; columns ``key, patient, a, b``. Raises when keys differ."""
    ka, kb = set(a["key"]), set(b["key"])
    if ka != kb:
        only_a, only_b = sorted(ka - kb)[:3], sorted(kb - ka)[:3]
        raise ValueError(f"runs do not pair by file: only in a {only_a}..., only in b {only_b}...")
    left = a[["key", "patient", value]].rename(columns={value: "a"})
    right = b[["key", value]].rename(columns={value: "b"})
    return left.merge(right, on="key", validate="one_to_one").sort_values("key", ignore_index=True)


def patient_means(paired: Any) -> Any:
    """Average each patient's pairs first (patient-level analysis)."""
    if paired["patient"].isna().any():
        raise ValueError("patient-level test: some files carry no patientNNNN in their name")
    return paired.groupby("patient", as_index=False)[["a", "b"]].mean()


def bootstrap_ci(
    diff: np.ndarray, n_boot: int = 10_000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean of ``diff`` (seeded)."""
    diff = np.asarray(diff, dtype=float)
    if diff.size == 0:
        raise ValueError("bootstrap_ci: no values")
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    chunk = max(1, 2_000_000 // diff.size)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, diff.size, size=(stop - start, diff.size))
        means[start:stop] = diff[idx].mean(axis=1)
    alpha = (1 - level) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


@dataclasses.dataclass(frozen=True)
class PairedTest:
    """Result of a paired comparison ``a`` vs ``b`` (difference = a − b)."""

    test: str
    alternative: str
    level: str
    n: int
    mean_a: float
    mean_b: float
    mean_diff: float
    statistic: float
    p_value: float
    ci_low: float
    ci_high: float

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def paired_test(
    a: Any,
    b: Any,
    value: str = "dice",
    test: str = "wilcoxon",
    alternative: str = "two-sided",
    level: str = "patient",
    n_boot: int = 10_000,
    seed: int = 0,
) -> PairedTest:
    """Paired test of two runs matched by file (or by patient after averaging).

    Args:
        a: per-image results of run A (columns key, patient, ``value``).
        b: per-image results of run B.
        value: metric column.
        test: ``wilcoxon`` (signed-rank) or ``ttest`` (paired t-test).
        alternative: ``two-sided``, ``greater`` (A > B) or ``less``.
        level: ``patient`` (default: a patient's pairs are averaged first) or ``image`` (pairs
            of one patient treated as independent). With fewer than two pairs the statistic and
            p-value are NaN.
        n_boot: bootstrap resamples for the 95 % CI of the mean difference (of patient means at
            patient level, so the bootstrap resamples patients); 0: no CI (NaN).
        seed: bootstrap seed.
    """
    from scipy import stats

    if test not in TESTS or alternative not in ALTERNATIVES or level not in LEVELS:
        raise ValueError(f"paired_test: test in {TESTS}, alternative in {ALTERNATIVES}, level in {LEVELS}")
    p = pair(a, b, value)
    if level == "patient":
        p = patient_means(p)
    x, y = p["a"].to_numpy(float), p["b"].to_numpy(float)
    statistic = p_value = float("nan")  # a test needs two pairs or more (e.g. one test patient)
    if len(x) >= 2:
        fn = stats.wilcoxon if test == "wilcoxon" else stats.ttest_rel
        with warnings.catch_warnings():  # all-zero differences: scipy warns and returns NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            res = fn(x, y, alternative=alternative)
        statistic, p_value = float(res.statistic), float(res.pvalue)
    lo, hi = bootstrap_ci(x - y, n_boot=n_boot, seed=seed) if n_boot > 0 else (float("nan"),) * 2
    return PairedTest(
        test, alternative, level, len(x), x.mean(), y.mean(), (x - y).mean(), statistic, p_value, lo, hi,
    )  # fmt: skip


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values (step-down, monotone, capped at 1).

    NaN p-values (a test that could not run) stay NaN and are not part of the family: ``m`` is
    the number of finite p-values.
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.size, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = finite.size
    if m == 0:
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(adjusted, 1.0)
    return out


def compare_runs(df: Any, comparisons: Sequence[tuple[dict, dict]], **kwargs: Any) -> Any:
    """Run :func:`paired_test` for each ``(where_a, where_b)`` and add Holm-adjusted p-values."""
    import pandas as pd

    rows = []
    for where_a, where_b in comparisons:
        res = paired_test(select_run(df, **where_a), select_run(df, **where_b), **kwargs)
        rows.append({"a": describe_run(where_a), "b": describe_run(where_b), **res.as_dict()})
    out = pd.DataFrame(rows)
    if not out.empty:
        out["p_holm"] = holm(out["p_value"])
    return out


def describe_run(where: dict) -> str:
    """A readable run name: ``synth-pt-real-ft · CRIS · P2 · seed 42`` (encoders only when frozen)."""
    parts = [str(where[k]) for k in ("strategy", "model") if k in where]
    if "prompt" in where:
        parts.append(str(where["prompt"]).upper())
    if where.get("encoders") == "frozen":
        parts.append("frozen encoders")
    if where.get("seed") not in (None, 0):
        parts.append(f"seed {where['seed']}")
    return " · ".join(parts) or "all"


def across_seeds(
    df: Any, by: Sequence[str] = ("strategy", "model", "encoders", "prompt"), value: str = "dice"
) -> Any:
    """Mean over repeats of each run's mean, with a t-based 95 % CI (NaN width for one seed)."""
    from scipy import stats

    per_seed = df.groupby([*by, "seed"])[value].mean().reset_index()
    g = per_seed.groupby(list(by))[value]
    out = g.agg(mean="mean", std="std", n_seeds="count").reset_index()
    sem = out["std"] / np.sqrt(out["n_seeds"])
    t = stats.t.ppf(0.975, np.maximum(out["n_seeds"] - 1, 1))
    half = np.where(out["n_seeds"] > 1, t * sem, np.nan)
    out["ci_low"], out["ci_high"] = out["mean"] - half, out["mean"] + half
    return out
