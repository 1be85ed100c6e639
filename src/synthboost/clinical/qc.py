"""Per-patient QC of the clinical indices: the QC of the four LV masks an EF is computed from.

Reads the prediction folder's ``qc.csv`` (``synthboost predict``; docs/qc.md). A patient's verdict:
``ok`` when none of its four LV masks (2CH/4CH × ED/ES) is flagged, ``review`` when one is,
``unreliable`` when two or more are; without a calibrated rule the verdict is ``uncalibrated``. When
the run's ``qc.json`` says its EF failed the validation check (:mod:`synthboost.clinical.ef_check`),
an ``ok`` patient is ``review`` and ``qc_ef_reason`` says why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synthboost.evaluation.qc_fit import ef_check_reason, load_qc
from synthboost.evaluation.qc_table import QC_CSV
from synthboost.utils.files import read_json

QC_PATIENT_COLUMNS = ("qc_lv_min_score", "qc_lv_flagged", "qc_verdict", "qc_ef_reason")


def patient_verdict(flagged: int, calibrated: bool) -> str:
    """``ok`` / ``review`` / ``unreliable`` from the number of flagged LV masks (``uncalibrated`` without a rule)."""
    if not calibrated:
        return "uncalibrated"
    return "ok" if flagged == 0 else "review" if flagged == 1 else "unreliable"


def attach_patient_qc(table: Any, pred_folder: str | Path, names: dict[str, list[str]]) -> Any:
    """``table`` (one row per patient) with :data:`QC_PATIENT_COLUMNS` when ``pred_folder`` has a ``qc.csv``.

    Args:
        table: the clinical table (``group``, ``patient``).
        pred_folder: the prediction folder.
        names: ``"group/patient"`` -> the image names of its four frames.
    """
    import pandas as pd

    path = Path(pred_folder) / QC_CSV
    if not path.is_file():
        return table
    qc = pd.read_csv(path, keep_default_na=False, na_values=[""])
    lv = qc[qc["label"] == 1].set_index(["group", "name"])
    ef_reason = _ef_reason(Path(pred_folder))
    rows = []
    for group, patient in zip(table["group"], table["patient"], strict=True):
        keys = [(group, n) for n in names[f"{group}/{patient}"] if (group, n) in lv.index]
        sub = lv.loc[keys]
        calibrated = bool(sub["qc_score"].notna().all()) and len(sub) > 0
        flagged = int(sub["qc_fail"].fillna(False).astype(bool).sum()) if calibrated else 0
        verdict = patient_verdict(flagged, calibrated)
        verdict = "review" if ef_reason and verdict == "ok" else verdict
        rows.append({"qc_lv_min_score": float(sub["qc_score"].min()) if calibrated else float("nan"),
                     "qc_lv_flagged": flagged, "qc_verdict": verdict, "qc_ef_reason": ef_reason or ""})  # fmt: skip
    return pd.concat([table.reset_index(drop=True), pd.DataFrame(rows)], axis=1)


def _ef_reason(pred_folder: Path) -> str | None:
    """The failed validation EF check of the run that made ``pred_folder`` (its ``prediction.json``), if any."""
    info = pred_folder / "prediction.json"
    run = read_json(info, expect=dict).get("run") if info.is_file() else None
    model = load_qc(run) if run else None
    return ef_check_reason(model.info) if model is not None else None
