"""Time the per-image metrics on 600 (prediction, ground truth) pairs at native resolution.

Run: ``.venv/bin/python benchmarks/bench_metrics.py``. Prints seconds for 600 pairs of
~600×500 ellipses (Dice, IoU, HD95 and mean distance in mm) and for the same pairs on the
512 grid (the reference's columns).
"""

from __future__ import annotations

import time

import numpy as np

from synthboost.evaluation.metrics import grid_scores, native_scores


def ellipse(shape: tuple[int, int], cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    """A filled axis-aligned ellipse."""
    y, x = np.ogrid[: shape[0], : shape[1]]
    return ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1


def make_pairs(n: int, shape: tuple[int, int], seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n`` pairs of slightly different ellipses covering ~5–15 % of the image."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(n):
        cy, cx = shape[0] * rng.uniform(0.35, 0.65), shape[1] * rng.uniform(0.35, 0.65)
        ry, rx = shape[0] * rng.uniform(0.12, 0.22), shape[1] * rng.uniform(0.1, 0.2)
        gt = ellipse(shape, cy, cx, ry, rx)
        pred = ellipse(shape, cy + rng.normal(0, 4), cx + rng.normal(0, 4), ry * 1.05, rx * 0.95)
        pairs.append((pred, gt))
    return pairs


def main() -> None:
    """Print timings."""
    n = 600
    native = make_pairs(n, (600, 500))
    t0 = time.perf_counter()
    for pred, gt in native:
        native_scores(pred, gt, (0.31, 0.154))
    t_native = time.perf_counter() - t0
    grid = make_pairs(n, (512, 512), seed=1)
    t0 = time.perf_counter()
    for pred, gt in grid:
        grid_scores(pred, gt)
    t_grid = time.perf_counter() - t0
    print(f"{n} pairs, native 600x500 (hd95_mm, mean_distance_mm): {t_native:.2f} s")
    print(f"{n} pairs, 512 grid (iou, dice, hausdorff, ones/zeros diff): {t_grid:.2f} s")
    print(f"total: {t_native + t_grid:.2f} s ({1000 * (t_native + t_grid) / n:.1f} ms per pair)")


if __name__ == "__main__":
    main()
