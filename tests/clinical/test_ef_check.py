"""The model-level EF check on validation: known volumes, a perfect and a biased prediction, and the verdicts."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from synthboost.cine.phases import Phases
from synthboost.cine.qc import loop_verdict
from synthboost.clinical.ef_check import add_ef_check, ef_errors, single_plane_ef, validation_ef_check
from synthboost.clinical.qc import attach_patient_qc
from synthboost.data.format import native_label_path
from synthboost.data.imageio.medical import read_png, write_png
from synthboost.evaluation.predict import predict
from synthboost.evaluation.predictions import read_predictions
from synthboost.evaluation.qc_fit import EF_CHECK_KEY, QCModel, ef_check_reason, fit_rule, read_qc, write_qc
from tiny_dataset import write_tiny_dataset

SPACING = 0.25  # mm, isotropic


def half_ellipse(a: float, b: float) -> np.ndarray:
    """An LV cavity: the apical half of an ellipse (long semi-axis ``a`` rows, ``b`` columns), LA below the base."""
    rows, cols = np.ogrid[:200, :160]
    base, centre = 150, 80
    labels = np.zeros((200, 160), np.uint8)
    labels[(rows > base) & (rows <= base + 20) & (np.abs(cols - centre) <= b)] = 3
    labels[(((rows - base) / a) ** 2 + ((cols - centre) / b) ** 2 <= 1) & (rows <= base)] = 1
    return labels


def test_single_plane_ef_matches_the_half_spheroid_volume():
    """Discs of a half prolate spheroid: V = 2/3·π·b²·a, so EF = 1 - (b_es² a_es) / (b_ed² a_ed)."""
    shapes = {"ED": (120.0, 40.0), "ES": (100.0, 30.0)}
    frames = {("2CH", p): {"name": p, "spacing_row_mm": SPACING, "spacing_col_mm": SPACING} for p in shapes}
    labels = {p: half_ellipse(*ab) for p, ab in shapes.items()}
    (a1, b1), (a2, b2) = shapes["ED"], shapes["ES"]
    expected = 100 * (1 - (b2**2 * a2) / (b1**2 * a1))  # 56.25
    got = single_plane_ef(frames, "2CH", lambda row: labels[row["name"]])
    assert got == pytest.approx(expected, abs=1.5)
    assert math.isnan(single_plane_ef(frames, "2CH", lambda row: None))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return write_tiny_dataset(tmp_path_factory.mktemp("efcheck") / "real", "phantom", seed=1)


def _as_truth(pred: Path, dataset: Path, shrink_es: int = 0) -> None:
    """Overwrite every predicted native LV mask with the ground truth (ES cavities eroded by ``shrink_es`` px)."""
    from scipy import ndimage

    preds = read_predictions(pred)
    for item in preds.items:
        truth = read_png(native_label_path(dataset, item.group, item.name)) == item.label
        if item.label == 1 and shrink_es and item.name.endswith("_ES"):
            truth = ndimage.binary_erosion(truth, iterations=shrink_es)
        write_png(preds.root / item.native, (truth * 255).astype(np.uint8))


def test_ef_errors_are_zero_for_perfect_masks_and_show_a_bias(tiny_model, dataset, tmp_path):
    pred = predict(tiny_model, dataset, "val", tmp_path / "p", prompt="p2", device="cpu", qc=False)
    _as_truth(pred, dataset)
    errors = ef_errors(pred, dataset)
    assert errors["n_patients"] == 1  # the val patient (4 patients: 2 train, 1 val, 1 test)
    assert errors["single_plane"]["n"] == 2 and errors["single_plane"]["mae"] == pytest.approx(0, abs=1e-9)
    assert errors["biplane"]["bias"] == pytest.approx(0, abs=1e-9)
    _as_truth(pred, dataset, shrink_es=3)  # smaller ES cavities: larger EF, a positive bias
    biased = ef_errors(pred, dataset)
    assert biased["single_plane"]["bias"] > 2 and biased["single_plane"]["mae"] == pytest.approx(
        biased["single_plane"]["bias"]
    )


def _qc_json(path: Path) -> Path:
    rows = [{"structure": "lv", "prompt_dis": float(i % 2)} for i in range(8)]
    rule = fit_rule(rows, [50.0 if i % 2 else 90.0 for i in range(8)], ("prompt_dis",))
    return write_qc(
        path, QCModel({"still": rule, "loop": rule}, {}, {"n_val_items": 8, "prompt_level": "p2"})
    )


def test_the_check_is_stored_in_qc_json_and_makes_ok_verdicts_review(tiny_model, dataset, tmp_path):
    check = validation_ef_check(tiny_model, dataset, device="cpu", prompt="p2")
    assert check["split"] == "val" and check["n_patients"] == 1 and check["tolerance"] == 10.0
    mae = check["single_plane"]["mae"]
    assert check["passed"] is (None if mae is None else mae <= 10.0)
    run = tmp_path / "run"
    qc_json = _qc_json(run / "qc.json")
    stored = add_ef_check(qc_json, tiny_model, dataset, device="cpu")
    assert read_qc(qc_json).info[EF_CHECK_KEY] == json.loads(json.dumps(stored))

    failed = {EF_CHECK_KEY: {"passed": False, "split": "val", "n_patients": 4,
                             "single_plane": {"mae": 19.6, "bias": -19.6}}}  # fmt: skip
    reason = ef_check_reason(failed)
    assert (
        reason
        == "this model's EF was off by 19.6 points on average (bias -19.6) on 4 val patients: EF needs review"
    )
    assert ef_check_reason({}) is None
    assert ef_check_reason({EF_CHECK_KEY: {**failed[EF_CHECK_KEY], "passed": True}}) is None

    curve = 100 - 40 * np.sin(np.linspace(0, np.pi / 2, 10))
    analysis = SimpleNamespace(phases=Phases((0,), (9,), ((0, 9),)), measures={"lv_area": curve},
                               summary={"curve": "lv_area"})  # fmt: skip
    frames = [{"qc_fail": False}] * 10
    assert loop_verdict(analysis, frames, True)["verdict"] == "ok"
    v = loop_verdict(analysis, frames, True, reason)
    assert v["verdict"] == "review" and v["reasons"] == [reason] and v["ef_check_failed"]
    many = [{"qc_fail": t < 5} for t in range(10)]
    assert loop_verdict(analysis, many, True, reason)["verdict"] == "unreliable"  # never lowered

    doc = json.loads(qc_json.read_text())
    doc[EF_CHECK_KEY] = failed[EF_CHECK_KEY]
    qc_json.write_text(json.dumps(doc))
    folder = tmp_path / "pred"
    folder.mkdir()
    (folder / "prediction.json").write_text(json.dumps({"run": str(run)}))
    names = [f"patient0001_{v}_{p}" for v in ("2CH", "4CH") for p in ("ED", "ES")]
    pd.DataFrame([{"group": "test", "name": n, "label": 1, "qc_score": 0.9, "qc_fail": False} for n in names]
                 ).to_csv(folder / "qc.csv", index=False)  # fmt: skip
    table = pd.DataFrame({"group": ["test"], "patient": ["patient0001"]})
    out = attach_patient_qc(table, folder, {"test/patient0001": names})
    assert out.loc[0, "qc_verdict"] == "review" and out.loc[0, "qc_ef_reason"] == reason
