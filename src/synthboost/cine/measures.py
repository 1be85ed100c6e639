"""Per-frame areas and volumes of a loop of label maps, and the indices over its cycles.

Every formula is the clinical stage's (:mod:`synthboost.clinical.simpson`, one implementation):

- LV volume per frame: **single-plane method of discs** (20 circular discs along the long axis of
  that frame's cavity contour, annulus and apex found by :mod:`synthboost.clinical.landmarks`);
- LA volume per frame: **single-plane area-length** ``8 / (3π) · A² / L``; LA max = its maximum;
- biplane (a 2CH and a 4CH loop of one patient): Simpson's biplane on the two loops' label maps at
  ED of cycle *k* and at ES of cycle *k* (cycles paired in order), and the biplane area-length LA
  volume from each loop's frame of largest LA area; the indices are the means over the paired cycles.

Uncalibrated loops (no pixel spacing) get areas in pixels and no volume: volumes are refused
(``NaN`` here, a message in the summary), never computed from a guessed spacing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from synthboost.clinical.simpson import (
    area_length_volume,
    ejection_fraction,
    geometry_from_labels,
    la_measure,
    la_volume,
    lv_volume,
    single_plane_volume,
)
from synthboost.data.format import LABELS

Spacing = tuple[float, float]
#: Structures measured per frame, by label value.
STRUCTURES: dict[int, str] = dict(LABELS)


def _frame_volumes(labels: np.ndarray, spacing: Spacing) -> tuple[float, float]:
    """Single-plane LV volume (method of discs) and LA volume (area-length) of one frame, NaN when not computable."""
    try:
        geometry = geometry_from_labels(labels, spacing)
        lv = single_plane_volume(geometry)
    except ValueError:  # no LV, a degenerate contour or no annulus in this frame
        geometry, lv = None, math.nan
    try:
        area, length = la_measure(labels, spacing, geometry)
        la = area_length_volume(area, area, length)
    except ValueError:
        la = math.nan
    return lv, la


def measure_loop(labels: np.ndarray, spacing: Spacing | None) -> dict[str, np.ndarray]:
    """Per-frame areas (mm², or pixels when ``spacing`` is ``None``) and volumes (mL, NaN uncalibrated).

    Args:
        labels: (T, H, W) label maps (0 bg, 1 LV, 2 MYO, 3 LA).
        spacing: pixel size ``(row_mm, col_mm)``, or ``None`` for an uncalibrated loop.

    Returns:
        ``{"lv_area", "myo_area", "la_area", "lv_volume", "la_volume"}``, each of shape (T,).
    """
    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise ValueError(f"measure_loop: expected (frames, rows, cols) labels, got shape {labels.shape}")
    pixel = 1.0 if spacing is None else spacing[0] * spacing[1]
    counts = np.stack([(labels == k).sum(axis=(1, 2)) for k in STRUCTURES], axis=1).astype(np.float64)
    out = {f"{name}_area": counts[:, i] * pixel for i, name in enumerate(STRUCTURES.values())}
    if spacing is None:
        out["lv_volume"] = out["la_volume"] = np.full(len(labels), math.nan)
    else:
        out["lv_volume"], out["la_volume"] = np.array([_frame_volumes(f, spacing) for f in labels]).T
    return out


def cycle_indices(lv_volume: np.ndarray, cycles: Sequence[tuple[int, int]]) -> list[dict[str, float]]:
    """EDV, ESV and EF of each ``(ED frame, ES frame)`` cycle from the per-frame LV volumes."""
    out = []
    for ed, es in cycles:
        edv, esv = float(lv_volume[ed]), float(lv_volume[es])
        out.append({"ed_frame": int(ed), "es_frame": int(es), "edv_ml": edv, "esv_ml": esv,
                    "ef_percent": ejection_fraction(edv, esv)})  # fmt: skip
    return out


def mean_indices(cycles: Sequence[dict[str, float]]) -> dict[str, float]:
    """Means of EDV, ESV and EF over cycles (NaN when there is none)."""
    keys = ("edv_ml", "esv_ml", "ef_percent")
    if not cycles:
        return dict.fromkeys(keys, math.nan)
    return {k: float(np.nanmean([c[k] for c in cycles])) if any(np.isfinite(c[k]) for c in cycles)
            else math.nan for k in keys}  # fmt: skip


def biplane_indices(
    labels_2ch: np.ndarray,
    spacing_2ch: Spacing,
    cycles_2ch: Sequence[tuple[int, int]],
    labels_4ch: np.ndarray,
    spacing_4ch: Spacing,
    cycles_4ch: Sequence[tuple[int, int]],
) -> dict[str, object]:
    """Biplane EDV/ESV/EF (Simpson) over paired cycles and biplane LA max volume (area-length).

    Raises:
        ValueError: no cycle in one of the loops, or a label map lacks what a formula needs.
    """
    n = min(len(cycles_2ch), len(cycles_4ch))
    if n == 0:
        raise ValueError("biplane: each loop needs at least one ED/ES cycle")
    cycles = []
    for (ed2, es2), (ed4, es4) in zip(cycles_2ch[:n], cycles_4ch[:n], strict=True):
        edv = lv_volume(labels_2ch[ed2], spacing_2ch, labels_4ch[ed4], spacing_4ch).volume_ml
        esv = lv_volume(labels_2ch[es2], spacing_2ch, labels_4ch[es4], spacing_4ch).volume_ml
        cycles.append({"edv_ml": edv, "esv_ml": esv, "ef_percent": ejection_fraction(edv, esv)})
    la2 = int(np.argmax((np.asarray(labels_2ch) == 3).sum(axis=(1, 2))))
    la4 = int(np.argmax((np.asarray(labels_4ch) == 3).sum(axis=(1, 2))))
    try:
        la_max = la_volume(labels_2ch[la2], spacing_2ch, labels_4ch[la4], spacing_4ch)
    except ValueError:
        la_max = math.nan
    return {**mean_indices(cycles), "la_max_ml": la_max, "cycles_used": n, "la_frames": [la2, la4]}
