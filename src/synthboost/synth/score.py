"""Quality checks of generated images: per-structure intensity statistics, generated vs real.

Both inputs may be a processed dataset (``meta.csv`` + ``images/`` + ``labels_native/``) or an
Echo-from-noise folder (``<split>/images/<stem>.png`` + ``<split>/labels/<stem>.png``). Pixels are
pooled per (view, phase, structure); background is label 0 inside the ultrasound sector. Only
images of the side's domain are pooled: synthetic ones on the generated side (an Echo-from-noise
folder's ``testing/`` holds real CAMUS frames) and real ones on the real side.

Hook: pass ``segmenter`` (uint8 image → CAMUS label map) to :func:`score` to add mask-consistency
Dice of the generated images (segmentation of the image vs the mask it was generated from);
``synthboost synth score --model RUN`` wires a trained VLSM (``Segmenter.segment_all`` with P1 prompts).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from synthboost.data.format import LABELS, image_path, native_label_path
from synthboost.data.imageio.region import sector_from_image
from synthboost.data.sources.sdm import list_sdm_images
from synthboost.evaluation.metrics import compute_dice
from synthboost.synth.io import read_meta, read_png, resize_square

STRUCTURES: dict[int, str] = {0: "background", **LABELS}
Segmenter = Callable[[np.ndarray], np.ndarray]


def iter_pairs(root: Path, domain: str | None = None) -> Iterator[tuple[str, str, np.ndarray, np.ndarray]]:
    """Yield ``(view, phase, image, labels)`` of the images of either layout (of ``domain`` if given)."""

    root = Path(root)
    if (root / "meta.csv").is_file():
        for row in read_meta(root):
            if domain is not None and row["domain"] != domain:
                continue
            image = read_png(image_path(root, row["group"], row["name"]))
            labels = resize_square(
                read_png(native_label_path(root, row["group"], row["name"])), image.shape[0], True
            )
            yield row["view"], row["phase"], image, labels
        return
    if not root.is_dir() or not any(root.glob("*/images/*.png")):
        raise ValueError(f"{root}: neither a processed dataset (meta.csv) nor <split>/images/<stem>.png")
    for image, label, m in list_sdm_images(root):
        if domain is None or domain == ("real" if m.group(4) == "testing" else "synthetic"):
            yield m.group(2), m.group(3), read_png(image), read_png(label)


def intensity_stats(
    root: Path, segmenter: Segmenter | None = None, domain: str | None = None
) -> pd.DataFrame:
    """Pooled mean/std of pixel values per view, phase and structure (plus Dice with a segmenter)."""

    sums: dict[tuple[str, str, str], np.ndarray] = defaultdict(lambda: np.zeros(3))
    dices: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for view, phase, image, labels in iter_pairs(root, domain):
        sector = sector_from_image(image, labels)
        pred = segmenter(image) if segmenter is not None else None
        for value, name in STRUCTURES.items():
            region = (labels == value) & sector
            px = image[region].astype(np.float64)
            sums[(view, phase, name)] += (px.size, px.sum(), (px**2).sum())
            if pred is not None and value:
                dices[(view, phase, name)].append(compute_dice(pred == value, labels == value))
    rows = []
    for (view, phase, name), (n, s, s2) in sorted(sums.items()):
        mean = s / n if n else np.nan
        std = np.sqrt(max(s2 / n - mean**2, 0.0)) if n else np.nan
        row = {"view": view, "phase": phase, "structure": name, "pixels": int(n), "mean": mean, "std": std}
        if segmenter is not None:
            row["dice"] = float(np.mean(dices[(view, phase, name)])) if dices[(view, phase, name)] else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def score(generated: Path, real: Path, segmenter: Segmenter | None = None) -> pd.DataFrame:
    """Generated vs real statistics side by side, one row per (view, phase, structure)."""
    gen = intensity_stats(generated, segmenter, domain="synthetic")
    ref = intensity_stats(real, domain="real")
    keys = ["view", "phase", "structure"]
    table = gen.merge(ref, on=keys, how="outer", suffixes=("_gen", "_real"))
    table["mean_diff"] = table["mean_gen"] - table["mean_real"]
    return table
