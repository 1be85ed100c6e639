"""Anatomical plausibility of an apical label map (0 bg, 1 LV, 2 MYO, 3 LA).

Used to filter generated masks (``synth shapes``) before they are rendered into images:
every structure present as one connected piece, area ratios in ranges that cover real
apical views, the myocardium wrapped around the cavity and the LA below the LV.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from synthboost.data.format import LABELS

#: Allowed (min, max) area ratios.
RATIO_LIMITS: dict[str, tuple[float, float]] = {
    "myo/lv": (0.3, 4.0),
    "la/lv": (0.1, 3.0),
    "lv/image": (0.005, 0.4),
}
MIN_WRAP = 0.9  # share of the pixels around the LV cavity that must be myocardium or LA
_EIGHT = np.ones((3, 3), bool)


def _n_components(mask: np.ndarray) -> int:
    return int(ndimage.label(mask, structure=_EIGHT)[1])


def _wrap_fraction(labels: np.ndarray) -> float:
    """Share of the pixels just outside the LV cavity that are myocardium or LA."""
    lv = labels == 1
    ring = ndimage.binary_dilation(lv) & ~lv
    if not ring.any():
        return 0.0
    return float(np.isin(labels[ring], (2, 3)).mean())


def check_label_map(labels: np.ndarray) -> list[str]:
    """Problems of a label map; an empty list means plausible.

    Args:
        labels: (H, W) integer label map with values in 0..3.

    Returns:
        Human-readable problems, e.g. ``"lv: 2 connected components"``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        return [f"label map must be 2-D, got shape {labels.shape}"]
    values = set(np.unique(labels).tolist())
    if not values <= {0, 1, 2, 3}:
        return [f"unexpected label values {sorted(values - {0, 1, 2, 3})}"]
    problems = []
    areas = {name: int((labels == k).sum()) for k, name in LABELS.items()}
    for k, name in LABELS.items():
        if areas[name] == 0:
            problems.append(f"{name}: missing")
        elif (n := _n_components(labels == k)) != 1:
            problems.append(f"{name}: {n} connected components")
    if problems:
        return problems
    ratios = {
        "myo/lv": areas["myo"] / areas["lv"],
        "la/lv": areas["la"] / areas["lv"],
        "lv/image": areas["lv"] / labels.size,
    }
    for key, value in ratios.items():
        low, high = RATIO_LIMITS[key]
        if not low <= value <= high:
            problems.append(f"area ratio {key} = {value:.3f} outside [{low}, {high}]")
    rows = np.arange(labels.shape[0])[:, None]
    lv_row = float((rows * (labels == 1)).sum() / areas["lv"])
    la_row = float((rows * (labels == 3)).sum() / areas["la"])
    if la_row <= lv_row:
        problems.append(f"la centroid (row {la_row:.1f}) not below lv centroid (row {lv_row:.1f})")
    if (wrap := _wrap_fraction(labels)) < MIN_WRAP:
        problems.append(f"myocardium/LA wrap only {wrap:.2f} of the cavity border (< {MIN_WRAP})")
    return problems


def is_plausible(labels: np.ndarray) -> bool:
    """True when :func:`check_label_map` finds no problem."""
    return not check_label_map(labels)
