"""LV volumes and EF as the CAMUS organisers compute them (their EF script's method of discs).

A reimplementation, from its published description and code (the challenge's EF script, the same
algorithm as ``vital/metrics/evaluate/clinical/heart_us.py`` in the CAMUS team's ``vitalab/vital``;
Leclerc et al., IEEE TMI 2019), of the convention behind CAMUS's ``Info_*.cfg`` volumes. Per frame,
on the binary LV mask (label 1 only, no hole filling, no largest component):

1. **Isotropic resampling.** The mask is resampled by nearest neighbour (Pillow) to the finer of
   its two pixel sizes ``s``: the coarser axis is stretched by ``spacing / s`` (sizes rounded).
2. **Contour.** The first iso-contour at 0.5 of ``skimage.measure.find_contours`` (pixel units).
3. **Base (mitral plane).** Among all pairs of contour points ``j < i`` whose direction from point
   ``i`` to point ``j`` lies within 45° of the +column axis and whose intermediate contour points
   ``j+1 … i-1`` all lie within :data:`BASE_TOLERANCE_PX` (8) pixels of the chord, the longest
   chord (first in ``(i, j)`` order on ties). Its mid point is the *contour point* halfway in index,
   ``j + round((i - j) / 2)`` (Python rounding, halves to even).
4. **Apex.** The contour point farthest from that mid point (the first one on ties); the long axis
   runs from the mid point to the apex, of length ``L`` pixels.
5. **Diameters.** At fractions ``i/20`` (``i = 0..19``) of the axis from the base, the cavity is
   walked along both normals from :data:`WALK_START_PX` (8) pixels out, in steps of half a pixel,
   until the sample rounded to the nearest pixel (halves to even) falls outside the image or on
   background; the diameter is the sum of the two walked distances times ``s`` (mm). At ``i = 0``
   the sample row lies on the contour, half a pixel outside the mask, so the first disc measures
   the basal row or only the 2 × 8-pixel start, as the script does.
6. **Volumes.** One disc height for all four frames of a patient: the longest of the four axes
   (mm) / 20. ``V = π/4 · Σ d2CH_i · d4CH_i · h`` in mL, reported rounded to whole mL (halves to
   even, as the script's ``round``) and unrounded beside it. EF = 100 · (EDV − ESV) / EDV from the
   rounded volumes (and from the unrounded ones beside it).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from synthboost.clinical.landmarks import Spacing

N_DISCS = 20
#: Intermediate contour points farther than this (pixels) from a chord disqualify it as the base.
BASE_TOLERANCE_PX = 8.0
#: Largest angle (degrees) between a base chord and the column axis.
BASE_MAX_ANGLE_DEG = 45.0
#: Distance (pixels) from the axis where the walk to the cavity edge starts.
WALK_START_PX = 8.0
#: Step (pixels) of the walk to the cavity edge.
WALK_STEP_PX = 0.5
#: Pairs checked at a few sampled intermediate points before the exact check (a speed-up only).
_PROBE_FRACTIONS = (0.5, 0.25, 0.75)


@dataclasses.dataclass(frozen=True)
class FrameDiscs:
    """The discs of one frame.

    Attributes:
        diameters_mm: the 20 diameters (mm) from the base to the apex.
        length_mm: long axis, base mid point to apex (mm).
        base: base mid point ``(row, col)`` in pixels of the isotropic grid.
        apex: apex ``(row, col)`` in pixels of the isotropic grid.
        spacing_mm: pixel size of the isotropic grid (mm).
    """

    diameters_mm: np.ndarray
    length_mm: float
    base: np.ndarray
    apex: np.ndarray
    spacing_mm: float


@dataclasses.dataclass(frozen=True)
class CamusVolumes:
    """EDV, ESV and EF of one patient by the CAMUS script's convention.

    Attributes:
        edv: EDV rounded to whole mL, as the script reports it.
        esv: ESV rounded to whole mL.
        ef: EF (%) from the rounded volumes.
        edv_unrounded: EDV (mL) before rounding.
        esv_unrounded: ESV (mL) before rounding.
        ef_unrounded: EF (%) from the unrounded volumes.
        disc_height_mm: the one disc height used for both phases (mm).
    """

    edv: float
    esv: float
    ef: float
    edv_unrounded: float
    esv_unrounded: float
    ef_unrounded: float
    disc_height_mm: float


def isotropic_mask(mask: np.ndarray, spacing: Spacing) -> tuple[np.ndarray, float]:
    """Nearest-neighbour resampling of a binary mask to square pixels of the finer spacing.

    Returns:
        ``(mask, s)``: the resampled ``uint8`` mask and its pixel size ``s`` (mm).
    """
    from PIL import Image

    if min(spacing) <= 0 or not all(math.isfinite(v) for v in spacing):
        raise ValueError(f"pixel spacing must be positive and finite, got {spacing}")
    fine = float(min(spacing))
    rows, cols = np.round(np.asarray(mask.shape) * np.asarray(spacing, np.float64) / fine).astype(int)
    image = Image.fromarray(np.asarray(mask, dtype=np.uint8))
    return np.asarray(image.resize((int(cols), int(rows)), resample=Image.Resampling.NEAREST)), fine


def first_contour(mask: np.ndarray) -> np.ndarray:
    """The first iso-contour at 0.5 of ``mask`` as ``(N, 2)`` pixel coordinates (row, col).

    Raises:
        ValueError: the mask is empty.
    """
    from skimage.measure import find_contours

    contours = find_contours(np.asarray(mask, dtype=np.float64), 0.5)
    if not contours or len(contours[0]) < 3:
        raise ValueError("empty LV mask: no contour")
    return contours[0]


def _chord_pairs(contour: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs ``j < i`` (``i >= 2``) within the base angle, with their chord lengths."""
    i, j = np.triu_indices(len(contour), k=1)  # i < j here: swap to the script's (j < i)
    i, j = j, i
    keep = i >= 2
    i, j = i[keep], j[keep]
    diff = contour[j] - contour[i]
    angle = np.abs(np.degrees(np.arctan2(diff[:, 0], diff[:, 1])))
    keep = angle <= BASE_MAX_ANGLE_DEG
    i, j, diff = i[keep], j[keep], diff[keep]
    return i, j, np.sqrt(diff[:, 0] ** 2 + diff[:, 1] ** 2)


def _distances(contour: np.ndarray, j: int | np.ndarray, i: int | np.ndarray, k: np.ndarray) -> np.ndarray:
    """Distances of contour points ``k`` to the lines through contour points ``j`` and ``i``."""
    a, b, p = contour[j], contour[i], contour[k]
    u = b - a
    cross = u[..., 0] * (a[..., 1] - p[..., 1]) - u[..., 1] * (a[..., 0] - p[..., 0])
    with np.errstate(
        invalid="ignore", divide="ignore"
    ):  # a zero chord (closed contour's ends): NaN, never ≤ 8
        return np.abs(cross) / np.sqrt(u[..., 0] ** 2 + u[..., 1] ** 2)


def _admissible(contour: np.ndarray, j: int, i: int) -> bool:
    """All contour points strictly between ``j`` and ``i`` lie within the base tolerance of the chord."""
    if i - j < 2:
        return True
    return bool(np.all(_distances(contour, j, i, np.arange(j + 1, i)) <= BASE_TOLERANCE_PX))


def find_base(contour: np.ndarray) -> tuple[int, int]:
    """Indices ``(j, i)`` of the base chord: the longest near-straight stretch (module docstring, step 3).

    Raises:
        ValueError: no chord qualifies (a degenerate contour).
    """
    i, j, length = _chord_pairs(contour)
    probe = np.ones(len(i), bool)
    for frac in _PROBE_FRACTIONS:  # necessary conditions, cheap: one intermediate point per pair
        k = j + np.floor((i - j) * frac).astype(int)
        inner = (k > j) & (k < i)
        probe[inner] &= _distances(contour, j[inner], i[inner], k[inner]) <= BASE_TOLERANCE_PX
    i, j, length = i[probe], j[probe], length[probe]
    for n in np.lexsort((j, i, -length)):  # longest first, then the script's (i, j) order
        if _admissible(contour, int(j[n]), int(i[n])):
            return int(j[n]), int(i[n])
    raise ValueError("no base chord on the LV contour")


def frame_discs(mask: np.ndarray, spacing: Spacing, n_discs: int = N_DISCS) -> FrameDiscs:
    """Base, apex and disc diameters of one frame's binary LV mask (module docstring, steps 1–5)."""
    iso, s = isotropic_mask(np.asarray(mask) != 0, spacing)
    contour = first_contour(iso)
    j, i = find_base(contour)
    base = contour[j + round((i - j) / 2)]
    dist = np.linalg.norm(contour - base, axis=1)
    apex = contour[int(np.argmax(dist))]
    direction = apex - base
    if not np.any(direction):
        raise ValueError(f"degenerate LV contour ({len(contour)} points): the apex is the base mid point")
    normal = np.array([-direction[1], direction[0]]) / np.linalg.norm(direction)
    diameters = np.empty(n_discs)
    for n, frac in enumerate(np.linspace(0, 1, n_discs, endpoint=False)):
        point = base + direction * frac
        diameters[n] = (walk_to_edge(iso, point, normal) + walk_to_edge(iso, point, -normal)) * s
    return FrameDiscs(diameters, float(dist.max()) * s, base, apex, s)


def walk_to_edge(mask: np.ndarray, start: np.ndarray, direction: np.ndarray) -> float:
    """Distance (pixels) walked from ``start`` along unit ``direction`` to the first background sample.

    Samples at :data:`WALK_START_PX`, then every :data:`WALK_STEP_PX`, each rounded to the nearest
    pixel (halves to even); a sample outside the image ends the walk too.
    """
    reach = WALK_START_PX + float(np.hypot(*mask.shape)) + 2.0
    t = np.arange(WALK_START_PX, reach + WALK_STEP_PX, WALK_STEP_PX)
    rc = np.rint(start[None, :] + t[:, None] * direction[None, :]).astype(np.int64)
    rows, cols = rc[:, 0], rc[:, 1]
    outside = (rows < 0) | (rows >= mask.shape[0]) | (cols < 0) | (cols >= mask.shape[1])
    stop = outside.copy()
    stop[~outside] = mask[rows[~outside], cols[~outside]] == 0
    return float(t[int(np.argmax(stop))])


def disc_volume_ml(d_2ch: np.ndarray, d_4ch: np.ndarray, height_mm: float) -> float:
    """Biplane disc volume (mL) ``π/4 · Σ d2CH_i · d4CH_i · h`` (diameters and height in mm)."""
    return math.pi / 4 * float(np.sum(np.asarray(d_2ch) * np.asarray(d_4ch))) * height_mm / 1000.0


def ejection_fraction(edv: float, esv: float) -> float:
    """EF (%) = 100 · (EDV − ESV) / EDV; NaN when EDV is not positive."""
    return 100.0 * (edv - esv) / edv if edv > 0 else float("nan")


def lv_volumes_camus(
    masks: dict[tuple[str, str], np.ndarray], spacings: dict[tuple[str, str], Spacing]
) -> CamusVolumes:
    """EDV, ESV and EF of one patient from its four binary LV masks by ``(view, phase)``.

    Args:
        masks: LV masks keyed ``("2CH"|"4CH", "ED"|"ES")`` (nonzero = LV).
        spacings: pixel size ``(row_mm, col_mm)`` of each frame.

    Raises:
        ValueError: a frame is missing or its mask gives no contour/base.
    """
    need = [(v, p) for v in ("2CH", "4CH") for p in ("ED", "ES")]
    missing = [f"{v} {p}" for v, p in need if (v, p) not in masks]
    if missing:
        raise ValueError(f"CAMUS EF needs 2CH/4CH × ED/ES; missing {', '.join(missing)}")
    discs = {key: frame_discs(masks[key], spacings[key]) for key in need}
    height = max(d.length_mm for d in discs.values()) / N_DISCS
    exact = {
        p: disc_volume_ml(discs[("2CH", p)].diameters_mm, discs[("4CH", p)].diameters_mm, height)
        for p in ("ED", "ES")
    }
    edv, esv = float(round(exact["ED"])), float(round(exact["ES"]))
    return CamusVolumes(
        edv, esv, ejection_fraction(edv, esv), exact["ED"], exact["ES"],
        ejection_fraction(exact["ED"], exact["ES"]), height,
    )  # fmt: skip
