"""Training rate vs. data-loader rate, tiny and paper-size models, on this machine's CPU.

Run: ``.venv/bin/python benchmarks/bench_train.py [--paper-steps 2] [--threads N]``. Builds a
small phantom dataset (cached under ``/tmp/synthboost_bench_train``), then prints samples/s of

- the training step (forward + backward + AdamW, float32) of each model,
- the DataLoader at that model's input size (images cached after the first pass),

and their ratio (the loader must be ≥ 5× faster than training so it is never the bottleneck).
Paper-size models run only ``--paper-steps`` steps (one or two are enough on a CPU).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

DATA = Path("/tmp/synthboost_bench_train")


def dataset(image_size: int = 512) -> Path:
    """A prepared phantom with prompts (written once)."""
    from synthboost.data.phantom.writer import generate_phantom
    from synthboost.data.sources.camus import prepare_camus
    from synthboost.prompts.annotate import write_annotations

    root = DATA / f"camus{image_size}"
    if not (root / "anns" / "train.json").is_file():
        generate_phantom(DATA / "raw", n_patients=8, seed=0, overwrite=True, image_scale=0.5)
        prepare_camus(DATA / "raw", root, image_size=image_size, overwrite=True)
        write_annotations(root)
    return root


def loader_rate(root: Path, model, batch_size: int, passes: int = 2) -> float:
    """Samples/s of the training loader, after one warm-up pass that fills the cache."""
    from synthboost.models.tokenizer import get_tokenizer
    from synthboost.training.dataset import SegmentationDataModule

    prep = model.preprocessing
    dm = SegmentationDataModule([root], "p7", prep.image_size, get_tokenizer(prep), batch_size=batch_size)
    for _ in dm.train_dataloader():  # warm-up: decode and cache
        pass
    n, t0 = 0, time.perf_counter()
    for _ in range(passes):
        for batch in dm.train_dataloader():
            n += batch["image"].shape[0]
    return n / (time.perf_counter() - t0)


def train_rate(model, batch_size: int, steps: int, device: str = "cpu", amp: bool = False) -> float:
    """Samples/s of full training steps on random inputs (first step not timed).

    ``amp``: fp16 autocast with a gradient scaler, as Lightning's ``16-mixed`` (CUDA).
    """
    from synthboost.training.dataset import normalize
    from synthboost.training.losses import segmentation_loss

    s = model.preprocessing.image_size
    prep = model.preprocessing
    images = torch.randint(0, 255, (batch_size, 1, s, s), dtype=torch.uint8, device=device)
    masks = (torch.rand(batch_size, 1, s, s, device=device) > 0.7).float()
    ids = torch.randint(0, 49000, (batch_size, prep.context_length), device=device)
    attn = torch.ones_like(ids)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4, weight_decay=1e-3)
    scaler = torch.amp.GradScaler(device, enabled=amp)

    def step() -> None:
        with torch.autocast(device.split(":")[0], dtype=torch.float16, enabled=amp):
            logits = model(normalize(images, prep.mean, prep.std), ids, attn)
        loss = segmentation_loss(logits.float(), masks, 1.0, 0.2)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        scaler.step(opt)
        scaler.update()
        opt.zero_grad()

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    step()
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return steps * batch_size / (time.perf_counter() - t0)


def main() -> None:
    """Print the table."""
    from synthboost.models import build_model

    ap = argparse.ArgumentParser()
    ap.add_argument("--paper-steps", type=int, default=1)
    ap.add_argument("--tiny-steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    root = dataset()
    cases = [("clipseg", "tiny", 16, args.tiny_steps), ("cris", "tiny", 16, args.tiny_steps),
             ("clipseg", "paper", 4, args.paper_steps), ("cris", "paper", 4, args.paper_steps)]  # fmt: skip
    print(f"CPU threads {args.threads}; dataset {root}")
    print(f"{'model':<16}{'train samples/s':>17}{'loader samples/s':>18}{'loader/train':>14}")
    for name, config, batch, steps in cases:
        model = build_model(name, config=config).train()
        train = train_rate(model, batch, steps)
        load = loader_rate(root, model, batch)
        print(f"{name + ' ' + config:<16}{train:>17.2f}{load:>18.1f}{load / train:>13.0f}x")


if __name__ == "__main__":
    main()
