"""Small per-image results written by the tests (our results-folder layout)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

STRATEGIES = {"real": 85.0, "synthetic": 80.0, "synth-pt-real-ft": 87.0}
FILES = [
    f"mask_{k}/patient{p:04d}_{v}_{ph}_gt.png"
    for k, p, v, ph in itertools.product((1, 2, 3), (1, 2, 3), ("2CH", "4CH"), ("ED", "ES"))
]


def write_results(
    root: Path,
    seeds: tuple[int, ...] = (0,),
    models: tuple[str, ...] = ("CRIS", "CLIPSeg"),
    encoders: tuple[str, ...] = ("trained", "frozen"),
) -> Path:
    """results/<strategy>/<model>/<encoders>/p<k>/[seed_<s>/]metrics.csv with 36 rows each."""
    rng = np.random.default_rng(0)
    combos = itertools.product(STRATEGIES.items(), models, encoders, range(3), seeds)
    for (strategy, base), model, enc, k, seed in combos:
        shift = (-40 if k == 0 else 0) + (-2 if enc == "frozen" else 0)
        dice = np.clip(base + shift + rng.normal(0, 4, len(FILES)), 0, 100)
        df = pd.DataFrame({"filename": [f"/any/prefix/{f}" for f in FILES], "iou": dice * 0.9, "dice": dice,
                           "hausdorff_distance": 1000.0, "ones_dice_diff": dice - 15, "zeros_dice_diff": dice})  # fmt: skip
        folder = root / strategy / model / enc / f"p{k}"
        if len(seeds) > 1:
            folder = folder / f"seed_{seed}"
        folder.mkdir(parents=True)
        df.to_csv(folder / "metrics.csv", index=False)
    return root


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    return write_results(tmp_path / "results")
