"""CLI of quality control: ``synthboost qc fit RUN DATASET`` (heavy imports inside the command)."""

from __future__ import annotations

from pathlib import Path

import typer

qc_app = typer.Typer(help="Quality control of segmentations (docs/qc.md).", no_args_is_help=True)


@qc_app.command("fit")
def fit_command(
    run: Path = typer.Argument(..., help="Run folder: qc.json is written into it."),
    dataset: Path = typer.Argument(
        ...,
        help="Processed dataset: rules fitted on its val split, shape ranges and intensity histograms on train.",
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write qc.json here instead of RUN/qc.json."),
    device: str | None = typer.Option(None, help="cuda, cpu, ... (default: CUDA when available)."),
    ef_check: bool = typer.Option(
        True, "--ef-check/--no-ef-check", help="Also check the model's EF on the val patients (docs/qc.md)."
    ),
) -> None:
    """Fit the QC score and threshold on the validation split (failure = Dice < 80); write qc.json."""
    from synthboost.clinical.ef_check import add_ef_check
    from synthboost.evaluation.qc_fit import describe_ef_check, read_qc
    from synthboost.evaluation.qc_pass import fit_qc

    path = fit_qc(run, dataset, out, device)
    if ef_check:
        typer.echo(describe_ef_check(add_ef_check(path, run, dataset, device)))
    qc = read_qc(path)
    for kind, rule in qc.rules.items():
        typer.echo(f"{kind}: flag when score < {rule.threshold:.3f} (signals {', '.join(rule.signals)})")
    typer.echo(
        f"fitted on {qc.info['n_val_items']} val image-structures, {qc.info['n_val_failures']} failures -> {path}"
    )


def register(app: typer.Typer) -> None:
    """Add ``qc`` to the main app."""
    app.add_typer(qc_app, name="qc")
