"""Scores of analysed EchoNet-Dynamic loops in the dataset's own terms: ``evaluate --format echonet``.

For an analysis folder of ``synthboost analyze`` run on EchoNet-Dynamic videos and the release
folder (``FileList.csv``, ``VolumeTracings.csv``): per loop (matched to ``FileName`` by the loop's
name), the loop's EF (``summary.json`` ``ef_percent``) against ``FileList.csv`` ``EF``, and the LV
Dice (×100) of the analysed label maps at the two traced frames against the official loader's masks
(:func:`synthboost.data.sources.echonet.ed_es_masks`, ED/ES by row order). Summary: EF MAE, RMSE and R²
(``1 − Σ(EF − EF_true)² / Σ(EF_true − mean EF_true)²``, over the loops with an EF) and the Dice's
mean ± sd at ED and at ES. A loop without an EF (uncalibrated analysis refuses volumes) counts in
``n_loops`` but not in ``n_ef``; it is never dropped silently.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from synthboost.data.imageio.medical import read_medical_array
from synthboost.data.sources.echonet import ed_es_masks, list_videos
from synthboost.evaluation.metrics import compute_dice
from synthboost.utils.files import read_json

ECHONET_COLUMNS: tuple[str, ...] = ("loop", "ef", "ef_true", "ef_error", "dice_lv_ed", "dice_lv_es",
                                    "ed_frame", "es_frame")  # fmt: skip


def score_echonet_loop(folder: Path, video: Any) -> dict[str, Any]:
    """One row: the loop's EF against ``FileList.csv`` and its LV Dice at the traced frames."""
    summary = read_json(folder / "summary.json")
    labels, _ = read_medical_array(folder / "labels.nii.gz")
    if labels.ndim != 3:
        raise ValueError(
            f"{folder / 'labels.nii.gz'}: expected (frames, rows, cols), got shape {labels.shape}"
        )
    ef = summary.get("ef_percent")
    ef = math.nan if ef is None else float(ef)
    row: dict[str, Any] = {"loop": folder.name, "ef": ef, "ef_true": video.ef, "ef_error": ef - video.ef}
    for phase, (frame, mask) in ed_es_masks(video, labels.shape[1:]).items():
        if frame >= len(labels):
            raise ValueError(
                f"{folder / 'labels.nii.gz'}: {len(labels)} frames, traced {phase} frame is {frame}"
            )
        row[f"dice_lv_{phase.lower()}"] = 100.0 * compute_dice(labels[frame] == 1, mask)
        row[f"{phase.lower()}_frame"] = frame
    return row


def evaluate_echonet(analysis: str | Path, echonet_root: str | Path) -> Any:
    """Per-loop rows (:data:`ECHONET_COLUMNS`) of an analysis folder against an EchoNet-Dynamic release.

    Raises:
        ValueError: a loop's name is not a usable video of ``FileList.csv``.
    """
    import pandas as pd

    analysis = Path(analysis)
    videos = {v.name: v for v in list_videos(echonet_root)[0]}
    rows = []
    for stem in read_json(analysis / "analysis.json")["loops"]:
        if stem not in videos:
            raise ValueError(
                f"{analysis / stem}: no traced video {stem!r} in {Path(echonet_root) / 'FileList.csv'}"
            )
        rows.append(score_echonet_loop(analysis / stem, videos[stem]))
    return pd.DataFrame(rows, columns=list(ECHONET_COLUMNS))


def echonet_summary(df: Any) -> dict[str, float]:
    """EF MAE / RMSE / R² over the loops with an EF, and LV Dice mean ± sd at ED and ES."""
    has = df[np.isfinite(df["ef"].to_numpy(float))]
    err = (has["ef"] - has["ef_true"]).to_numpy(float)
    truth = has["ef_true"].to_numpy(float)
    ss_tot = float(np.sum((truth - truth.mean()) ** 2)) if len(truth) else math.nan
    out = {
        "n_loops": int(len(df)),
        "n_ef": int(len(has)),
        "ef_mae": float(np.abs(err).mean()) if len(err) else math.nan,
        "ef_rmse": float(np.sqrt(np.mean(err**2))) if len(err) else math.nan,
        "ef_r2": 1.0 - float(np.sum(err**2)) / ss_tot if len(err) >= 2 and ss_tot > 0 else math.nan,
    }
    for phase in ("ed", "es"):
        values = df[f"dice_lv_{phase}"].to_numpy(float)
        out[f"dice_lv_{phase}_mean"] = float(values.mean()) if len(values) else math.nan
        out[f"dice_lv_{phase}_sd"] = float(values.std(ddof=1)) if len(values) >= 2 else math.nan
    return out


def format_echonet_summary(s: dict[str, float], title: str) -> str:
    """The summary as text, ``title`` (what made the numbers) first."""
    return "\n".join([
        title,
        f"EF against FileList.csv ({s['n_ef']} of {s['n_loops']} loops with an EF): MAE {s['ef_mae']:.2f}, "
        f"RMSE {s['ef_rmse']:.2f} points, R² {s['ef_r2']:.3f}",
        f"LV Dice at the traced frames (official masks): ED {s['dice_lv_ed_mean']:.2f} ± {s['dice_lv_ed_sd']:.2f}, "
        f"ES {s['dice_lv_es_mean']:.2f} ± {s['dice_lv_es_sd']:.2f}",
    ])  # fmt: skip
