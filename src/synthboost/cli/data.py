"""CLI commands of the data stage: phantom, prepare camus|sdm|echonet, check."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

prepare_app = typer.Typer(help="Turn raw data into a processed dataset (images, masks, meta.csv, prompts).")


def _prepare_with_prompts(prepare: Callable[..., Path], *args: Any, **kwargs: Any) -> None:
    """Run a prepare function with the prompts written into its temporary folder (renamed with it)."""
    from synthboost.prompts.annotate import write_annotations

    counts: dict[str, int] = {}
    out = prepare(*args, finalize=lambda tmp: counts.update(write_annotations(tmp)), **kwargs)
    typer.echo(f"{out}: " + ", ".join(f"{k} {v} tasks" for k, v in counts.items()))


@prepare_app.command("camus")
def prepare_camus_cmd(
    raw: Path = typer.Argument(..., help="CAMUS release folder (2019 MetaImage or 2023 NIfTI) or a phantom."),
    out: Path = typer.Argument(..., help="Processed dataset folder to create."),
    image_size: int = typer.Option(512, help="Side of the square processed images."),
    split_file: Path | None = typer.Option(None, help='JSON {"train": [...], "val": [...], "test": [...]}.'),
    half_sequences: bool = typer.Option(
        False, "--half-sequences", help="Also every labelled frame between ED and ES (2023 release)."
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing output folder."),
) -> None:
    """Prepare a CAMUS (or phantom) dataset and write its P0-P7 prompts."""
    from synthboost.data.sources.camus import prepare_camus

    _prepare_with_prompts(
        prepare_camus, raw, out, image_size=image_size, split_file=split_file, overwrite=force,
        half_sequences=half_sequences,
    )  # fmt: skip


@prepare_app.command("sdm")
def prepare_sdm_cmd(
    root: Path = typer.Argument(..., help="Echo-from-noise folder (<split>/images, <split>/labels)."),
    out: Path = typer.Argument(..., help="Processed dataset folder to create."),
    camus_raw: Path | None = typer.Option(None, help="CAMUS 2019 release, for each patient's sex and age."),
    attributes: Path | None = typer.Option(
        None, help="attributes.json of generated shapes (instead of CAMUS)."
    ),
    label_map: str | None = typer.Option(
        None, help="Map the label files' values, e.g. '0:0,85:1,170:2,255:3'."
    ),
    image_size: int = typer.Option(512, help="Side of the square processed images."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output folder."),
) -> None:
    """Prepare the SDM synthetic set (or our generated images) and write its P0-P6 prompts."""
    from synthboost.data.sources.sdm import parse_label_map, prepare_sdm

    lm = parse_label_map(label_map) if label_map else None
    _prepare_with_prompts(
        prepare_sdm, root, out, camus_raw, attributes, lm, image_size=image_size, overwrite=force
    )


@prepare_app.command("echonet")
def prepare_echonet_cmd(
    root: Path = typer.Argument(
        ..., help="EchoNet-Dynamic folder (FileList.csv, VolumeTracings.csv, Videos/)."
    ),
    out: Path = typer.Argument(..., help="Processed dataset folder to create."),
    image_size: int = typer.Option(112, help="Side of the square processed images (videos are 112x112)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output folder."),
    ed_es: str = typer.Option(
        "official",
        "--ed-es",
        help="ED/ES rule: official (row order, as EchoNet's loader) or area (larger is ED).",
    ),
) -> None:
    """Prepare EchoNet-Dynamic (LV at the traced ED and ES frames) and write its prompts."""
    from synthboost.data.sources.echonet import prepare_echonet

    _prepare_with_prompts(prepare_echonet, root, out, image_size=image_size, overwrite=force, ed_es=ed_es)


def phantom_cmd(
    out: Path = typer.Argument(
        ..., help="Folder to write (CAMUS 2019 layout; 2023 layout with --sequences)."
    ),
    patients: int = typer.Option(60, "--patients", help="Number of patients."),
    seed: int = typer.Option(0, help="Random seed."),
    workers: int = typer.Option(1, help="Worker processes."),
    image_scale: float = typer.Option(1.0, help="Factor on the native image size (e.g. 0.25 for tiny data)."),
    sequences: bool = typer.Option(
        False, "--sequences", help="CAMUS 2023 layout with labelled ED->ES half-sequences and exact volumes."
    ),
    dicom: bool = typer.Option(
        False, "--dicom", help="Also write each cine as a multi-frame DICOM (dicom/)."
    ),
    frames: int | None = typer.Option(None, help="Frames per half-sequence (default: 12-25 per view)."),
    frame_rate: float = typer.Option(50.0, help="Frames per second of the half-sequences."),
    compress: bool = typer.Option(
        False, "--compress", help="2019 layout: zlib-compressed MetaImage data (.zraw) instead of .raw."
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing output folder."),
) -> None:
    """Generate the procedural echo phantom as a CAMUS-format dataset."""
    from synthboost.data.phantom.writer import generate_phantom

    path = generate_phantom(
        out,
        n_patients=patients,
        seed=seed,
        overwrite=force,
        workers=workers,
        image_scale=image_scale,
        sequences=sequences,
        n_frames=frames,
        frame_rate=frame_rate,
        dicom=dicom,
        compress=compress,
    )
    typer.echo(f"phantom with {patients} patients written to {path}")


def check_cmd(root: Path = typer.Argument(..., help="Processed dataset folder.")) -> None:
    """Validate a processed dataset against docs/formats.md; exit 1 on problems."""
    from synthboost.data.processed import check_dataset, read_meta

    problems = check_dataset(root)
    if problems:
        for p in problems[:50]:
            typer.secho(p, fg="red")
        if len(problems) > 50:
            typer.echo(f"... and {len(problems) - 50} more")
        typer.secho(f"{root}: {len(problems)} problems", fg="red")
        raise typer.Exit(1)
    typer.secho(f"{root}: valid processed dataset ({len(read_meta(root))} images)", fg="green")


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.add_typer(prepare_app, name="prepare")
    app.command("phantom")(phantom_cmd)
    app.command("check")(check_cmd)
