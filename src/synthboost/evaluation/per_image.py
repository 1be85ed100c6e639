"""Score a prediction folder against a processed dataset: one CSV row per (image, structure).

The first six columns are the reference's (``filename, iou, dice, hausdorff_distance,
ones_dice_diff, zeros_dice_diff``; ×100, Hausdorff = 100 × the maximum boundary distance in
pixels on the 512 grid), so our CSVs and the authors' load with the same code. Then
``hd95_mm`` and ``mean_distance_mm`` at native resolution, and the image's attributes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from synthboost.data.format import LABELS, mask_path, native_label_path
from synthboost.data.imageio.medical import read_png
from synthboost.data.processed import read_meta, spacing_mm
from synthboost.evaluation.metrics import grid_scores, native_scores
from synthboost.evaluation.predictions import Predictions, load_mask, read_predictions
from synthboost.evaluation.qc_table import attach_qc
from synthboost.logs import get_logger
from synthboost.progress import track
from synthboost.utils.files import atomic_path

log = get_logger("evaluation")

REFERENCE_COLUMNS: tuple[str, ...] = (
    "filename",
    "iou",
    "dice",
    "hausdorff_distance",
    "ones_dice_diff",
    "zeros_dice_diff",
)
METRIC_COLUMNS: tuple[str, ...] = (
    *REFERENCE_COLUMNS,
    "hd95_mm",
    "mean_distance_mm",
    "group",
    "name",
    "label",
    "structure",
    "view",
    "phase",
    "patient",
    "quality",
)


def _load_native_gt(dataset_root: Path, group: str, name: str, cache: dict) -> np.ndarray:
    key = (group, name)
    if key not in cache:
        cache.clear()  # items arrive grouped by image; keep one label map in memory
        cache[key] = read_png(native_label_path(dataset_root, group, name))
    return cache[key]


def score_item(item: Any, preds: Predictions, dataset_root: Path, meta: Any, cache: dict) -> dict[str, Any]:
    """One CSV row for one predicted (image, structure)."""
    m = meta.get((item.group, item.name))
    if m is None:
        raise ValueError(
            f"{dataset_root / 'meta.csv'}: no row for group {item.group!r}, name {item.name!r}"
        ) from None
    gt_grid = load_mask(mask_path(dataset_root, item.group, item.label, item.name))
    pred_grid = load_mask(preds.root / item.mask)
    if gt_grid.shape != pred_grid.shape:
        raise ValueError(f"{preds.root / item.mask}: shape {pred_grid.shape}, ground truth {gt_grid.shape}")
    gt_native = _load_native_gt(dataset_root, item.group, item.name, cache) == item.label
    pred_native = load_mask(preds.root / item.native)
    if gt_native.shape != pred_native.shape:
        raise ValueError(
            f"{preds.root / item.native}: shape {pred_native.shape}, native label {gt_native.shape}"
        )
    row: dict[str, Any] = {"filename": item.mask.removeprefix("masks/")}
    row.update(grid_scores(pred_grid, gt_grid))
    if m.get("spacing_row_mm") is None and m.get("spacing_col_mm") is None:  # e.g. EchoNet: no spacing stated
        row.update(hd95_mm=float("nan"), mean_distance_mm=float("nan"))
    else:
        row.update(native_scores(pred_native, gt_native, spacing_mm(m)))
    row.update(group=item.group, name=item.name, label=item.label, structure=LABELS[item.label])
    row.update({k: m[k] or "" for k in ("view", "phase", "patient", "quality")})
    return row


def evaluate(pred_folder: str | Path, dataset_root: str | Path, out_csv: str | Path | None = None) -> Any:
    """Score every item of a prediction folder; write ``out_csv`` (atomically) when given.

    Args:
        pred_folder: a folder written by :class:`~synthboost.evaluation.predictions.PredictionWriter`.
        dataset_root: the processed dataset the predictions were made on.
        out_csv: where to write the per-image metrics CSV.

    Returns:
        A ``pandas.DataFrame`` with the columns :data:`METRIC_COLUMNS`, then the QC columns
        (:data:`~synthboost.evaluation.qc_table.QC_COLUMNS`) when the folder has a ``qc.csv``.
    """
    import pandas as pd

    preds = read_predictions(pred_folder)
    dataset_root = Path(dataset_root)
    meta = {(r["group"], r["name"]): r for r in read_meta(dataset_root)}
    cache: dict = {}
    items = sorted(preds.items, key=lambda i: (i.group, i.name, i.label))
    rows = [
        score_item(item, preds, dataset_root, meta, cache)
        for item in track(items, f"evaluate {Path(pred_folder).name}")
    ]
    df = attach_qc(pd.DataFrame(rows, columns=list(METRIC_COLUMNS)), preds.root)
    if out_csv is not None:
        write_metrics_csv(df, out_csv)
    return df


def write_metrics_csv(df: Any, out_csv: str | Path) -> None:
    """Write a metrics table as CSV (4 decimals) through a temporary file and a rename."""
    with atomic_path(out_csv) as tmp:
        df.to_csv(tmp, index=False, float_format="%.4f")
    log.info("wrote %d rows to %s", len(df), out_csv)
