"""CLI commands of the clinical stage (heavy imports stay inside the commands)."""

from __future__ import annotations

from pathlib import Path

import typer


def clinical_command(
    preds: Path = typer.Argument(..., help="Prediction folder (written by `synthboost predict`)."),
    dataset: Path = typer.Argument(..., help="Processed dataset the predictions were made on."),
    out: Path = typer.Option(Path("clinical"), "--out", "-o", help="Output folder (CSV, JSON, plots)."),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Draw scatter and Bland-Altman PNGs."),
    method: str = typer.Option(
        "ase",
        "--method",
        help="Method of discs: ase (ASE/EACVI 2015 biplane, default) or camus (the CAMUS organisers' EF "
        "script convention, for agreement with CAMUS cfg volumes without method bias).",
    ),
) -> None:
    """LV EDV/ESV/EF (Simpson's biplane) from predicted and true masks, agreement with the reference."""
    from synthboost.clinical import run_clinical
    from synthboost.clinical.agreement import format_summary
    from synthboost.clinical.simpson import METHODS

    if method not in METHODS:
        raise ValueError(f"--method {method!r}: choose one of {', '.join(METHODS)}")
    result = run_clinical(preds, dataset, out, plots=plots, method=method)
    typer.echo(format_summary(result["summary"]))
    typer.echo(f"{result['summary']['n_patients']} patients -> {out}")


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.command("clinical")(clinical_command)
