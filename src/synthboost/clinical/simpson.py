"""LV volumes by Simpson's biplane method of discs and LA volume by the biplane area-length method.

Written from the textbook definitions (Lang et al., "Recommendations for cardiac chamber
quantification by echocardiography in adults", JASE 28(1), 2015, Table 1 and section 1.2):

- **Biplane method of discs (modified Simpson's rule).** In each apical view (2CH, 4CH) the long
  axis runs from the mid-point of the mitral annulus to the apex (see
  :mod:`synthboost.clinical.landmarks`). The axis is cut into ``N_DISCS = 20`` slices of equal
  height; the diameter ``d_i`` of slice ``i`` is the cavity's width perpendicular to the axis at the
  slice's centre, measured on the subpixel contour in mm. With ``L`` the *longer* of the two long
  axes (the guideline's choice: the shorter one is the likely foreshortened view; a difference over
  10 % flags foreshortening, see :data:`FORESHORTENING_TOLERANCE`)::

      V = π/4 · Σ_i d2CH_i · d4CH_i · L / 20

  Each view's discs sit at the same fractions ``(i + ½) / 20`` of its own long axis.
  The *single-plane* form (one view, circular discs) is ``V = π/4 · Σ_i d_i² · L / 20``.
- **Biplane area-length (LA).** ``V = 8 / (3π) · A2CH · A4CH / L`` with the areas of the LA in both
  views and ``L`` the *shorter* of the two LA lengths (guideline), each measured from the mitral
  annulus mid-point to the farthest LA point (or the LA's own longest extent when no annulus is
  known). The single-plane form is ``V = 8 / (3π) · A² / L``.

Volumes are in mL (mm³ / 1000); EF = 100 · (EDV − ESV) / EDV in %.

Two conventions of the method of discs (:data:`METHODS`, ``synthboost clinical --method``):

- ``ase`` (default): the guideline as above — discs at the mid-slice fractions ``(i + ½)/20`` of
  each view's axis, ``L`` the longer axis of the two views *of that phase*.
- ``camus``: the CAMUS organisers' EF script, reimplemented in :mod:`synthboost.clinical.camus_ef`
  (isotropic resampling, base = longest near-straight contour stretch, discs at ``i/20`` walked on
  the pixel grid, one disc height for the four frames, whole mL). ``docs/conventions.md`` says how
  much it differs from ``ase``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from synthboost.clinical.landmarks import Spacing, ViewGeometry, largest_component, view_geometry

N_DISCS = 20
#: Conventions of the method of discs (module docstring).
METHODS: tuple[str, ...] = ("ase", "camus")
#: Relative difference of the two long axes above which a view is flagged as foreshortened.
FORESHORTENING_TOLERANCE = 0.10


def disc_diameters(geometry: ViewGeometry, n_discs: int = N_DISCS, offset: float = 0.5) -> np.ndarray:
    """Cavity widths (mm) perpendicular to the long axis at fractions ``(i + offset)/n_discs`` from the base.

    ``offset`` ½ measures at the slice centres (ASE), 0 at ``i/20`` from the base (CAMUS script),
    where the first disc lies on the base itself and its diameter is the mitral annulus width.
    A slice crossing the contour several times (a concave contour) adds up its inside intervals.
    """
    axis = geometry.apex - geometry.base
    length = float(np.linalg.norm(axis))
    if length <= 0:
        raise ValueError("degenerate long axis (apex on the annulus mid-point)")
    axis = axis / length
    normal = np.array([-axis[1], axis[0]])
    rel = geometry.contour - geometry.base
    along, across = rel @ axis, rel @ normal
    a0, a1 = along, np.roll(along, -1)
    s0, s1 = across, np.roll(across, -1)
    ts = (np.arange(n_discs) + offset) * length / n_discs
    widths = np.zeros(n_discs)
    for i, t in enumerate(ts):
        crossing = (a0 <= t) != (a1 <= t)  # half-open rule: every crossing counted once
        frac = (t - a0[crossing]) / (a1[crossing] - a0[crossing])
        s = np.sort(s0[crossing] + frac * (s1[crossing] - s0[crossing]))
        widths[i] = float(np.sum(s[1::2] - s[0::2]))
    if offset == 0:  # on the base line the contour runs along the slice: take the annulus instead
        widths[0] = abs(float((geometry.annulus[1] - geometry.annulus[0]) @ normal))
    return widths


@dataclasses.dataclass(frozen=True)
class BiplaneVolume:
    """Result of the method of discs for one phase.

    Attributes:
        volume_ml: the volume (mL).
        length_2ch: long axis of the 2CH view (mm).
        length_4ch: long axis of the 4CH view (mm).
        foreshortened: the two long axes differ by more than :data:`FORESHORTENING_TOLERANCE`.
        methods: annulus rule used per view, e.g. ``("la", "la")``.
    """

    volume_ml: float
    length_2ch: float
    length_4ch: float
    foreshortened: bool
    methods: tuple[str, str]


def biplane_volume(g2: ViewGeometry, g4: ViewGeometry, n_discs: int = N_DISCS) -> BiplaneVolume:
    """Simpson's biplane volume from the 2CH and 4CH geometries (``L`` = the longer long axis)."""
    d2, d4 = disc_diameters(g2, n_discs), disc_diameters(g4, n_discs)
    l2, l4 = g2.length, g4.length
    length = max(l2, l4)
    volume_mm3 = math.pi / 4 * float(np.sum(d2 * d4)) * length / n_discs
    short = abs(l2 - l4) / length > FORESHORTENING_TOLERANCE
    return BiplaneVolume(volume_mm3 / 1000.0, l2, l4, short, (g2.method, g4.method))


def lv_volumes(geometries: dict[tuple[str, str], ViewGeometry], method: str = "ase") -> dict[str, float]:
    """EDV and ESV (mL) of one patient from the geometries of its frames ``(view, phase)``.

    A phase without both views is left out: :func:`biplane_volume` per phase. Only ``ase`` works on
    geometries; ``camus`` works on the masks themselves
    (:func:`synthboost.clinical.camus_ef.lv_volumes_camus`).
    """
    if method != "ase":
        raise ValueError(
            f"clinical method {method!r}: lv_volumes computes 'ase'; for 'camus' use "
            "synthboost.clinical.camus_ef.lv_volumes_camus on the label maps"
        )
    phases = sorted({p for _, p in geometries if ("2CH", p) in geometries and ("4CH", p) in geometries})
    return {p: biplane_volume(geometries[("2CH", p)], geometries[("4CH", p)]).volume_ml for p in phases}


def single_plane_volume(geometry: ViewGeometry, n_discs: int = N_DISCS) -> float:
    """Single-plane method of discs (mL): circular discs of the one view's diameters, ``L`` its long axis."""
    d = disc_diameters(geometry, n_discs)
    return math.pi / 4 * float(np.sum(d * d)) * geometry.length / n_discs / 1000.0


def _masks(labels: np.ndarray) -> dict[str, np.ndarray]:
    labels = np.asarray(labels)
    return {"lv": labels == 1, "myo": labels == 2, "la": labels == 3}


def geometry_from_labels(labels: np.ndarray, spacing: Spacing) -> ViewGeometry:
    """LV geometry from a label map (1 LV, 2 MYO, 3 LA; CAMUS values)."""
    m = _masks(labels)
    if not m["lv"].any():
        raise ValueError("label map has no LV cavity (label 1)")
    return view_geometry(m["lv"], spacing, la=m["la"], myo=m["myo"])


def lv_volume(
    labels_2ch: np.ndarray, spacing_2ch: Spacing, labels_4ch: np.ndarray, spacing_4ch: Spacing
) -> BiplaneVolume:
    """Simpson's biplane LV volume from the label maps of both views at one phase."""
    return biplane_volume(
        geometry_from_labels(labels_2ch, spacing_2ch), geometry_from_labels(labels_4ch, spacing_4ch)
    )


def ejection_fraction(edv: float, esv: float) -> float:
    """EF (%) = 100 · (EDV − ESV) / EDV; NaN when EDV is not positive."""
    return 100.0 * (edv - esv) / edv if edv > 0 else float("nan")


def area_mm2(mask: np.ndarray, spacing: Spacing) -> float:
    """Area of a binary mask in mm² (pixel count × pixel area)."""
    return float(np.count_nonzero(mask)) * spacing[0] * spacing[1]


def la_length(la: np.ndarray, spacing: Spacing, base: np.ndarray | None = None) -> float:
    """LA long axis (mm): annulus mid-point ``base`` (mm) to the farthest LA pixel, or the LA's extent."""
    pts = np.argwhere(largest_component(la)) * np.asarray(spacing, dtype=np.float64)
    if len(pts) == 0:
        raise ValueError("empty LA mask")
    if base is not None:
        return float(np.linalg.norm(pts - base, axis=1).max())
    centred = pts - pts.mean(axis=0)
    proj = centred @ np.linalg.svd(centred, full_matrices=False)[2][0]
    return float(proj.max() - proj.min()) + max(spacing)


def area_length_volume(area_a: float, area_b: float, length: float) -> float:
    """Area-length volume (mL) ``8 / (3π) · A_a · A_b / L`` (areas mm², ``L`` mm; single plane: A_a = A_b)."""
    if length <= 0:
        raise ValueError(f"area-length: length must be positive, got {length}")
    return 8.0 / (3.0 * math.pi) * area_a * area_b / length / 1000.0


def la_measure(
    labels: np.ndarray, spacing: Spacing, geometry: ViewGeometry | None = None
) -> tuple[float, float]:
    """LA area (mm², largest component) and length (mm) of one view's label map.

    ``geometry`` (the view's LV geometry, if already computed) gives the annulus the length starts from.

    Raises:
        ValueError: the label map has no LA (label 3).
    """
    la = np.asarray(labels) == 3
    if not la.any():
        raise ValueError("label map has no LA cavity (label 3)")
    if geometry is None:
        try:
            geometry = geometry_from_labels(labels, spacing)
        except ValueError:
            geometry = None
    base = geometry.base if geometry is not None else None
    return area_mm2(largest_component(la), spacing), la_length(la, spacing, base)


def la_volume(
    labels_2ch: np.ndarray, spacing_2ch: Spacing, labels_4ch: np.ndarray, spacing_4ch: Spacing
) -> float:
    """LA volume (mL) by the biplane area-length method from the label maps of both views."""
    (a2, l2), (a4, l4) = la_measure(labels_2ch, spacing_2ch), la_measure(labels_4ch, spacing_4ch)
    return area_length_volume(a2, a4, min(l2, l4))
