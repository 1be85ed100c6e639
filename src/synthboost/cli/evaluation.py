"""CLI commands of the evaluation stage: ``predict`` and ``evaluate`` (heavy imports inside the commands)."""

from __future__ import annotations

from pathlib import Path

import typer


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
    fmt: str = typer.Option(
        "images",
        "--format",
        help="images (per-image metrics, default) or camus (the CAMUS challenge's table: "
        "endo/epi/LA x ED/ES Dice, HD and MAD in mm, EDV/ESV/EF agreement by the CAMUS EF script) or echonet "
        "(an analysis folder of EchoNet-Dynamic loops against the release folder: EF MAE/RMSE/R², LV Dice at the "
        "traced frames).",
    ),
) -> None:
    """Score predictions: Dice, IoU, Hausdorff (512 grid) and HD95 / mean distance in mm; or sequences."""
    from synthboost.evaluation.sequence import is_analysis_folder

    if fmt not in ("images", "camus", "echonet"):
        raise ValueError(f"--format {fmt!r}: choose images, camus or echonet")
    if fmt == "camus":
        return _evaluate_camus(preds, dataset, out)
    if fmt == "echonet":
        return _evaluate_echonet(preds, dataset, out)
    if is_analysis_folder(preds):
        return _evaluate_sequences(preds, dataset, out)
    from synthboost.evaluation.per_image import evaluate

    df = evaluate(preds, dataset, out)
    summary = df.groupby("structure")[["dice", "iou", "hd95_mm"]].mean().round(2)
    typer.echo(summary.to_string())
    typer.echo(f"mean Dice {df['dice'].mean():.2f} over {len(df)} pairs -> {out}")
    if "qc_fail" in df.columns:
        from synthboost.evaluation.qc_fit import NO_RULE_MESSAGE
        from synthboost.evaluation.qc_table import summary_line

        typer.echo(f"QC: {NO_RULE_MESSAGE}" if df["qc_fail"].isna().all() else f"QC: {summary_line(df)}")


def _evaluate_camus(preds: Path, dataset: Path, out: Path) -> None:
    from synthboost.clinical.agreement import agreement
    from synthboost.clinical.indices import clinical_table
    from synthboost.evaluation.challenge import (
        camus_frame_table,
        camus_segmentation_summary,
        format_camus_table,
    )
    from synthboost.evaluation.per_image import write_metrics_csv
    from synthboost.evaluation.predictions import read_predictions

    info = read_predictions(preds).info
    frames = camus_frame_table(preds, dataset)
    write_metrics_csv(frames, out)
    try:
        table = clinical_table(preds, dataset, method="camus")
        clinical = {k: agreement(table[f"pred_{k}"].to_numpy(float), table[f"gt_{k}"].to_numpy(float))
                    for k in ("edv", "esv", "ef")}  # fmt: skip
    except ValueError as err:
        clinical = None
        typer.echo(f"no EDV/ESV/EF rows: {err}")
    title = (
        f"CAMUS format · run {info['run']} · prompt {info['prompt_level']} · split {info['split']} · {preds}"
    )
    typer.echo(format_camus_table(camus_segmentation_summary(frames), clinical, title))
    typer.echo(f"{len(frames)} frame x structure rows -> {out}")


def _evaluate_echonet(analysis: Path, root: Path, out: Path) -> None:
    from synthboost.evaluation.echonet_format import echonet_summary, evaluate_echonet, format_echonet_summary
    from synthboost.evaluation.per_image import write_metrics_csv
    from synthboost.utils.files import read_json

    df = evaluate_echonet(analysis, root)
    write_metrics_csv(df, out)
    loops = read_json(analysis / "analysis.json")["loops"]
    first = read_json(analysis / loops[0] / "summary.json") if loops else {}
    title = f"EchoNet format · model {first.get('model')} · prompt {first.get('prompt_level')} · {analysis}"
    typer.echo(format_echonet_summary(echonet_summary(df), title))
    typer.echo(f"{len(df)} loops -> {out}")


def _evaluate_sequences(analysis: Path, truth: Path, out: Path) -> None:
    from synthboost.evaluation.sequence import evaluate_sequences, sequence_summary

    s = sequence_summary(evaluate_sequences(analysis, truth, out))
    typer.echo(
        f"{s['n_loops']} loops: ED and ES within ±1 frame {s['ed_es_within_1_percent']:.0f} %, "
        f"|EF error| single-plane {s['ef_mae_single_plane']:.2f}, biplane {s['ef_mae_biplane']:.2f} points, "
        f"per-frame Dice {s['dice_mean']:.2f}, temporal jitter ratio {s['tc_ratio_mean']:.2f} -> {out}"
    )


def predict_cmd(
    run: str = typer.Argument(..., help="Run folder (its model/ is used) or a model folder."),
    dataset: str = typer.Argument(..., help="Processed dataset, or a plain folder of echo files."),
    split: str = typer.Option("test", "--split", help="train, val or test."),
    out: str = typer.Option(..., "--out", help="Prediction folder to write."),
    threshold: float = typer.Option(None, "--threshold", help="Default: the run's loss preset."),
    prompt: str = typer.Option(None, "--prompt", help="Default: the run's prompt level."),
    batch_size: int = typer.Option(16, "--batch-size"),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    force: bool = typer.Option(False, "--force", help="Replace an existing prediction folder."),
    no_qc: bool = typer.Option(False, "--no-qc", help="Skip the quality-control pass (qc.csv)."),
    frame: int = typer.Option(0, "--frame", help="A folder of files: the frame of each loop (0 = first)."),
    view: str = typer.Option(None, "--view", help="A folder of files: 2CH or 4CH, for the prompts."),
    phase: str = typer.Option(None, "--phase", help="A folder of files: ED or ES, for the prompts."),
) -> None:
    """Predict masks of a split (phrasing 0) into a prediction folder, with QC per image-structure; or
    label maps of every echo file in a plain folder (any format the reader reads, ``predictions.csv``)."""
    from synthboost.evaluation.predict import predict
    from synthboost.evaluation.predict_files import is_processed_dataset, predict_files

    if Path(dataset).is_dir() and not is_processed_dataset(dataset):
        dev = None if device == "auto" else device
        typer.echo(str(predict_files(run, dataset, out, frame, view, phase, threshold, dev, overwrite=force)))
        return
    path = predict(
        run, dataset, split, out, threshold, prompt, batch_size, device, overwrite=force, qc=not no_qc
    )
    typer.echo(str(path))


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.command("predict")(predict_cmd)
    app.command("evaluate")(evaluate_command)
