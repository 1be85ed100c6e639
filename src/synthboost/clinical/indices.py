"""Per-patient LV volumes, EF and LA volume from predicted masks, ground truth and ``meta.csv``.

Inputs are the evaluate stage's prediction folder (native-size masks ``native/<group>/mask_<k>/
<name>.png``) and the processed dataset (``labels_native`` and the spacing of ``meta.csv``), both
described in ``docs/formats.md``. A patient is one ``(group, patient)`` pair (CAMUS testing
patients reuse the training numbers) with all four frames 2CH/4CH × ED/ES.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from synthboost.clinical.camus_ef import lv_volumes_camus
from synthboost.clinical.qc import attach_patient_qc
from synthboost.clinical.simpson import ejection_fraction, geometry_from_labels, la_volume, lv_volumes
from synthboost.data.format import LABELS, PHASES, VIEWS, native_label_path
from synthboost.data.imageio.medical import read_png
from synthboost.data.processed import read_meta, spacing_mm
from synthboost.evaluation.predictions import load_mask, read_predictions
from synthboost.logs import get_logger

log = get_logger("clinical")

#: Indices computed per patient and source.
INDICES: tuple[str, ...] = ("edv", "esv", "ef", "la_es")
#: Also given by ``--method camus``: the volumes before the script's rounding to whole mL, and their EF.
CAMUS_UNROUNDED: tuple[str, ...] = ("edv_unrounded", "esv_unrounded", "ef_unrounded")
#: Units of :data:`INDICES`.
UNITS: dict[str, str] = {"edv": "mL", "esv": "mL", "ef": "%", "la_es": "mL"}
Frames = dict[tuple[str, str], dict[str, Any]]  # (view, phase) -> meta row
LabelSource = Callable[[dict[str, Any]], "np.ndarray | None"]


def patients_from_meta(rows: list[dict[str, Any]]) -> dict[tuple[str, str], Frames]:
    """Group ``meta.csv`` rows by ``(group, patient)``; keep patients with all four frames."""
    out: dict[tuple[str, str], Frames] = {}
    for row in rows:
        out.setdefault((row["group"], row["patient"]), {})[(row["view"], row["phase"])] = row
    need = {(v, p) for v in VIEWS for p in PHASES}
    return {k: v for k, v in sorted(out.items()) if need <= set(v)}


def reference_values(frames: Frames) -> dict[str, float]:
    """``lv_edv, lv_esv, lv_ef`` of ``meta.csv`` (from Info_*.cfg) as ``edv, esv, ef``; NaN when absent."""
    out = {}
    for key in ("edv", "esv", "ef"):
        values = [r[f"lv_{key}"] for r in frames.values() if r.get(f"lv_{key}") is not None]
        out[key] = float(values[0]) if values else math.nan
    return out


def compose_labels(masks: dict[int, np.ndarray]) -> np.ndarray:
    """One label map from per-structure binary masks; overlaps go to LV, then LA, then myocardium."""
    shape = next(iter(masks.values())).shape
    labels = np.zeros(shape, np.uint8)
    for k in (2, 3, 1):
        if k in masks:
            labels[np.asarray(masks[k], bool)] = k
    return labels


def indices_from_labels(frames: Frames, load: LabelSource, method: str = "ase") -> dict[str, float]:
    """EDV, ESV, EF and LA volume at ES of one patient; NaN for what cannot be computed.

    Args:
        frames: the patient's four meta rows by ``(view, phase)``.
        load: returns the native label map of a meta row, or ``None`` when unavailable.
        method: convention of the method of discs, ``ase`` or ``camus``
            (:mod:`synthboost.clinical.simpson`).
    """
    out = dict.fromkeys(INDICES, math.nan)
    labels = {key: load(row) for key, row in frames.items()}
    spacing = {key: spacing_mm(row) for key, row in frames.items()}
    geometries = {}
    for (view, phase), lab in labels.items():
        if lab is None:
            continue
        try:
            geometries[(view, phase)] = geometry_from_labels(lab, spacing[(view, phase)])
        except ValueError as err:
            log.warning("%s %s %s: no LV volume (%s)", frames[(view, phase)]["patient"], view, phase, err)
    if method == "camus":
        out.update(_camus_indices(frames, labels, spacing))
    else:
        volumes = lv_volumes(geometries, method)
        out["edv"], out["esv"] = volumes.get("ED", math.nan), volumes.get("ES", math.nan)
    if not math.isnan(out["edv"]) and not math.isnan(out["esv"]):
        out["ef"] = ejection_fraction(out["edv"], out["esv"])
    a, b = labels[("2CH", "ES")], labels[("4CH", "ES")]
    if a is not None and b is not None:
        try:
            out["la_es"] = la_volume(a, spacing[("2CH", "ES")], b, spacing[("4CH", "ES")])
        except ValueError:
            pass
    return out


def _camus_indices(
    frames: Frames, labels: dict[tuple[str, str], np.ndarray | None], spacing: dict[tuple[str, str], Any]
) -> dict[str, float]:
    """EDV/ESV (whole mL) and their unrounded values by the CAMUS script (:mod:`.camus_ef`); NaN if impossible."""
    out = dict.fromkeys(("edv", "esv", *CAMUS_UNROUNDED), math.nan)
    if any(lab is None for lab in labels.values()):
        return out
    try:
        v = lv_volumes_camus({k: lab == 1 for k, lab in labels.items()}, spacing)
    except ValueError as err:
        log.warning("%s: no CAMUS-script volumes (%s)", frames[("2CH", "ED")]["patient"], err)
        return out
    out.update(edv=v.edv, esv=v.esv, edv_unrounded=v.edv_unrounded, esv_unrounded=v.esv_unrounded,
               ef_unrounded=v.ef_unrounded)  # fmt: skip
    return out


def ground_truth_loader(dataset_root: str | Path) -> LabelSource:
    """Loader of ``labels_native/<group>/<name>.png`` (``None`` when the file is missing)."""

    def load(row: dict[str, Any]) -> np.ndarray | None:
        path = native_label_path(dataset_root, row["group"], row["name"])
        return read_png(path) if path.is_file() else None

    return load


def prediction_loader(pred_folder: str | Path) -> tuple[LabelSource, set[tuple[str, str]]]:
    """Loader of a prediction folder's native masks composed into label maps, and the frames it holds.

    Returns:
        ``(load, frames)`` where ``frames`` is the set of ``(group, name)`` with an LV prediction.
    """

    preds = read_predictions(pred_folder)
    paths: dict[tuple[str, str], dict[int, Path]] = {}
    for item in preds.items:
        paths.setdefault((item.group, item.name), {})[item.label] = preds.root / item.native

    def load(row: dict[str, Any]) -> np.ndarray | None:
        found = paths.get((row["group"], row["name"]), {})
        if 1 not in found:
            return None
        masks = {k: load_mask(p) for k, p in found.items() if k in LABELS}
        shape = (row["orig_height"], row["orig_width"])
        if masks[1].shape != shape:
            raise ValueError(f"{found[1]}: size {masks[1].shape}, meta.csv says {shape} for {row['name']}")
        return compose_labels(masks)

    return load, {key for key, v in paths.items() if 1 in v}


def clinical_table(pred_folder: str | Path, dataset_root: str | Path, method: str = "ase") -> Any:
    """Per-patient indices from predictions (``pred_*``), ground truth (``gt_*``) and cfg (``ref_*``).

    Only patients whose four frames all have an LV prediction are kept. ``method``: the
    method-of-discs convention for ``pred`` and ``gt`` (``ase`` or ``camus``).

    Returns:
        A ``pandas.DataFrame`` with ``group, patient, split`` and ``{pred,gt,ref}_{edv,esv,ef}``,
        ``{pred,gt}_la_es``; then ``qc_lv_min_score, qc_lv_flagged, qc_verdict`` when the prediction
        folder has a ``qc.csv`` (:mod:`synthboost.clinical.qc`).

    Raises:
        ValueError: no patient has all four frames predicted.
    """
    import pandas as pd

    load_pred, predicted = prediction_loader(pred_folder)
    load_gt = ground_truth_loader(dataset_root)
    rows = []
    for (group, patient), frames in patients_from_meta(read_meta(dataset_root)).items():
        if not all((group, r["name"]) in predicted for r in frames.values()):
            continue
        row: dict[str, Any] = {"group": group, "patient": patient, "split": frames[("2CH", "ED")]["split"]}
        for source, load in (("pred", load_pred), ("gt", load_gt)):
            row.update({f"{source}_{k}": v for k, v in indices_from_labels(frames, load, method).items()})
        row.update({f"ref_{k}": v for k, v in reference_values(frames).items()})
        rows.append(row)
    if not rows:
        raise ValueError(
            f"{pred_folder}: no patient of {dataset_root} has LV predictions for all of 2CH/4CH × ED/ES"
        )
    log.info("clinical indices of %d patients", len(rows))
    names = {
        f"{g}/{p}": [r["name"] for r in f.values()]
        for (g, p), f in patients_from_meta(read_meta(dataset_root)).items()
    }
    return attach_patient_qc(pd.DataFrame(rows), pred_folder, names)
