"""Pixel calibration of echo files, taken from real metadata and recorded with what was assumed.

A :class:`Calibration` says where a loop's pixel size comes from (``source``), the size itself
(``spacing_mm``, None when uncalibrated), the factor a stale DICOM region was rescaled by
(``scaled_by``), every warning about the metadata, and the pixel aspect ratio (row size / column size)
when it is known without a size (square pixels of a video, a DICOM without ``PixelAspectRatio``).

DICOM (:func:`dicom_calibration`), in the order pydicom/highdicom users expect:

1. ``SequenceOfUltrasoundRegions``: the 2-D tissue region (RegionSpatialFormat 1, RegionDataType 1;
   colour flow, 2, when no tissue region exists); of several, the one the imaging sector sits in.
   PhysicalDeltaX/Y in cm (PhysicalUnits code 3) → mm. A region that does not fit the frame is
   rescaled when one factor maps it into the frame and onto the detected fan (an export resized after
   acquisition: the deltas are divided by that factor), clipped when the frame was cropped (the fan
   lies inside the clipped region), and otherwise dropped (uncalibrated). Each case warns.
2. ``PixelSpacing`` / ``ImagerPixelSpacing`` (mm): only when the region gives none and those
   present agree.
3. Else uncalibrated.

A size is used only when it is finite, positive and plausible (:data:`PLAUSIBLE_MM`, at most
:data:`MAX_ASPECT` anisotropy); anything else is uncalibrated with a warning naming the tag.
Non-square PhysicalDeltaX/Y (beyond :data:`SQUARE_TOLERANCE`) are used as given with a warning:
B-mode regions of scanners are square, but the project's phantom DICOMs, modelled on CAMUS's
geometry, are not, and the measurements take ``(row, col)`` sizes. Header and PixelSpacing sizes
may be non-square without a warning (CAMUS half-sequences are).
NIfTI/MetaImage header spacings go through the same checks (:func:`header_calibration`). A readable
file is never refused because of its calibration.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from synthboost.data.imageio.region import bbox_of

#: Where a spacing comes from ("user": typed on the command line or in the app).
CALIBRATION_SOURCES: tuple[str, ...] = (
    "us_regions",
    "pixel_spacing",
    "imager_pixel_spacing",
    "header",
    "user",
    "uncalibrated",
)
#: RegionSpatialFormat 2-D; RegionDataType tissue and colour flow; PhysicalUnits code for cm.
SPATIAL_2D = 1
DATA_TISSUE, DATA_COLOR_FLOW = 1, 2
UNIT_CM = 3
#: Plausible pixel sizes of an echo image, in mm (outside: uncalibrated with a warning).
PLAUSIBLE_MM = (0.01, 5.0)
#: Row and column sizes within this relative difference count as square.
SQUARE_TOLERANCE = 0.01
#: Largest row/column size ratio believed as a pixel aspect ratio (beyond: unknown).
MAX_ASPECT = 10.0
#: Pixels of slack when checking that a (rescaled, clipped) region holds the fan and fits the frame.
FIT_SLACK_PX = 2
#: A rescaled region must be spanned by the fan to this fraction in its fuller direction.
FAN_FILL = 0.85
#: A fan reaching this fraction of the frame's larger side (plus :data:`FIT_SLACK_PX`) beyond a region
#: that fits the frame makes the region suspect: an export enlarged after acquisition.
OUTGROWN_SLACK = 0.02
#: Largest denominator of the simple fractions a rescale factor snaps to (within :data:`SNAP_TOLERANCE`).
SNAP_DENOMINATOR, SNAP_TOLERANCE = 8, 0.03

Rect = tuple[int, int, int, int]


@dataclasses.dataclass(frozen=True)
class Calibration:
    """Where a loop's pixel size comes from, the size, and what was assumed.

    Attributes:
        source: one of :data:`CALIBRATION_SOURCES`.
        spacing_mm: ``(row, col)`` pixel size in mm; None when uncalibrated.
        scaled_by: the factor a stale DICOM region and its deltas were rescaled by (None: not rescaled).
        warnings: what was wrong with the metadata and what was done about it.
        aspect: row size / column size of a pixel when known (1.0: square), None when unknown.
    """

    source: str
    spacing_mm: tuple[float, float] | None = None
    scaled_by: float | None = None
    warnings: tuple[str, ...] = ()
    aspect: float | None = 1.0

    def __post_init__(self) -> None:
        if self.source not in CALIBRATION_SOURCES:
            raise ValueError(f"calibration: source {self.source!r} not one of {CALIBRATION_SOURCES}")
        if (self.spacing_mm is None) != (self.source == "uncalibrated"):
            raise ValueError(f"calibration: spacing {self.spacing_mm} contradicts source {self.source!r}")
        if self.spacing_mm is not None:
            object.__setattr__(self, "aspect", self.spacing_mm[0] / self.spacing_mm[1])

    @property
    def calibrated(self) -> bool:
        """True when a pixel size in mm is known."""
        return self.spacing_mm is not None

    def as_dict(self) -> dict[str, Any]:
        """The record every output carries: ``{source, spacing_mm, scaled_by, warnings, pixel_aspect}``."""
        return {
            "source": self.source,
            "spacing_mm": list(self.spacing_mm) if self.spacing_mm is not None else None,
            "scaled_by": self.scaled_by,
            "warnings": list(self.warnings),
            "pixel_aspect": self.aspect,
        }

    def describe(self) -> str:
        """One line for a person: the source, the size and the warnings."""
        size = (
            f"{self.spacing_mm[0]:.4g} x {self.spacing_mm[1]:.4g} mm/pixel"
            if self.spacing_mm
            else "no pixel size"
        )
        scaled = f", region rescaled by {self.scaled_by:.4g}" if self.scaled_by else ""
        warned = f" (warnings: {'; '.join(self.warnings)})" if self.warnings else ""
        return f"{self.source}: {size}{scaled}{warned}"


def uncalibrated(warnings: Sequence[str] = (), aspect: float | None = 1.0) -> Calibration:
    """An uncalibrated record (square pixels unless ``aspect`` says otherwise; None: unknown)."""
    return Calibration("uncalibrated", None, None, tuple(warnings), aspect)


def user_calibration(spacing_mm: tuple[float, float], base: Calibration | None = None) -> Calibration:
    """A spacing typed by the user, keeping the file's warnings and saying what it replaced."""
    notes = list(base.warnings) if base is not None else []
    if base is not None and base.spacing_mm is not None:
        notes.append(f"the file's spacing {list(base.spacing_mm)} mm ({base.source}) replaced by the user's")
    return Calibration("user", (float(spacing_mm[0]), float(spacing_mm[1])), None, tuple(notes))


def check_size(
    values: Sequence[Any], tag: str, square: bool = False
) -> tuple[tuple[float, float] | None, float | None, str | None]:
    """``(spacing (row, col) mm or None, aspect or None, warning or None)`` of two pixel sizes in mm.

    Args:
        values: ``(row_mm, col_mm)`` as the file gives them (strings, DS, floats...).
        tag: the tag or header field named in the warning.
        square: warn about non-square sizes (the region deltas of a B-mode image); they are still used.
    """
    try:
        row, col = (float(v) for v in values)
    except (TypeError, ValueError):
        return None, 1.0, f"{tag} {list(values)!r} is not two numbers: ignored"
    if not (math.isfinite(row) and math.isfinite(col)) or row <= 0 or col <= 0:
        return None, None, f"{tag} ({row:g}, {col:g}) is not two positive finite sizes: uncalibrated"
    aspect = row / col
    if not 1 / MAX_ASPECT <= aspect <= MAX_ASPECT:
        return None, None, f"{tag} ({row:g}, {col:g}) mm: implausible anisotropy {aspect:.3g}: uncalibrated"
    lo, hi = PLAUSIBLE_MM
    if not (lo <= row <= hi and lo <= col <= hi):
        return (
            None,
            aspect,
            (f"{tag} ({row:g}, {col:g}) mm outside the plausible {lo:g}-{hi:g} mm per pixel: uncalibrated"),
        )
    if square and abs(aspect - 1.0) > SQUARE_TOLERANCE:
        return (
            (row, col),
            aspect,
            f"{tag} ({row:g}, {col:g}) mm: non-square pixels (aspect {aspect:.4g}): used as given",
        )
    return (row, col), aspect, None


def _nifti_pixdim(path: Path) -> tuple[float, float] | None:
    """``(pixdim[2], pixdim[1])`` (row, col) as the NIfTI-1 header stores them, None when not NIfTI-1."""
    import gzip
    import struct

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            head = f.read(348)
    except (OSError, EOFError):
        return None
    if len(head) < 348:
        return None
    for order in "<>":
        if struct.unpack(f"{order}i", head[:4])[0] == 348:
            pixdim = struct.unpack(f"{order}8f", head[76:108])
            return float(pixdim[2]), float(pixdim[1])
    return None


def _metaimage_spacing(path: Path) -> tuple[str, ...] | None:
    """The ``ElementSpacing`` (else ``ElementSize``) words of a MetaImage header, None when it has neither."""
    with open(path, "rb") as f:
        head = f.read(8192).decode("latin-1", "replace")
    fields = {
        k.strip(): v.split() for k, sep, v in (line.partition("=") for line in head.splitlines()) if sep
    }
    words = fields.get("ElementSpacing", fields.get("ElementSize"))
    return tuple(words) if words is not None else None


def header_problem(path: Path) -> str | None:
    """What is wrong with the pixel size a NIfTI/MetaImage header states, before SimpleITK reads it.

    SimpleITK turns a NIfTI ``pixdim`` of NaN, 0 or infinity into 1.0 mm and gives 1.0 mm to a MetaImage
    without ``ElementSpacing``: both would be silently calibrated. None when the header states two sizes.
    """
    name = path.name.lower()
    if name.endswith((".nii", ".nii.gz")):
        pixdim = _nifti_pixdim(path)
        if pixdim is not None and not all(math.isfinite(v) and v > 0 for v in pixdim):
            return (
                f"NIfTI pixdim[2], pixdim[1] = ({pixdim[0]:g}, {pixdim[1]:g}) are not positive finite sizes"
            )
    elif name.endswith((".mhd", ".mha")):
        words = _metaimage_spacing(path)
        if words is None:
            return "no ElementSpacing in the MetaImage header"
        try:
            values = [float(w) for w in words[:2]]
        except ValueError:
            return f"MetaImage ElementSpacing {' '.join(words)!r} is not numbers"
        if len(values) < 2 or not all(math.isfinite(v) and v > 0 for v in values):
            return f"MetaImage ElementSpacing {' '.join(words)!r} is not positive finite sizes"
    return None


def header_calibration(spacing: Sequence[float], path: Path) -> Calibration:
    """The calibration of a NIfTI/MetaImage/NRRD header spacing ``(row, col)`` in mm, checked (never a
    default 1.0 mm: :func:`header_problem`) and plausible; else uncalibrated with the warning (aspect unknown)."""
    problem = header_problem(path)
    if problem is not None:
        return uncalibrated([f"{path.name}: {problem}: uncalibrated"], None)
    size, aspect, warning = check_size(spacing, "header spacing")
    if warning is not None:
        return uncalibrated([f"{path.name}: {warning}"], aspect)
    return Calibration("header", size)


def video_calibration(path: Path) -> Calibration:
    """An uncalibrated record for a video, with the pixel aspect of its sample aspect ratio (SAR).

    A video carries no pixel size. Its SAR (pixel width / height) gives the aspect; none, or FFmpeg's 0:1
    ("unknown"), is square pixels (display formats). An implausible SAR leaves the aspect unknown.
    """
    import av

    try:
        with av.open(str(path)) as container:
            sar = container.streams.video[0].sample_aspect_ratio if container.streams.video else None
    except (av.error.FFmpegError, OSError, UnicodeDecodeError):
        return uncalibrated()  # the reader itself says what is wrong with the file
    if not sar or sar.numerator == 0 or sar == 1:
        return uncalibrated()
    aspect = float(sar.denominator / sar.numerator)  # row size / column size
    if not 1 / MAX_ASPECT <= aspect <= MAX_ASPECT:
        return uncalibrated(
            [f"{path.name}: sample aspect ratio {sar} is implausible: pixel aspect unknown"], None
        )
    return uncalibrated(
        [
            f"{path.name}: non-square pixels (sample aspect ratio {sar}): EF and areas use row/column = {aspect:.4g}"
        ],
        aspect,
    )


# --- DICOM --------------------------------------------------------------------------------------------


def region_rect(region: Any) -> Rect | None:
    """Half-open (row0, col0, row1, col1) of an ultrasound region (its DICOM bounds are inclusive)."""
    try:
        r0, c0 = int(region.RegionLocationMinY0), int(region.RegionLocationMinX0)
        r1, c1 = int(region.RegionLocationMaxY1) + 1, int(region.RegionLocationMaxX1) + 1
    except (AttributeError, TypeError, ValueError):
        return None
    return (r0, c0, r1, c1) if r1 > r0 and c1 > c0 else None


def _overlap(rect: Rect, fan: np.ndarray) -> int:
    r0, c0, r1, c1 = (max(v, 0) for v in rect)
    return int(fan[r0:r1, c0:c1].sum())


def tissue_region(ds: Any, fan: np.ndarray | None) -> tuple[Any, Rect] | None:
    """The 2-D tissue item of SequenceOfUltrasoundRegions (colour flow when no tissue one) and its rect.

    Of several, the one that holds most of the detected fan (``fan``: bool mask, may be None), else the largest.
    """
    items = []
    for r in ds.get("SequenceOfUltrasoundRegions", None) or []:
        rect = region_rect(r)
        if rect is not None and r.get("RegionSpatialFormat") == SPATIAL_2D:
            items.append((r, rect))
    for kind in (DATA_TISSUE, DATA_COLOR_FLOW):
        found = [(r, rect) for r, rect in items if r.get("RegionDataType") == kind]
        if found:

            def score(item: tuple[Any, Rect]) -> tuple[int, int]:
                rect = item[1]
                area = (rect[2] - rect[0]) * (rect[3] - rect[1])
                return (_overlap(rect, fan) if fan is not None else 0, area)

            return max(found, key=score)
    return None


def _region_size(region: Any) -> tuple[tuple[float, float] | None, float | None, str | None]:
    units = (region.get("PhysicalUnitsYDirection"), region.get("PhysicalUnitsXDirection"))
    deltas = (region.get("PhysicalDeltaY"), region.get("PhysicalDeltaX"))
    if any(d is None for d in deltas):
        return None, 1.0, "PhysicalDeltaX/PhysicalDeltaY missing from the ultrasound region"
    if units != (UNIT_CM, UNIT_CM):
        _, aspect, _ = check_size(deltas, "PhysicalDeltaY/X")  # the same units both ways: their ratio holds
        aspect = aspect if units[0] == units[1] else 1.0
        return (
            None,
            aspect,
            (
                f"PhysicalUnitsY/XDirection {units} are not cm (code {UNIT_CM}): no pixel size taken from the region"
            ),
        )
    try:
        mm = [float(d) * 10.0 for d in deltas]
    except (TypeError, ValueError):
        return None, 1.0, f"PhysicalDeltaY/X {deltas!r} are not numbers"
    return check_size(mm, "PhysicalDeltaY/X (cm → mm)", square=True)


def _fits(rect: Sequence[float], shape: tuple[int, int], slack: float = 0) -> bool:
    return (
        rect[0] >= -slack
        and rect[1] >= -slack
        and rect[2] <= shape[0] + slack
        and rect[3] <= shape[1] + slack
    )


def _holds(rect: Sequence[float], box: Rect, slack: float) -> bool:
    return (
        rect[0] - slack <= box[0]
        and rect[1] - slack <= box[1]
        and rect[2] + slack >= box[2]
        and rect[3] + slack >= box[3]
    )


def snap_scale(scale: float) -> float:
    """``scale`` snapped to the nearest simple fraction p/q (q ≤ 8) within 3 %, else as it is."""
    best = min(
        (p / q for q in range(1, SNAP_DENOMINATOR + 1) for p in range(1, 4 * q + 1)),
        key=lambda f: abs(f - scale),
    )
    return best if abs(best - scale) <= SNAP_TOLERANCE * scale else scale


def rescale_factor(rect: Rect, shape: tuple[int, int], fan_box: Rect) -> float | None:
    """The factor that maps a stale region ``rect`` into the frame and onto the fan's bbox, or None.

    An export resized after acquisition scales the whole frame about its origin, region included.
    Candidates, each snapped to a simple fraction (:func:`snap_scale`) and tried in order: the fan's
    extent over the region's in the direction the fan fills most (an apical sector spans its region's
    depth or width), the fan's centre column over the region's (a sector sits centred in its region),
    the fan's deepest row over the region's. The first is taken whose scaled region fits the frame,
    holds the fan's bbox, and either is spanned by the fan to :data:`FAN_FILL` or is centred on it.
    """
    height, width = rect[2] - rect[0], rect[3] - rect[1]
    fan_h, fan_w = fan_box[2] - fan_box[0], fan_box[3] - fan_box[1]
    fan_centre, region_centre = (fan_box[1] + fan_box[3]) / 2, (rect[1] + rect[3]) / 2
    slack = FIT_SLACK_PX + 0.02 * max(shape)
    candidates = [
        max(fan_h / height, fan_w / width),
        fan_centre / max(region_centre, 1e-9),
        fan_box[2] / rect[2],
    ]
    for scale in (snap_scale(c) for c in candidates if c > 0):
        scaled = [v * scale for v in rect]
        fill = max(fan_h / (scaled[2] - scaled[0]), fan_w / (scaled[3] - scaled[1]))
        centred = abs((scaled[1] + scaled[3]) / 2 - fan_centre) <= slack
        if (
            _fits(scaled, shape, FIT_SLACK_PX)
            and _holds(scaled, fan_box, slack)
            and (fill >= FAN_FILL or centred)
        ):
            return scale
    return None


def _clip(rect: Rect, shape: tuple[int, int]) -> Rect:
    return max(rect[0], 0), max(rect[1], 0), min(rect[2], shape[0]), min(rect[3], shape[1])


def _rescaled(
    rect: Rect,
    size: tuple[float, float] | None,
    shape: tuple[int, int],
    scale: float,
    where: str,
    fan_box: Rect,
) -> tuple[Rect, tuple[float, float] | None, float, str]:
    """``(rect, size, scale, warning)`` of a region whose export was resized by ``scale`` after acquisition."""
    scaled = tuple(int(round(v * scale)) for v in rect)
    new_size = (size[0] / scale, size[1] / scale) if size is not None else None
    warning = (
        f"{where}: the export was resized after acquisition by {scale:.4g} (checked against the fan "
        f"{fan_box}); region and PhysicalDelta rescaled"
    )
    return _clip(scaled, shape), new_size, scale, warning  # type: ignore[arg-type]


def _stale_region(
    rect: Rect, size: tuple[float, float] | None, shape: tuple[int, int], fan_box: Rect | None
) -> tuple[Rect | None, tuple[float, float] | None, float | None, str]:
    """``(rect, size, scaled_by, warning)`` for a region that does not fit the frame."""
    where = f"ultrasound region {rect} does not fit the {shape[0]}x{shape[1]} frame"
    if fan_box is None:
        return None, None, None, f"{where} and no fan was found to check it against: uncalibrated"
    scale = rescale_factor(rect, shape, fan_box)
    if scale is not None:
        return _rescaled(rect, size, shape, scale, where, fan_box)
    clipped = _clip(rect, shape)
    if clipped[0] < clipped[2] and clipped[1] < clipped[3] and _holds(clipped, fan_box, FIT_SLACK_PX):
        return clipped, size, None, f"{where}: the frame was cropped; region clipped to {clipped}"
    return None, None, None, f"{where}: neither a resize nor a crop explains it: uncalibrated"


def _outgrown_region(
    rect: Rect, size: tuple[float, float] | None, shape: tuple[int, int], fan_box: Rect
) -> tuple[Rect, tuple[float, float] | None, float | None, str]:
    """``(rect, size, scaled_by, warning)`` for a region that fits the frame but that the fan outgrows.

    An export enlarged after acquisition keeps the acquisition's smaller region and larger deltas: the
    region is rescaled when a factor above 1 maps it onto the fan (:func:`rescale_factor`), else kept
    as given with a warning (the fan and the region disagree; the calibration may be wrong).
    """
    where = f"the fan {fan_box} extends beyond ultrasound region {rect}"
    scale = rescale_factor(rect, shape, fan_box)
    if scale is not None and scale > 1:
        return _rescaled(rect, size, shape, scale, where, fan_box)
    return rect, size, None, f"{where}: region kept as given, check the calibration"


def _spacing_tags(ds: Any) -> tuple[Calibration | None, list[str]]:
    """Calibration from PixelSpacing / ImagerPixelSpacing when those present are valid and agree."""
    found: dict[str, tuple[float, float]] = {}
    notes: list[str] = []
    for tag in ("PixelSpacing", "ImagerPixelSpacing"):
        value = ds.get(tag)
        if value is None:
            continue
        try:
            values = [value] if isinstance(value, (str, bytes)) else list(value)
        except TypeError:  # one value (VM 1)
            values = [value]
        if len(values) != 2:
            notes.append(f"{tag} {values!r} is not two values: ignored")
            continue
        size, _, warning = check_size(values, tag)
        if warning is not None:
            notes.append(warning)
        elif size is not None:
            found[tag] = size
    if len(found) == 2 and not np.allclose(found["PixelSpacing"], found["ImagerPixelSpacing"], rtol=0.01):
        notes.append(
            f"PixelSpacing {list(found['PixelSpacing'])} and ImagerPixelSpacing "
            f"{list(found['ImagerPixelSpacing'])} disagree: neither used"
        )
        return None, notes
    for tag, source in (("PixelSpacing", "pixel_spacing"), ("ImagerPixelSpacing", "imager_pixel_spacing")):
        if tag in found:
            return Calibration(source, found[tag], None, tuple(notes)), notes
    return None, notes


def _aspect_tag(ds: Any) -> tuple[float | None, str | None]:
    """PixelAspectRatio (rows:columns) as row size / column size; absent: 1.0 (DICOM's 1:1 default)."""
    value = ds.get("PixelAspectRatio")
    if value is None:
        return 1.0, None
    try:
        v, h = (float(x) for x in value)
    except (TypeError, ValueError):
        return None, f"PixelAspectRatio {value!r} is not two numbers: pixel aspect unknown"
    if not (math.isfinite(v) and math.isfinite(h) and v > 0 and h > 0) or not (
        1 / MAX_ASPECT <= v / h <= MAX_ASPECT
    ):
        return None, f"PixelAspectRatio {value!r} is implausible: pixel aspect unknown"
    return v / h, None


def dicom_calibration(ds: Any, path: Path, fan: np.ndarray | None) -> tuple[Calibration, Rect | None]:
    """``(calibration, tissue rect or None)`` of a DICOM dataset whose frames' detected fan is ``fan``.

    Args:
        ds: the pydicom dataset.
        path: the file (named in the warnings).
        fan: the sector detected on the frames (``(H, W)`` bool, the frame's shape), None when none was found.
    """
    shape = fan.shape if fan is not None else (int(ds.Rows), int(ds.Columns))
    fan_box = bbox_of(fan) if fan is not None and fan.any() else None
    notes: list[str] = []
    rect, size, scaled_by, region_aspect = None, None, None, None
    found = tissue_region(ds, fan)
    if found is not None:
        region, rect = found
        size, region_aspect, warning = _region_size(region)
        notes += [warning] if warning else []
        if not _fits(rect, shape):
            rect, size, scaled_by, warning = _stale_region(rect, size, shape, fan_box)
            notes.append(warning)
        elif fan_box is not None and not _holds(rect, fan_box, FIT_SLACK_PX + OUTGROWN_SLACK * max(shape)):
            rect, size, scaled_by, warning = _outgrown_region(rect, size, shape, fan_box)
            notes.append(warning)
    if size is not None:
        return Calibration("us_regions", size, scaled_by, _named(path, notes)), rect
    tags, tag_notes = _spacing_tags(ds)
    notes += tag_notes
    if tags is not None:
        return dataclasses.replace(tags, warnings=_named(path, notes)), rect
    aspect, warning = region_aspect, None
    if aspect is None and (found is None or "PixelAspectRatio" in ds):
        aspect, warning = _aspect_tag(ds)  # a region whose deltas are garbage leaves the aspect unknown
    notes += [warning] if warning else []
    return uncalibrated(_named(path, notes), aspect), rect


def _named(path: Path, notes: list[str]) -> tuple[str, ...]:
    return tuple(f"{path.name}: {n}" for n in notes)
