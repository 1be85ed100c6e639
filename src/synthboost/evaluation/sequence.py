"""Score sequence predictions (an analysis folder of ``synthboost analyze``) against CAMUS-2023-style truth.

For each analysed loop (``<analysis>/<stem>/summary.json`` + ``labels.nii.gz``) the truth is the
label sequence ``<stem>_gt.<ext>`` and the ``Info_<view>.cfg`` in the same folder, found under the
truth root by name (else beside the loop's recorded source). One CSV row per loop:

- ``dice_lv``, ``dice_myo``, ``dice_la``, ``dice_mean``: per-frame Dice (×100) averaged over the
  labelled frames of the half-sequence (frames whose truth has any label);
- ``ed_frame`` / ``es_frame`` (predicted; the first ED and the first ES after it) against the cfg's
  ``ED`` / ``ES`` (1-based in the cfg, 0-based here): ``ed_error`` / ``es_error`` in frames (signed);
- ``ef`` (the loop's single-plane EF) against the cfg's ``LVef``: ``ef_error`` (points, signed);
- temporal consistency: ``tc_pred`` and ``tc_true`` = mean |A(t+1) − A(t)| of the predicted and the
  true LV area (mm²), and ``tc_ratio = tc_pred / tc_true`` (1: as smooth as the truth; above 1:
  jitter).

Patients with a ``biplane.json`` entry add a row with ``view = biplane`` and only ``ef``/``ef_error``.
The layout is documented in docs/formats.md ("Sequence metrics CSV").
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from synthboost.data.format import LABELS
from synthboost.data.imageio.camus_info import parse_cfg
from synthboost.data.imageio.medical import read_medical_array
from synthboost.evaluation.analysis_reader import (
    ANALYSIS_MARKER,
    read_analysis_marker,
    read_biplane,
    read_frames_csv,
    read_loop_summary,
)
from synthboost.evaluation.metrics import compute_dice
from synthboost.evaluation.per_image import write_metrics_csv
from synthboost.logs import get_logger

log = get_logger("evaluation.sequence")

SEQUENCE_COLUMNS: tuple[str, ...] = (
    "loop", "patient", "view", "n_frames", "dice_lv", "dice_myo", "dice_la", "dice_mean",
    "ed_frame", "es_frame", "ed_true", "es_true", "ed_error", "es_error",
    "ef", "ef_true", "ef_error", "tc_pred", "tc_true", "tc_ratio",
)  # fmt: skip


def is_analysis_folder(path: str | Path) -> bool:
    """Whether ``path`` is an analysis folder written by ``synthboost analyze``."""
    return (Path(path) / ANALYSIS_MARKER).is_file()


def frame_dice(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Per-structure Dice (×100) averaged over the frames whose truth has any label."""
    if pred.shape != truth.shape:
        raise ValueError(f"sequence Dice: prediction {pred.shape} and truth {truth.shape} differ")
    labelled = [t for t in range(len(truth)) if truth[t].any()]
    out = {}
    for k, name in LABELS.items():
        values = [compute_dice(pred[t] == k, truth[t] == k) for t in labelled]
        out[f"dice_{name}"] = 100.0 * float(np.mean(values)) if values else math.nan
    out["dice_mean"] = float(np.nanmean([out[f"dice_{n}"] for n in LABELS.values()]))
    return out


def temporal_consistency(pred_area: np.ndarray, true_area: np.ndarray) -> dict[str, float]:
    """Mean absolute frame-to-frame change of the predicted and the true LV area, and their ratio."""
    tc_pred = float(np.mean(np.abs(np.diff(pred_area)))) if len(pred_area) > 1 else math.nan
    tc_true = float(np.mean(np.abs(np.diff(true_area)))) if len(true_area) > 1 else math.nan
    return {
        "tc_pred": tc_pred,
        "tc_true": tc_true,
        "tc_ratio": tc_pred / tc_true if tc_true > 0 else math.nan,
    }


def _truth_files(stem: str, view: str, source: Path, truth_root: Path | None) -> tuple[Path, Path]:
    candidates = sorted(truth_root.rglob(f"{stem}_gt.*")) if truth_root is not None else []
    gt = candidates[0] if candidates else next(iter(sorted(source.parent.glob(f"{stem}_gt.*"))), None)
    if gt is None:
        where = truth_root if truth_root is not None else source.parent
        raise FileNotFoundError(f"{where}: no truth label sequence {stem}_gt.* for the analysed loop {stem}")
    return gt, gt.parent / f"Info_{view}.cfg"


def _read_sequence(path: Path) -> tuple[np.ndarray, tuple[float, float]]:

    arr, spacing = read_medical_array(path)
    if arr.ndim != 3:
        raise ValueError(f"{path}: expected a 2-D + time label sequence, got shape {arr.shape}")
    return arr.astype(np.uint8), (spacing[-2], spacing[-1])


def score_loop(folder: Path, truth_root: Path | None) -> dict[str, Any]:
    """One CSV row for one analysed loop (see the module docstring)."""

    s = read_loop_summary(folder / "summary.json")
    read_frames_csv(folder / "frames.csv", s["n_frames"])
    gt_path, cfg_path = _truth_files(folder.name, s["view"], Path(s["source"]), truth_root)
    truth, spacing = _read_sequence(gt_path)
    pred, _ = _read_sequence(folder / "labels.nii.gz")
    if len(pred) != s["n_frames"]:
        raise ValueError(f"{folder / 'labels.nii.gz'}: {len(pred)} frames but summary.json says n_frames = "
                         f"{s['n_frames']}")  # fmt: skip
    info = parse_cfg(cfg_path)
    area = spacing[0] * spacing[1]
    ed = s["ed_frames"][0] if s["ed_frames"] else None
    es = next((f for f in s["es_frames"] if ed is None or f > ed), None)
    ef_true = info.lv_ef if info.lv_ef is not None else math.nan
    ef = s["ef_percent"] if s["ef_percent"] is not None else math.nan
    row: dict[str, Any] = {"loop": folder.name, "patient": s.get("patient", ""), "view": s["view"],
                           "n_frames": s["n_frames"], "ed_frame": ed, "es_frame": es,
                           "ed_true": info.ed - 1, "es_true": info.es - 1, "ef": ef, "ef_true": ef_true}  # fmt: skip
    row["ed_error"] = ed - (info.ed - 1) if ed is not None else math.nan
    row["es_error"] = es - (info.es - 1) if es is not None else math.nan
    row["ef_error"] = ef - ef_true
    row.update(frame_dice(pred, truth))
    row.update(
        temporal_consistency((pred == 1).sum(axis=(1, 2)) * area, (truth == 1).sum(axis=(1, 2)) * area)
    )
    return row


def _biplane_rows(analysis: Path, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pairs = read_biplane(analysis / "biplane.json")
    truth = {r["patient"]: r["ef_true"] for r in rows}
    out = []
    for patient, b in pairs.items():
        ef = b.get("ef_percent")
        ef = math.nan if ef is None else ef
        ef_true = truth.get(patient, math.nan)
        out.append({"loop": f"{patient}_biplane", "patient": patient, "view": "biplane",
                    "ef": ef, "ef_true": ef_true, "ef_error": ef - ef_true})  # fmt: skip
    return out


def evaluate_sequences(
    analysis: str | Path, truth_root: str | Path | None = None, out_csv: str | Path | None = None
) -> Any:
    """Score every loop of an analysis folder; write ``out_csv`` (atomically) when given.

    Returns:
        A ``pandas.DataFrame`` with the columns :data:`SEQUENCE_COLUMNS`.
    """
    import pandas as pd

    analysis = Path(analysis)
    root = Path(truth_root) if truth_root is not None else None
    rows = [score_loop(analysis / stem, root) for stem in read_analysis_marker(analysis)]
    rows += _biplane_rows(analysis, rows)
    df = pd.DataFrame(rows, columns=list(SEQUENCE_COLUMNS))
    if out_csv is not None:
        write_metrics_csv(df, out_csv)
    return df


def sequence_summary(df: Any) -> dict[str, float]:
    """Loops, share with ED and ES within ±1 frame, mean |EF error| (loops; biplane), mean Dice, mean tc_ratio."""
    loops = df[df["view"] != "biplane"]
    both = (loops["ed_error"].abs() <= 1) & (loops["es_error"].abs() <= 1)
    bi = df[df["view"] == "biplane"]
    return {
        "n_loops": int(len(loops)),
        "ed_es_within_1_percent": 100.0 * float(both.mean()) if len(loops) else math.nan,
        "ef_mae_single_plane": float(loops["ef_error"].abs().mean()),
        "ef_mae_biplane": float(bi["ef_error"].abs().mean()) if len(bi) else math.nan,
        "dice_mean": float(loops["dice_mean"].mean()),
        "tc_ratio_mean": float(loops["tc_ratio"].mean()),
    }
