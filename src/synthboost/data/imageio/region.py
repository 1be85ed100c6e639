"""The imaging region of an echo frame: where the tissue sector is, and how to mask, crop and map back.

Scanner exports carry more than the image: burned-in text (patient, depth, frame rate), an ECG
trace, measurement marks and colour bars, all outside the tissue sector. :class:`ImagingRegion`
says where the sector is, in the original frame's pixels. It comes from the DICOM ultrasound
regions where present (``source="us_regions"``), else from :func:`detect_sector` on the frames
(``"detected"``), else it is the whole frame (``"full_frame"``).

The detector works on the pixels that look like live tissue (:func:`sector_signal`): in a loop of
at least :data:`MIN_LIVE_FRAMES` frames, bright in at least half of the frames (an ECG trace and
its moving cursor light a pixel only now and then) and changing over time by at least
:data:`MIN_LIVE_RANGE` grey levels (burned-in text, colour bars, depth scales, calipers, logos and
the frame's border do not change); a still image or a short loop uses its temporal maximum. It
opens that map (thin lines and text strokes go), closes small gaps, keeps the largest connected
component and takes the convex hull of its pixels (an apical sector is convex, so dark cavities
inside it are filled). A component covering less than :data:`MIN_SECTOR_FRACTION` of the searched
area is not a sector.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

#: Regions from the DICOM ``SequenceOfUltrasoundRegions``, the detector, or the whole frame.
REGION_SOURCES: tuple[str, ...] = ("us_regions", "detected", "full_frame")
#: Grey level above which a pixel of the temporal maximum counts as signal.
SIGNAL_THRESHOLD = 8
#: A detected component must cover at least this fraction of the searched area.
MIN_SECTOR_FRACTION = 0.05
#: Loops of at least this many frames are searched for live pixels (shorter: the temporal maximum).
MIN_LIVE_FRAMES = 4
#: A live pixel is bright in at least this fraction of the frames ...
MIN_LIVE_FRACTION = 0.5
#: ... and its grey level changes by at least this much over the loop (static overlays do not).
MIN_LIVE_RANGE = 12


@dataclasses.dataclass(frozen=True)
class ImagingRegion:
    """The tissue region of an echo frame, in original frame pixels.

    Attributes:
        bbox: ``(row0, col0, row1, col1)``, half-open.
        mask: ``(H, W)`` bool, True inside the tissue sector/region.
        source: ``"us_regions"``, ``"detected"`` or ``"full_frame"``.
    """

    bbox: tuple[int, int, int, int]
    mask: np.ndarray
    source: str

    def __post_init__(self) -> None:
        if self.source not in REGION_SOURCES:
            raise ValueError(f"imaging region: source {self.source!r} not one of {REGION_SOURCES}")
        r0, c0, r1, c1 = self.bbox
        h, w = self.mask.shape
        if not (0 <= r0 < r1 <= h and 0 <= c0 < c1 <= w):
            raise ValueError(f"imaging region: bbox {self.bbox} outside the {h}x{w} frame")

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of the original frame."""
        return self.mask.shape[0], self.mask.shape[1]

    def crop(self, arr: np.ndarray) -> np.ndarray:
        """The bbox of ``arr`` (any array whose last two axes are the frame's rows and columns)."""
        r0, c0, r1, c1 = self.bbox
        return arr[..., r0:r1, c0:c1]

    def apply(self, arr: np.ndarray) -> np.ndarray:
        """``arr`` (``(..., H, W)``) with everything outside the mask set to 0 (text, ECG, marks)."""
        return np.where(self.mask, arr, np.zeros((), arr.dtype))

    def uncrop(self, arr: np.ndarray, fill: float = 0) -> np.ndarray:
        """Map a result on the cropped grid (``(..., bbox rows, bbox cols)``) back to the original frame.

        Pixels outside the bbox get ``fill``; so do pixels inside the bbox but outside the mask.
        """
        r0, c0, r1, c1 = self.bbox
        if arr.shape[-2:] != (r1 - r0, c1 - c0):
            raise ValueError(f"imaging region: result {arr.shape[-2:]} does not match the bbox size")
        out = np.full((*arr.shape[:-2], *self.shape), fill, dtype=arr.dtype)
        out[..., r0:r1, c0:c1] = arr
        return np.where(self.mask, out, np.asarray(fill, dtype=arr.dtype))


def full_frame(shape: tuple[int, int]) -> ImagingRegion:
    """The whole frame as the region."""
    return ImagingRegion((0, 0, shape[0], shape[1]), np.ones(shape, bool), "full_frame")


def bbox_of(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Half-open bounding box of the True pixels of a non-empty 2-D mask."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def _coarse_factor(shape: tuple[int, ...]) -> int:
    """Pooling factor that brings the shorter side to about 200 pixels for the component search."""
    return max(1, min(shape) // 200)


def fill_convex(vertices: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Pixels whose centres lie inside or on the convex polygon ``vertices`` ((k, 2) row, col), by row spans."""
    v0, v1 = vertices, np.roll(vertices, -1, axis=0)
    top, bottom = int(np.ceil(vertices[:, 0].min() - 1e-9)), int(np.floor(vertices[:, 0].max() + 1e-9))
    rows = np.arange(max(top, 0), min(bottom, shape[0] - 1) + 1, dtype=np.float64)[:, None]
    lo_y, hi_y = np.minimum(v0[:, 0], v1[:, 0]), np.maximum(v0[:, 0], v1[:, 0])
    crosses = (rows >= lo_y - 1e-9) & (rows <= hi_y + 1e-9)
    dy = v1[:, 0] - v0[:, 0]
    t = np.where(dy != 0, (rows - v0[:, 0]) / np.where(dy != 0, dy, 1.0), 0.0)
    x = v0[:, 1] + t * (v1[:, 1] - v0[:, 1])
    x_end = np.where(dy != 0, x, v1[:, 1])  # a horizontal edge spans both of its ends
    left = np.min(np.where(crosses, np.minimum(x, x_end), np.inf), axis=1)
    right = np.max(np.where(crosses, np.maximum(x, x_end), -np.inf), axis=1)
    cols = np.arange(shape[1])
    out = np.zeros(shape, bool)
    r = rows[:, 0].astype(int)
    out[r] = (cols >= np.ceil(left - 1e-9)[:, None]) & (cols <= np.floor(right + 1e-9)[:, None])
    return out


def convex_fill(component: np.ndarray) -> np.ndarray:
    """The pixels whose centres lie in the convex hull of ``component``'s pixel centres (plus the component)."""
    from scipy.spatial import ConvexHull, QhullError

    rows = np.flatnonzero(component.any(axis=1))
    first = np.argmax(component[rows], axis=1)
    last = component.shape[1] - 1 - np.argmax(component[rows, ::-1], axis=1)
    points = np.concatenate([np.stack([rows, first], 1), np.stack([rows, last], 1)]).astype(np.float64)
    try:
        hull = ConvexHull(points)
    except (QhullError, ValueError):  # a line or a point: no area to fill
        return component.copy()
    return fill_convex(points[hull.vertices], component.shape) | component


def sector_signal(frames: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool: the pixels of ``frames`` (``(T, H, W)`` uint8) that look like live tissue.

    Loops of :data:`MIN_LIVE_FRAMES` frames or more: bright (above :data:`SIGNAL_THRESHOLD`) in at
    least :data:`MIN_LIVE_FRACTION` of the frames and changing by :data:`MIN_LIVE_RANGE` or more;
    shorter loops and stills: bright in the temporal maximum.
    """
    tmax = frames.max(axis=0)
    if frames.shape[0] < MIN_LIVE_FRAMES:
        return tmax > SIGNAL_THRESHOLD
    bright = np.zeros(frames.shape[1:], np.int32)
    for frame in frames:  # one frame at a time: no (T, H, W) temporary
        bright += frame > SIGNAL_THRESHOLD
    changing = (tmax.astype(np.int16) - frames.min(axis=0)) >= MIN_LIVE_RANGE
    return (bright >= MIN_LIVE_FRACTION * frames.shape[0]) & changing


def detect_sector(tmax: np.ndarray, within: tuple[int, int, int, int] | None = None) -> np.ndarray | None:
    """The sector mask of a frame's temporal maximum, or None when no sector-sized component exists.

    Args:
        tmax: ``(H, W)`` uint8 temporal maximum of the frames.
        within: optional half-open bbox to search in (e.g. a DICOM region); the result is False outside.
    """
    return detect_signal_sector(tmax > SIGNAL_THRESHOLD, within)


def detect_signal_sector(
    signal: np.ndarray, within: tuple[int, int, int, int] | None = None
) -> np.ndarray | None:
    """The sector mask of a bool signal map (:func:`sector_signal`), or None when none is sector-sized.

    The connected components are searched on a max-pooled grid (shorter side ≈ 200 pixels) for
    speed, after an opening (thin lines and text strokes go) and a closing (speckle gaps close); the
    sector is then the convex hull of the full-resolution signal pixels of the largest.
    """
    r0, c0, r1, c1 = within or (0, 0, *signal.shape)
    inside = signal[r0:r1, c0:c1]
    f = _coarse_factor(inside.shape)
    h, w = -(-inside.shape[0] // f) * f, -(-inside.shape[1] // f) * f
    padded = np.zeros((h, w), bool)
    padded[: inside.shape[0], : inside.shape[1]] = inside
    coarse = padded.reshape(h // f, f, w // f, f).any(axis=(1, 3))
    opened = ndimage.binary_opening(coarse, structure=np.ones((3, 3), bool))
    closed = ndimage.binary_closing(opened, structure=np.ones((5, 5), bool), border_value=0) | opened
    biggest = largest_component(closed)
    if biggest is None or biggest.sum() < MIN_SECTOR_FRACTION * coarse.size:
        return None
    biggest = ndimage.binary_dilation(biggest, structure=np.ones((3, 3), bool))  # what the opening trimmed
    keep = np.repeat(np.repeat(biggest, f, axis=0), f, axis=1)[: inside.shape[0], : inside.shape[1]]
    out = np.zeros(signal.shape, bool)
    out[r0:r1, c0:c1] = convex_fill(inside & keep)
    return out


def region_from_frames(
    frames: np.ndarray,
    rect: tuple[int, int, int, int] | None = None,
    signal: np.ndarray | None = None,
) -> ImagingRegion:
    """The imaging region of ``frames`` (``(T, H, W)`` uint8).

    Args:
        frames: the loop.
        rect: the tissue rectangle of the DICOM ultrasound regions, when known. The mask is then the
            detected sector inside it (or the whole rectangle when none is found), source ``us_regions``.
        signal: :func:`sector_signal` of ``frames`` when already computed.
    """
    shape = frames.shape[1:]
    signal = sector_signal(frames) if signal is None else signal
    sector = detect_signal_sector(signal, rect)
    if rect is not None:
        if sector is None:
            sector = np.zeros(shape, bool)
            sector[rect[0] : rect[2], rect[1] : rect[3]] = True
        return ImagingRegion(rect, sector, "us_regions")
    if sector is None:
        return full_frame(shape)
    return ImagingRegion(bbox_of(sector), sector, "detected")


def largest_component(mask: np.ndarray) -> np.ndarray | None:
    """The largest 4-connected component of a boolean mask, or None when the mask is empty."""
    components, n = ndimage.label(mask)
    if n == 0:
        return None
    return components == 1 + int(np.argmax(np.bincount(components.ravel())[1:]))


def sector_from_image(image: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """The sector of a processed still whose background is exactly 0 (a prepared PNG): the largest
    non-zero region with its holes filled, plus the labelled pixels (bool).

    Loops and raw scanner frames, whose background is noisy and carries overlays, go through
    :func:`detect_sector` instead (a threshold, the temporal maximum and a convex hull).
    """
    biggest = largest_component(image > 0)
    sector = np.zeros(image.shape, dtype=bool) if biggest is None else ndimage.binary_fill_holes(biggest)
    if labels is not None:
        sector |= labels > 0
    return sector
