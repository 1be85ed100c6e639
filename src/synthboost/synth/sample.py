"""Sampling images from a trained semantic diffusion model, for arrays or a perturbed-mask folder.

``sample_folder`` writes the Echo-from-noise layout ``out/<split>/images/<stem>.png`` and
``out/<split>/labels/<stem>.png`` (CAMUS 0–3). It is resumable: stems whose image exists are
skipped, each file is written through a temporary file and a rename, and the noise of an image
depends only on ``(seed, stem)``, so an interrupted run finishes with the same files.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from synthboost.data.imageio.medical import resize
from synthboost.logs import get_logger
from synthboost.progress import track
from synthboost.synth.config import SDMConfig, load_config
from synthboost.synth.diffusion import SemanticDiffusionPipeline, make_scheduler, one_hot
from synthboost.synth.io import read_png, resize_square, write_png
from synthboost.synth.perturb import camus_to_cond, cond_to_camus
from synthboost.synth.sample_record import find_weights, sampling_settings, start_output
from synthboost.synth.unet import SDMUNet, load_weights
from synthboost.utils.device import torch_device

log = get_logger("synth.sample")


@functools.lru_cache(maxsize=2)
def _cached_unet(weights: str, mtime: float, config: SDMConfig, device: str, trust_pickle: bool) -> SDMUNet:
    model = SDMUNet(config.model)
    return load_weights(model, weights, trust_pickle).to(device).eval()


def load_pipeline(run_dir: Path, sampler: str | None = None, guidance: float | None = None, device=None,
                  trust_pickle: bool = False):  # fmt: skip
    """The pipeline (EMA weights + scheduler) and config of a run folder.

    ``sampler`` and ``guidance`` default to the run config's ``sample`` section; ``trust_pickle``
    lets the weights need pickle (see :mod:`synthboost.checkpoints`).
    """
    run_dir = Path(run_dir)
    cfg = load_config(run_dir / "config.yaml")
    sampler = sampler or cfg.sample.sampler
    guidance = cfg.sample.guidance if guidance is None else guidance
    weights = find_weights(run_dir)
    dev = torch_device(device)
    unet = _cached_unet(str(weights), weights.stat().st_mtime, cfg, str(dev), trust_pickle)
    scheduler = make_scheduler(sampler, cfg.diffusion, cfg.model.learn_sigma)
    return SemanticDiffusionPipeline(unet, scheduler, guidance), cfg


def _to_cond(label: np.ndarray, sector: np.ndarray, size: int) -> np.ndarray:

    label = resize_square(np.asarray(label, np.uint8), size, nearest=True)
    sector = resize_square((np.asarray(sector) > 0).astype(np.uint8), size, nearest=True)
    return camus_to_cond(label, sector)


def generate(pipe: SemanticDiffusionPipeline, cfg: SDMConfig, conds: Sequence[np.ndarray],
             seeds: Sequence[int], steps: int) -> list[np.ndarray]:  # fmt: skip
    """One batch: cond maps at the model size → uint8 images; image i uses noise seeded by ``seeds[i]``."""
    device = next(pipe.unet.parameters()).device
    cond = torch.from_numpy(np.stack(conds)).to(device)
    gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
    x = pipe(one_hot(cond, cfg.model.num_classes), steps, gens)
    images = ((x.mean(dim=1) + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
    if cfg.sample.mask_outside_sector:
        images = np.where(np.stack(conds) > 0, images, 0).astype(np.uint8)
    return list(images)


def sample_images(run_dir: Path, labels: list[np.ndarray], sectors: list[np.ndarray], seed: int = 0,
                  steps: int | None = None, sampler: str | None = None, guidance: float | None = None,
                  batch_size=8, device=None, trust_pickle: bool = False) -> list[np.ndarray]:  # fmt: skip
    """Sample one uint8 image per (CAMUS label map, sector); each returned at its label's size.

    ``steps``, ``sampler`` and ``guidance`` default to the run config's ``sample`` section.
    """
    if len(labels) != len(sectors):
        raise ValueError(f"sample_images: {len(labels)} label maps but {len(sectors)} sectors")
    pipe, cfg = load_pipeline(run_dir, sampler, guidance, device, trust_pickle)
    steps = steps or cfg.sample.steps
    size = cfg.model.image_size
    conds = [_to_cond(lab, sec, size) for lab, sec in zip(labels, sectors, strict=True)]
    out: list[np.ndarray] = []
    for start in range(0, len(conds), batch_size):
        seeds = [seed * 1_000_003 + i for i in range(start, min(start + batch_size, len(conds)))]
        out += generate(pipe, cfg, conds[start : start + batch_size], seeds, steps)

    images = [resize(img, np.shape(lab)) for img, lab in zip(out, labels, strict=True)]
    if cfg.sample.mask_outside_sector:
        images = [
            np.where(np.asarray(sec) > 0, img, 0).astype(np.uint8)
            for img, sec in zip(images, sectors, strict=True)
        ]
    return images


def _read_perturbed(perturbed_dir: Path) -> list[tuple[str, str]]:
    """(split, stem) of every conditioning map under ``perturbed_dir/<split>/cond``, sorted."""
    items = sorted((p.parent.parent.name, p.stem) for p in Path(perturbed_dir).glob("*/cond/*.png"))
    if not items:
        raise ValueError(f"{perturbed_dir}: no <split>/cond/<stem>.png maps (run `synthboost synth perturb`)")
    return items


def stem_seed(seed: int, stem: str) -> int:
    """Noise seed of one stem: independent of batching and of the order of sampling."""
    return (seed * 1_000_003 + zlib.crc32(stem.encode())) % (2**63)


def sample_folder(run_dir: Path, perturbed_dir: Path, out: Path, steps: int | None = None,
                  sampler: str | None = None, seed=0, batch_size=8, device=None,
                  trust_pickle: bool = False, force: bool = False) -> Path:  # fmt: skip
    """Sample an image for every perturbed conditioning map; resumable (see module docstring).

    ``steps`` and ``sampler`` default to the run config's ``sample`` section (so does guidance).
    Resuming needs the same settings (``sampling.json``); ``force`` restarts a folder sampled otherwise.
    """

    perturbed_dir, out = Path(perturbed_dir), Path(out)
    items = _read_perturbed(perturbed_dir)
    start_output(out, sampling_settings(run_dir, steps, sampler, seed), force)
    todo = [(sp, st) for sp, st in items if not (out / sp / "images" / f"{st}.png").is_file()]
    log.info("%d of %d images to sample (%d already done)", len(todo), len(items), len(items) - len(todo))
    if not todo:
        return out
    pipe, cfg = load_pipeline(run_dir, sampler, None, device, trust_pickle)
    steps = steps or cfg.sample.steps
    log.info("sampler %s x %d steps, guidance %s (%s)", type(pipe.scheduler).__name__, steps, pipe.guidance,
             "the paper's DDPM x 1000" if (sampler or cfg.sample.sampler, steps) == ("ddpm", 1000) else
             "not the paper's DDPM x 1000")  # fmt: skip
    size = cfg.model.image_size
    batches = range(0, len(todo), batch_size)
    for start in track(batches, f"SDM sampling ({len(todo)} images, batches of {batch_size})"):
        batch = todo[start : start + batch_size]
        conds = []
        for split, stem in batch:
            cond = read_png(perturbed_dir / split / "cond" / f"{stem}.png")
            if cond.shape != (size, size) or cond.max() > 4:
                raise ValueError(f"{perturbed_dir / split / 'cond' / stem}.png: not a {size}² 5-class map")
            conds.append(cond)
        images = generate(pipe, cfg, conds, [stem_seed(seed, st) for _, st in batch], steps)
        for (split, stem), cond, image in zip(batch, conds, images, strict=True):
            write_png(out / split / "labels" / f"{stem}.png", cond_to_camus(cond))
            write_png(out / split / "images" / f"{stem}.png", image)
    return out
