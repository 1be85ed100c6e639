"""CLI commands of the synth stage (heavy imports stay inside the commands)."""

from __future__ import annotations

from pathlib import Path

import typer

synth_app = typer.Typer(
    name="synth", help="Perturbed masks → semantic diffusion model → synthetic images.", no_args_is_help=True
)


@synth_app.command("perturb")
def perturb_cmd(
    dataset: Path = typer.Argument(..., help="Processed dataset (meta.csv, images/, labels_native/)."),
    out: Path = typer.Argument(..., help="Output folder <split>/{labels,sectors,cond}/<stem>.png."),
    per_mask: int = typer.Option(5, "--per-mask", help="Perturbations per label map."),
    seed: int = typer.Option(0, "--seed"),
    size: int = typer.Option(256, "--size", help="Side of the written maps."),
    force: bool = typer.Option(False, "--force", help="Replace an existing OUT."),
) -> None:
    """Write seeded random perturbations of the train/val label maps."""
    from synthboost.synth.perturb import perturb_dataset

    typer.echo(perturb_dataset(dataset, out, per_mask=per_mask, seed=seed, size=size, overwrite=force))


@synth_app.command("train")
def train_cmd(
    dataset: Path = typer.Argument(..., help="Processed dataset with real image/mask pairs."),
    run: Path = typer.Argument(..., help="Run folder (created or resumed)."),
    view: str = typer.Option(None, "--view", help="2CH or 4CH (default: both)."),
    phase: str = typer.Option(None, "--phase", help="ED or ES (default: both)."),
    config: str = typer.Option(
        None, "--config", help="YAML file or a packaged sdm config name (tiny, echo_from_noise)."
    ),
    max_steps: int = typer.Option(None, "--max-steps", help="Override train.steps."),
    device: str = typer.Option(None, "--device"),
    trust_pickle: bool = typer.Option(
        False, "--trust-pickle", help="Allow checkpoints that need pickle (runs code: trusted files only)."
    ),
) -> None:
    """Train (or resume) a semantic diffusion model."""
    from synthboost.synth.sdm_train import train_sdm

    typer.echo(
        train_sdm(
            dataset, run, view, phase, config, max_steps=max_steps, device=device, trust_pickle=trust_pickle
        )
    )


@synth_app.command("sample")
def sample_cmd(
    run: Path = typer.Argument(..., help="Trained run folder."),
    perturbed: Path = typer.Argument(..., help="Output of `synth perturb`."),
    out: Path = typer.Argument(..., help="Output folder <split>/{images,labels}/<stem>.png (resumable)."),
    steps: int | None = typer.Option(None, "--steps", help="Default: the run config's sample.steps."),
    sampler: str | None = typer.Option(
        None, "--sampler", help="ddim | ddpm | dpm (default: the run config's)."
    ),
    seed: int = typer.Option(0, "--seed"),
    batch_size: int = typer.Option(8, "--batch-size"),
    device: str = typer.Option(None, "--device"),
    trust_pickle: bool = typer.Option(
        False, "--trust-pickle", help="Allow checkpoints that need pickle (runs code: trusted files only)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Restart an output folder sampled with other settings (sampling.json)."
    ),
) -> None:
    """Sample one image per perturbed mask (skips images already written with the same settings)."""
    from synthboost.synth.sample import sample_folder

    path = sample_folder(run, perturbed, out, steps=steps, sampler=sampler, seed=seed, batch_size=batch_size,
                         device=device, trust_pickle=trust_pickle, force=force)  # fmt: skip
    typer.echo(path)


@synth_app.command("score")
def score_cmd(
    generated: Path = typer.Argument(..., help="Generated images (Echo-from-noise layout or processed)."),
    real: Path = typer.Argument(..., help="Real images (processed dataset or Echo-from-noise layout)."),
    csv: Path = typer.Option(None, "--csv", help="Also write the table as CSV."),
    model: str | None = typer.Option(
        None,
        "--model",
        help="Run or model folder of a segmenter trained on real data: adds mask-consistency Dice.",
    ),
) -> None:
    """Per-structure intensity statistics, generated vs real, per view and phase."""
    from rich.console import Console
    from rich.table import Table

    from synthboost.synth.score import score

    segmenter = None
    if model is not None:
        from synthboost.evaluation.segmenter import Segmenter

        segmenter = Segmenter.from_pretrained(model).segment_all  # P1 prompts: no metadata needed
    df = score(generated, real, segmenter)
    table = Table(title=f"{generated} vs {real}")
    for col in df.columns:
        table.add_column(str(col), justify="left" if df[col].dtype == object else "right")
    for row in df.itertuples(index=False):
        table.add_row(*(f"{v:.2f}" if isinstance(v, float) else str(v) for v in row))
    Console().print(table)
    if csv is not None:
        from synthboost.utils.files import write_text_atomic

        write_text_atomic(csv, df.to_csv(index=False))


@synth_app.command("shapes")
def shapes_cmd(
    out: Path = typer.Argument(..., help="Output folder of synthetic shape masks."),
    count: int = typer.Option(..., "--count", help="Number of masks."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Write random anatomical shape masks (no annotation needed)."""
    from synthboost.synth.shapes import write_shape_masks

    typer.echo(write_shape_masks(out, count, seed))


@synth_app.command("render")
def render_cmd(
    shapes: Path = typer.Argument(..., help="Folder written by `synth shapes`."),
    out: Path = typer.Argument(..., help="Output folder."),
    renderer: str = typer.Option("speckle", "--renderer", help="speckle | sdm:RUN"),
    seed: int = typer.Option(0, "--seed"),
    trust_pickle: bool = typer.Option(
        False, "--trust-pickle", help="Allow checkpoints that need pickle (runs code: trusted files only)."
    ),
) -> None:
    """Render images for shape masks with the speckle simulator or a trained SDM."""
    from synthboost.synth.render import render_folder

    typer.echo(render_folder(shapes, out, renderer, seed, trust_pickle=trust_pickle))


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.add_typer(synth_app, name="synth")
