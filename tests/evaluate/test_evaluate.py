"""evaluate() on a tiny processed dataset: known numbers, columns, CSV, CLI."""

from __future__ import annotations

import pandas as pd
import pytest
from eval_fixtures import NAMES, SPACING
from typer.testing import CliRunner

from synthboost.cli import app
from synthboost.evaluation.per_image import METRIC_COLUMNS, evaluate


def test_evaluate_known_values(tiny, tmp_path):
    ds, pred = tiny
    df = evaluate(pred, ds, tmp_path / "out" / "results.csv")
    assert list(df.columns) == list(METRIC_COLUMNS) and len(df) == 6
    exact = df[df["name"] == NAMES[0]].set_index("structure")
    assert (exact.loc[["lv", "myo"], "dice"] == 100).all()
    assert (exact.loc[["lv", "myo"], "hausdorff_distance"] == 0).all()
    assert exact.loc["la", "dice"] == 100 and exact.loc["la", "hd95_mm"] == 0  # both empty
    shifted = df[df["name"] == NAMES[1]].set_index("structure")
    # 2-row shift: 200 on the grid (100 × px) and 2 × 0.5 mm at native size
    assert shifted.loc["lv", "hausdorff_distance"] == pytest.approx(200.0)
    assert shifted.loc["lv", "hd95_mm"] == pytest.approx(2 * SPACING[0])
    assert shifted.loc["lv", "dice"] < 100
    assert exact.loc["lv", "filename"] == f"test/mask_1/{NAMES[0]}_gt.png"
    assert set(df["patient"]) == {"patient0001", "patient0002"} and set(df["quality"]) == {"good"}
    back = pd.read_csv(tmp_path / "out" / "results.csv")
    assert back["dice"].round(4).tolist() == df["dice"].round(4).tolist()


def test_evaluate_cli(tiny, tmp_path):
    ds, pred = tiny
    out = tmp_path / "r.csv"
    res = CliRunner().invoke(app, ["evaluate", str(pred), str(ds), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.is_file() and "mean Dice" in res.output


def test_evaluate_missing_meta_row(tiny):
    ds, pred = tiny
    meta = pd.read_csv(ds / "meta.csv")
    meta.iloc[1:].to_csv(ds / "meta.csv", index=False)
    with pytest.raises(ValueError, match="meta.csv: no row for group 'test'"):
        evaluate(pred, ds)
