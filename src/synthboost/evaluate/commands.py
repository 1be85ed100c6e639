"""CLI commands of the evaluate stage (heavy imports stay inside the commands)."""

from __future__ import annotations

from pathlib import Path

import typer


def evaluate_command(
    preds: Path = typer.Argument(..., help="Prediction folder (written by `synthboost predict`)."),
    dataset: Path = typer.Argument(..., help="Processed dataset the predictions were made on."),
    out: Path = typer.Option(Path("results.csv"), "--out", "-o", help="Per-image metrics CSV to write."),
) -> None:
    """Score predictions: Dice, IoU, Hausdorff (512 grid) and HD95 / mean distance in mm."""
    from synthboost.evaluate.per_image import evaluate

    df = evaluate(preds, dataset, out)
    summary = df.groupby("structure")[["dice", "iou", "hd95_mm"]].mean().round(2)
    typer.echo(summary.to_string())
    typer.echo(f"mean Dice {df['dice'].mean():.2f} over {len(df)} pairs -> {out}")


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.command("evaluate")(evaluate_command)
