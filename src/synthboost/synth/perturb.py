"""Seeded perturbation of CAMUS label maps into conditioning maps for the semantic diffusion model.

As in Echo from noise (Stojanovski et al. 2023): a whole-map random affine transform (rotation ±5°,
vertical translation ≤ 5 % of the height, isotropic scale 0.80–1.05, x-shear ±5°), then a random
elastic B-spline warp (coarse control grid with fixed border, ≤ 30 px at 256²), nearest-neighbour
interpolation throughout, then clipping to the patient's own ultrasound sector.

Conditioning classes (``cond``): 0 outside the sector, 1 LV cavity, 2 in-sector background,
3 myocardium, 4 LA cavity. CAMUS labels: 0 background, 1 LV, 2 myocardium, 3 LA.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
from scipy import ndimage

from synthboost.logs import get_logger
from synthboost.progress import track
from synthboost.synth.io import EFN_SPLITS, efn_stem, load_frame, read_meta, select_rows, write_png
from synthboost.utils.files import atomic_dir, write_json_atomic

log = get_logger("synth.perturb")

NUM_COND_CLASSES = 5
_CAMUS_TO_COND = np.array([2, 1, 3, 4], dtype=np.uint8)  # in-sector CAMUS label -> cond class
_COND_TO_CAMUS = np.array([0, 1, 0, 2, 3], dtype=np.uint8)


@dataclasses.dataclass(frozen=True)
class PerturbParams:
    """Ranges of the random transforms (Echo-from-noise values; pixel sizes are at 256²)."""

    rotation_deg: float = 5.0
    translate_frac: float = 0.05
    scale_range: tuple[float, float] = (0.80, 1.05)
    shear_deg: float = 5.0
    elastic_grid: int = 5  # control points per side, border points fixed
    elastic_max_px: float = 30.0


def camus_to_cond(labels: np.ndarray, sector: np.ndarray) -> np.ndarray:
    """Encode a CAMUS label map (0–3) and a sector mask as the 5-class conditioning map."""
    if labels.shape != sector.shape:
        raise ValueError(f"labels {labels.shape} and sector {sector.shape} differ in shape")
    if labels.size and (labels.min() < 0 or labels.max() > 3):
        raise ValueError(f"label values {labels.min()}..{labels.max()} outside CAMUS 0..3")
    cond = _CAMUS_TO_COND[labels.astype(np.intp)]
    return np.where(sector.astype(bool), cond, 0).astype(np.uint8)


def cond_to_camus(cond: np.ndarray) -> np.ndarray:
    """Map the 5-class conditioning map back to CAMUS labels 0–3."""
    return _COND_TO_CAMUS[cond.astype(np.intp)]


def cond_to_sector(cond: np.ndarray) -> np.ndarray:
    """The sector mask (bool) of a conditioning map."""
    return cond > 0


def _affine_matrix(rng: np.random.Generator, p: PerturbParams, shape: tuple[int, int]):
    """Output→input matrix and offset for ``ndimage.affine_transform`` about the image centre."""
    rot = np.deg2rad(rng.uniform(-p.rotation_deg, p.rotation_deg))
    shear = np.deg2rad(rng.uniform(-p.shear_deg, p.shear_deg))
    scale = rng.uniform(*p.scale_range)
    ty = rng.uniform(-p.translate_frac, p.translate_frac) * shape[0]
    # forward map in (row, col): rotation · x-shear · scale
    rotation = np.array([[np.cos(rot), -np.sin(rot)], [np.sin(rot), np.cos(rot)]])
    shear_x = np.array([[1.0, 0.0], [np.tan(shear), 1.0]])  # col += tan(shear) · row
    forward = rotation @ shear_x * scale
    inverse = np.linalg.inv(forward)
    centre = (np.array(shape, dtype=float) - 1) / 2
    offset = centre - inverse @ (centre + np.array([ty, 0.0]))
    return inverse, offset


def random_affine(labels: np.ndarray, rng: np.random.Generator, p: PerturbParams) -> np.ndarray:
    """Apply one random affine transform with nearest-neighbour interpolation."""
    matrix, offset = _affine_matrix(rng, p, labels.shape)
    return ndimage.affine_transform(labels, matrix, offset=offset, order=0, mode="constant", cval=0)


def random_elastic(labels: np.ndarray, rng: np.random.Generator, p: PerturbParams) -> np.ndarray:
    """Random B-spline warp: cubic upsampling of a coarse displacement grid with a fixed border."""
    h, w = labels.shape
    n = p.elastic_grid
    max_px = p.elastic_max_px * min(h, w) / 256.0
    coarse = rng.uniform(-max_px, max_px, size=(2, n, n))
    coarse[:, [0, -1], :] = 0.0
    coarse[:, :, [0, -1]] = 0.0
    dense = np.stack(
        [ndimage.zoom(c, (h / n, w / n), order=3, mode="nearest", grid_mode=True) for c in coarse]
    )
    dense = np.clip(dense[:, :h, :w], -max_px, max_px)
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    coords = np.stack([rows + dense[0], cols + dense[1]])
    return ndimage.map_coordinates(labels, coords, order=0, mode="constant", cval=0)


def perturb_labels(labels: np.ndarray, sector: np.ndarray, rng: np.random.Generator,
                   params: PerturbParams | None = None) -> np.ndarray:  # fmt: skip
    """One random perturbation of a CAMUS label map, clipped to ``sector``; returns the cond map."""
    p = params or PerturbParams()
    warped = random_elastic(random_affine(labels.astype(np.uint8), rng, p), rng, p)
    return camus_to_cond(warped, sector)


def perturb_many(labels: np.ndarray, sector: np.ndarray, n: int, seed: int | list[int],
                 params: PerturbParams | None = None) -> list[np.ndarray]:  # fmt: skip
    """``n`` perturbations (cond maps) of one label map, deterministic per ``seed``."""
    rng = np.random.default_rng(seed)
    return [perturb_labels(labels, sector, rng, params) for _ in range(n)]


def perturb_dataset(dataset_root: Path, out: Path, per_mask: int = 5, seed: int = 0, size: int = 256,
                    overwrite: bool = False) -> Path:  # fmt: skip
    """Write ``per_mask`` perturbations of every train/val label map of a processed dataset.

    Layout: ``out/<training|validation>/{labels,sectors,cond}/<stem>.png`` plus ``out/attributes.json``
    (``{stem: {patient, view, phase, sex, age, split}}``, what ``synth render`` and ``prepare sdm`` read) with
    ``stem = patientNNNN_<view>_<phase>_<split>_<k>``; labels are CAMUS 0–3, sectors 0/255 and cond
    the 5-class map, all ``size × size``. The folder appears only once complete. Where a dataset holds
    several images of one (patient, view, phase) — an SDM set, say — ``k`` keeps counting across
    them, so no stem is written twice.
    """

    dataset_root, out = Path(dataset_root), Path(out)
    if per_mask < 1:
        raise ValueError(f"per_mask must be ≥ 1, got {per_mask}")
    rows = select_rows(read_meta(dataset_root), tuple(EFN_SPLITS))
    if not rows:
        raise ValueError(f"{dataset_root / 'meta.csv'}: no train/val rows to perturb")
    unphased = [r["name"] for r in rows if r["phase"] not in ("ED", "ES")]
    if unphased:  # Echo-from-noise names (and the SDM's per-phase models) need ED or ES
        raise ValueError(
            f"{dataset_root / 'meta.csv'}: {len(unphased)} train/val frames are neither ED nor ES "
            f"(e.g. {unphased[0]}, a half-sequence frame); perturb a still-frame (ED/ES) dataset"
        )
    attributes: dict[str, dict] = {}
    taken: Counter[str] = Counter()  # perturbations already named per (patient, view, phase, split)
    with atomic_dir(out, overwrite=overwrite, markers=("attributes.json",), inputs=[dataset_root]) as tmp:
        for row in track(rows, f"perturb masks ({len(rows)} frames)"):
            _, labels, sector = load_frame(dataset_root, row, size)
            frame_seed = [seed, zlib.crc32(f"{row['group']}/{row['name']}".encode())]
            base = efn_stem(row, 0)
            first, taken[base] = taken[base], taken[base] + per_mask
            for k, cond in enumerate(perturb_many(labels, sector, per_mask, frame_seed), start=first):
                split_dir = tmp / EFN_SPLITS[row["split"]]
                stem = efn_stem(row, k)
                attributes[stem] = {
                    **{key: row[key] for key in ("patient", "view", "phase", "sex", "age")},
                    "split": EFN_SPLITS[row["split"]],
                }
                write_png(split_dir / "labels" / f"{stem}.png", cond_to_camus(cond))
                write_png(split_dir / "sectors" / f"{stem}.png", sector.astype(np.uint8) * 255)
                write_png(split_dir / "cond" / f"{stem}.png", cond)
        write_json_atomic(tmp / "attributes.json", attributes)
        log.info("perturbed %d label maps × %d into %s", len(rows), per_mask, out)
    return out
