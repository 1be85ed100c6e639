"""The demo's quality-control step: fit ``qc.json`` for the best run on validation, then QC its test predictions.

Kept beside :mod:`synthboost.demo` so the demo's own file only calls :func:`qc_best_run`.
"""

from __future__ import annotations

from pathlib import Path

from synthboost.clinical.ef_check import add_ef_check
from synthboost.evaluation.per_image import evaluate
from synthboost.evaluation.predict import predict
from synthboost.evaluation.qc_fit import QC_JSON, describe_ef_check
from synthboost.evaluation.qc_pass import fit_qc
from synthboost.evaluation.qc_table import summary_line
from synthboost.logs import get_logger

log = get_logger("demo")


def qc_best_run(out: Path, camus: Path, run: Path, level: str) -> Path | None:
    """Fit the best run's QC on validation (``RUN/qc.json``), predict its test split with QC and score it.

    Returns:
        ``OUT/qc/metrics.csv`` (per image-structure metrics with the QC columns), or ``None`` when no
        rule could be fitted (e.g. every validation image-structure fails): the run then reports raw signals.
    """
    folder = out / "qc"
    csv = folder / "metrics.csv"
    if csv.exists():
        log.info("[qc] reusing %s", csv)
        return csv
    if not (run / QC_JSON).is_file():
        try:
            path = fit_qc(run, camus)
        except ValueError as err:
            log.warning("[qc] no calibrated QC for %s: %s", run.name, err)
            return None
        try:
            log.info("[qc] %s", describe_ef_check(add_ef_check(path, run, camus)))
        except ValueError as err:
            log.warning("[qc] no EF check for %s: %s", run.name, err)
    pred = predict(
        run, camus, split="test", out=folder / "predictions", prompt=level, device="auto", overwrite=True
    )
    df = evaluate(pred, camus, csv)
    log.info("[qc] %s: %s", run.name, summary_line(df))
    return csv
