"""A parametric 3-D left-heart model, its true volumes and its apical 2CH/4CH sections.

The LV cavity is a prolate ellipsoid with its apex at the origin of the long axis ``z``
(mm, pointing from the apex towards the base), semi-axis ``A`` along ``z`` and short radii
``a`` (in the 2CH plane) and ``b`` (in the 4CH plane), truncated at the mitral plane
``z = L = A (1 + f)``. The 2CH and 4CH views are the two orthogonal planes through the
long axis, so each view's cavity is a truncated ellipse with the same long axis ``L`` and
Simpson's biplane of discs recovers the 3-D volume::

    V = ∫_0^L π a b (1 - ((z - A) / A)²) dz = π a b A (f - f³/3 + 2/3)

The myocardium is the shell between the cavity and a confocal-ish outer ellipsoid
(semi-axes grown by the wall thickness), open at the mitral plane; the LA is an ellipse
below the mitral plane. Images are apical: the probe (sector apex) is at the top centre,
rows are depth ``y`` (mm = row × row spacing), columns are lateral ``x``. In 4CH the LV
sits right of the sector axis and the RV/RA (image content, not labelled) left of it.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

#: Codes of the unlabelled image content returned by :func:`rasterize_view` (``extra``).
TISSUE_BLOOD = 4  # other blood pools (RV, RA)
TISSUE_WALL = 5  # other walls (RV free wall, atrial walls, septa)
TISSUE_REFLECTOR = 6  # strong specular reflectors (pericardium)

VIEWS: tuple[str, ...] = ("2CH", "4CH")
PHASES: tuple[str, ...] = ("ED", "ES")

_LA_MARGIN_MM = 3.0  # the LA is at least this much wider than the mitral annulus (per side)


@dataclasses.dataclass(frozen=True)
class Chamber:
    """Left-heart geometry at one phase (mm)."""

    half_axis: float  # A, semi-axis of the cavity ellipsoid along the long axis
    radius_2ch: float  # a, cavity short radius in the 2CH plane
    radius_4ch: float  # b, cavity short radius in the 4CH plane
    wall: float  # myocardial wall thickness
    la_half_length: float  # LA semi-axis along the long axis
    la_half_width: float  # LA semi-axis across the long axis

    def radius(self, view: str) -> float:
        """Cavity short radius in ``view`` (``2CH`` or ``4CH``)."""
        if view not in ("2CH", "4CH"):
            raise ValueError(f"heart model: unknown view {view!r} (expected 2CH or 4CH)")
        return self.radius_2ch if view == "2CH" else self.radius_4ch


@dataclasses.dataclass(frozen=True)
class Anatomy:
    """The 3-D model at end-diastole and end-systole; ``truncation`` is ``f`` (shared)."""

    truncation: float
    ed: Chamber
    es: Chamber

    def chamber(self, phase: str | float) -> Chamber:
        """The chamber at ``phase``: ``ED``, ``ES``, or a position in [0, 1] between them.

        A position ``s`` interpolates every dimension linearly (``0`` is ED, ``1`` is ES), so the
        frames of a cine are exact truncated ellipsoids with exact volumes (:func:`lv_volume_ml`).
        """
        if isinstance(phase, str):
            if phase not in ("ED", "ES"):
                raise ValueError(f"heart model: unknown phase {phase!r} (expected ED or ES)")
            return self.ed if phase == "ED" else self.es
        s = float(phase)
        if not 0.0 <= s <= 1.0:
            raise ValueError(f"heart model: phase position {s} outside [0, 1] (0 = ED, 1 = ES)")
        ed, es = dataclasses.astuple(self.ed), dataclasses.astuple(self.es)
        return Chamber(*((1.0 - s) * a + s * b for a, b in zip(ed, es, strict=True)))


@dataclasses.dataclass(frozen=True)
class Acquisition:
    """One apical view: sector geometry, image grid and probe placement."""

    depth_mm: float  # sector radius
    half_angle_deg: float  # half opening angle of the sector
    height_mm: float  # image extent along rows (depth)
    width_mm: float  # image extent along columns
    rows: int
    cols: int
    apex_offset_mm: float  # lateral position of the LV apex relative to the sector axis
    apex_depth_mm: float  # depth of the LV apex below the probe
    tilt_deg: float  # angle of the LV long axis from vertical (positive: base to the left)
    quality: str  # Good | Medium | Poor (CAMUS spelling)
    n_frames: int  # frames from ED to ES (CAMUS NbFrame)

    @property
    def spacing(self) -> tuple[float, float]:
        """Pixel size ``(row_mm, col_mm)``."""
        return self.height_mm / self.rows, self.width_mm / self.cols

    def resized(self, rows: int, cols: int) -> Acquisition:
        """The same acquisition on another pixel grid (the physical geometry is unchanged)."""
        if rows < 16 or cols < 16:
            raise ValueError(f"heart model: image grid {rows}x{cols} too small (min 16x16)")
        return dataclasses.replace(self, rows=int(rows), cols=int(cols))


@dataclasses.dataclass(frozen=True)
class Patient:
    """Everything drawn for one synthetic patient."""

    sex: str  # F | M
    age: int
    anatomy: Anatomy
    views: dict[str, Acquisition]


def _fits(acq: Acquisition, anatomy: Anatomy, view: str, margin_mm: float = 3.0) -> bool:
    """True when the whole myocardium (outer wall, ED and ES) lies inside the sector with a margin."""
    t = np.linspace(0.0, 2 * math.pi, 181)
    tilt, half = math.radians(acq.tilt_deg), math.radians(acq.half_angle_deg)
    for phase in PHASES:
        c = anatomy.chamber(phase)
        z = c.half_axis + (c.half_axis + c.wall) * np.cos(t)
        r = (c.radius(view) + c.wall) * np.sin(t)
        keep = z <= lv_length_mm(anatomy, phase)
        z, r = z[keep], r[keep]
        x = acq.apex_offset_mm + z * math.sin(tilt) + r * math.cos(tilt)
        y = acq.apex_depth_mm + z * math.cos(tilt) - r * math.sin(tilt)
        inside = np.abs(x) * math.cos(half) <= y * math.sin(half) - margin_mm
        if not np.all(inside & (np.hypot(x, y) <= acq.depth_mm - margin_mm)):
            return False
    return True


def _sample_acquisition(rng: np.random.Generator, view: str, anatomy: Anatomy) -> Acquisition:
    """Draw a view; the probe placement is redrawn until the LV and its wall fit in the sector."""
    depth = rng.uniform(155.0, 180.0)
    half_angle = rng.uniform(34.0, 40.0)
    acq = Acquisition(
        depth_mm=depth,
        half_angle_deg=half_angle,
        height_mm=depth * rng.uniform(0.93, 1.0),
        width_mm=2 * depth * math.sin(math.radians(half_angle)) * rng.uniform(1.0, 1.04),
        rows=int(rng.integers(500, 701)),
        cols=int(rng.integers(400, 601)),
        apex_offset_mm=0.0,
        apex_depth_mm=32.0,
        tilt_deg=0.0,
        quality=str(rng.choice(["Good", "Medium", "Poor"], p=[0.4, 0.45, 0.15])),
        n_frames=int(rng.integers(12, 26)),
    )
    low, high = (2.0, 12.0) if view == "4CH" else (-5.0, 5.0)
    for attempt in range(30):
        shrink = 1.0 - attempt / 30  # later attempts stay closer to the sector axis
        placed = dataclasses.replace(
            acq,
            apex_offset_mm=rng.uniform(low, high) * shrink,
            apex_depth_mm=rng.uniform(27.0, 38.0) + attempt,
            tilt_deg=rng.uniform(-8.0, 8.0) * shrink,
        )
        if _fits(placed, anatomy, view):
            return placed
    return dataclasses.replace(acq, apex_depth_mm=45.0, half_angle_deg=45.0)


def sample_anatomy(rng: np.random.Generator, sex: str = "F") -> Anatomy:
    """Draw ED/ES geometry: long axis 64–91 mm, EF 35–70 %, wall 8–12 mm (ES thicker)."""
    scale = 1.06 if sex == "M" else 1.0
    f = rng.uniform(0.4, 0.65)
    length = rng.uniform(64.0, 86.0) * scale
    a = rng.uniform(20.0, 27.0) * scale
    b = a * rng.uniform(0.9, 1.15)
    wall = rng.uniform(8.0, 12.0)
    la_len, la_wid = rng.uniform(17.0, 25.0) * scale, rng.uniform(15.0, 21.0) * scale
    ed = Chamber(length / (1 + f), a, b, wall, la_len, la_wid)
    ef = rng.uniform(0.35, 0.70)
    k_long = rng.uniform(0.84, 0.93)
    k_rad = math.sqrt((1 - ef) / k_long)  # V ∝ A a b  ->  V_es / V_ed = k_long k_rad²
    es = Chamber(
        ed.half_axis * k_long,
        a * k_rad,
        b * k_rad,
        wall * rng.uniform(1.15, 1.4),
        la_len * rng.uniform(1.05, 1.2),
        la_wid * rng.uniform(1.05, 1.2),
    )
    return Anatomy(f, ed, es)


def sample_patient(rng: np.random.Generator) -> Patient:
    """Draw a patient: sex, age (20–90), 3-D anatomy and the two apical acquisitions."""
    sex = str(rng.choice(["F", "M"]))
    age = int(rng.integers(20, 91))
    anatomy = sample_anatomy(rng, sex)
    views = {view: _sample_acquisition(rng, view, anatomy) for view in VIEWS}
    return Patient(sex, age, anatomy, views)


def lv_length_mm(anatomy: Anatomy, phase: str | float) -> float:
    """Apex-to-mitral-plane length ``L`` (mm)."""
    return anatomy.chamber(phase).half_axis * (1 + anatomy.truncation)


def lv_volume_ml(anatomy: Anatomy, phase: str | float) -> float:
    """True LV cavity volume (mL) of the truncated ellipsoid at ``phase`` (a name or a position, see
    :meth:`Anatomy.chamber`)."""
    c, f = anatomy.chamber(phase), anatomy.truncation
    return math.pi * c.radius_2ch * c.radius_4ch * c.half_axis * (f - f**3 / 3 + 2 / 3) / 1000.0


def ejection_fraction(anatomy: Anatomy) -> float:
    """True EF (%) from the model volumes."""
    edv, esv = lv_volume_ml(anatomy, "ED"), lv_volume_ml(anatomy, "ES")
    return 100.0 * (edv - esv) / edv


def _grid_mm(acq: Acquisition) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (mm) from the sector apex: depth ``y`` (rows, 1), lateral ``x`` (1, cols)."""
    sy, sx = acq.spacing
    y = (np.arange(acq.rows, dtype=np.float32) * sy)[:, None]
    x = ((np.arange(acq.cols, dtype=np.float32) - (acq.cols - 1) / 2) * sx)[None, :]
    return y, x


def sector_mask(acq: Acquisition) -> np.ndarray:
    """Boolean field of view: the fan of radius ``depth_mm`` and half-angle from the top centre."""
    y, x = _grid_mm(acq)
    r2 = x * x + y * y
    inside_angle = np.abs(x) <= y * math.tan(math.radians(acq.half_angle_deg))
    return (r2 <= acq.depth_mm**2) & (r2 >= 4.0) & inside_angle


def _ellipse(z: np.ndarray, r: np.ndarray, cz: float, cr: float, hz: float, hr: float) -> np.ndarray:
    return ((z - cz) / hz) ** 2 + ((r - cr) / hr) ** 2 <= 1.0


def _la_shape(anatomy: Anatomy, phase: str | float, view: str) -> tuple[float, float, float]:
    """LA (centre z, half-length, half-width), wide enough to span the mitral annulus."""
    c, f = anatomy.chamber(phase), anatomy.truncation
    annulus = c.radius(view) * math.sqrt(1 - f * f)
    width = max(c.la_half_width, annulus + _LA_MARGIN_MM + 1.0)
    # the LA's half-width at the mitral plane must reach annulus + margin
    k = math.sqrt(max(0.0, 1 - ((annulus + _LA_MARGIN_MM) / width) ** 2))
    k = min(k, 0.6)
    return lv_length_mm(anatomy, phase) + k * c.la_half_length, c.la_half_length, width


def _local(acq: Acquisition) -> tuple[np.ndarray, np.ndarray]:
    """Long-axis coordinate ``z`` (from the LV apex) and lateral ``r`` of every pixel (mm)."""
    y, x = _grid_mm(acq)
    dx, dy = x - acq.apex_offset_mm, y - acq.apex_depth_mm
    t = math.radians(acq.tilt_deg)
    return dx * math.sin(t) + dy * math.cos(t), dx * math.cos(t) - dy * math.sin(t)


def rasterize_view(
    patient: Patient,
    view: str,
    phase: str | float,
    acq: Acquisition | None = None,
    sector: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Label map (0 bg, 1 LV, 2 MYO, 3 LA) and unlabelled content of one view and phase.

    Args:
        patient: the sampled patient.
        view: ``2CH`` or ``4CH``.
        phase: ``ED``, ``ES`` or a position in [0, 1] between them (:meth:`Anatomy.chamber`).
        acq: acquisition to use (default ``patient.views[view]``), e.g. a resized one.
        sector: its :func:`sector_mask`, if already computed.

    Returns:
        ``(labels, extra)`` uint8 arrays of shape ``(rows, cols)``, zero outside the sector;
        ``extra`` holds ``TISSUE_*`` codes where no label is set.
    """
    acq = acq or patient.views[view]
    anatomy = patient.anatomy
    c, big_a, ra = (
        anatomy.chamber(phase),
        anatomy.chamber(phase).half_axis,
        anatomy.chamber(phase).radius(view),
    )
    length = lv_length_mm(anatomy, phase)
    z, r = _local(acq)
    above = z <= length
    cavity = _ellipse(z, r, big_a, 0.0, big_a, ra) & above
    outer = _ellipse(z, r, big_a, 0.0, big_a + c.wall, ra + c.wall) & above
    la_z, la_len, la_wid = _la_shape(anatomy, phase, view)
    atrium = _ellipse(z, r, la_z, 0.0, la_len, la_wid) & ~above

    labels = np.zeros(z.shape, np.uint8)
    labels[atrium] = 3
    labels[outer] = 2
    labels[cavity] = 1
    extra = _extra_content(z, r, anatomy, phase, view, (la_z, la_len, la_wid))
    sector = sector_mask(acq) if sector is None else sector
    labels[~sector] = 0
    extra[~sector | (labels > 0)] = 0
    return labels, extra


def rasterize_labels(
    patient: Patient, view: str, phase: str | float, acq: Acquisition | None = None
) -> np.ndarray:
    """Only the label map of :func:`rasterize_view`."""
    return rasterize_view(patient, view, phase, acq)[0]


def _extra_content(
    z: np.ndarray,
    r: np.ndarray,
    anatomy: Anatomy,
    phase: str | float,
    view: str,
    la: tuple[float, float, float],
) -> np.ndarray:
    """Pericardium, atrial wall and (4CH) the right heart, as ``TISSUE_*`` codes."""
    c = anatomy.chamber(phase)
    ra, big_a, length = c.radius(view), c.half_axis, lv_length_mm(anatomy, phase)
    w = c.wall
    extra = np.zeros(z.shape, np.uint8)
    la_z, la_len, la_wid = la
    extra[_ellipse(z, r, la_z, 0.0, la_len + 3.0, la_wid + 3.0) & (z > length)] = TISSUE_WALL
    peri = _ellipse(z, r, big_a, 0.0, big_a + w + 3.0, ra + w + 3.0) & (z <= length + 4.0)
    if view == "4CH":
        peri &= r > 0  # lateral wall only; the septum faces the RV
    extra[peri] = TISSUE_REFLECTOR
    if view == "4CH":
        rv_hr, rv_hz = 0.85 * ra, 0.36 * length
        rv_r, rv_z, tv = -(ra + w + 0.8 * rv_hr), 0.62 * length, length - 6.0
        shell = _ellipse(z, r, rv_z, rv_r, rv_hz + 4.0, rv_hr + 4.0) & (z <= tv)
        extra[shell] = TISSUE_WALL
        extra[_ellipse(z, r, rv_z, rv_r, rv_hz, rv_hr) & (z <= tv)] = TISSUE_BLOOD
        ra_z, ra_len, ra_wid = tv + 0.55 * la_len, 0.9 * la_len, 0.9 * la_wid
        ra_r = min(rv_r, -(la_wid + 0.9 * ra_wid + 2.0))
        extra[_ellipse(z, r, ra_z, ra_r, ra_len + 3.0, ra_wid + 3.0) & (z > tv)] = TISSUE_WALL
        extra[_ellipse(z, r, ra_z, ra_r, ra_len, ra_wid) & (z > tv)] = TISSUE_BLOOD
    return extra
