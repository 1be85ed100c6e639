"""Full fine-tune vs LoRA (rank 8, 16) vs frozen encoders: training step time and peak memory.

Run: ``.venv/bin/python benchmarks/bench_peft.py [--batch 2] [--steps 3] [--threads 2] [--device cpu]``.
Paper-size CLIPSeg (ViT-B/16, 352 px) and CRIS (RN50, 416 px) from their ``paper`` configs, randomly
initialised (no download; the step cost does not depend on the weights). Each (model, mode) runs in
its own process so that peak memory is its own, side by side in one invocation:

- ``full``: every parameter trains; ``lora8`` / ``lora16``: LoRA of that rank on the model's default
  encoder targets (``synthboost.models.adapters``), decoder/neck in full; ``frozen``: encoders frozen,
  decoder/neck only;
- the step is forward + loss + backward + AdamW (float32 on CPU, ``16-mixed`` autocast on CUDA), the
  first step (optimiser state allocation) untimed, then the median of ``--steps``;
- memory: CPU = peak resident set size of the process (``ru_maxrss``) and its growth over the
  steps beyond the model built (gradients, optimiser state, activations); CUDA =
  ``torch.cuda.max_memory_allocated`` over the steps.

Ratios are against ``full`` of the same model.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

MODES = ("full", "lora8", "lora16", "frozen")
MODELS = ("clipseg", "cris")


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="utf-8") as f:
        line = next(row for row in f if row.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def measure(name: str, mode: str, batch: int, steps: int, device: str) -> dict:
    """Step time and memory of one (model, mode) in this process."""
    import torch

    from synthboost.models import build_model
    from synthboost.models.adapters import add_lora
    from synthboost.training.losses import segmentation_loss

    torch.manual_seed(0)
    model = build_model(name, config="paper", freeze_encoders=mode == "frozen")
    if mode.startswith("lora"):
        add_lora(model, rank=int(mode[4:]))
    model.to(device).train()
    report = model.parameter_report()
    prep = model.preprocessing
    s = prep.image_size
    pixels = torch.randn(batch, 3, s, s, device=device)
    masks = (torch.rand(batch, 1, s, s, device=device) > 0.7).float()
    ids = torch.randint(0, 49000, (batch, prep.context_length), device=device)
    ids[:, 8] = 49407
    attn = torch.ones_like(ids)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=1e-3)
    cuda = device.startswith("cuda")

    def step() -> None:
        with torch.autocast("cuda", dtype=torch.float16, enabled=cuda):
            loss = segmentation_loss(model(pixels, ids, attn), masks, 1.0, 0.2)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 0.5)
        opt.step()
        opt.zero_grad(set_to_none=True)

    built = _rss_mb()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated() / 2**20
    step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"model": name, "mode": mode, "step_s": statistics.median(times), "trainable": report["trainable"],
           "total": report["total"], "peak_mb": peak, "growth_mb": max(0.0, peak - built)}  # fmt: skip
    if cuda:
        out["peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
        out["growth_mb"] = out["peak_mb"] - base
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--one", nargs=2, metavar=("MODEL", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.one:
        print(json.dumps(measure(*args.one, args.batch, args.steps, args.device)))
        return
    rows = []
    for name in args.models.split(","):
        for mode in MODES:
            cmd = [sys.executable, __file__, "--one", name, mode, "--batch", str(args.batch), "--steps",
                   str(args.steps), "--threads", str(args.threads), "--device", args.device]  # fmt: skip
            proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(f"  measured {name} {mode}", file=sys.stderr)
    mem = "peak CUDA allocated" if args.device.startswith("cuda") else "peak RSS"
    print(f"paper-size models (random init), batch {args.batch}, {args.device}, {args.threads} threads, "
          f"median of {args.steps} steps after one warm-up; ratios vs full of the same model")  # fmt: skip
    head = f"{'model':8} {'mode':7} {'trainable':>12} {'total':>12} {'step s':>8} {'x full':>7} "
    print(head + f"{mem + ' MB':>20} {'x full':>7} {'step growth MB':>15} {'x full':>7}")
    for row in rows:
        full = next(r for r in rows if r["model"] == row["model"] and r["mode"] == "full")
        print(
            f"{row['model']:8} {row['mode']:7} {row['trainable']:>12,} {row['total']:>12,} "
            f"{row['step_s']:>8.2f} {row['step_s'] / full['step_s']:>7.2f} {row['peak_mb']:>20.0f} "
            f"{row['peak_mb'] / full['peak_mb']:>7.2f} {row['growth_mb']:>15.0f} "
            f"{row['growth_mb'] / max(full['growth_mb'], 1e-9):>7.2f}"
        )


if __name__ == "__main__":
    main()
