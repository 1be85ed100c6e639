"""Forward+backward time per sample of the VLSMs at paper sizes, next to bare ``transformers`` CLIPSeg.

Random weights, batch 2, CPU by default (``--device cuda`` and ``--amp`` for GPUs). Rows:
``clipseg`` (ours: encoders trained), ``clipseg-frozen`` (ours, Table 2 setting), ``hf-clipseg``
(``CLIPSegForImageSegmentation.forward``, whose encoders run under no_grad), ``cris`` and
``cris-frozen`` (416 px). The ratio column divides by ``hf-clipseg``. Run::

    python benchmarks/bench_models.py --iterations 1
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from synthboost.models import build_model, get_tokenizer  # noqa: E402


def make_inputs(model, batch_size: int, device: str) -> dict[str, torch.Tensor]:
    """Random images and real tokens at the model's input size."""
    size = model.preprocessing.image_size
    tokens = get_tokenizer(model.preprocessing)(["left ventricle of the heart"] * batch_size)
    batch = {"pixel_values": torch.randn(batch_size, 3, size, size), **tokens}
    return {k: v.to(device) for k, v in batch.items()}


def time_step(step: Callable[[], torch.Tensor], iterations: int, device: str, amp: bool) -> float:
    """Seconds per call of forward+backward (after one warm-up call)."""

    def run() -> None:
        with torch.autocast(device_type=device.split(":")[0], enabled=amp):
            loss = step().float().square().mean()
        loss.backward()

    run()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(iterations):
        run()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / iterations


def cases(device: str) -> dict[str, Callable[[int], tuple[Callable[[], torch.Tensor], int]]]:
    """Name → factory(batch_size) of a step closure."""

    def ours(name: str, frozen: bool):
        def factory(batch_size: int):
            model = build_model(name, config="paper", freeze_encoders=frozen).to(device)
            batch = make_inputs(model, batch_size, device)
            return (lambda: model(**batch)), batch_size

        return factory

    def hf(batch_size: int):
        model = build_model("clipseg", config="paper").to(device)
        batch = make_inputs(model, batch_size, device)
        return (lambda: model.model(**batch).logits), batch_size

    return {
        "hf-clipseg": hf,
        "clipseg": ours("clipseg", False),
        "clipseg-frozen": ours("clipseg", True),
        "cris": ours("cris", False),
        "cris-frozen": ours("cris", True),
    }


def main() -> None:
    """Parse arguments, time each case, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", action="store_true", help="autocast (fp16 on CUDA, bf16 on CPU)")
    parser.add_argument("--only", nargs="*", default=None, help="subset of the cases")
    args = parser.parse_args()
    torch.manual_seed(0)
    results: dict[str, float] = {}
    for name, factory in cases(args.device).items():
        if args.only and name not in args.only:
            continue
        step, batch_size = factory(args.batch_size)
        results[name] = time_step(step, args.iterations, args.device, args.amp) / batch_size
        del step
    base = results.get("hf-clipseg")
    print(f"device={args.device} amp={args.amp} batch={args.batch_size} iterations={args.iterations}")
    print(f"{'model':<16}{'s/sample':>10}{'ratio':>8}")
    for name, seconds in results.items():
        ratio = f"{seconds / base:.2f}" if base else "-"
        print(f"{name:<16}{seconds:>10.3f}{ratio:>8}")


if __name__ == "__main__":
    main()
