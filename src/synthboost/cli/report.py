"""CLI commands of the report stage (heavy imports stay inside the commands)."""

from __future__ import annotations

from pathlib import Path

import typer


def _parse_logs(items: list[str]) -> dict[str, Path]:
    logs = {}
    for item in items:
        label, sep, path = item.partition("=")
        if not sep:
            raise ValueError(f"--log {item!r}: expected LABEL=PATH")
        logs[label] = Path(path)
    return logs


def _run_folders(folder: Path) -> dict[str, Path]:
    """Finished run folders directly below ``folder`` (``DONE``); ``seed_<s>`` subfolders count too."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: runs folder not found")
    found = sorted(
        {p.parent for p in folder.glob("*/DONE")} | {p.parent for p in folder.glob("*/seed_*/DONE")}
    )
    if not found:
        raise ValueError(f"{folder}: no finished run folders (*/DONE) inside")
    return {p.relative_to(folder).as_posix(): p for p in found}


def report_command(
    results_dir: Path = typer.Argument(..., help="Results folder (see docs/formats.md, 'Results folder')."),
    out: Path = typer.Option(Path("report"), "--out", "-o", help="Report folder to write."),
    log: list[str] = typer.Option(
        [], "--log", help="LABEL=PATH of a run log CSV (epoch, val_dice); repeatable."
    ),
    dataset: Path | None = typer.Option(
        None, help="Processed dataset: the runs' validation set (best run) and, with --predictions, overlays."
    ),
    predictions: Path | None = typer.Option(None, help="Prediction folder, for qualitative overlays."),
    clinical: Path | None = typer.Option(None, help="Output folder of `synthboost clinical`, to embed."),
    runs: Path | None = typer.Option(
        None,
        "--runs",
        help="Folder of finished run folders (e.g. a sweep's --out): optimiser steps, wall time, validation "
        "Dice, the best run by validation Dice, steps in the claims table.",
    ),
) -> None:
    """Tables (md/tex/csv), statistics, figures (png/pdf) and a self-contained report.html."""
    from synthboost.report.html import build_report

    overlay = None
    if predictions is not None and dataset is None:
        raise ValueError("overlays need both --dataset and --predictions")
    if dataset is not None and predictions is not None:
        from synthboost.evaluation.per_image import evaluate

        overlay = (evaluate(predictions, dataset), dataset, predictions)
    extra = []
    if clinical is not None:
        from synthboost.clinical.agreement import clinical_html

        extra.append(clinical_html(clinical))
    run_dirs = _run_folders(runs) if runs is not None else None
    path = build_report(results_dir, out, logs=_parse_logs(log) or None, overlay=overlay, extra_sections=extra,
                        runs=run_dirs, dataset=dataset)  # fmt: skip
    typer.echo(f"report: {path}")


def reproduce_paper_command(
    reference_dir: Path = typer.Argument(
        ..., help="The authors' reference folder (metrics/, paper_tables.csv)."
    ),
) -> None:
    """Recompute the paper's Table 1 and significance tests; exit 1 if any cell differs."""
    from synthboost.report.paper import format_reproduction, reproduce_paper

    rep = reproduce_paper(reference_dir)
    typer.echo(format_reproduction(rep))
    if rep.n_mismatch:
        typer.secho(f"{rep.n_mismatch} Table-1 cells differ from the paper", fg="red", err=True)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.command("report")(report_command)
    app.command("reproduce-paper")(reproduce_paper_command)
