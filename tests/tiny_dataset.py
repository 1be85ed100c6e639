"""A tiny processed dataset (train/val/test patients with images, masks, label maps and anns).

Shared by the training tests and the hardening tests (importable by name, unlike a conftest).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from synthboost.data.format import META_COLUMNS, DatasetInfo, image_path, mask_path, native_label_path

SIZE = 64
NATIVE = (48, 40)


def label_map(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """LV blob inside a myocardium ring, LA below; position jitters with ``rng``."""
    h, w = shape
    yy, xx = np.mgrid[:h, :w] / np.array([h, w])[:, None, None]
    cy, cx = 0.35 + rng.uniform(-0.08, 0.08), 0.5 + rng.uniform(-0.1, 0.1)
    r = np.hypot((yy - cy) / 0.22, (xx - cx) / 0.14)
    lab = np.zeros(shape, np.uint8)
    lab[r < 1.35] = 2
    lab[r < 1.0] = 1
    lab[(np.hypot((yy - cy - 0.42) / 0.1, (xx - cx) / 0.14) < 1.0) & (lab == 0)] = 3
    return lab


def _save(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def write_tiny_dataset(root: Path, source: str = "phantom", n_patients: int = 4, seed: int = 0) -> Path:
    """A processed dataset: patients split 4/1/1 (train/val/test), 2 views × 2 phases, with anns."""
    import pandas as pd

    from synthboost.prompts.annotate import write_annotations
    from synthboost.utils.files import write_json_atomic

    rng = np.random.default_rng(seed)
    domain = "real" if source in ("camus", "phantom") else "synthetic"
    rows = []
    for p in range(1, n_patients + 1):
        split = "test" if p == n_patients else "val" if p == n_patients - 1 else "train"
        group = "test" if split == "test" else "train"
        for view in ("2CH", "4CH"):
            for phase in ("ED", "ES"):
                name = f"patient{p:04d}_{view}_{phase}"
                lab = label_map(rng, NATIVE)
                grid = np.asarray(Image.fromarray(lab).resize((SIZE, SIZE), Image.Resampling.NEAREST))
                img = np.clip(rng.normal(30, 10, grid.shape) + (grid == 2) * 150 + (grid == 3) * 60, 0, 255)
                _save(image_path(root, group, name), img.astype(np.uint8))
                for k in (1, 2, 3):
                    _save(mask_path(root, group, k, name), np.where(grid == k, 255, 0).astype(np.uint8))
                _save(native_label_path(root, group, name), lab)
                rows.append({"name": name, "group": group, "split": split, "patient": f"patient{p:04d}",
                             "view": view, "phase": phase, "sex": "female" if p % 2 else "male", "age": 40 + p,
                             "quality": "good" if domain == "real" else "", "domain": domain,
                             "orig_height": NATIVE[0], "orig_width": NATIVE[1], "spacing_row_mm": 0.3,
                             "spacing_col_mm": 0.3})  # fmt: skip
    pd.DataFrame(rows).reindex(columns=META_COLUMNS).to_csv(root / "meta.csv", index=False)
    write_json_atomic(
        root / "dataset.json", DatasetInfo(name=root.name, source=source, image_size=SIZE).to_json()
    )
    write_annotations(root)
    return root
