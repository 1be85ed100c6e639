"""Helpers writing tiny raw CAMUS trees with SimpleITK (imported by tests and conftest)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

CFG = "ED: 1\nES: {es}\nNbFrame: {nb}\nSex: {sex}\nAge: {age}\nImageQuality: {q}\nLVedv: 100.0\nLVesv: 40.0\nLVef: 60.0\n"


def toy_labels(h: int = 40, w: int = 32, shrink: int = 0) -> np.ndarray:
    """A label map with an LV cavity (1) inside a myocardium ring (2) above an LA (3)."""
    lab = np.zeros((h, w), np.uint8)
    lab[4 : 26 - shrink, 6:26] = 2
    lab[7 : 23 - shrink, 9 + shrink // 2 : 23 - shrink // 2] = 1
    lab[28:36, 10:22] = 3
    return lab


def write_medical(path: Path, arr: np.ndarray, spacing=(0.3, 0.2)) -> None:
    """Write a 2-D array with SimpleITK; spacing given as (x = col, y = row) mm."""
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(arr)
    img.SetSpacing(spacing)
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(img, str(path))


def write_patient(folder: Path, patient: str, ext: str, seed: int, sex="F", age=56, q="Good") -> None:
    rng = np.random.default_rng(seed)
    for view in ("2CH", "4CH"):
        (folder / f"Info_{view}.cfg").parent.mkdir(parents=True, exist_ok=True)
        (folder / f"Info_{view}.cfg").write_text(CFG.format(es=12, nb=14, sex=sex, age=age, q=q))
        for phase in ("ED", "ES"):
            lab = toy_labels(shrink=2 if phase == "ES" else 0)
            img = (rng.random(lab.shape) * 60 + lab * 50).astype(np.uint8)
            write_medical(folder / f"{patient}_{view}_{phase}{ext}", img)
            write_medical(folder / f"{patient}_{view}_{phase}_gt{ext}", lab)
