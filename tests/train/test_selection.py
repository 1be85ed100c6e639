"""The best run is chosen on validation Dice only: test predictions never change the choice."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthboost.report.html import build_report
from synthboost.training import runfolder
from synthboost.training.selection import select_best_run

RUNS = {  # name: (strategy, validation Dice, dataset)
    "real": ("real", 0.70, "real"),
    "ptft": ("ptft", 0.60, "real"),
    "synthetic": ("synthetic", 0.95, "synthetic"),
}
FILES = [f"mask_1/patient{p:04d}_{v}_ED_gt.png" for p in range(1, 5) for v in ("2CH", "4CH")]


def _runs(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, (strategy, dice, data) in RUNS.items():
        run = tmp_path / "runs" / name
        run.mkdir(parents=True)
        result = {"strategy": strategy, "model": "cris", "prompt": "p2", "seed": 42, "freeze_encoders": False,
                  "best_val_dice": dice, "dataset": str(tmp_path / data), "optimizer_steps": 10}  # fmt: skip
        runfolder.finish(run, result)
        out[name] = run
    return out


def _write_test_results(root: Path, test_dice: dict[str, float]) -> Path:
    folders = {"real": "real", "ptft": "ptft", "synthetic": "synthetic"}
    for name, dice in test_dice.items():
        folder = root / folders[name] / "cris" / "trained" / "p2" / "seed_42"
        folder.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"filename": FILES, "dice": np.full(len(FILES), dice)}).to_csv(folder / "metrics.csv")
    return root


def test_selection_uses_validation_dice_of_runs_validated_on_the_dataset(tmp_path: Path) -> None:
    runs = _runs(tmp_path)
    sel = select_best_run(runs.values(), dataset=tmp_path / "real")
    assert sel.run == runs["real"] and sel.val_dice == pytest.approx(0.70)
    with pytest.raises(ValueError, match="validated on different datasets"):
        select_best_run(runs.values())
    with pytest.raises(ValueError, match="no finished run with a validation Dice on"):
        select_best_run(runs.values(), dataset=tmp_path / "elsewhere")
    with pytest.raises(FileNotFoundError, match="not a finished run"):
        select_best_run([tmp_path / "nothing"])


def test_permuting_test_predictions_cannot_change_the_choice(tmp_path: Path) -> None:
    runs = _runs(tmp_path)
    named = set()
    for i, perm in enumerate(itertools.permutations([10.0, 50.0, 90.0])):
        results = _write_test_results(tmp_path / f"results{i}", dict(zip(RUNS, perm, strict=True)))
        page = build_report(results, tmp_path / f"rep{i}", runs=runs, dataset=tmp_path / "real", n_boot=10)
        named.add(
            re.search(
                r"<h2>Best run</h2><p><b>([^<]+)</b>, validation Dice ([\d.]+)", page.read_text()
            ).groups()
        )
        assert select_best_run(runs.values(), dataset=tmp_path / "real").run == runs["real"]
    assert named == {("real", "70.00")}


def test_report_cli_reads_run_folders(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from synthboost.cli import app

    runs = _runs(tmp_path)
    results = _write_test_results(tmp_path / "results", {"real": 20.0, "ptft": 80.0, "synthetic": 90.0})
    args = ["report", str(results), "--out", str(tmp_path / "rep"), "--runs", str(runs["real"].parent),
            "--dataset", str(tmp_path / "real")]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    page = (tmp_path / "rep" / "report.html").read_text()
    assert "<h2>Best run</h2><p><b>real</b>, validation Dice 70.00" in page
    table = pd.read_csv(tmp_path / "rep" / "runs.csv")
    assert table.set_index("run").loc["synthetic", "validated_on"] == "synthetic"
    assert table["optimizer_steps"].tolist() == [10, 10, 10]
