"""CLI command of the cine stage (heavy imports stay inside the command)."""

from __future__ import annotations

from pathlib import Path

import typer


def analyze_command(
    inputs: list[Path] = typer.Argument(
        ..., help="Echo loops (DICOM cine, NIfTI half-sequence, AVI/MP4) or folders."
    ),
    model: Path = typer.Option(None, "--model", "-m", help="Run folder, model folder or hub id."),
    view: str = typer.Option(
        None, "--view", help="2CH or 4CH for every input (default: from the file names)."
    ),
    out: Path = typer.Option(Path("analysis"), "--out", "-o", help="Output folder."),
    smooth: float = typer.Option(
        1.0, "--smooth", help="Temporal Gaussian σ in frames over the probabilities."
    ),
    no_smooth: bool = typer.Option(False, "--no-smooth", help="Turn temporal smoothing off."),
    curve_smooth: float = typer.Option(
        None,
        "--curve-smooth",
        help="Gaussian σ in frames over the LV curve that locates ED/ES (default: 3 for half-sequences, else 0).",
    ),
    phase_prompt: str = typer.Option(
        "both", "--phase-prompt", help="both (mean of ED and ES prompts), ED or ES."
    ),
    sex: str = typer.Option(None, "--sex", help="female / male, for prompt levels that name it."),
    age: int = typer.Option(None, "--age", help="Age in years, for prompt levels that name it."),
    quality: str = typer.Option(
        None, "--quality", help="good / medium / poor, for prompt levels that name it."
    ),
    video: str = typer.Option("mp4", "--video", help="Overlay video: mp4, gif or none."),
    batch_size: int = typer.Option(8, "--batch-size", help="Frames per forward pass."),
    ground_truth: bool = typer.Option(
        False, "--ground-truth", help="Measure the loops' _gt label files instead (the method alone)."
    ),
    device: str = typer.Option(None, "--device", help="cpu, cuda, … (default: the best available)."),
    no_qc: bool = typer.Option(False, "--no-qc", help="Skip per-frame quality control and the loop verdict."),
) -> None:
    """Segment every frame of echo loops; ED/ES, volumes, EF, LA max and heart rate; files in --out."""
    from synthboost.cine.analysis import analyze
    from synthboost.cine.loop import SegmentOptions

    if model is None and not ground_truth:
        raise ValueError("analyze: --model is required (or --ground-truth)")
    curve = {} if curve_smooth is None else {"curve_sigma": curve_smooth}
    options = SegmentOptions(
        smooth_sigma=0.0 if no_smooth else smooth, phase_prompt=phase_prompt, batch_size=batch_size, **curve
    )
    attributes = {"sex": sex, "age": age, "quality": quality}
    result = analyze(inputs, model, view, out, options=options, attributes=attributes,
                     ground_truth=ground_truth, video=video, device=device, qc=not no_qc)  # fmt: skip
    for a in result["loops"]:
        s = a.summary
        volumes = "" if s["edv_ml"] is None else f"EDV {s['edv_ml']:.1f} mL, ESV {s['esv_ml']:.1f} mL, "
        ef = "EF n/a" if s["ef_percent"] is None else f"EF {s['ef_percent']:.1f} %"
        typer.echo(
            f"{a.stem}: {s['n_frames']} frames, ED {s['ed_frames']}, ES {s['es_frames']}, {volumes}{ef}"
        )
        cal = s["calibration"]
        typer.echo(
            f"  calibration: {cal['source']}, spacing {cal['spacing_mm']} mm, scaled by {cal['scaled_by']}"
        )
        if s.get("qc"):
            typer.echo(
                f"  QC: {s['qc']['verdict']}"
                + (f" ({'; '.join(s['qc']['reasons'])})" if s["qc"]["reasons"] else "")
            )
        for warning in cal["warnings"]:
            typer.echo(f"  warning: {warning}")
        if s["message"]:
            typer.echo(f"  note: {s['message']}")
    for patient, b in result["biplane"].items():
        typer.echo(
            f"{patient} biplane: EDV {b['edv_ml']:.1f} mL, ESV {b['esv_ml']:.1f} mL, EF {b['ef_percent']:.1f} %"
        )
    typer.echo(f"Report: {result['report']}")


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.command("analyze")(analyze_command)
