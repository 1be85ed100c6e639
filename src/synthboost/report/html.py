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

from synthboost.logs import get_logger
from synthboost.report import claims, plots, stats, tables
from synthboost.report.results import EQUAL_STEPS, STRATEGY_NOTES, load_results, paper_sort_key
from synthboost.report.runs import runs_table, steps_by_run
from synthboost.report.versions import versions_section
from synthboost.training.selection import select_best_run
from synthboost.utils.files import write_text_atomic

log = get_logger("report")

_CSS = (
    "body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0;font-size:13px}"
    "td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}img{max-width:100%}"
    "caption{caption-side:top;text-align:left;font-size:13px;color:#444;padding:4px 0}"
)
GUIDE = (
    "Dice ×100 on the test split. Paired tests and bootstrap CIs are patient-level (a patient's images "
    "are averaged first) unless labelled image-level. Nothing here was chosen on test data: a "
    "\u201cbest\u201d run is chosen on the validation Dice written in its run folder."
)


def default_comparisons(df: Any) -> list[tuple[dict, dict]]:
    """Each strategy vs ``real`` for the same model, encoders, prompt and seed (where both exist),
    and synth-PT → real-FT vs the equal-compute baseline ``real-equal-steps``."""
    runs = df[["strategy", "model", "encoders", "prompt", "seed"]].drop_duplicates()
    have = {tuple(r) for r in runs.itertuples(index=False)}
    out = []
    for strategy, model, encoders, prompt, seed in sorted(have):
        common = {"model": model, "encoders": encoders, "prompt": prompt, "seed": seed}
        if strategy != "real" and ("real", model, encoders, prompt, seed) in have:
            out.append(({"strategy": strategy, **common}, {"strategy": "real", **common}))
        if strategy == claims.BOOSTED and (EQUAL_STEPS, model, encoders, prompt, seed) in have:
            out.append(({"strategy": strategy, **common}, {"strategy": EQUAL_STEPS, **common}))
    return out


def _img_tag(png: Path, alt: str) -> str:
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"><figcaption>{html.escape(alt)}</figcaption></figure>'


def _figures(
    df: Any, summary: Any, logs: Mapping[str, Any] | None, overlay: tuple | None, synthetic: set[str]
) -> dict[str, Any]:
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
        "convergence": (
            "Validation Dice per epoch (dashed: validated on synthetic images, not comparable with the others)",
            plots.fig_convergence(logs or {}, synthetic=synthetic),
        ),
    }
    if overlay is not None:
        metrics, dataset_root, pred_folder = overlay
        figs["overlays"] = (
            "Worst, median and best test cases per structure (green: ground truth, red: prediction)",
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
    runs: Mapping[str, str | Path] | None = None,
    dataset: str | Path | None = None,
) -> Path:
    """Write tables, figures, statistics and ``report.html`` to ``out_dir``.

    Args:
        results: a results folder (see :mod:`synthboost.report.results`) or a loaded frame.
        out_dir: output folder (created; files are overwritten).
        logs: ``{label: run log CSV}`` for the convergence figure (default: the runs' metrics.csv).
        overlay: ``(metrics frame, dataset root, prediction folder)`` for qualitative overlays.
        title: page title.
        n_boot: bootstrap resamples for the CIs of the paired tests.
        note: a paragraph shown under the title (e.g. where the numbers come from).
        extra_sections: trusted HTML fragments appended at the end (e.g. the clinical section).
        runs: ``{name: run folder}``: optimiser steps, wall time and validation Dice of each run,
            and the best run chosen on validation Dice.
        dataset: the real dataset the runs were validated on (the best run is chosen among them).

    Returns:
        The path of ``report.html``.
    """
    df = load_results(results) if isinstance(results, (str, Path)) else results
    out_dir = Path(out_dir)
    (out_dir / "figures").mkdir(parents=True, exist_ok=True)
    summary = stats.summarize(df)
    summary.to_csv(out_dir / "summary.csv", index=False)
    run_table = _run_table(runs, out_dir)
    n_runs = len(df[["strategy", "model", "encoders", "prompt", "seed"]].drop_duplicates())
    sections = [f"<h1>{html.escape(title)}</h1>", f"<p>{len(df)} per-image rows, {n_runs} runs.</p>"]
    if note:
        sections.append(f"<p class='note'>{html.escape(note)}</p>")
    sections.append(f"<p>{html.escape(GUIDE)}</p>")
    sections += versions_section(runs)
    sections += _best_run(runs, dataset)
    sections += _claims(df, run_table, out_dir, n_boot)
    sections += _tables(df, out_dir, run_table)
    sections += _seeds(df)
    if run_table is not None:
        sections += ["<h2>Runs: compute and validation</h2>", _runs_html(run_table)]
    sections += _breakdowns(df, out_dir)
    sections += _tests(df, out_dir, n_boot)
    sections.append("<h2>Figures</h2>")
    synthetic = (
        set(run_table.loc[run_table["validated_on"] == "synthetic", "run"])
        if run_table is not None
        else set()
    )
    if logs is None and runs:
        logs = {n: Path(f) / "metrics.csv" for n, f in runs.items() if (Path(f) / "metrics.csv").is_file()}
    for stem, (caption, fig) in _figures(df, summary, logs, overlay, synthetic).items():
        paths = plots.save_figure(fig, out_dir / "figures", stem)
        sections.append(_img_tag(paths["png"], caption))
    sections.extend(extra_sections)
    page = f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{_CSS}</style></head><body>{''.join(sections)}</body></html>"
    path = out_dir / "report.html"
    write_text_atomic(path, page)
    log.info("report written to %s", path)
    return path


def first_seed(df: Any) -> Any:
    """Rows of the first (lowest) seed of each run: tables show one seed, not seeds pooled."""
    keys = ["strategy", "model", "encoders", "prompt"]
    return df[df["seed"] == df.groupby(keys)["seed"].transform("min")]


def _steps_note(sub: Any, run_table: Any) -> str:
    """`` Optimiser steps (first seed): real cris P2: 144; synth-pt-real-ft cris P2: 288 (PT + FT).``"""
    if run_table is None:
        return ""

    own, total, parts = steps_by_run(run_table, "optimizer_steps"), steps_by_run(run_table), []
    for r in sub.to_dict("records"):
        run = (r["strategy"], r["model"], r["encoders"], r["prompt"])
        seeds = [k[4] for k in total if k[:4] == run]
        if seeds:
            key = (*run, min(seeds))
            both = f" (PT {total[key] - own[key]} + FT {own[key]})" if total[key] != own.get(key) else ""
            parts.append(f"{r['strategy']} {r['model']} {r['prompt'].upper()}: {total[key]}{both}")
    return f" Optimiser steps (first seed): {'; '.join(parts)}." if parts else ""


def _tables(df: Any, out_dir: Path, run_table: Any = None) -> list[str]:
    d = first_seed(df)
    seeds = sorted(d["seed"].unique())
    seed_note = f"seed {seeds[0]}" if len(seeds) == 1 else "the first seed of each run"
    if df["seed"].nunique() > len(seeds):
        seed_note += " (other seeds: table “Across seeds”)"
    summary = stats.summarize(d)
    out = []
    for i, encoders in enumerate(sorted(summary["encoders"].unique(), reverse=True), start=1):
        sub = summary[summary["encoders"] == encoders]
        n = f"{int(sub['n'].min())}" + (f"–{int(sub['n'].max())}" if sub["n"].nunique() > 1 else "")
        caption = (
            f"Dice ×100 on the test split, mean ± sd over images (every structure of every test image, "
            f"n = {n} per cell; sd is between images, not a CI), encoders {encoders}, {seed_note}. "
            "Bold: the highest mean in its prompt column within a model (no significance implied)."
            + _steps_note(sub, run_table)
        )
        tables.write_tables(sub, out_dir / "tables", f"table{i}_{encoders}", caption=caption)
        out.append(f"<h2>Table {i}: Dice, encoders {html.escape(str(encoders))}</h2>")
        out.append(tables.to_html(tables.table_cells(sub), caption=caption))
    notes = [f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in STRATEGY_NOTES.items()
             if k in set(df["strategy"])]  # fmt: skip
    if notes:
        out.append(f"<ul>{''.join(notes)}</ul>")
    return out


def _run_table(runs: Mapping[str, str | Path] | None, out_dir: Path) -> Any:
    if not runs:
        return None

    table = runs_table(runs)
    table.to_csv(out_dir / "runs.csv", index=False)
    return table


def _runs_html(table: Any) -> str:
    cap = (
        "Optimiser steps and seconds of each run (train_s: training + validation epochs; wall_s: the whole "
        "train call), its trainable and total parameters (encoders lora-r<k>: LoRA adapters of rank k on "
        "frozen encoders, decoder trained in full). Validation Dice ×100 is the best epoch's, on the split "
        "named in validated_on."
    )
    return f"<p>{html.escape(cap)}</p>" + tables.frame_to_html(table, float_format="{:.1f}")


def _best_run(runs: Mapping[str, str | Path] | None, dataset: str | Path | None) -> list[str]:
    if not runs:
        return []

    try:
        sel = select_best_run(runs.values(), dataset=dataset)
    except ValueError as err:
        return [f"<p>No best run named: {html.escape(str(err))}.</p>"]
    name = next(k for k, v in runs.items() if Path(v) == Path(sel.run))
    return [
        "<h2>Best run</h2>",
        f"<p><b>{html.escape(name)}</b>, validation Dice {100 * sel.val_dice:.2f} (×100), chosen on the "
        "validation Dice written in its run folder among the runs validated on real images; the test "
        "split played no part in the choice.</p>",
    ]


def _claims(df: Any, run_table: Any, out_dir: Path, n_boot: int) -> list[str]:

    steps = steps_by_run(run_table) if run_table is not None else None
    table = claims.claims_table(df, steps, n_boot=n_boot)
    if table.empty:
        return []
    table.to_csv(out_dir / "claims.csv", index=False)
    out = [
        "<h2>Claimed boosts and their baselines</h2>",
        "<p>Each gain of synth-PT → real-FT is stated against a named baseline: <b>equal compute</b> "
        f"({html.escape(EQUAL_STEPS)}: real-only training with the optimiser steps of pre-training + "
        "fine-tuning) and <b>equal epochs</b> (real: the paper's baseline, which trains fewer steps, so "
        "part of its gap is extra training). Gain = boosted − baseline mean Dice ×100; CI: 95 % "
        "bootstrap over patients; p: patient-level two-sided Wilcoxon signed-rank and paired t-test; "
        "p_holm: Wilcoxon, Holm-corrected over this table.</p>",
        tables.frame_to_html(table.drop(columns=["baseline"])),
    ]
    seeds = claims.gains_across_seeds(table)
    if not seeds.empty:
        seeds.to_csv(out_dir / "claims_across_seeds.csv", index=False)
        out += [
            "<h3>Gains across seeds (mean ± t-based 95 % CI over seeds)</h3>",
            tables.frame_to_html(seeds.drop(columns=["baseline"])),
        ]
    return out


def _seeds(df: Any) -> list[str]:
    if df["seed"].nunique() < 2:
        return []
    res = stats.across_seeds(df)
    res = res[res["n_seeds"] > 1]
    if res.empty:
        return []
    return [
        "<h2>Across seeds</h2><p>Mean test Dice ×100 of each seed's run, then mean ± t-based 95 % CI "
        "over the seeds.</p>",
        tables.frame_to_html(res, float_format="{:.2f}"),
    ]


def _breakdowns(df: Any, out_dir: Path) -> list[str]:
    out = ["<h2>Dice by structure, view, phase and quality</h2>"]
    for col in ("structure", "view", "phase", "quality"):
        if col not in df.columns or df[col].isna().all():
            continue
        s = stats.summarize(df, by=("strategy", "model", "encoders", col))
        s = s.sort_values(["model", "encoders", col], key=paper_sort_key).reset_index(drop=True)
        s.to_csv(out_dir / f"summary_by_{col}.csv", index=False)
        out += [f"<h3>by {col}</h3>", tables.frame_to_html(s, float_format="{:.2f}")]
    return out


def _tests(df: Any, out_dir: Path, n_boot: int) -> list[str]:
    comparisons = default_comparisons(df)
    if not comparisons:
        return []
    blocks = [
        "<h2>Paired tests</h2><p>Each strategy vs real (equal epochs) and synth-PT → real-FT vs "
        f"{html.escape(EQUAL_STEPS)} (equal compute), same model, prompt and seed; difference = run A − "
        "run B (Dice ×100); Holm-corrected within each table (NaN p-values, e.g. one test patient, are "
        "left out of the family).</p>"
    ]
    frames = []
    for level, test in itertools.product(stats.LEVELS, stats.TESTS):
        res = stats.compare_runs(
            df, comparisons, test=test, alternative="two-sided", level=level, n_boot=n_boot
        )
        frames.append(res)
        shown = res.drop(columns=["alternative", "level", "test"]).rename(
            columns={"a": "run A", "b": "run B", "mean_a": "Dice A", "mean_b": "Dice B"}
        )
        label = stats.LEVEL_LABELS[level]
        blocks += [f"<h3>{test}, {html.escape(label)}</h3>", tables.frame_to_html(shown)]
    import pandas as pd

    pd.concat(frames, ignore_index=True).to_csv(out_dir / "paired_tests.csv", index=False)
    return blocks
