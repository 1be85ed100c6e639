"""Per-patient QC of the clinical indices: the four LV masks' flags make the verdict."""

from __future__ import annotations

import math

import pandas as pd

from synthboost.clinical.qc import attach_patient_qc, patient_verdict


def _qc_csv(folder, scores, fails) -> None:
    names = [f"patient0001_{v}_{p}" for v in ("2CH", "4CH") for p in ("ED", "ES")]
    rows = [
        {"group": "test", "name": n, "label": 1, "qc_score": s, "qc_fail": f}
        for n, s, f in zip(names, scores, fails, strict=True)
    ]
    rows.append(
        {"group": "test", "name": names[0], "label": 2, "qc_score": 0.0, "qc_fail": True}
    )  # a MYO: not counted
    pd.DataFrame(rows).to_csv(folder / "qc.csv", index=False)


def test_flagged_lv_masks_make_the_patient_verdict(tmp_path):
    table = pd.DataFrame({"group": ["test"], "patient": ["patient0001"], "pred_ef": [55.0]})
    names = {"test/patient0001": [f"patient0001_{v}_{p}" for v in ("2CH", "4CH") for p in ("ED", "ES")]}
    assert attach_patient_qc(table, tmp_path, names) is table  # no qc.csv: unchanged
    _qc_csv(tmp_path, [0.9, 0.2, 0.8, 0.7], [False, True, False, False])
    out = attach_patient_qc(table, tmp_path, names)
    assert out.loc[0, "qc_lv_min_score"] == 0.2 and out.loc[0, "qc_lv_flagged"] == 1
    assert out.loc[0, "qc_verdict"] == "review" and out.loc[0, "pred_ef"] == 55.0
    _qc_csv(tmp_path, [float("nan")] * 4, [None] * 4)
    raw = attach_patient_qc(table, tmp_path, names)
    assert raw.loc[0, "qc_verdict"] == "uncalibrated" and math.isnan(raw.loc[0, "qc_lv_min_score"])
    assert [patient_verdict(n, True) for n in (0, 1, 2, 4)] == ["ok", "review", "unreliable", "unreliable"]
