"""Speed of ``analyze`` on one phantom half-sequence: frames/s per model, shared image encoding vs separate calls.

    python benchmarks/bench_cine.py --frames 16 --threads 2 [--models clipseg:tiny,cris:tiny,clipseg:paper,cris:paper]

For each model (random weights of the named config: speed does not depend on them) the same loop is
analysed twice in one run: with one image encoding per batch of frames shared by the three structure
prompts (``encode_image`` once, ``decode`` three times) and with three full forward passes per frame
(what three single-prompt calls cost). "seg" is the segmentation (model, temporal smoothing, label
maps); "analyze" adds the per-frame volumes and ED/ES (not the file writing). One prompt set (``--phase-prompt
ED``) so that "three prompts" is exact; the default ``both`` decodes six.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def _loop(tmp: Path, frames: int, scale: float):
    from synthboost.data.imageio.echo import read_echo
    from synthboost.data.phantom.writer import generate_phantom

    root = generate_phantom(
        tmp / "ph", n_patients=1, seed=0, image_scale=scale, sequences=True, n_frames=frames
    )
    return read_echo(next(root.rglob("*_2CH_half_sequence.nii.gz")))


def _time(loop, segmenter, shared: bool, batch: int, repeats: int) -> tuple[float, float]:
    """Best-of-``repeats`` seconds of the segmentation and of the measurement (after one warm-up)."""
    from synthboost.cine.loop import SegmentOptions, measure_labels, segment_loop
    from synthboost.cine.segment import loop_prompts

    options = SegmentOptions(phase_prompt="ED", batch_size=batch, shared=shared)
    prompts = loop_prompts("p3", "2CH", "ED")
    segment_loop(loop, segmenter, prompts, options)  # warm-up
    seg = measure = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        labels = segment_loop(loop, segmenter, prompts, options)
        mid = time.perf_counter()
        measure_labels(loop, labels, "2CH")
        seg, measure = min(seg, mid - start), min(measure, time.perf_counter() - mid)
    return seg, measure


def main() -> None:
    import torch

    from synthboost.evaluation.segmenter import Segmenter
    from synthboost.models import build_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--scale", type=float, default=1.0, help="phantom image_scale (native ~600×500 at 1)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--models", default="clipseg:tiny,cris:tiny,clipseg:paper,cris:paper")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        loop = _loop(Path(tmp), args.frames, args.scale)
    print(f"loop: {loop.n_frames} frames of {loop.frames.shape[1]}×{loop.frames.shape[2]}, "
          f"{args.threads} threads, batch {args.batch}, best of {args.repeats}")  # fmt: skip
    print(f"{'model':<15}{'input':>6}{'seg shared':>12}{'seg 3 calls':>13}{'ratio':>7}"
          f"{'analyze shared':>16}{'analyze 3 calls':>17}{'ratio':>7}   (frames/s)")  # fmt: skip
    n = loop.n_frames
    for spec in args.models.split(","):
        name, config = spec.split(":")
        segmenter = Segmenter(build_model(name, config=config), device="cpu")
        (s_seg, s_all), (c_seg, c_all) = (
            _time(loop, segmenter, shared, args.batch, args.repeats) for shared in (True, False)
        )
        s_all, c_all = s_seg + s_all, c_seg + c_all
        size = segmenter.preprocessing.image_size
        print(f"{spec:<15}{size:>6}{n / s_seg:>12.2f}{n / c_seg:>13.2f}{c_seg / s_seg:>6.2f}×"
              f"{n / s_all:>16.2f}{n / c_all:>17.2f}{c_all / s_all:>6.2f}×")  # fmt: skip


if __name__ == "__main__":
    main()
