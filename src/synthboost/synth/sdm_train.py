"""Training the semantic diffusion model on aligned (real image, real mask) pairs.

Run folder (resumable; guided-diffusion checkpoint names)::

    <run>/config.yaml             resolved SDMConfig
    <run>/run.json                dataset, view, phase
    <run>/modelNNNNNN.pt          UNet state dict
    <run>/ema_<rate>_NNNNNN.pt    EMA state dict (used for sampling)
    <run>/optNNNNNN.pt            optimiser state and step
    <run>/loss.csv                step, loss, mse, vb, lr
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from synthboost.checkpoints import load_checkpoint
from synthboost.logs import get_logger
from synthboost.synth.config import SDMConfig, dump_config, load_config
from synthboost.synth.diffusion import GaussianDiffusion, drop_labels, one_hot
from synthboost.synth.io import load_frame, read_meta, select_rows
from synthboost.synth.perturb import camus_to_cond
from synthboost.synth.unet import SDMUNet, load_weights
from synthboost.utils.device import torch_device
from synthboost.utils.environment import ENVIRONMENT_KEY, environment_versions
from synthboost.utils.files import atomic_path, write_json_atomic, write_text_atomic

log = get_logger("synth.train")
_MODEL_RE = re.compile(r"^model(\d{6,})\.pt$")


def to_model_input(images: torch.Tensor, in_channels: int) -> torch.Tensor:
    """uint8 ``(N, H, W)`` → float ``(N, in_channels, H, W)`` in [-1, 1] (grayscale replicated)."""
    x = images.float().div(127.5).sub(1.0)[:, None]
    return x.expand(-1, in_channels, -1, -1).contiguous()


def load_pairs(dataset_root: Path, config: SDMConfig, view: str | None, phase: str | None):
    """Images ``(N, H, W)`` uint8 and cond maps ``(N, H, W)`` uint8 of the selected frames."""

    rows = select_rows(read_meta(dataset_root), config.train.splits, view, phase)
    if not rows:
        raise ValueError(
            f"{dataset_root / 'meta.csv'}: no rows for splits {config.train.splits}, view {view}, phase {phase}"
        )
    images, conds = [], []
    for row in rows:
        image, labels, sector = load_frame(dataset_root, row, config.model.image_size)
        images.append(image)
        conds.append(camus_to_cond(labels, sector))
    log.info("loaded %d training pairs from %s", len(rows), dataset_root)
    return torch.from_numpy(np.stack(images)), torch.from_numpy(np.stack(conds))


class SDMTrainer:
    """Model, EMA, AdamW with linear decay, and the hybrid loss; one :meth:`step` per batch."""

    def __init__(self, config: SDMConfig, device: str | torch.device | None = None):
        self.config = config
        self.device = torch_device(device)
        self.model = SDMUNet(config.model).to(self.device)
        self.ema = copy.deepcopy(self.model).requires_grad_(False).eval()
        self.diffusion = GaussianDiffusion(config.diffusion).to(self.device)
        tc = config.train
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
        self.step_count = 0
        amp = tc.mixed_precision if self.device.type == "cuda" else "no"
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
        self.scaler = torch.amp.GradScaler("cuda", enabled=amp == "fp16")

    def lr_at(self, step: int) -> float:
        """Linearly decayed learning rate (guided-diffusion's ``lr_anneal_steps``)."""
        tc = self.config.train
        if tc.lr_anneal_steps <= 0:
            return tc.lr
        return tc.lr * max(0.0, 1.0 - step / tc.lr_anneal_steps)

    def step(self, images: torch.Tensor, cond: torch.Tensor, generator: torch.Generator | None = None,
             t: torch.Tensor | None = None, noise: torch.Tensor | None = None) -> dict[str, float]:  # fmt: skip
        """One optimisation step on uint8 images and cond maps ``(B, H, W)``; returns mean losses."""
        c = self.config
        if c.train.random_flip:
            flip = torch.rand(images.shape[0], generator=generator) < 0.5
            images = torch.where(flip[:, None, None], images.flip(-1), images)
            cond = torch.where(flip[:, None, None], cond.flip(-1), cond)
        x0 = to_model_input(images, c.model.in_channels).to(self.device)
        y = drop_labels(one_hot(cond, c.model.num_classes), c.train.drop_rate, generator).to(self.device)
        if t is None:
            t = torch.randint(0, c.diffusion.num_timesteps, (x0.shape[0],), generator=generator)
        if noise is None:
            noise = torch.randn(x0.shape, generator=generator)
        self.model.train()
        for group in self.opt.param_groups:
            group["lr"] = self.lr_at(self.step_count)
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            losses = self.diffusion.training_losses(
                self.model, x0, y, t.to(self.device), noise.to(self.device)
            )
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(losses["loss"].mean()).backward()
        self.scaler.step(self.opt)
        self.scaler.update()
        self._update_ema()
        self.step_count += 1
        return {k: float(v.detach().mean()) for k, v in losses.items()} | {
            "lr": self.opt.param_groups[0]["lr"]
        }

    @torch.no_grad()
    def _update_ema(self) -> None:
        rate = self.config.train.ema_rate
        for e, p in zip(self.ema.parameters(), self.model.parameters(), strict=True):
            e.lerp_(p, 1.0 - rate)

    def save(self, run_dir: Path) -> None:
        """Write ``modelNNNNNN.pt``, ``ema_<rate>_NNNNNN.pt`` and ``optNNNNNN.pt`` atomically."""
        s = f"{self.step_count:06d}"
        files: dict[str, Any] = {
            f"model{s}.pt": self.model.state_dict(),
            f"ema_{self.config.train.ema_rate}_{s}.pt": self.ema.state_dict(),
            f"opt{s}.pt": {"optimizer": self.opt.state_dict(), "step": self.step_count},
        }
        for name, obj in files.items():
            with atomic_path(Path(run_dir) / name) as tmp:
                torch.save(obj, tmp)

    def resume(self, run_dir: Path, trust_pickle: bool = False) -> bool:
        """Load the newest checkpoint of ``run_dir``; return whether one was found."""

        step = latest_step(run_dir)
        if step is None:
            return False
        s = f"{step:06d}"
        load_weights(self.model, Path(run_dir) / f"model{s}.pt", trust_pickle)
        load_weights(self.ema, Path(run_dir) / f"ema_{self.config.train.ema_rate}_{s}.pt", trust_pickle)
        opt = load_checkpoint(Path(run_dir) / f"opt{s}.pt", self.device, trust_pickle)
        self.opt.load_state_dict(opt["optimizer"])
        self.step_count = int(opt["step"])
        log.info("resumed %s at step %d", run_dir, step)
        return True


def latest_step(run_dir: Path) -> int | None:
    """Highest step with a complete checkpoint (model and optimiser) in ``run_dir``."""
    steps = [int(m.group(1)) for p in Path(run_dir).glob("model*.pt") if (m := _MODEL_RE.match(p.name))]
    steps = [s for s in steps if (Path(run_dir) / f"opt{s:06d}.pt").is_file()]
    return max(steps, default=None)


def _resolve_run_config(run_dir: Path, config: Path | Mapping | SDMConfig | None, max_steps: int | None):
    saved = run_dir / "config.yaml"
    cfg = load_config(saved if saved.is_file() and config is None else config)
    if saved.is_file() and load_config(saved).model != cfg.model:
        raise ValueError(f"{saved}: the run was started with another model config; use a new run folder")
    if max_steps is not None:
        cfg = SDMConfig(cfg.model, cfg.diffusion, dataclasses.replace(cfg.train, steps=max_steps), cfg.sample)
    return cfg


def _trim_log(path: Path, step: int) -> None:
    """Drop loss-log rows written after the checkpoint a run resumes from."""
    if path.is_file():
        head, *rows = path.read_text(encoding="utf-8").splitlines()
        kept = [r for r in rows if int(r.split(",", 1)[0]) <= step]
        write_text_atomic(path, "\n".join([head, *kept]) + "\n")


def train_sdm(dataset_root: Path, run_dir: Path, view: str | None, phase: str | None,
              config: Path | dict | None, max_steps: int | None = None, device=None,
              trust_pickle: bool = False) -> Path:  # fmt: skip
    """Train (or resume) an SDM on a processed dataset; return the run folder.

    ``trust_pickle`` lets the resumed checkpoints need pickle (see :mod:`synthboost.checkpoints`).
    """
    dataset_root, run_dir = Path(dataset_root), Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg = _resolve_run_config(run_dir, config, max_steps)
    write_text_atomic(run_dir / "config.yaml", dump_config(cfg))
    images, conds = load_pairs(dataset_root, cfg, view, phase)
    trainer = SDMTrainer(cfg, device)
    write_json_atomic(run_dir / "run.json", {"dataset": str(dataset_root), "view": view, "phase": phase,
                                             ENVIRONMENT_KEY: environment_versions(trainer.device)})  # fmt: skip
    trainer.resume(run_dir, trust_pickle)
    _trim_log(run_dir / "loss.csv", trainer.step_count)
    gen = torch.Generator().manual_seed(cfg.train.seed * 1_000_003 + trainer.step_count)
    loss_log = run_dir / "loss.csv"
    if not loss_log.exists():
        loss_log.write_text("step,loss,mse,vb,lr\n", encoding="utf-8")
    bs = min(cfg.train.batch_size, len(images))
    while trainer.step_count < cfg.train.steps:
        idx = torch.randint(0, len(images), (bs,), generator=gen)
        m = trainer.step(images[idx], conds[idx], gen)
        if trainer.step_count % cfg.train.log_interval == 0 or trainer.step_count == cfg.train.steps:
            with loss_log.open("a", encoding="utf-8") as fh:
                fh.write(f"{trainer.step_count},{m['loss']:.6g},{m['mse']:.6g},{m['vb']:.6g},{m['lr']:.6g}\n")
            log.info("step %d loss %.4f", trainer.step_count, m["loss"])
        if trainer.step_count % cfg.train.save_interval == 0 or trainer.step_count == cfg.train.steps:
            trainer.save(run_dir)
    return run_dir
