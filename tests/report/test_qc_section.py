"""The report's QC section and the demo's QC line, on a hand-made QC'd metrics table."""

from __future__ import annotations

import pandas as pd
import pytest

from synthboost.evaluation.qc_fit import NO_RULE_MESSAGE
from synthboost.evaluation.qc_table import summary_line
from synthboost.report.qc import qc_html


def _metrics(scores, fails, dice) -> pd.DataFrame:
    n = len(scores)
    return pd.DataFrame({
        "name": [f"patient{i:04d}_2CH_ED" for i in range(n)], "structure": ["lv", "myo", "la", "myo"][:n],
        "dice": dice, "qc_score": scores, "qc_fail": fails, "qc_reasons": ["", "prompt_dis 0.40", "", "2 components"][:n],
    })  # fmt: skip


def test_qc_section_counts_flagged_items_and_lists_the_least_trusted(tmp_path):
    df = _metrics([0.9, 0.1, 0.8, 0.2], [False, True, False, True], [92.0, 50.0, 85.0, 60.0])
    df.to_csv(tmp_path / "m.csv", index=False)
    page = qc_html(tmp_path / "m.csv", title="QC of run x")
    assert "<h2>QC of run x</h2>" in page and "2 of 4 test image-structures flagged" in page
    assert "Mean Dice: kept 88.5, flagged 55.0, all 71.8." in page
    assert "<td>Myocardium</td><td>2</td><td>2</td><td>2</td><td>–</td><td>55.0</td>" in page
    assert page.index("prompt_dis 0.40") < page.index("2 components")  # sorted by score, least trusted first
    assert (
        summary_line(df)
        == "2 of 4 image-structures flagged by QC; mean Dice flagged 55.0, kept 88.5, all 71.8"
    )


def test_qc_section_without_a_rule_or_without_qc_columns(tmp_path):
    raw = _metrics([float("nan")] * 2, ["", ""], [90.0, 40.0]).assign(qc_reasons=NO_RULE_MESSAGE)
    raw.to_csv(tmp_path / "raw.csv", index=False)
    assert "No calibrated QC rule" in qc_html(tmp_path / "raw.csv")
    raw.drop(columns=["qc_score"]).to_csv(tmp_path / "none.csv", index=False)
    with pytest.raises(ValueError, match="no calibrated QC"):
        summary_line(pd.read_csv(tmp_path / "raw.csv"))
    with pytest.raises(ValueError, match="none.csv: no QC columns"):
        qc_html(tmp_path / "none.csv")


def test_qc_section_says_how_the_models_ef_did_on_validation(tmp_path):
    from synthboost.evaluation.qc_fit import QCModel, describe_ef_check, fit_rule, write_qc

    _metrics([0.9, 0.1], [False, True], [92.0, 50.0]).to_csv(tmp_path / "m.csv", index=False)
    rows = [{"structure": "lv", "prompt_dis": float(i % 2)} for i in range(6)]
    rule = fit_rule(rows, [50.0 if i % 2 else 90.0 for i in range(6)], ("prompt_dis",))
    check = {"split": "val", "n_patients": 4, "tolerance": 10.0, "passed": False,
             "single_plane": {"n": 8, "bias": -19.6, "mae": 19.6}, "biplane": {"n": 4, "bias": -18.9, "mae": 18.9}}  # fmt: skip
    assert describe_ef_check(check) == (
        "EF check on 4 val patients: single-plane bias -19.6, mean |error| 19.6 points; biplane bias -18.9, "
        "mean |error| 18.9: failed (> 10): every EF of this model needs review"
    )
    qc_json = write_qc(tmp_path / "qc.json", QCModel({"still": rule, "loop": rule}, {}, {"ef_check": check}))
    assert "EF check on 4 val patients" in qc_html(tmp_path / "m.csv", qc_json)
    passed = {**check, "passed": True, "single_plane": {"n": 8, "bias": 1.0, "mae": 3.0}, "biplane": {"n": 0}}
    assert describe_ef_check(passed).endswith("mean |error| 3.0 points: passed")
