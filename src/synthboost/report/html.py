"""The report folder: tables (md/tex/csv), figures (png/pdf), statistics and one HTML page.

``report.html`` is self-contained (figures inline as base64 PNG) and opens from disk.
"""

from __future__ import annotations

import base64
import html
import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from synthboost.report import plots, stats, tables
from synthboost.report.results import load_results, prompt_sort_key, strategy_sort_key
from synthboost.utils import get_logger, write_text_atomic

log = get_logger("report")

_CSS = (
    "body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0;font-size:13px}"
    "td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}img{max-width:100%}"
)


def default_comparisons(df: Any) -> list[tuple[dict, dict]]:
    """Each strategy vs ``real`` for the same model, encoders and prompt (where both exist)."""
    runs = df[["strategy", "model", "encoders", "prompt", "seed"]].drop_duplicates()
    have = {tuple(r) for r in runs.itertuples(index=False)}
    out = []
    for strategy, model, encoders, prompt, seed in sorted(have):
        if strategy != "real" and ("real", model, encoders, prompt, seed) in have:
            common = {"model": model, "encoders": encoders, "prompt": prompt, "seed": seed}
            out.append(({"strategy": strategy, **common}, {"strategy": "real", **common}))
    return out


def _img_tag(png: Path, alt: str) -> str:
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"><figcaption>{html.escape(alt)}</figcaption></figure>'


def _figures(df: Any, summary: Any, logs: Mapping[str, Any] | None, overlay: tuple | None) -> dict[str, Any]:
    figs = {
        "fig2_prompt_difference": (
            "Figure 2: difference in mean Dice per prompt vs real",
            plots.fig_prompt_difference(summary),
        ),
        "fig3_trained_minus_frozen": (
            "Figure 3: trained − frozen encoders",
            plots.fig_trained_minus_frozen(summary),
        ),
        "box_per_prompt": ("Dice per prompt (box plots)", plots.fig_prompt_boxplots(df)),
        "bars_per_structure": ("Dice per structure (P1+ pooled)", plots.fig_structure_bars(df)),
        "convergence": ("Validation Dice per epoch", plots.fig_convergence(logs or {})),
    }
    if overlay is not None:
        metrics, dataset_root, pred_folder = overlay
        figs["overlays"] = (
            "Best, median and worst cases",
            plots.fig_overlays(metrics, dataset_root, pred_folder),
        )
    return {k: v for k, v in figs.items() if v[1] is not None}


def build_report(
    results: str | Path | Any,
    out_dir: str | Path,
    logs: Mapping[str, str | Path] | None = None,
    overlay: tuple[Any, str | Path, str | Path] | None = None,
    title: str = "synthboost report",
    n_boot: int = 2000,
    note: str | None = None,
    extra_sections: Sequence[str] = (),
) -> Path:
    """Write tables, figures, statistics and ``report.html`` to ``out_dir``.

    Args:
        results: a results folder (see :mod:`synthboost.report.results`) or a loaded frame.
        out_dir: output folder (created; files are overwritten).
        logs: ``{label: run log CSV}`` for the convergence figure.
        overlay: ``(metrics frame, dataset root, prediction folder)`` for qualitative overlays.
        title: page title.
        n_boot: bootstrap resamples for the CIs of the paired tests.
        note: a paragraph shown under the title (e.g. where the numbers come from).
        extra_sections: trusted HTML fragments appended at the end (e.g. the clinical section).

    Returns:
        The path of ``report.html``.
    """
    df = load_results(results) if isinstance(results, (str, Path)) else results
    out_dir = Path(out_dir)
    (out_dir / "figures").mkdir(parents=True, exist_ok=True)
    summary = stats.summarize(df)
    summary.to_csv(out_dir / "summary.csv", index=False)
    sections = [f"<h1>{html.escape(title)}</h1>", f"<p>{len(df)} per-image rows, {len(summary)} runs.</p>"]
    if note:
        sections.append(f"<p class='note'>{html.escape(note)}</p>")
    for i, encoders in enumerate(sorted(summary["encoders"].unique(), reverse=True), start=1):
        sub = summary[summary["encoders"] == encoders]
        stem = f"table{i}_{encoders}"
        tables.write_tables(sub, out_dir / "tables", stem, caption=f"Dice (mean ± std), encoders {encoders}")
        sections.append(f"<h2>Table {i}: Dice, encoders {html.escape(str(encoders))}</h2>")
        sections.append(tables.to_html(tables.table_cells(sub)))
    sections += _breakdowns(df, out_dir)
    sections += _tests(df, out_dir, n_boot)
    sections.append("<h2>Figures</h2>")
    for stem, (caption, fig) in _figures(df, summary, logs, overlay).items():
        paths = plots.save_figure(fig, out_dir / "figures", stem)
        sections.append(_img_tag(paths["png"], caption))
    sections.extend(extra_sections)
    page = f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{_CSS}</style></head><body>{''.join(sections)}</body></html>"
    path = out_dir / "report.html"
    write_text_atomic(path, page)
    log.info("report written to %s", path)
    return path


def _breakdowns(df: Any, out_dir: Path) -> list[str]:
    out = ["<h2>Dice by structure, view, phase and quality</h2>"]
    for col in ("structure", "view", "phase", "quality"):
        if col not in df.columns or df[col].isna().all():
            continue
        s = stats.summarize(df, by=("strategy", "model", "encoders", col))
        s = s.sort_values(["model", "encoders", col], key=_sorter).reset_index(drop=True)
        s.to_csv(out_dir / f"summary_by_{col}.csv", index=False)
        out += [f"<h3>by {col}</h3>", tables.frame_to_html(s, float_format="{:.2f}")]
    return out


def _sorter(col: Any) -> Any:
    if col.name == "strategy":
        return col.map(strategy_sort_key)
    if col.name == "prompt":
        return col.map(prompt_sort_key)
    return col


def _tests(df: Any, out_dir: Path, n_boot: int) -> list[str]:
    comparisons = default_comparisons(df)
    if not comparisons:
        return []
    blocks = ["<h2>Paired tests (each strategy vs real; Holm-corrected within each family)</h2>"]
    frames = []
    for level, test in itertools.product(stats.LEVELS, stats.TESTS):
        res = stats.compare_runs(
            df, comparisons, test=test, alternative="two-sided", level=level, n_boot=n_boot
        )
        frames.append(res)
        blocks += [f"<h3>{test}, {level} level</h3>", tables.frame_to_html(res.drop(columns=["alternative"]))]
    import pandas as pd

    pd.concat(frames, ignore_index=True).to_csv(out_dir / "paired_tests.csv", index=False)
    return blocks
