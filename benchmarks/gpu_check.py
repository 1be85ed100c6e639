"""The measured half of ``benchmarks/gpu_check.sh``: paper-size training steps, SDM sampling, inference.

Run: ``.venv/bin/python benchmarks/gpu_check.py [--device cuda] [--out DIR]`` (the shell script
runs it, then a 2-step ``synthboost train`` and a ``predict`` through the CLI). Prints one line per
item and writes ``<out>/gpu_check.json``. ``--tiny --device cpu`` runs the same code on tiny
configs in seconds (a smoke test of this script, not a measurement). Never run in CI.

Items:
- paper-size CLIPSeg (batch 128) and CRIS (batch 32) training steps in 16-mixed (fp16 autocast +
  gradient scaler, as Lightning's ``16-mixed``), random init: samples/s and peak memory;
- the Echo-from-noise SDM (``sdm/echo_from_noise.yaml``, 256², random weights: speed does not
  depend on them) sampling DDIM-50 and DDPM-1000: images/s (DDPM over ``--ddpm-steps`` steps,
  scaled to 1000 when fewer and printed as such);
- inference throughput of both paper-size models (fp16 autocast, ``--infer-batch``): images/s.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from bench_synth import bench_sampler, toy_conds  # noqa: E402
from bench_train import train_rate  # noqa: E402


def _peak_gib(device: str) -> float | None:
    return torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else None


def _reset(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def train_item(name: str, config: str, batch: int, steps: int, device: str) -> dict:
    """Samples/s and peak memory of training steps of one paper-size (or tiny) VLSM."""
    from synthboost.models import build_model

    _reset(device)
    model = build_model(name, config=config).to(device).train()
    rate = train_rate(model, batch, steps, device=device, amp=device.startswith("cuda"))
    out = {
        "item": f"train {name} {config} bs{batch} 16-mixed",
        "samples_s": rate,
        "peak_gib": _peak_gib(device),
    }
    del model
    return out


@torch.no_grad()
def infer_item(name: str, config: str, batch: int, repeats: int, device: str) -> dict:
    """Images/s of forward passes (fp16 autocast on CUDA), first pass not timed."""
    from synthboost.models import build_model
    from synthboost.training.dataset import normalize

    _reset(device)
    model = build_model(name, config=config).to(device).eval()
    prep, s = model.preprocessing, model.preprocessing.image_size
    images = normalize(
        torch.randint(0, 255, (batch, 1, s, s), dtype=torch.uint8, device=device), prep.mean, prep.std
    )
    ids = torch.randint(0, 49000, (batch, prep.context_length), device=device)
    with torch.autocast(device.split(":")[0], dtype=torch.float16, enabled=device.startswith("cuda")):
        model(images, ids, torch.ones_like(ids))
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(repeats):
            model(images, ids, torch.ones_like(ids))
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    rate = repeats * batch / (time.perf_counter() - t0)
    return {"item": f"infer {name} {config} bs{batch} fp16", "images_s": rate, "peak_gib": _peak_gib(device)}


def sampling_items(config: str, batch: int, ddpm_steps: int, device: str) -> list[dict]:
    """Images/s of DDIM-50 and DDPM-1000 with the SDM of ``config`` at its own size."""
    from synthboost.synth.config import load_config
    from synthboost.synth.unet import SDMUNet

    _reset(device)
    cfg = load_config(config)
    model = SDMUNet(cfg.model).to(device).eval()
    conds = toy_conds(batch, cfg.model.image_size)
    out = [{"item": f"SDM {config} {cfg.model.image_size}px DDIM-50 bs{batch}",
            "images_s": bench_sampler(model, "ddim", 50, conds, device, config)}]  # fmt: skip
    rate = bench_sampler(model, "ddpm", ddpm_steps, conds, device, config) * ddpm_steps / 1000
    note = "" if ddpm_steps == 1000 else f" (timed over {ddpm_steps} steps, scaled to 1000)"
    out.append({"item": f"SDM {config} {cfg.model.image_size}px DDPM-1000 bs{batch}{note}", "images_s": rate,
                "peak_gib": _peak_gib(device)})  # fmt: skip
    return out


def main() -> None:
    """Run every item, print a line each, write ``gpu_check.json``."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out", type=Path, default=Path("/tmp/synthboost_gpu_check"))
    ap.add_argument("--steps", type=int, default=10, help="timed training steps per model")
    ap.add_argument("--ddpm-steps", type=int, default=1000)
    ap.add_argument("--sdm-batch", type=int, default=4)
    ap.add_argument("--infer-batch", type=int, default=64)
    ap.add_argument("--tiny", action="store_true", help="tiny configs: a smoke test of this script")
    args = ap.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("gpu_check: no CUDA device visible (use --device cpu --tiny for a smoke test)")
    config, sdm = ("tiny", "tiny") if args.tiny else ("paper", "echo_from_noise")
    batches = (4, 4) if args.tiny else (128, 32)  # the paper's CLIPSeg / CRIS batch sizes
    info = {"device": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
            "torch": torch.__version__, "configs": [config, sdm]}  # fmt: skip
    print(
        f"gpu_check on {info['device']} (torch {info['torch']}; model config {config}, SDM {sdm})", flush=True
    )
    items = []
    steps = [
        lambda: [train_item("clipseg", config, batches[0], args.steps, args.device)],
        lambda: [train_item("cris", config, batches[1], args.steps, args.device)],
        lambda: sampling_items(sdm, args.sdm_batch, args.ddpm_steps, args.device),
        lambda: [infer_item(m, config, args.infer_batch, 10, args.device) for m in ("clipseg", "cris")],
    ]
    for run in steps:
        t0 = time.perf_counter()
        for item in run():
            item["seconds"] = time.perf_counter() - t0
            items.append(item)
            rate = item.get("samples_s", item.get("images_s"))
            unit = "samples/s" if "samples_s" in item else "images/s"
            peak = f", peak {item['peak_gib']:.1f} GiB" if item.get("peak_gib") is not None else ""
            print(f"  {item['item']}: {rate:.2f} {unit}{peak}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_check.json").write_text(json.dumps({**info, "items": items}, indent=1))


if __name__ == "__main__":
    main()
