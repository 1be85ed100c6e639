"""The imaging region of an echo frame: where the tissue sector is, and how to mask, crop and map back.

Scanner exports carry more than the image: burned-in text (patient, depth, frame rate), an ECG
trace, measurement marks and colour bars, all outside the tissue sector. :class:`ImagingRegion`
says where the sector is, in the original frame's pixels. It comes from the DICOM ultrasound
regions where present (``source="us_regions"``), else from :func:`detect_sector` on the frames
(``"detected"``), else it is the whole frame (``"full_frame"``).

The detector takes the temporal maximum over the frames (the sector is bright somewhere in every
pixel over a loop, speckle moves, text does not grow), thresholds it, closes small gaps, keeps
the largest connected component, fills its holes and takes its convex hull (an apical sector is
convex). A component covering less than :data:`MIN_SECTOR_FRACTION` of the frame is not a sector.
"""

from __future__ import annotations

import dataclasses

import numpy as np

#: Regions from the DICOM ``SequenceOfUltrasoundRegions``, the detector, or the whole frame.
REGION_SOURCES: tuple[str, ...] = ("us_regions", "detected", "full_frame")
#: Grey level above which a pixel of the temporal maximum counts as signal.
SIGNAL_THRESHOLD = 8
#: A detected component must cover at least this fraction of the searched area.
MIN_SECTOR_FRACTION = 0.05


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


def detect_sector(tmax: np.ndarray, within: tuple[int, int, int, int] | None = None) -> np.ndarray | None:
    """The sector mask of a frame's temporal maximum, or None when no sector-sized component exists.

    Args:
        tmax: ``(H, W)`` uint8 temporal maximum of the frames.
        within: optional half-open bbox to search in (e.g. a DICOM region); the result is False outside.
    """
    from scipy import ndimage
    from skimage.morphology import convex_hull_image

    r0, c0, r1, c1 = within or (0, 0, *tmax.shape)
    signal = tmax[r0:r1, c0:c1] > SIGNAL_THRESHOLD
    signal = ndimage.binary_closing(signal, structure=np.ones((5, 5), bool), border_value=0) | signal
    labels, n = ndimage.label(signal)
    if n == 0:
        return None
    sizes = np.bincount(labels.ravel())[1:]
    biggest = int(np.argmax(sizes)) + 1
    if sizes[biggest - 1] < MIN_SECTOR_FRACTION * signal.size:
        return None
    filled = ndimage.binary_fill_holes(labels == biggest)
    if min(filled.shape) < 3 or filled.sum() < 3:
        hull = filled
    else:  # pixel centres, not corners: the hull of a digitised fan is the fan
        hull = convex_hull_image(filled, offset_coordinates=False) | filled
    out = np.zeros(tmax.shape, bool)
    out[r0:r1, c0:c1] = hull
    return out


def region_from_frames(frames: np.ndarray, rect: tuple[int, int, int, int] | None = None) -> ImagingRegion:
    """The imaging region of ``frames`` (``(T, H, W)`` uint8).

    Args:
        frames: the loop.
        rect: the tissue rectangle of the DICOM ultrasound regions, when known. The mask is then the
            detected sector inside it (or the whole rectangle when none is found), source ``us_regions``.
    """
    shape = frames.shape[1:]
    tmax = frames.max(axis=0)
    sector = detect_sector(tmax, rect)
    if rect is not None:
        if sector is None:
            sector = np.zeros(shape, bool)
            sector[rect[0] : rect[2], rect[1] : rect[3]] = True
        return ImagingRegion(rect, sector, "us_regions")
    if sector is None:
        return full_frame(shape)
    return ImagingRegion(bbox_of(sector), sector, "detected")
