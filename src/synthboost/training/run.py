"""Train (or, zero-shot, just evaluate) one configuration into a run folder.

``train(config, out)`` is the Python entry point behind ``synthboost train``; the layout of the
run folder is in :mod:`synthboost.training.runfolder`. A finished run (``DONE``) is not run again
unless ``force``; an interrupted one continues from ``checkpoints/last.ckpt`` with ``resume``.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from synthboost import progress
from synthboost.checkpoints import load_checkpoint, safe_checkpoint_io
from synthboost.logs import get_logger, quiet_lightning, verbose
from synthboost.models.adapters import save_model
from synthboost.models.tokenizer import get_tokenizer
from synthboost.training import runfolder
from synthboost.training.callbacks import EpochProgress, EpochRecorder
from synthboost.training.config import TrainConfig, load_config, replace, to_dict, to_yaml
from synthboost.training.dataset import SegmentationDataModule
from synthboost.training.losses import resolve_loss
from synthboost.training.module import SegmentationModule
from synthboost.training.strategies import build, data_roots
from synthboost.utils.environment import ENVIRONMENT_KEY, environment_versions
from synthboost.utils.files import check_replaceable, read_yaml_mapping

log = get_logger("training.run")


def auto_precision(precision: str, accelerator: str) -> str:
    """``auto`` → ``16-mixed`` when a CUDA device will be used, else ``32-true``."""
    if precision != "auto":
        return precision
    import torch

    return "16-mixed" if torch.cuda.is_available() and accelerator in ("auto", "gpu", "cuda") else "32-true"


def training_device(accelerator: str) -> str:
    """The device kind a run trains on (``cuda`` or ``cpu``; another accelerator name as given)."""
    import torch

    if accelerator in ("auto", "gpu", "cuda"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return accelerator


#: Settings that say how a run is executed, not what it computes: they may differ on rerun/resume.
EXECUTION_KEYS = {
    "data": {"num_workers"},
    "trainer": {"accelerator", "devices", "strategy", "precision", "progress_bar", "log_every_n_steps"},
}


def config_differences(cfg: TrainConfig, stored: dict) -> list[str]:
    """Dotted keys whose values differ between ``cfg`` and a run folder's stored config."""
    new, defaults = to_dict(cfg), to_dict(TrainConfig())
    diffs = []
    for section in sorted(set(new) | set(stored)):
        a, b = new.get(section), stored.get(section)
        if not isinstance(a, dict) or not isinstance(b, dict):
            diffs += [section] if a != b else []
            continue
        skip = EXECUTION_KEYS.get(section, set())
        old = defaults.get(section, {})  # a key added since the run was stored holds its default there
        diffs += [
            f"{section}.{k}"
            for k in sorted(set(a) | set(b))
            if k not in skip and a.get(k) != b.get(k, old.get(k))
        ]
    return diffs


def _prepare_folder(cfg: TrainConfig, out: Path, resume: bool, force: bool) -> bool:
    """Return True when the run must be skipped (finished); clean or check ``out`` otherwise.

    A finished or interrupted run is only reused for the same config (execution settings aside):
    anything else is an error, so a changed prompt or recipe never returns stale results.
    """
    last = out / "checkpoints" / "last.ckpt"
    if force:
        if out.exists() and runfolder.is_rank_zero():
            inputs = [p for p in (cfg.data.root, cfg.data.synthetic_root, cfg.strategy.init_from) if p]
            check_replaceable(out, markers=("run.json",), inputs=inputs)
            shutil.rmtree(out)
        return False
    if (runfolder.is_done(out) or last.is_file()) and (out / "config.yaml").is_file():
        diffs = config_differences(cfg, read_yaml_mapping(out / "config.yaml"))
        if diffs:
            raise FileExistsError(
                f"{out}: holds a run of another config (differs in {', '.join(diffs[:6])}); "
                "use --force to retrain or another --out"
            )
    if runfolder.is_done(out):
        log.info("%s: finished run (DONE), nothing to do (use --force to retrain)", out)
        return True
    if last.is_file() and not resume:
        raise FileExistsError(f"{out}: interrupted run found ({last}); use --resume to continue or --force")
    return False


def _write_provenance(cfg: TrainConfig, out: Path, loss: Any) -> None:
    if not runfolder.is_rank_zero():
        return
    info = {
        "name": cfg.name,
        "git_commit": runfolder.git_commit(),
        "seed": cfg.trainer.seed,
        "strategy": cfg.strategy.name,
        "model": cfg.model.name,
        "prompt": cfg.data.prompt,
        "loss": dataclasses.asdict(loss),
        ENVIRONMENT_KEY: environment_versions(training_device(cfg.trainer.accelerator)),
    }
    runfolder.start(out, to_yaml(cfg), info)


def _trainer(cfg: TrainConfig, out: Path, callbacks: Sequence[Any], trust_pickle: bool = False) -> Any:
    import lightning as L
    from lightning.pytorch import callbacks as cb
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    quiet_lightning()
    t = cfg.trainer
    ckpt = cb.ModelCheckpoint(
        dirpath=out / "checkpoints", filename="best", monitor="val_dice", mode="max", save_top_k=1,
        save_last=True, enable_version_counter=False,
    )  # fmt: skip
    # checked after validation only: a max_steps budget may end an epoch before its validation
    stop = cb.EarlyStopping(monitor="val_dice", mode="max", patience=t.early_stop_patience,
                            min_delta=t.early_stop_min_delta, check_on_train_epoch_end=False)  # fmt: skip
    logs = out / "logs"
    return L.Trainer(
        default_root_dir=out, max_epochs=t.max_epochs, max_steps=t.max_steps,
        min_epochs=min(t.min_epochs, t.max_epochs) if t.max_epochs >= 0 else t.min_epochs,
        accelerator=t.accelerator, devices=t.devices, strategy=t.strategy,
        precision=auto_precision(t.precision, t.accelerator), gradient_clip_val=cfg.optim.grad_clip,
        callbacks=[ckpt, stop, cb.LearningRateMonitor("epoch"), EpochRecorder(out), EpochProgress(out.name),
                   *callbacks],
        logger=[CSVLogger(logs, name="csv"), TensorBoardLogger(logs, name="tb")],
        log_every_n_steps=t.log_every_n_steps, limit_train_batches=t.limit_train_batches,
        limit_val_batches=t.limit_val_batches, deterministic=False, enable_model_summary=verbose(),
        enable_progress_bar=t.progress_bar and not progress.is_open(),  # inside the demo's view: its bar
        num_sanity_val_steps=0, plugins=[safe_checkpoint_io(trust_pickle)],
    )  # fmt: skip


def _datamodule(cfg: TrainConfig, model: Any) -> Any:

    d = cfg.data
    return SegmentationDataModule(
        data_roots(cfg), d.prompt, model.preprocessing.image_size, get_tokenizer(model.preprocessing),
        batch_size=d.batch_size, num_workers=d.num_workers, seed=cfg.trainer.seed,
        mix_ratio=d.mix_ratio if cfg.strategy.name == "joint" else None,
        domain_in_prompt=d.domain_in_prompt and cfg.strategy.name == "joint",
    )  # fmt: skip


def adapter_label(cfg: TrainConfig) -> str:
    """``none`` or ``lora-r<rank>``: the run's adapter, as results and tables name it."""
    a = cfg.model.adapter
    return "none" if a.method == "none" else f"{a.method}-r{a.rank}"


def _result(cfg: TrainConfig, loss: Any, metrics: dict[str, float], model: Any) -> dict[str, Any]:
    params = model.parameter_report()
    return {
        "status": "done",
        "name": cfg.name,
        "model": cfg.model.name,
        "strategy": cfg.strategy.name,
        "prompt": cfg.data.prompt,
        "dataset": cfg.data.root,
        "freeze_encoders": cfg.model.freeze_encoders,
        "adapter": adapter_label(cfg),
        "trainable_params": params["trainable"],
        "total_params": params["total"],
        "loss_preset": loss.preset,
        "threshold": loss.threshold,
        "seed": cfg.trainer.seed,
        **metrics,
    }


def resolve_step_budget(cfg: TrainConfig) -> TrainConfig:
    """``trainer.match_steps_of`` → ``trainer.max_steps`` (PT + FT steps of that run), epochs unbounded.

    The equal-compute baseline of a synth-PT → real-FT run: trained from scratch on the real data
    for as many optimiser steps as the pre-training and the fine-tuning together (early stopping
    still applies, as in the runs it is compared with).
    """
    if not cfg.trainer.match_steps_of:
        return cfg
    steps = runfolder.chain_steps(cfg.trainer.match_steps_of)
    return replace(cfg, trainer={"max_steps": steps, "max_epochs": -1})


def _finish_training(cfg: TrainConfig, out: Path, module: Any, trainer: Any, loss: Any, start: float) -> None:

    best = trainer.checkpoint_callback.best_model_path
    if best:
        module.load_state_dict(load_checkpoint(best)["state_dict"])
    save_model(module.model, out / "model")
    rows = runfolder.read_metrics(out)
    runfolder.write_convergence(out, rows)
    validated = [r for r in rows if math.isfinite(r["val_dice"])]  # an epoch cut by max_steps has none
    best_row = max(validated, key=lambda r: r["val_dice"]) if validated else {}
    metrics = {
        "best_val_dice": best_row.get("val_dice"),
        "best_val_iou": best_row.get("val_iou"),
        "best_epoch": int(best_row["epoch"]) if best_row else None,
        "epochs": len(rows),
        "optimizer_steps": int(rows[-1]["step"]) if rows else 0,
        "max_steps": cfg.trainer.max_steps,
        "match_steps_of": cfg.trainer.match_steps_of,
        "seconds": rows[-1]["elapsed_s"] if rows else None,
        "wall_s": time.perf_counter() - start,
    }
    runfolder.finish(out, _result(cfg, loss, metrics, module.model))


def _zero_shot(cfg: TrainConfig, out: Path, module: Any, dm: Any, loss: Any) -> None:
    trainer = _trainer(cfg, out, [])
    metrics = trainer.validate(module, datamodule=dm, verbose=False)[0]
    if trainer.is_global_zero:
        module.model.save_pretrained(out / "model")
        vals = {"best_val_dice": metrics.get("val_dice"), "best_val_iou": metrics.get("val_iou")}
        vals = {k: float(v) if v is not None else None for k, v in vals.items()}
        runfolder.finish(out, _result(cfg, loss, {**vals, "epochs": 0, "optimizer_steps": 0}, module.model))


def train(
    config: TrainConfig | str | Path,
    out: str | Path,
    resume: bool = False,
    force: bool = False,
    callbacks: Sequence[Any] = (),
    trust_pickle: bool = False,
) -> Path:
    """Run one configuration into ``out`` and return ``out``.

    Args:
        config: the resolved configuration, or the path of an experiment YAML.
        out: run folder.
        resume: continue an interrupted run from ``checkpoints/last.ckpt`` (fresh start if none).
        force: retrain a finished run (the folder is cleared first).
        callbacks: extra Lightning callbacks (tests, custom logging).
        trust_pickle: allow checkpoints that need pickle (``--resume``, ``--resume-compat``, a
            TorchScript ``model.pretrained``); off, they are refused (:mod:`synthboost.checkpoints`).
    """
    import lightning as L

    start = time.perf_counter()
    out = Path(out)
    if not isinstance(config, TrainConfig):
        config = load_config(config)
    config = resolve_step_budget(config)
    if _prepare_folder(config, out, resume, force):
        return out
    lc = config.loss
    loss = resolve_loss(lc.preset, config.model.name, lc.dice_weight, lc.bce_weight, lc.threshold)
    L.seed_everything(config.trainer.seed, workers=True, verbose=False)
    model, init = build(config, trust_pickle)
    dm = _datamodule(config, model)
    module = SegmentationModule(model, loss, config.optim)
    _write_provenance(config, out, loss)
    if config.strategy.name == "zero_shot":
        _zero_shot(config, out, module, dm, loss)
        return out
    trainer = _trainer(config, out, callbacks, trust_pickle)
    trainer.fit(module, datamodule=dm, ckpt_path=_fit_checkpoint(config, out, resume, init))
    if trainer.interrupted:
        log.warning("%s: training interrupted; continue with --resume", out)
        return out
    if trainer.is_global_zero:
        _finish_training(config, out, module, trainer, loss, start)
    return out


def _fit_checkpoint(cfg: TrainConfig, out: Path, resume: bool, init: Any) -> Path | None:
    """Checkpoint ``fit`` resumes from: this run's ``last.ckpt`` (``resume``), else for PT→FT with
    ``resume_compat`` the synthetic run's ``best.ckpt`` — a Lightning resume as the reference did:
    optimiser, scheduler, early-stopping and checkpoint state, epoch and step counters carry on
    (so ``max_epochs`` counts the pre-training epochs too)."""
    last = out / "checkpoints" / "last.ckpt"
    if resume and last.is_file():
        return last
    if init is not None and cfg.strategy.resume_compat:
        log.info("resume-compat: continuing the Lightning state of %s", init.checkpoint)
        return init.checkpoint
    return None


def train_seeds(
    config: TrainConfig, out: str | Path, seeds: Sequence[int] | None = None, **kwargs: Any
) -> list[Path]:
    """Repeat :func:`train` for several seeds, each in ``out/seed_<s>`` (one seed: ``out`` itself)."""
    if not seeds:
        return [train(config, out, **kwargs)]
    if len(seeds) == 1:
        return [train(replace(config, trainer={"seed": int(seeds[0])}), out, **kwargs)]
    return [
        train(replace(config, trainer={"seed": int(s)}), Path(out) / f"seed_{s}", **kwargs) for s in seeds
    ]
