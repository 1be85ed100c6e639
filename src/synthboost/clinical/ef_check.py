"""Does a model's EF agree with the truth? A model-level check on the validation split, stored in ``qc.json``.

Segmentation QC judges masks; it cannot see a model that draws clean, plausible, self-consistent LV
masks that are systematically too large at end-systole: every loop then reads ``ok`` while its EF is
off by 15 points. The only place such a bias shows is where the truth is known, so this check runs the
model on the **validation** patients' ED and ES frames (both views), computes their EF as the loops
and ``clinical`` do (method of discs, ASE convention: single-plane per view and biplane per patient)
and compares it with the EF of the ground-truth masks. It is written under ``ef_check`` in the run's
``qc.json``; when the validation EF error exceeds :data:`EF_TOLERANCE` (mean absolute, single-plane),
every EF the model reports (``analyze``'s loop verdict, ``clinical``'s patient verdict) is at least
``review``, with the validation error as the reason. Test data never enters it.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from synthboost.clinical.indices import (
    Frames,
    LabelSource,
    ground_truth_loader,
    indices_from_labels,
    patients_from_meta,
    prediction_loader,
)
from synthboost.clinical.simpson import ejection_fraction, geometry_from_labels, single_plane_volume
from synthboost.data.format import VIEWS
from synthboost.data.processed import read_meta, spacing_mm
from synthboost.evaluation.predict import predict
from synthboost.evaluation.qc_fit import EF_CHECK_KEY, EF_TOLERANCE
from synthboost.utils.files import read_json, write_json_atomic


def single_plane_ef(frames: Frames, view: str, load: LabelSource) -> float:
    """Single-plane EF (%) of one view of a patient from its ED and ES label maps (NaN if impossible)."""
    volumes = []
    for phase in ("ED", "ES"):
        row = frames[(view, phase)]
        labels = load(row)
        if labels is None:
            return math.nan
        try:
            volumes.append(single_plane_volume(geometry_from_labels(labels, spacing_mm(row))))
        except ValueError:
            return math.nan
    return ejection_fraction(*volumes)


def _errors(pairs: list[tuple[float, float]]) -> dict[str, Any]:
    """Bias, mean absolute and largest error and the share over :data:`EF_TOLERANCE` of (predicted, true) EFs."""
    err = np.array([p - t for p, t in pairs if math.isfinite(p) and math.isfinite(t)])
    if err.size == 0:
        return {"n": 0, "bias": None, "mae": None, "max_abs": None, "over_tolerance": None}
    return {"n": int(err.size), "bias": float(err.mean()), "mae": float(np.abs(err).mean()),
            "max_abs": float(np.abs(err).max()), "over_tolerance": float(np.mean(np.abs(err) > EF_TOLERANCE))}  # fmt: skip


def ef_errors(pred_folder: str | Path, dataset: str | Path) -> dict[str, Any]:
    """EF of a prediction folder's patients against the EF of their ground-truth masks.

    Returns:
        ``{"single_plane": {n, bias, mae, max_abs, over_tolerance}, "biplane": {...}, "n_patients"}``: errors
        in EF points, predicted minus true, over the patients whose four frames are all predicted.
    """
    load_pred, predicted = prediction_loader(pred_folder)
    load_gt = ground_truth_loader(dataset)
    single, bi, n = [], [], 0
    for (group, _), frames in patients_from_meta(read_meta(dataset)).items():
        if not all((group, r["name"]) in predicted for r in frames.values()):
            continue
        n += 1
        single += [
            (single_plane_ef(frames, v, load_pred), single_plane_ef(frames, v, load_gt)) for v in VIEWS
        ]
        bi.append((indices_from_labels(frames, load_pred)["ef"], indices_from_labels(frames, load_gt)["ef"]))
    return {"n_patients": n, "single_plane": _errors(single), "biplane": _errors(bi)}


def validation_ef_check(
    run: str | Path,
    dataset: str | Path,
    device: str | None = None,
    split: str = "val",
    prompt: str | None = None,
) -> dict[str, Any]:
    """Predict ``split`` of ``dataset`` with ``run`` (prompt level ``prompt``, default the run's) and
    measure its EF error (:func:`ef_errors`).

    Returns:
        :func:`ef_errors`' result with ``split``, ``tolerance`` and ``passed`` (single-plane mean absolute
        error at most :data:`EF_TOLERANCE`; ``None`` when no patient could be measured).

    Raises:
        ValueError: the split has no patient with all four frames.
    """
    with tempfile.TemporaryDirectory(prefix="synthboost-efcheck-") as tmp:
        pred = predict(run, dataset, split=split, out=Path(tmp) / split, prompt=prompt, device=device or "auto",
                       qc=False)  # fmt: skip
        errors = ef_errors(pred, dataset)
    if errors["n_patients"] == 0:
        raise ValueError(f"{dataset}: no {split} patient with 2CH/4CH × ED/ES frames to check the EF on")
    mae = errors["single_plane"]["mae"]
    return {"split": split, "method": "method of discs (ASE)", "tolerance": EF_TOLERANCE, **errors,
            "passed": None if mae is None else bool(mae <= EF_TOLERANCE)}  # fmt: skip


def add_ef_check(
    qc_json: str | Path, run: str | Path, dataset: str | Path, device: str | None = None
) -> dict:
    """Run :func:`validation_ef_check` (at ``qc_json``'s prompt level) and store it under ``ef_check`` in
    ``qc_json`` (atomically); return it."""
    doc = read_json(qc_json, expect=dict)
    check = validation_ef_check(run, dataset, device, prompt=doc.get("prompt_level"))
    doc[EF_CHECK_KEY] = check
    write_json_atomic(qc_json, doc)
    return check
