"""Helpers: a tiny processed dataset and a matching prediction folder, written by the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synthboost.data.format import META_COLUMNS, image_path, mask_path, native_label_path
from synthboost.evaluation.predictions import PredictionWriter

GRID = 64
NATIVE = (40, 30)
SPACING = (0.5, 0.25)
NAMES = ("patient0001_2CH_ED", "patient0002_4CH_ES")


def label_map(shape: tuple[int, int], shift: int = 0) -> np.ndarray:
    """LV block above a myocardium block; LA left empty (label 3 absent)."""
    lab = np.zeros(shape, np.uint8)
    h, w = shape
    lab[h // 8 + shift : h // 2 + shift, w // 4 : 3 * w // 4] = 1
    lab[h // 2 + shift : 3 * h // 4 + shift, w // 4 : 3 * w // 4] = 2
    return lab


def _save(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def write_dataset(root: Path) -> None:
    """Images, grid masks, native labels and meta.csv for NAMES in group test."""
    import pandas as pd

    rows = []
    for name in NAMES:
        patient, view, phase = name.split("_")
        lab = label_map(NATIVE)
        grid = label_map((GRID, GRID))
        _save(image_path(root, "test", name), (grid * 60 + 20).astype(np.uint8))
        for k in (1, 2, 3):
            _save(mask_path(root, "test", k, name), np.where(grid == k, 255, 0).astype(np.uint8))
        _save(native_label_path(root, "test", name), lab)
        rows.append({"name": name, "group": "test", "split": "test", "patient": patient, "view": view,
                     "phase": phase, "quality": "good", "domain": "real", "orig_height": NATIVE[0],
                     "orig_width": NATIVE[1], "spacing_row_mm": SPACING[0], "spacing_col_mm": SPACING[1]})  # fmt: skip
    pd.DataFrame(rows).reindex(columns=META_COLUMNS).to_csv(root / "meta.csv", index=False)


def write_predictions(out: Path) -> Path:
    """First image predicted exactly; second shifted 2 rows (grid and native)."""
    info = {
        "run": "r",
        "dataset": "tiny",
        "split": "test",
        "prompt_level": "p2",
        "threshold": 0.5,
        "model": "m",
    }
    with PredictionWriter(out, info) as w:
        for i, name in enumerate(NAMES):
            grid, native = label_map((GRID, GRID), 2 * i), label_map(NATIVE, 2 * i)
            for k in (1, 2, 3):
                w.add("test", name, k, grid == k, native == k)
    return out


@pytest.fixture
def tiny(tmp_path: Path) -> tuple[Path, Path]:
    """(dataset root, prediction folder)."""
    write_dataset(tmp_path / "ds")
    return tmp_path / "ds", write_predictions(tmp_path / "pred")
