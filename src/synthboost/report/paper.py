"""Reproduce the paper's Table 1 and significance tests from the authors' per-image metrics.

Reference data: Adhikari et al., *Synthetic Boost*, ASMUS 2023 (CC-BY 4.0), laid out as
``<reference>/metrics/<strategy_folder>/<model>/p<k>/metrics.csv`` plus ``paper_tables.csv``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from synthboost.report.results import load_results, select_run
from synthboost.report.stats import LEVEL_LABELS, LEVELS, PairedTest, paired_test, summarize

PAPER_TABLES = "paper_tables.csv"
#: The paper's two tests: (name, run A, run B); one-sided Wilcoxon, A greater than B.
PAPER_TESTS: tuple[tuple[str, dict, dict], ...] = (
    (
        "real CRIS P2 > synthetic CRIS P5",
        {"strategy": "real", "model": "CRIS", "prompt": "p2"},
        {"strategy": "synthetic", "model": "CRIS", "prompt": "p5"},
    ),
    (
        "synth-PT:real-FT CRIS P2 > real CRIS P2",
        {"strategy": "synth-pt-real-ft", "model": "CRIS", "prompt": "p2"},
        {"strategy": "real", "model": "CRIS", "prompt": "p2"},
    ),
)
#: How the reference defines its Hausdorff column; comparisons with its CSVs use this, never mm.
HD_512_PX_TITLE = (
    "Hausdorff distance, the reference's definition: maximum boundary distance in pixels on the 512×512 grid"
)
#: The printed p-values of the two tests.
PAPER_P_VALUES: tuple[float, ...] = (8.8e-73, 8.3e-6)


@dataclasses.dataclass(frozen=True)
class Reproduction:
    """Table 1 compared cell by cell, the tests at image and patient level, per-structure Dice."""

    table: Any  # strategy, model, prompt, paper_mean, paper_std, mean, std, match
    tests: dict[str, dict[str, PairedTest]]  # name -> {"image": ..., "patient": ...}
    structures: Any
    hausdorff: Any = (
        None  # strategy, model, prompt, mean, std, n: HD_512_PX_TITLE (the reference's definition)
    )

    @property
    def n_mismatch(self) -> int:
        return int((~self.table["match"]).sum())


def read_paper_tables(reference_dir: str | Path) -> Any:
    """``paper_tables.csv`` (table, encoders, strategy, model, prompt, dice_mean, dice_std)."""
    import pandas as pd

    path = Path(reference_dir) / PAPER_TABLES
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found (is {reference_dir} the reference folder?)")
    df = pd.read_csv(path)
    need = {"table", "encoders", "strategy", "model", "prompt", "dice_mean", "dice_std"}
    if need - set(df.columns):
        raise ValueError(f"{path}: missing columns {sorted(need - set(df.columns))}")
    return df


def compare_table1(results: Any, paper: Any, decimals: int = 2) -> Any:
    """Every Table-1 cell that has per-image files, computed vs printed."""
    ours = summarize(results, by=("strategy", "model", "encoders", "prompt"))
    printed = paper[paper["table"] == 1].rename(columns={"dice_mean": "paper_mean", "dice_std": "paper_std"})
    cells = printed.merge(ours, on=["strategy", "model", "encoders", "prompt"], how="inner")
    cells["mean"], cells["std"] = cells["mean"].round(decimals), cells["std"].round(decimals)
    tol = 0.5 * 10**-decimals
    cells["match"] = ((cells["mean"] - cells["paper_mean"]).abs() < tol) & (
        (cells["std"] - cells["paper_std"]).abs() < tol
    )
    cols = ["strategy", "model", "prompt", "paper_mean", "paper_std", "mean", "std", "n", "match"]
    return cells[cols].reset_index(drop=True)


def reproduce_paper(reference_dir: str | Path, n_boot: int = 10_000) -> Reproduction:
    """Recompute Table 1, the two one-sided Wilcoxon tests and per-structure Dice."""
    reference_dir = Path(reference_dir)
    results = load_results(reference_dir)
    table = compare_table1(results, read_paper_tables(reference_dir))
    tests = {}
    for name, where_a, where_b in PAPER_TESTS:
        a, b = select_run(results, **where_a), select_run(results, **where_b)
        tests[name] = {
            level: paired_test(a, b, alternative="greater", level=level, n_boot=n_boot)
            for level in LEVELS  # patient-level first; image-level for the paper's numbers
        }
    t1 = results[results["model"].isin(set(table["model"]))]
    structures = summarize(t1, by=("strategy", "model", "prompt", "structure"))
    hd = t1.assign(hd_px=t1["hausdorff_distance"] / 100.0)  # the CSVs hold 100 × pixels
    return Reproduction(
        table, tests, structures, summarize(hd, by=("strategy", "model", "prompt"), value="hd_px")
    )


def format_reproduction(rep: Reproduction) -> str:
    """Plain-text report of a :class:`Reproduction` (what ``reproduce-paper`` prints)."""
    lines = [
        f"Table 1 (encoders trained): {len(rep.table) - rep.n_mismatch}/{len(rep.table)} cells reproduce"
    ]
    for r in rep.table.itertuples(index=False):
        mark = "ok" if r.match else "DIFFERS"
        lines.append(
            f"  {r.strategy:<17} {r.model:<8} {r.prompt}  paper {r.paper_mean:6.2f} ± {r.paper_std:5.2f}"
            f"  ours {r.mean:6.2f} ± {r.std:5.2f}  {mark}"
        )
    lines.append(
        "Paired tests (one-sided Wilcoxon signed-rank; patient-level: a patient's images averaged first;"
        " the paper's p-values are image-level):"
    )
    for (name, res), printed in zip(rep.tests.items(), PAPER_P_VALUES, strict=True):
        lines.append(f"  {name}:")
        for level, t in res.items():
            paper = f"  (paper: p = {printed:.1e})" if level == "image" else ""
            lines.append(
                f"    {LEVEL_LABELS[level]}, n={t.n}: p = {t.p_value:.2e}{paper},"
                f" mean gain {t.mean_diff:+.2f}, 95% CI [{t.ci_low:+.2f}, {t.ci_high:+.2f}]"
            )
    lines.append("Per-structure Dice (mean ± std):")
    for r in rep.structures.itertuples(index=False):
        lines.append(
            f"  {r.strategy:<17} {r.model:<8} {r.prompt} {r.structure:<4} {r.mean:6.2f} ± {r.std:5.2f}"
        )
    if rep.hausdorff is not None:
        lines.append(f"{HD_512_PX_TITLE} (mean ± std; not mm):")
        for r in rep.hausdorff.itertuples(index=False):
            lines.append(f"  {r.strategy:<17} {r.model:<8} {r.prompt} {r.mean:6.2f} ± {r.std:5.2f} px")
    return "\n".join(lines)
