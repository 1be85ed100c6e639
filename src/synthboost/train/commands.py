"""CLI commands of the train stage: ``train``, ``sweep``, ``predict`` (heavy imports inside)."""

from __future__ import annotations

import typer


def _adapter_overrides(
    adapter: str | None, rank: int | None, targets: str | None, fresh: bool
) -> list[str]:  # fmt: skip
    """The ``--adapter*`` flags as dotted overrides of ``model.adapter``."""
    out = [f"model.adapter.method={adapter}"] if adapter else []
    if rank is not None:
        out.append(f"model.adapter.rank={rank}")
    if targets:
        names = [t.strip() for t in targets.split(",") if t.strip()]
        out.append(f"model.adapter.targets=[{','.join(names)}]")
    if fresh:
        out.append("model.adapter.continue_adapters=false")
    return out


def _config_overrides(
    prompt: str | None, init_from: str | None, freeze: bool, resume_compat: bool, devices: str | None,
    strategy: str | None, sets: list[str], adapter: list[str] = (),
) -> list[str]:  # fmt: skip
    """CLI flags as dotted overrides (flags first, so explicit ``--set`` wins)."""
    out = list(adapter)
    if prompt:
        out.append(f"data.prompt={prompt}")
    if init_from:
        out += ["strategy.name=ptft", f"strategy.init_from={init_from}"]
    if freeze:
        out.append("model.freeze_encoders=true")
    if resume_compat:
        out.append("strategy.resume_compat=true")
    if devices:
        out.append(f"trainer.devices={devices}")
    if strategy:
        out.append(f"trainer.strategy={strategy}")
    return out + list(sets)


def train_cmd(
    config: str = typer.Argument(
        ..., help="Experiment YAML: a file or a packaged name (configs/experiment/cris_real.yaml)."
    ),
    out: str = typer.Option(..., "--out", help="Run folder (per-seed subfolders with several --seeds)."),
    prompt: str = typer.Option(None, "--prompt", help="Prompt level p0..p7."),
    init_from: str = typer.Option(None, "--init-from", help="Synthetic run to fine-tune from (PT→FT)."),
    resume_compat: bool = typer.Option(
        False,
        "--resume-compat",
        help="PT→FT as the reference: resume the synthetic run's Lightning state (optimiser, scheduler, "
        "early stopping, epoch counter).",
    ),
    freeze_encoders: bool = typer.Option(False, "--freeze-encoders", help="Freeze image and text encoders."),
    adapter: str = typer.Option(None, "--adapter", help="lora or none: LoRA on the encoders (peft)."),
    adapter_rank: int = typer.Option(None, "--adapter-rank", help="LoRA rank (default 8)."),
    adapter_targets: str = typer.Option(
        None, "--adapter-targets", help="Comma-separated encoder module suffixes (default: the model's)."
    ),
    fresh_adapters: bool = typer.Option(
        False, "--fresh-adapters", help="PT→FT: merge the pre-training's adapters, start new ones."
    ),
    devices: str = typer.Option(None, "--devices", help="Lightning devices (e.g. 4)."),
    strategy: str = typer.Option(None, "--strategy", help="Lightning strategy (e.g. ddp)."),
    seeds: str = typer.Option(None, "--seeds", help="Comma-separated seeds, e.g. 42,43,44."),
    sets: list[str] = typer.Option([], "--set", help="Dotted override, e.g. trainer.max_epochs=3."),
    resume: bool = typer.Option(False, "--resume", help="Continue from checkpoints/last.ckpt."),
    force: bool = typer.Option(False, "--force", help="Retrain a finished run."),
    trust_pickle: bool = typer.Option(
        False, "--trust-pickle", help="Allow checkpoints that need pickle (runs code: trusted files only)."
    ),
) -> None:
    """Train a VLSM (or evaluate it zero-shot) into a run folder."""
    from synthboost.train.config import load_config
    from synthboost.train.run import train_seeds

    adapter_sets = _adapter_overrides(adapter, adapter_rank, adapter_targets, fresh_adapters)
    overrides = _config_overrides(
        prompt, init_from, freeze_encoders, resume_compat, devices, strategy, sets, adapter_sets
    )
    cfg = load_config(config, overrides)
    seed_list = [int(s) for s in seeds.split(",") if s.strip()] if seeds else None
    for run in train_seeds(cfg, out, seed_list, resume=resume, force=force, trust_pickle=trust_pickle):
        typer.echo(str(run))


def sweep_cmd(
    spec: str = typer.Argument(
        ..., help="Sweep YAML: a file or a packaged name (configs/sweeps/paper_table1.yaml)."
    ),
    out: str = typer.Option(..., "--out", help="Folder of the sweep's runs."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the runs, train nothing."),
    emit_slurm: str = typer.Option(None, "--emit-slurm", help="Write a SLURM job-array script instead."),
    sets: list[str] = typer.Option([], "--set", help="Dotted override applied to every run."),
    force: bool = typer.Option(False, "--force", help="Retrain finished runs."),
) -> None:
    """Run a grid of experiments sequentially (finished runs are skipped)."""
    from synthboost.train.sweep import expand_sweep, run_sweep, write_slurm

    runs = expand_sweep(spec, out, sets)
    if emit_slurm:
        typer.echo(str(write_slurm(runs, emit_slurm, spec, out, sets)))
        return
    for run in runs:
        typer.echo(f"{run.name}\t{run.status()}\t{' '.join(run.overrides)}")
    if not dry_run:
        run_sweep(runs, force=force)


def predict_cmd(
    run: str = typer.Argument(..., help="Run folder (its model/ is used) or a model folder."),
    dataset: str = typer.Argument(..., help="Processed dataset."),
    split: str = typer.Option("test", "--split", help="train, val or test."),
    out: str = typer.Option(..., "--out", help="Prediction folder to write."),
    threshold: float = typer.Option(None, "--threshold", help="Default: the run's loss preset."),
    prompt: str = typer.Option(None, "--prompt", help="Default: the run's prompt level."),
    batch_size: int = typer.Option(16, "--batch-size"),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    force: bool = typer.Option(False, "--force", help="Replace an existing prediction folder."),
    no_qc: bool = typer.Option(False, "--no-qc", help="Skip the quality-control pass (qc.csv)."),
) -> None:
    """Predict masks of a split (phrasing 0) into a prediction folder, with QC per image-structure."""
    from synthboost.evaluate.predict import predict

    path = predict(
        run, dataset, split, out, threshold, prompt, batch_size, device, overwrite=force, qc=not no_qc
    )
    typer.echo(str(path))


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.command("train")(train_cmd)
    app.command("sweep")(sweep_cmd)
    app.command("predict")(predict_cmd)
