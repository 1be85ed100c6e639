"""CLI commands of the models stage (heavy imports stay inside the commands)."""

from __future__ import annotations

from pathlib import Path

import typer


def convert_cris(
    src: Path = typer.Argument(..., help="Official CRIS checkpoint (or OpenAI CLIP RN50.pt)."),
    dst: Path = typer.Argument(..., help="Output folder (config.json + model.safetensors)."),
    config: str = typer.Option("paper", help="Named CRIS config the checkpoint was trained with."),
    image_size: int | None = typer.Option(None, help="Override the input size (416 in the paper)."),
    trust_pickle: bool = typer.Option(False, help="Allow arbitrary pickled objects (trusted files only)."),
) -> None:
    """Convert a CRIS checkpoint into a folder that `load_pretrained` reads."""
    from synthboost.models.cris_checkpoint import convert_cris_checkpoint

    overrides = {} if image_size is None else {"image_size": image_size}
    out = convert_cris_checkpoint(src, dst, config=config, trust_pickle=trust_pickle, **overrides)
    typer.echo(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.command("convert-cris")(convert_cris)
