"""CLI commands of the evaluate stage (heavy imports stay inside the commands)."""

from __future__ import annotations

from pathlib import Path

import typer

from synthboost.evaluate import qc_commands


def evaluate_command(
    preds: Path = typer.Argument(
        ..., help="Prediction folder (`synthboost predict`) or analysis folder (`synthboost analyze`)."
    ),
    dataset: Path = typer.Argument(
        ..., help="Processed dataset of the predictions, or the folder holding the sequences' truth."
    ),
    out: Path = typer.Option(
        Path("results.csv"), "--out", "-o", help="Per-image (or per-loop) metrics CSV to write."
    ),
) -> None:
    """Score predictions: Dice, IoU, Hausdorff (512 grid) and HD95 / mean distance in mm; or sequences."""
    from synthboost.evaluate.sequence import is_analysis_folder

    if is_analysis_folder(preds):
        return _evaluate_sequences(preds, dataset, out)
    from synthboost.evaluate.per_image import evaluate

    df = evaluate(preds, dataset, out)
    summary = df.groupby("structure")[["dice", "iou", "hd95_mm"]].mean().round(2)
    typer.echo(summary.to_string())
    typer.echo(f"mean Dice {df['dice'].mean():.2f} over {len(df)} pairs -> {out}")
    if "qc_fail" in df.columns:
        from synthboost.evaluate.qc_fit import NO_RULE_MESSAGE
        from synthboost.evaluate.qc_table import summary_line

        typer.echo(f"QC: {NO_RULE_MESSAGE}" if df["qc_fail"].isna().all() else f"QC: {summary_line(df)}")


def _evaluate_sequences(analysis: Path, truth: Path, out: Path) -> None:
    from synthboost.evaluate.sequence import evaluate_sequences, sequence_summary

    s = sequence_summary(evaluate_sequences(analysis, truth, out))
    typer.echo(
        f"{s['n_loops']} loops: ED and ES within ±1 frame {s['ed_es_within_1_percent']:.0f} %, "
        f"|EF error| single-plane {s['ef_mae_single_plane']:.2f}, biplane {s['ef_mae_biplane']:.2f} points, "
        f"per-frame Dice {s['dice_mean']:.2f}, temporal jitter ratio {s['tc_ratio_mean']:.2f} -> {out}"
    )


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.command("evaluate")(evaluate_command)
    qc_commands.register(app)
