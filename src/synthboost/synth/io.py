"""Reading processed-dataset frames and writing PNGs atomically for the synth stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from synthboost.data.format import image_path, native_label_path
from synthboost.data.imageio.medical import read_png, resize, write_png
from synthboost.data.imageio.region import sector_from_image
from synthboost.data.processed import read_meta

__all__ = [
    "EFN_SPLITS",
    "efn_stem",
    "load_frame",
    "read_meta",
    "read_png",
    "resize_square",
    "select_rows",
    "write_png",
]
#: dataset split -> Echo-from-noise split folder.
EFN_SPLITS = {"train": "training", "val": "validation"}


def resize_square(array: np.ndarray, size: int, nearest: bool) -> np.ndarray:
    """Resize a 2-D uint8 array to ``size × size`` (nearest for labels, bilinear for images)."""
    return resize(array, (size, size), nearest=nearest)


def select_rows(rows: list[dict[str, Any]], splits: tuple[str, ...], view: str | None = None,
                phase: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Rows of the given splits (and view/phase when given), in file order."""
    return [
        r for r in rows
        if r["split"] in splits and (view is None or r["view"] == view) and (phase is None or r["phase"] == phase)
    ]  # fmt: skip


def load_frame(root: Path, row: dict[str, Any], size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The image, CAMUS label map and sector (bool) of one meta row, all at ``size × size``."""

    image = resize_square(read_png(image_path(root, row["group"], row["name"])), size, nearest=False)
    labels = read_png(native_label_path(root, row["group"], row["name"]))
    if labels.max() > 3:
        raise ValueError(f"{native_label_path(root, row['group'], row['name'])}: label values above 3")
    labels = resize_square(labels, size, nearest=True)
    return image, labels, sector_from_image(image, labels)


def efn_stem(row: dict[str, Any], k: int) -> str:
    """Echo-from-noise stem ``patientNNNN_<view>_<phase>_<split>_<k>``."""
    return f"{row['patient']}_{row['view']}_{row['phase']}_{EFN_SPLITS[row['split']]}_{k}"
