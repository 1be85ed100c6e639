"""Paper-layout tables, headless figures and the self-contained HTML report."""

from __future__ import annotations

import base64
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from report_fixtures import write_results
from typer.testing import CliRunner

from synthboost.cli import app
from synthboost.evaluation.predictions import PredictionWriter
from synthboost.report import plots, tables
from synthboost.report.html import build_report
from synthboost.report.results import load_results
from synthboost.report.stats import summarize

SUMMARY = pd.DataFrame(
    {"strategy": ["real", "synthetic", "real", "synthetic", "real"], "model": ["CRIS"] * 4 + ["CLIPSeg"],
     "prompt": ["p0", "p0", "p1", "p1", "p1"], "mean": [46.456, 42.29, 91.0, 91.5, 88.5],
     "std": [13.08, 17.5, 6.3, 6.0, 7.2], "encoders": "trained"}
)  # fmt: skip


def test_table_formats_bold_best_per_model():
    cells = tables.table_cells(SUMMARY)
    md = tables.to_markdown(cells)
    assert "| real | CRIS | **46.46 ± 13.08** | 91.00 ± 6.30 |" in md
    assert "| synthetic | CRIS | 42.29 ± 17.50 | **91.50 ± 6.00** |" in md
    assert "| real | CLIPSeg | – | **88.50 ± 7.20** |" in md
    tex = tables.to_latex(cells, caption="Table 1")
    assert r"\textbf{91.50 $\pm$ 6.00}" in tex and r"\begin{tabular}{llcc}" in tex
    csv = tables.to_csv(cells)
    assert csv.splitlines()[0] == "strategy,model,P0,P1" and "**" not in csv


def test_figures_render_headless(tmp_path):
    df = load_results(write_results(tmp_path / "res", models=("CRIS",)))
    summary = summarize(df)
    for fig in (plots.fig_prompt_difference(summary), plots.fig_trained_minus_frozen(summary),
                plots.fig_prompt_boxplots(df), plots.fig_structure_bars(df)):  # fmt: skip
        paths = plots.save_figure(fig, tmp_path, "f")
        assert Image.open(paths["png"]).size[0] > 300 and paths["pdf"].read_bytes()[:4] == b"%PDF"
    assert plots.fig_trained_minus_frozen(summary[summary.encoders == "trained"]) is None


def test_convergence_reads_lightning_csv(tmp_path):
    log = tmp_path / "metrics.csv"
    pd.DataFrame({"epoch": [0, 0, 1, 1], "step": [5, 5, 10, 10], "train_loss": [1, np.nan, 0.5, np.nan],
                  "val_dice": [np.nan, 0.6, np.nan, 0.8]}).to_csv(log, index=False)  # fmt: skip
    assert plots.read_log(log)["val_dice"].tolist() == [0.6, 0.8]
    assert plots.fig_convergence({"run": log}) is not None
    pd.DataFrame({"epoch": [0]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match="bad.csv.*val_dice"):
        plots.read_log(tmp_path / "bad.csv")


def _overlay_inputs(tmp_path):
    ds, pred = tmp_path / "ds", tmp_path / "pred"
    rows = []
    info = {"run": "r", "dataset": "d", "split": "test", "prompt_level": "p1", "threshold": 0.5, "model": "m"}
    with PredictionWriter(pred, info) as w:
        for i in range(3):
            name = f"patient000{i}_2CH_ED"
            gt = np.zeros((32, 32), bool)
            gt[8:24, 8:24] = True
            (ds / "images/test").mkdir(parents=True, exist_ok=True)
            (ds / "masks/test/mask_1").mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((32, 32), 90, np.uint8)).save(ds / f"images/test/{name}.png")
            Image.fromarray(gt.astype(np.uint8) * 255).save(ds / f"masks/test/mask_1/{name}_gt.png")
            w.add("test", name, 1, np.roll(gt, 2 * i, axis=0), gt)
            rows.append({"group": "test", "name": name, "label": 1, "structure": "lv", "dice": 100 - 10 * i})
    return pd.DataFrame(rows), ds, pred


def test_html_report_contains_every_table_and_figure(results_dir, tmp_path):
    log = tmp_path / "log.csv"
    pd.DataFrame({"epoch": [0, 1, 2], "val_dice": [0.5, 0.7, 0.8]}).to_csv(log, index=False)
    out = tmp_path / "report"
    path = build_report(
        results_dir, out, logs={"real CRIS": log}, overlay=_overlay_inputs(tmp_path), n_boot=100
    )
    page = path.read_text()
    assert "Table 1: Dice, encoders trained" in page and "Table 2: Dice, encoders frozen" in page
    for caption in ("Figure 2", "Figure 3", "box plots", "per structure", "per epoch", "Worst, median and best",
                    "Dice ×100 on the test split, mean ± sd over images", "Bold: the highest mean",
                    "patient-level", "image-level (images of one patient are correlated)", "Claimed boosts",
                    "equal epochs"):  # fmt: skip
        assert caption in page, caption
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 6 and all(base64.b64decode(i)[:4] == b"\x89PNG" for i in images)
    assert 'src="http' not in page and "<b>" in page
    for f in ("tables/table1_trained.md", "tables/table2_frozen.tex", "tables/table1_trained.csv",
              "figures/fig2_prompt_difference.pdf", "figures/overlays.png", "paired_tests.csv",
              "summary_by_structure.csv", "summary.csv"):  # fmt: skip
        assert (out / f).is_file(), f
    tests = pd.read_csv(out / "paired_tests.csv")
    assert set(tests["level"]) == {"image", "patient"} and "p_holm" in tests
    assert "synth-pt-real-ft · CRIS · P1" in set(tests["a"])
    assert page.index("patient-level") < page.index("image-level (images")  # patient-level first


def test_one_run_report_has_no_empty_figure(tmp_path):
    results = write_results(tmp_path / "res", models=("CRIS",), encoders=("trained",))
    for folder in ("synthetic", "synth-pt-real-ft"):
        shutil.rmtree(results / folder)
    for p in ("p0", "p1"):
        shutil.rmtree(results / "real" / "CRIS" / "trained" / p)
    page = build_report(results, tmp_path / "rep", n_boot=10).read_text()
    assert "Figure 2" not in page and "<h2>Paired tests" not in page and "Claimed boosts" not in page
    assert page.count("data:image/png;base64,") == 2  # box plot and per-structure bars, both with data


def test_many_lines_get_distinct_colours_and_legends_stay_off_the_data(tmp_path):
    logs = {}
    for i in range(14):
        logs[f"run{i}"] = tmp_path / f"log{i}.csv"
        pd.DataFrame({"epoch": [0, 1], "val_dice": [0.1 * i, 0.1 * i + 0.05]}).to_csv(
            logs[f"run{i}"], index=False
        )
    fig = plots.fig_convergence(logs, synthetic={"run3"})
    ax = fig.axes[0]
    colours = {tuple(np.round(line.get_color(), 4)) for line in ax.get_lines()}
    assert len(colours) == 14 and ax.get_lines()[3].get_linestyle() == "--"
    assert "run3 (val: synthetic)" in [t.get_text() for t in ax.get_legend().get_texts()]
    fig.canvas.draw()
    legend, axes_box = ax.get_legend().get_window_extent(), ax.get_window_extent()
    assert legend.x0 >= axes_box.x1  # right of the axes, not over the curves
    assert len(set(map(tuple, plots.distinct_colors(25)))) == 25


def test_report_cli(tmp_path):
    results = write_results(tmp_path / "res", models=("CRIS",), encoders=("trained",))
    res = CliRunner().invoke(app, ["report", str(results), "--out", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "rep" / "report.html").is_file()
