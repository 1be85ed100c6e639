"""QC travels with the numbers: ``predict`` writes ``qc.csv``, ``evaluate`` merges it, ``qc fit`` calibrates it."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthboost.evaluation import qc_pass
from synthboost.evaluation.per_image import evaluate
from synthboost.evaluation.predict import predict
from synthboost.evaluation.predictions import read_predictions
from synthboost.evaluation.qc_fit import NO_RULE_MESSAGE, read_qc
from synthboost.evaluation.qc_table import QC_COLUMNS, QC_CSV
from tiny_dataset import write_tiny_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return write_tiny_dataset(tmp_path_factory.mktemp("qc") / "real", "phantom", seed=0)


def test_predict_writes_raw_qc_and_evaluate_merges_it(tiny_model, dataset, tmp_path):
    out = predict(tiny_model, dataset, "test", tmp_path / "p", prompt="p2", device="cpu")
    assert read_predictions(out).info["qc"] == "raw"
    df = evaluate(out, dataset)
    assert list(df.columns[-len(QC_COLUMNS) :]) == list(QC_COLUMNS)
    assert len(df) == len(read_predictions(out).items) and df["qc_score"].isna().all()
    assert df["prompt_dis"].between(0, 1).all() and df["tta_dis"].between(0, 1).all()
    assert df["weak_border"].between(0, 1).all() and (df["heterogeneity"] >= 0).all()
    assert df["qc_reasons"].str.contains(NO_RULE_MESSAGE, regex=False).all()
    earlier = pd.read_csv(out / QC_CSV).drop(columns=["uncertainty", "heterogeneity", "weak_border"])
    earlier.to_csv(out / QC_CSV, index=False)  # a qc.csv written before these signals existed
    old = evaluate(out, dataset)
    assert old[["uncertainty", "heterogeneity", "weak_border"]].isna().all().all() and len(old) == len(df)
    from typer.testing import CliRunner

    from synthboost.cli import app

    res = CliRunner().invoke(app, ["evaluate", str(out), str(dataset), "--out", str(tmp_path / "m.csv")])
    assert res.exit_code == 0 and f"QC: {NO_RULE_MESSAGE}" in res.output
    plain = predict(tiny_model, dataset, "test", tmp_path / "n", prompt="p2", device="cpu", qc=False)
    assert not (plain / QC_CSV).exists() and "qc_score" not in evaluate(plain, dataset).columns
    qc = pd.read_csv(out / QC_CSV)
    qc.drop(index=0).to_csv(out / QC_CSV, index=False)
    with pytest.raises(ValueError, match=r"qc.csv: no QC row for"):
        evaluate(out, dataset)


def test_fit_on_val_then_predict_gives_calibrated_scores(tiny_model, dataset, tmp_path, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(tiny_model, run)
    seen = []

    def fake_dice(row, *args):  # every other val image-structure fails: the fit's plumbing, not the model
        seen.append((row["group"], row["name"], row["label"]))
        return 90.0 if len(seen) % 2 else 50.0

    monkeypatch.setattr(qc_pass, "grid_dice", fake_dice)
    (run / "run.json").write_text('{"prompt": "p2"}')  # what resolve_model reads: the level, no loss preset
    path = qc_pass.fit_qc(run, dataset, device="cpu")
    assert path == run / "qc.json"
    model = read_qc(path)
    val = {(g, n) for g, n, _ in seen}
    assert all(
        n.startswith("patient0003") for _, n in val
    )  # the val patient only (4 patients: 2 train, 1 val, 1 test)
    assert model.info["n_val_items"] == len(seen) and model.info["n_val_failures"] == len(seen) // 2
    assert set(model.rules) == {"still", "loop"} and "tta_dis" not in model.rules["loop"].signals
    assert set(model.ranges) >= {"lv_area", "lv_enclosure", "la_gap"}
    out = predict(run, dataset, "test", tmp_path / "p", device="cpu")
    assert read_predictions(out).info["qc"] == "calibrated" and model.info["prompt_level"] == "p2"
    qc = pd.read_csv(out / QC_CSV, keep_default_na=False, na_values=[""])
    rule = model.rules["still"]
    assert qc["qc_score"].between(0, 1).all()
    row = qc[qc["label"] == 2].iloc[0]  # a myocardium
    assert row["qc_score"] == pytest.approx(
        rule.score(dict(row), "myo"), abs=5e-3
    )  # the CSV keeps 4 decimals
    assert bool(row["qc_fail"]) == (row["qc_score"] < rule.threshold)
    assert not math.isnan(row["shape_violation"]) and np.isfinite(qc["shape_violation"]).all()
    assert model.appearance is not None and {"inside_misfit", "outside_misfit"} <= set(rule.signals)
    assert np.isfinite(qc[["inside_misfit", "outside_misfit"]]).all().all()  # from the run's histograms
    flagged = int(qc["qc_fail"].astype(bool).sum())
    assert evaluate(out, dataset)["qc_fail"].astype(bool).sum() == flagged


def test_segment_prints_qc_unless_told_not_to(tiny_model, echo_png, tmp_path):
    from typer.testing import CliRunner

    from synthboost.cli import app

    args = ["segment", str(echo_png), "--model", str(tiny_model), "--structure", "lv", "--view", "2CH",
            "--phase", "ED", "-o", str(tmp_path / "o")]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "QC (raw signals: prompt_dis " in res.output and NO_RULE_MESSAGE in res.output
    res = CliRunner().invoke(app, [*args, "--no-qc"])
    assert res.exit_code == 0 and "QC" not in res.output
    res = CliRunner().invoke(app, [*args[:4], "--prompt", "Left ventricle.", "-o", str(tmp_path / "p")])
    assert res.exit_code == 0 and "QC: not run (it needs --structure" in res.output
