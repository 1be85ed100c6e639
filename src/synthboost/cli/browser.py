"""CLI commands of the app stage: ``segment`` (one image) and ``app`` (the browser demo).

Heavy imports stay inside the commands.
"""

from __future__ import annotations

from pathlib import Path

import typer


def segment_command(
    image: Path = typer.Argument(
        ...,
        help="Image or loop to segment: DICOM, NIfTI/MetaImage, PNG/JPEG/BMP/TIFF, AVI/MP4/MOV/MKV/WebM.",
    ),
    model: str = typer.Option(
        ..., "--model", "-m", help="Model folder, run folder (uses RUN/model) or hub id."
    ),
    prompt: str | None = typer.Option(
        None, "--prompt", "-p", help="Free-text prompt (overrides the attributes)."
    ),
    structure: str | None = typer.Option(None, help="lv, myo or la: build the prompt from the attributes."),
    view: str | None = typer.Option(None, help="2CH or 4CH."),
    phase: str | None = typer.Option(None, help="ED or ES."),
    sex: str | None = typer.Option(None, help="female or male."),
    age: int | None = typer.Option(None, help="Age in years."),
    quality: str | None = typer.Option(None, help="good, medium or poor."),
    shape: str | None = typer.Option(None, help="One shape word, e.g. oval."),
    out: Path = typer.Option(
        Path("segment_out"), "--out", "-o", help="Folder for the mask and overlay PNGs."
    ),
    threshold: float | None = typer.Option(
        None, help="Probability threshold (default: the run's, else 0.5)."
    ),
    device: str | None = typer.Option(None, help="cuda, cpu, ... (default: CUDA when available)."),
    spacing: tuple[float, float] | None = typer.Option(
        None,
        metavar="ROW COL",
        help="Pixel spacing in mm, rows then columns (overrides the file's; PNGs have none).",
    ),
    no_qc: bool = typer.Option(False, "--no-qc", help="Skip the quality-control pass."),
    frame: int = typer.Option(
        0, "--frame", help="Frame of a loop to segment (0 = the first, the default; -1 = the last)."
    ),
) -> None:
    """Segment one image (or one frame of a loop) with a text prompt; write the mask, an overlay PNG and
    the result (area, frame, calibration) as JSON and CSV."""
    from synthboost.evaluation.segmenter import Segmenter, read_frame, segment_file
    from synthboost.prompts.select import prompt_from_attributes

    if prompt is None:
        if structure is None:
            raise ValueError("give --prompt or --structure (with --view, --phase, ... for a richer prompt)")
        prompt = prompt_from_attributes(structure, view, phase, sex, age, quality, shape)
    read_frame(image, frame)  # fail on a bad image or frame before loading the model
    segmenter = Segmenter.from_pretrained(model, device)
    result = segment_file(image, segmenter, prompt, out, threshold, spacing, frame)
    cal = result["calibration"]
    typer.echo(f"frame: {result['frame']} of {result['n_frames']} (0-based; --frame picks another)")
    typer.echo(f"prompt: {result['prompt']!r}")
    typer.echo(f"area: {result['area']:.1f} {result['unit']}")
    typer.echo(f"calibration: {cal['source']}, spacing {cal['spacing_mm']} mm, scaled by {cal['scaled_by']}")
    for warning in cal["warnings"]:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(
        f"mask: {result['mask']}\noverlay: {result['overlay']}\nresult: {result['json']} {result['csv']}"
    )
    if no_qc:
        return
    if structure is None or prompt != prompt_from_attributes(
        structure, view, phase, sex, age, quality, shape
    ):
        typer.echo("QC: not run (it needs --structure and the attributes, not a free-text --prompt)")
        return
    from synthboost.evaluation.qc_fit import load_qc
    from synthboost.evaluation.qc_pass import attribute_qc, describe

    qc = load_qc(model)
    attrs = {"view": view, "phase": phase, "sex": sex, "age": age, "quality": quality, "shape": shape}
    typer.echo(
        describe(attribute_qc(segmenter, read_frame(image, frame).image, attrs, qc, threshold)[structure], qc)
    )


def app_command(
    model: str = typer.Option(
        ...,
        "--model",
        "-m",
        help="Model folder, run folder (uses RUN/model), hub id, or a folder of runs (a sweep, a demo's "
        "output): then the run of best validation Dice.",
    ),
    dataset: Path | None = typer.Option(
        None, help="With a folder of runs: the processed dataset whose validation Dice chooses."
    ),
    host: str = typer.Option("127.0.0.1", help="Address to bind (default: this machine only)."),
    port: int = typer.Option(7860, help="Port."),
    phantom_patients: int = typer.Option(
        1, min=0, max=20, help="Phantom test-split patients offered as example cases (0: none)."
    ),
    allow_host: list[str] = typer.Option(
        [], "--allow-host", help="Host name the app may be reached under, besides this address (repeatable)."
    ),
    export_space: Path | None = typer.Option(
        None,
        "--export-space",
        help="Write a Hugging Face Space (app.py, requirements.txt, README) here instead.",
    ),
    requirement: str = typer.Option(
        "synthboost[app]", help="With --export-space: how the Space installs synthboost (pip requirement)."
    ),
) -> None:
    """Interactive segmentation in the browser (Gradio): image, label map, four-view EF."""
    from synthboost.app.analysis import choose_model
    from synthboost.app.ui import require_gradio

    model, note = choose_model(model, dataset)
    if note:
        typer.echo(note, err=True)
    if export_space is not None:
        from synthboost.app.space import export_space as export

        folder = export(model, export_space, requirement=requirement)
        typer.echo(f"Space written to {folder} (push it to a Space repository with sdk: gradio)")
        return
    require_gradio()
    from synthboost.app.serve import run_app

    run_app(model, host=host, port=port, phantom_patients=phantom_patients, allowed_hosts=allow_host)


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.command("segment")(segment_command)
    app.command("app")(app_command)
