"""Cavity contour, mitral annulus and apex of one apical view (in mm coordinates).

Every coordinate here is ``(y, x)`` in millimetres: a pixel's ``(row, col)`` index times the pixel
spacing ``(row_mm, col_mm)``, so anisotropic pixels need no special care afterwards.

The annulus (the two basal end points of the cavity contour on the mitral plane) is found from the
first rule that applies:

1. ``la``: contour points that touch the left atrium (within one pixel): the cavity meets the LA
   exactly along the mitral valve plane in CAMUS-style annotations;
2. ``myo``: the longest run of contour points *not* touching the myocardium, which encloses the
   cavity everywhere but at the open base;
3. ``hull``: the longest convex-hull edge on the deep (basal) side of the cavity: the mitral plane
   is the one long straight stretch of an apical LV contour, and the base lies away from the probe
   (larger rows).

A rule is accepted when the annulus it finds is at least ``MIN_ANNULUS_FRACTION`` of the cavity's
largest width. The apex is the contour point farthest from the annulus mid-point (Lang et al.,
JASE 2015: "the most distal point of the LV apex").
"""

from __future__ import annotations

import dataclasses

import numpy as np

#: An annulus narrower than this fraction of the cavity's width is rejected (next rule is tried).
MIN_ANNULUS_FRACTION = 0.2

Spacing = tuple[float, float]


@dataclasses.dataclass(frozen=True)
class ViewGeometry:
    """Landmarks of one view, in mm ``(y, x)``.

    Attributes:
        contour: closed cavity contour ``(N, 2)`` (the last point is not repeated).
        annulus: the two annulus end points ``(2, 2)``.
        apex: the apex ``(2,)``.
        method: which rule found the annulus (``la``, ``myo``, ``hull`` or ``given``).
    """

    contour: np.ndarray
    annulus: np.ndarray
    apex: np.ndarray
    method: str

    @property
    def base(self) -> np.ndarray:
        """Mid-point of the mitral annulus."""
        return self.annulus.mean(axis=0)

    @property
    def length(self) -> float:
        """Long-axis length (mm): apex to annulus mid-point."""
        return float(np.linalg.norm(self.apex - self.base))


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 8-connected component of ``mask`` with its holes filled (empty stays empty)."""
    from scipy import ndimage

    mask = np.asarray(mask, dtype=bool)
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
    if n == 0:
        return mask.copy()
    keep = 1 + int(np.argmax(np.bincount(labels.ravel())[1:])) if n > 1 else 1
    box = ndimage.find_objects(labels, max_label=keep)[keep - 1]  # holes lie inside the bounding box
    out = np.zeros_like(mask)
    out[box] = ndimage.binary_fill_holes(labels[box] == keep)
    return out


def contour_mm(mask: np.ndarray, spacing: Spacing) -> np.ndarray:
    """Outer contour (iso-line 0.5 between pixel centres) of a binary mask, scaled to mm.

    Raises:
        ValueError: the mask is empty.
    """
    from skimage import measure

    mask = largest_component(mask)
    if not mask.any():
        raise ValueError("empty cavity mask: no contour")
    padded = np.pad(mask.astype(np.float32), 1)
    contours = measure.find_contours(padded, 0.5)
    contour = max(contours, key=len) - 1.0  # undo the padding
    if np.allclose(contour[0], contour[-1]):
        contour = contour[:-1]
    if len(contour) < 4:
        raise ValueError(f"cavity mask too small for a contour ({int(mask.sum())} pixels)")
    return contour * np.asarray(spacing, dtype=np.float64)


def _pixels_mm(mask: np.ndarray, spacing: Spacing) -> np.ndarray:
    return np.argwhere(np.asarray(mask, dtype=bool)) * np.asarray(spacing, dtype=np.float64)


def _near(points: np.ndarray, mask: np.ndarray | None, spacing: Spacing) -> np.ndarray:
    """Which ``points`` (mm) lie within one pixel of a pixel of ``mask``."""
    from scipy.spatial import cKDTree

    if mask is None or not np.any(mask):
        return np.zeros(len(points), bool)
    dist, _ = cKDTree(_pixels_mm(mask, spacing)).query(points)
    return dist <= 1.01 * max(spacing)


def _extremes(points: np.ndarray) -> np.ndarray:
    """The two end points of a roughly collinear point set (extremes along its main direction)."""
    centred = points - points.mean(axis=0)
    direction = np.linalg.svd(centred, full_matrices=False)[2][0]
    proj = centred @ direction
    return np.stack([points[int(np.argmin(proj))], points[int(np.argmax(proj))]])


def _longest_run(flags: np.ndarray) -> np.ndarray:
    """Indices of the longest circular run of ``True`` in ``flags`` (empty if none)."""
    n = len(flags)
    if not flags.any():
        return np.array([], dtype=int)
    if flags.all():
        return np.arange(n)
    start = int(np.argmin(flags))  # a False: unroll the circle there
    rolled = np.roll(flags, -start)
    best, best_len, run_start = (0, 0), 0, None
    for i, f in enumerate(np.append(rolled, False)):
        if f and run_start is None:
            run_start = i
        elif not f and run_start is not None:
            if i - run_start > best_len:
                best, best_len = (run_start, i), i - run_start
            run_start = None
    return (np.arange(*best) + start) % n


def _annulus_la(contour: np.ndarray, la: np.ndarray | None, spacing: Spacing) -> np.ndarray | None:
    touching = contour[_near(contour, la, spacing)]
    return _extremes(touching) if len(touching) >= 2 else None


def _annulus_myo(contour: np.ndarray, myo: np.ndarray | None, spacing: Spacing) -> np.ndarray | None:
    if myo is None or not np.any(myo):
        return None
    run = _longest_run(~_near(contour, myo, spacing))
    return contour[[run[0], run[-1]]] if len(run) >= 2 else None


def _annulus_hull(contour: np.ndarray) -> np.ndarray | None:
    from scipy.spatial import ConvexHull, QhullError

    try:
        hull = contour[ConvexHull(contour).vertices]
    except QhullError:  # collinear points: a one-pixel-wide sliver
        return None
    nxt = np.roll(hull, -1, axis=0)
    mid_y = (hull[:, 0] + nxt[:, 0]) / 2
    y_lo, y_hi = contour[:, 0].min(), contour[:, 0].max()
    basal = mid_y > contour[:, 0].mean() + 0.25 * (y_hi - y_lo)
    if not basal.any():
        return None
    lengths = np.where(basal, np.linalg.norm(nxt - hull, axis=1), -1.0)
    k = int(np.argmax(lengths))
    return np.stack([hull[k], nxt[k]])


def cavity_width(contour: np.ndarray) -> float:
    """Largest extent (mm) of the contour across its main (long) direction."""
    centred = contour - contour.mean(axis=0)
    minor = np.linalg.svd(centred, full_matrices=False)[2][1]
    proj = centred @ minor
    return float(proj.max() - proj.min())


def find_annulus(
    contour: np.ndarray,
    spacing: Spacing,
    la: np.ndarray | None = None,
    myo: np.ndarray | None = None,
) -> tuple[np.ndarray, str]:
    """Annulus end points ``(2, 2)`` (mm) and the rule that found them (see the module docstring).

    Raises:
        ValueError: no rule finds an annulus (e.g. a degenerate contour).
    """
    min_width = MIN_ANNULUS_FRACTION * cavity_width(contour)
    candidates = (
        ("la", lambda: _annulus_la(contour, la, spacing)),
        ("myo", lambda: _annulus_myo(contour, myo, spacing)),
        ("hull", lambda: _annulus_hull(contour)),
    )
    for name, rule in candidates:
        annulus = rule()
        if annulus is not None and np.linalg.norm(annulus[1] - annulus[0]) >= min_width:
            return annulus, name
    raise ValueError("cannot locate the mitral annulus of the cavity contour")


def find_apex(contour: np.ndarray, base: np.ndarray) -> np.ndarray:
    """The contour point farthest from the annulus mid-point ``base`` (mm)."""
    return contour[int(np.argmax(np.linalg.norm(contour - base, axis=1)))]


def view_geometry(
    cavity: np.ndarray,
    spacing: Spacing,
    la: np.ndarray | None = None,
    myo: np.ndarray | None = None,
    annulus: np.ndarray | None = None,
    apex: np.ndarray | None = None,
) -> ViewGeometry:
    """Contour and landmarks of one view's LV cavity mask.

    Args:
        cavity: binary LV cavity mask (rows, cols); its largest component is used.
        spacing: pixel size ``(row_mm, col_mm)``.
        la: optional LA mask of the same view (first annulus rule).
        myo: optional myocardium mask (second rule).
        annulus: optional annulus end points ``(2, 2)`` in mm, bypassing detection.
        apex: optional apex ``(2,)`` in mm, bypassing detection.
    """
    if min(spacing) <= 0:
        raise ValueError(f"pixel spacing must be positive, got {spacing}")
    contour = contour_mm(cavity, spacing)
    method = "given"
    if annulus is None:
        annulus, method = find_annulus(contour, spacing, la, myo)
    annulus = np.asarray(annulus, dtype=np.float64)
    apex = find_apex(contour, annulus.mean(axis=0)) if apex is None else np.asarray(apex, np.float64)
    return ViewGeometry(contour, annulus, apex, method)
