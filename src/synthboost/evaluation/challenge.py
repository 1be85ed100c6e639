"""Scores in the CAMUS challenge's format (Leclerc et al., IEEE TMI 2019): ``evaluate --format camus``.

Three structures per frame, each from the native-resolution masks (``docs/formats.md``):

- ``endo``: the LV cavity (label 1);
- ``epi``: the LV epicardium, LV cavity ∪ myocardium (labels 1 and 2) with its holes filled;
- ``la``: the left atrium (label 3).

For each, at ED and at ES: Dice (%), Hausdorff distance ``HD`` (mm: the largest distance between
the two boundaries, in both directions) and mean absolute distance ``MAD`` (mm: the mean of the two
directed mean boundary distances, ``(mean d(P→G) + mean d(G→P)) / 2``, as CREATIS's challenges define
it), from
:mod:`synthboost.evaluation.metrics` with the frame's pixel spacing. A patient's two views (2CH,
4CH) are averaged first; the table gives mean ± sd over patients. The clinical part (EDV, ESV, EF
by the CAMUS EF script against the same script on the ground truth) is computed by the clinical
stage and formatted here by :func:`format_camus_table`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from synthboost.data.format import native_label_path
from synthboost.data.imageio.medical import read_png
from synthboost.data.processed import read_meta, spacing_mm
from synthboost.evaluation.metrics import compute_dice, compute_hausdorff, compute_mean_absolute_distance
from synthboost.evaluation.predictions import load_mask, read_predictions

#: CAMUS structures: name -> labels they join.
STRUCTURES: dict[str, tuple[int, ...]] = {"endo": (1,), "epi": (1, 2), "la": (3,)}
#: Challenge metrics and their units.
METRICS: dict[str, str] = {"dice": "%", "hd_mm": "mm", "mad_mm": "mm"}


def structure_mask(masks: dict[int, np.ndarray], structure: str) -> np.ndarray:
    """The binary mask of a CAMUS structure from per-label masks (``epi`` filled)."""
    mask = np.logical_or.reduce([np.asarray(masks[k], bool) for k in STRUCTURES[structure]])
    return ndimage.binary_fill_holes(mask) if structure == "epi" else mask


def frame_scores(
    pred: dict[int, np.ndarray], gt: dict[int, np.ndarray], spacing: tuple[float, float]
) -> dict[str, dict[str, float]]:
    """``{structure: {dice, hd_mm, mad_mm}}`` of one frame (masks by label 1, 2, 3)."""
    out = {}
    for structure in STRUCTURES:
        p, g = structure_mask(pred, structure), structure_mask(gt, structure)
        out[structure] = {
            "dice": 100.0 * compute_dice(p, g),
            "hd_mm": compute_hausdorff(p, g, spacing),
            "mad_mm": compute_mean_absolute_distance(p, g, spacing),
        }
    return out


def camus_frame_table(pred_folder: str | Path, dataset_root: str | Path) -> Any:
    """One row per (frame, structure) with Dice, HD and MAD, for every predicted frame.

    Raises:
        ValueError: a frame lacks a predicted label of 1, 2, 3, or the dataset states no spacing.
    """
    import pandas as pd

    preds = read_predictions(pred_folder)
    meta = {(r["group"], r["name"]): r for r in read_meta(dataset_root)}
    natives: dict[tuple[str, str], dict[int, Path]] = {}
    for item in preds.items:
        natives.setdefault((item.group, item.name), {})[item.label] = preds.root / item.native
    rows = []
    for (group, name), paths in sorted(natives.items()):
        missing = sorted({1, 2, 3} - set(paths))
        if missing:
            raise ValueError(f"{preds.root}: {name} has no prediction of label(s) {missing}; the CAMUS "
                             "format scores LV, myocardium and LA")  # fmt: skip
        row = meta.get((group, name))
        if row is None or row.get("spacing_row_mm") is None:
            raise ValueError(f"{Path(dataset_root) / 'meta.csv'}: {name}: no row or no pixel spacing (mm)")
        labels = read_png(native_label_path(dataset_root, group, name))
        gt = {k: labels == k for k in (1, 2, 3)}
        pred = {k: load_mask(p) for k, p in paths.items() if k in (1, 2, 3)}
        for structure, scores in frame_scores(pred, gt, spacing_mm(row)).items():
            rows.append({"group": group, "patient": row["patient"], "view": row["view"], "phase": row["phase"],
                         "structure": structure, **scores})  # fmt: skip
    return pd.DataFrame(rows)


def camus_segmentation_summary(frames: Any) -> Any:
    """Mean and sd over patients (views averaged first) per phase × structure × metric.

    Returns:
        A DataFrame indexed by ``(structure, phase)`` with columns ``<metric>_mean``, ``<metric>_sd``, ``n``.
    """
    per_patient = frames.groupby(["group", "patient", "structure", "phase"])[list(METRICS)].mean()
    grouped = per_patient.groupby(["structure", "phase"])
    out = grouped.mean().add_suffix("_mean").join(grouped.std(ddof=1).add_suffix("_sd"))
    out["n"] = grouped.size()
    return out.reindex([(s, p) for s in STRUCTURES for p in ("ED", "ES")])


def format_camus_table(summary: Any, clinical: dict[str, dict[str, float]] | None, title: str) -> str:
    """The CAMUS table as text: segmentation rows, then EDV/ESV/EF agreement (``clinical``, may be None).

    Args:
        summary: :func:`camus_segmentation_summary`'s frame.
        clinical: ``{index: agreement}`` (``pearson_r, bias, sd, loa_low, loa_high, mae, n``) of the
            predicted against the ground-truth indices, both by the CAMUS EF script.
        title: what made the numbers (the run / preset), printed first.
    """
    lines = [title, "segmentation (mean ± sd over patients; HD and MAD in mm at native resolution)",
             f"{'':10}{'Dice %':>16}{'HD mm':>16}{'MAD mm':>16}{'n':>5}"]  # fmt: skip
    for (structure, phase), r in summary.iterrows():
        cells = [f"{r[f'{m}_mean']:7.2f} ± {r[f'{m}_sd']:5.2f}" for m in METRICS]
        lines.append(
            f"{structure + ' ' + phase:10}" + "".join(f"{c:>16}" for c in cells) + f"{int(r['n']):>5}"
        )
    if clinical:
        lines.append("clinical (CAMUS EF script on predicted vs ground-truth masks)")
        lines.append(f"{'':6}{'corr':>7}{'bias':>9}{'sd':>8}{'LoA':>20}{'MAE':>8}{'n':>5}")
        for idx, a in clinical.items():
            loa = f"[{a['loa_low']:.1f}, {a['loa_high']:.1f}]"
            unit = "%" if idx == "ef" else "mL"
            lines.append(f"{idx.upper() + ' ' + unit:6}{a['pearson_r']:7.3f}{a['bias']:9.2f}{a['sd']:8.2f}"
                         f"{loa:>20}{a['mae']:8.2f}{a['n']:>5}")  # fmt: skip
    return "\n".join(lines)
