"""The per-image-structure QC table: ``qc.csv`` in a prediction folder, merged into evaluate's metrics CSV."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from synthboost.utils.files import atomic_path

QC_CSV = "qc.csv"
#: Columns the QC pass adds per image-structure (predict's ``qc.csv``, evaluate's metrics CSV).
QC_COLUMNS: tuple[str, ...] = (
    "qc_score", "qc_fail", "qc_reasons", "prompt_dis", "tta_dis", "uncertainty", "fragment", "n_components",
    "shape_violation", "heterogeneity", "weak_border", "inside_misfit", "outside_misfit",
)  # fmt: skip
#: Columns a ``qc.csv`` of an earlier synthboost may lack (read as empty).
LATER_COLUMNS: tuple[str, ...] = (
    "uncertainty", "heterogeneity", "weak_border", "inside_misfit", "outside_misfit",
)  # fmt: skip
KEY_COLUMNS: tuple[str, ...] = ("group", "name", "label")


def write_qc_csv(path: str | Path, rows: Sequence[dict[str, Any]]) -> None:
    """Write QC rows (:data:`KEY_COLUMNS` + :data:`QC_COLUMNS`) as CSV, atomically."""
    import pandas as pd

    df = pd.DataFrame([{k: r[k] for k in (*KEY_COLUMNS, *QC_COLUMNS)} for r in rows])
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.4f")


def attach_qc(metrics: Any, pred_folder: str | Path) -> Any:
    """``metrics`` with the QC columns of ``pred_folder/qc.csv`` (unchanged when there is none).

    Raises:
        ValueError: ``qc.csv`` lacks a column or a predicted image-structure.
    """
    import pandas as pd

    path = Path(pred_folder) / QC_CSV
    if not path.is_file():
        return metrics
    qc = pd.read_csv(path, keep_default_na=False, na_values=[""])
    for column in LATER_COLUMNS:
        if column not in qc.columns:
            qc[column] = float("nan")
    missing = [c for c in (*KEY_COLUMNS, *QC_COLUMNS) if c not in qc.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}")
    qc = qc.astype({"group": str, "name": str, "label": int})
    merged = metrics.merge(qc[[*KEY_COLUMNS, *QC_COLUMNS]], on=list(KEY_COLUMNS), how="left", validate="1:1")
    lost = merged["prompt_dis"].isna()
    if lost.any():
        row = merged[lost].iloc[0]
        raise ValueError(f"{path}: no QC row for {row['group']}/{row['name']} label {row['label']}")
    return merged


def summary_line(df: Any) -> str:
    """``k of N image-structures flagged by QC; mean Dice flagged a, kept b, all c`` of a QC'd metrics table.

    Raises:
        ValueError: the table has no calibrated QC (no ``qc_fail`` values).
    """
    if "qc_fail" not in df.columns or df["qc_fail"].isna().all():
        raise ValueError("summary_line: no calibrated QC in this table")
    flagged = df["qc_fail"].astype(bool)

    def mean(s: Any) -> str:
        return f"{s.mean():.1f}" if len(s) else "n/a"

    return (f"{int(flagged.sum())} of {len(df)} image-structures flagged by QC; mean Dice flagged "
            f"{mean(df.loc[flagged, 'dice'])}, kept {mean(df.loc[~flagged, 'dice'])}, all {df['dice'].mean():.1f}")  # fmt: skip
