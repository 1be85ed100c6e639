"""Sampling speed of the tiny SDM: DDPM-1000 vs DDIM-50 vs DPM-Solver-20, side by side.

Run: ``.venv/bin/python benchmarks/bench_synth.py [--batch 8] [--threads 1] [--device cpu]``.
The model is the untrained ``configs/sdm/tiny.yaml`` UNet (32², 1.4 M parameters): the speed of a
sampler does not depend on the weights. Also times the speckle renderer
(``synthboost.data.phantom.speckle.render_bmode``) on the same masks when it exists.
"""

from __future__ import annotations

import argparse
import importlib
import time

import numpy as np
import torch

from synthboost.synth.config import load_config
from synthboost.synth.diffusion import SemanticDiffusionPipeline, make_scheduler, one_hot
from synthboost.synth.unet import SDMUNet

SAMPLERS = (("ddpm", 1000), ("ddim", 50), ("dpm", 20))


def toy_conds(n: int, size: int) -> np.ndarray:
    """``n`` 5-class conditioning maps: a fan sector with an LV, myocardium and LA."""
    rows, cols = np.mgrid[0:size, 0:size].astype(float) / size
    fan = (np.abs(np.degrees(np.arctan2(cols - 0.5, rows + 0.01))) < 35) & (rows < 0.95)
    cond = np.where(fan, 2, 0)
    cond[fan & (((rows - 0.42) / 0.26) ** 2 + ((cols - 0.5) / 0.16) ** 2 < 1)] = 3
    cond[fan & (((rows - 0.42) / 0.2) ** 2 + ((cols - 0.5) / 0.1) ** 2 < 1)] = 1
    cond[fan & (((rows - 0.8) / 0.09) ** 2 + ((cols - 0.5) / 0.12) ** 2 < 1)] = 4
    return np.repeat(cond[None].astype(np.uint8), n, axis=0)


def bench_sampler(
    model: SDMUNet, name: str, steps: int, conds: np.ndarray, device: str, config: str = "tiny"
) -> float:
    """Images per second of one sampler on one batch (``config``: the SDM config of ``model``)."""
    cfg = load_config(config)
    pipe = SemanticDiffusionPipeline(model, make_scheduler(name, cfg.diffusion, cfg.model.learn_sigma))
    y = one_hot(torch.from_numpy(conds).to(device), cfg.model.num_classes)
    gens = [torch.Generator().manual_seed(i) for i in range(len(conds))]
    start = time.perf_counter()
    pipe(y, steps, gens)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return len(conds) / (time.perf_counter() - start)


def bench_speckle(conds: np.ndarray, repeats: int = 20) -> float | None:
    """Images per second of the speckle renderer on the same masks (None if it is not there)."""
    try:
        render_bmode = importlib.import_module("synthboost.data.phantom.speckle").render_bmode
    except (ImportError, AttributeError):
        return None
    from synthboost.synth.perturb import cond_to_camus

    rng = np.random.default_rng(0)
    labels, sector = cond_to_camus(conds[0]), conds[0] > 0
    start = time.perf_counter()
    for _ in range(repeats):
        render_bmode(labels, sector, rng)
    return repeats / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = SDMUNet(load_config("tiny").model).to(args.device).eval()
    conds = toy_conds(args.batch, model.config.image_size)
    rows = [
        (f"{name.upper()}-{steps}", bench_sampler(model, name, steps, conds, args.device))
        for name, steps in SAMPLERS
    ]
    speckle = bench_speckle(conds)
    if speckle is not None:
        rows.append(("speckle (32²)", speckle))
    base = rows[0][1]
    print(f"tiny SDM 32², batch {args.batch}, {args.threads} thread(s), {args.device}")
    print(f"{'method':<16}{'images/s':>12}{'× DDPM-1000':>14}")
    for name, ips in rows:
        print(f"{name:<16}{ips:>12.2f}{ips / base:>14.1f}")


if __name__ == "__main__":
    main()
