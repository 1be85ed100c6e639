"""Clinical indices: LV volumes and EF by Simpson's biplane method of discs, LA volume, agreement.

``run_clinical(pred_folder, dataset_root, out)`` is the stage function behind
``synthboost clinical``; :func:`synthboost.clinical.agreement.clinical_html` turns its output
folder into an HTML fragment for the report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synthboost.clinical.agreement import summarize, write_clinical
from synthboost.clinical.indices import clinical_table


def run_clinical(
    pred_folder: str | Path,
    dataset_root: str | Path,
    out: str | Path,
    plots: bool = True,
    method: str = "ase",
) -> dict[str, Any]:
    """Compute per-patient indices and their agreement; write CSV, JSON summary and plots to ``out``.

    Args:
        pred_folder: prediction folder of the evaluate stage (native-size masks are used).
        dataset_root: the processed dataset the predictions were made on.
        out: output folder (created; files inside are overwritten).
        plots: also draw the scatter and Bland–Altman PNGs.
        method: method-of-discs convention, ``ase`` (ASE/EACVI 2015 biplane, default) or ``camus``
            (the CAMUS organisers' EF script; see :mod:`synthboost.clinical.camus_ef`).

    Returns:
        ``{"table": DataFrame, "summary": dict, "paths": {name: Path}}``.
    """

    table = clinical_table(pred_folder, dataset_root, method)
    paths = write_clinical(table, out, plots=plots, method=method)
    return {"table": table, "summary": summarize(table, method), "paths": paths}
