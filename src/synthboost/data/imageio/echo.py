"""One reader for echo images and loops: DICOM, NIfTI/MetaImage sequences, AVI/MP4, PNG/JPEG.

:func:`read_echo` returns an :class:`EchoLoop`: ``(T, H, W)`` uint8 grayscale frames, the pixel
spacing in mm or None ("uncalibrated" — never guessed), frame times in seconds where the file
says them, and the :class:`ImagingRegion` (the tissue sector, in original frame pixels). What each
format gives is documented in docs/formats.md ("Echo inputs"):

- DICOM (``.dcm``, or any file with the DICOM preamble): :mod:`synthboost.data.imageio.dicom`.
- MetaImage / NIfTI / NRRD (``.mhd .mha .nii .nii.gz .nrrd``), 2-D or 2-D + time (CAMUS 2023
  ``*_half_sequence.nii.gz``): spacing from the header (calibration ``header``; NaN, 0, infinite or
  implausible spacings, or a MetaImage without ``ElementSpacing``: uncalibrated with a warning); frame times from
  ``FrameRate`` in the CAMUS ``Info_<view>.cfg`` beside the file when present; label maps from
  the ``<stem>_gt`` file beside it when present.
- AVI / MP4 / MOV / MKV / WebM through PyAV: frame times from the container, uncalibrated, the pixel
  aspect from the stream's sample aspect ratio (square when none).
- PNG / JPEG / BMP / TIFF (one frame, colour → luma), uncalibrated, square pixels.

Every loop carries a :class:`~synthboost.data.imageio.calibration.Calibration` record (source,
spacing, rescale factor, warnings, pixel aspect); each warning is also logged.

The region of files without DICOM ultrasound regions is detected from the frames
(:func:`synthboost.data.imageio.region.detect_sector`).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from pathlib import Path

import numpy as np

from synthboost.data.imageio.budget import DecodeBudget, FrameGuard, check_budget, frame_guard
from synthboost.data.imageio.calibration import (
    CALIBRATION_SOURCES,
    Calibration,
    header_calibration,
    header_problem,
    uncalibrated,
    video_calibration,
)
from synthboost.data.imageio.camus_info import PatientInfo, parse_cfg
from synthboost.data.imageio.dicom import is_dicom, read_dicom
from synthboost.data.imageio.medical import read_medical_array, read_png, to_uint8
from synthboost.data.imageio.region import ImagingRegion, region_from_frames
from synthboost.data.imageio.suffixes import DICOM_SUFFIXES, IMAGE_SUFFIXES, MEDICAL_SUFFIXES, VIDEO_SUFFIXES
from synthboost.data.imageio.video import read_video
from synthboost.logs import get_logger

__all__ = ["CALIBRATIONS", "Calibration", "EchoLoop", "ImagingRegion", "plausible_frame_times", "read_echo"]

log = get_logger("data.echo")

#: Frame rates an echo loop can have (Hz); frame times outside are not used (a warning, no frame times).
FRAME_RATE_RANGE_HZ: tuple[float, float] = (1.0, 1000.0)

CALIBRATIONS: tuple[str, ...] = CALIBRATION_SOURCES
log = get_logger("imageio")
_CAMUS_STEM = re.compile(r"^(patient\d{4})_(2CH|4CH)_")


@dataclasses.dataclass(frozen=True)
class EchoLoop:
    """An echo image or loop as read from one file.

    Attributes:
        frames: ``(T, H, W)`` uint8 grayscale (``T = 1`` for a still image).
        spacing_mm: ``(row, col)`` pixel size in mm; None when the file does not say it.
        frame_times_s: ``(T,)`` seconds from the first frame; None when unknown.
        region: the tissue region in original frame pixels.
        calibration: the :class:`Calibration` record (``calibration.source``: ``us_regions``,
            ``pixel_spacing``, ``imager_pixel_spacing``, ``header``, ``user`` or ``uncalibrated``);
            a source string is accepted and made a record with ``spacing_mm``.
        source: the file read.
        labels: ``(T, H, W)`` uint8 label maps where the file pair carries them (CAMUS ``_gt``).
    """

    frames: np.ndarray
    spacing_mm: tuple[float, float] | None
    frame_times_s: np.ndarray | None
    region: ImagingRegion
    calibration: Calibration
    source: Path
    labels: np.ndarray | None = None

    def __post_init__(self) -> None:
        if isinstance(self.calibration, str):
            if self.calibration not in CALIBRATIONS:
                raise ValueError(f"{self.source}: calibration {self.calibration!r} not one of {CALIBRATIONS}")
            if (self.spacing_mm is None) != (self.calibration == "uncalibrated"):
                raise ValueError(f"{self.source}: spacing {self.spacing_mm} contradicts {self.calibration!r}")
            object.__setattr__(self, "calibration", Calibration(self.calibration, self.spacing_mm))
        if self.spacing_mm != self.calibration.spacing_mm:
            raise ValueError(
                f"{self.source}: spacing {self.spacing_mm} contradicts its calibration {self.calibration}"
            )
        t = self.frames.shape[0]
        if self.frame_times_s is not None and self.frame_times_s.shape != (t,):
            raise ValueError(f"{self.source}: {len(self.frame_times_s)} frame times for {t} frames")
        if self.labels is not None and self.labels.shape != self.frames.shape:
            raise ValueError(
                f"{self.source}: labels {self.labels.shape} do not match frames {self.frames.shape}"
            )

    @property
    def n_frames(self) -> int:
        """Number of frames ``T``."""
        return int(self.frames.shape[0])

    @property
    def frame_rate(self) -> float | None:
        """Mean frames per second, from the frame times (None when unknown or a single frame)."""
        if self.frame_times_s is None or self.n_frames < 2 or self.frame_times_s[-1] <= 0:
            return None
        return float((self.n_frames - 1) / self.frame_times_s[-1])

    def masked_frames(self) -> np.ndarray:
        """The frames with everything outside the imaging region set to 0 (text, ECG trace, marks)."""
        return self.region.apply(self.frames)


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else path.suffix.lower()


def _gt_path(path: Path) -> Path:
    suffix = _suffix(path)
    return path.with_name(
        path.name[: len(path.name) - len(suffix)] + "_gt" + path.name[len(path.name) - len(suffix) :]
    )


def _camus_cfg(path: Path) -> Path | None:
    """``Info_<view>.cfg`` beside a ``patientNNNN_<view>_*`` file (None when absent)."""
    m = _CAMUS_STEM.match(path.name)
    cfg = path.with_name(f"Info_{m.group(2)}.cfg") if m else None
    return cfg if cfg is not None and cfg.is_file() else None


def camus_info(path: str | os.PathLike) -> PatientInfo | None:
    """The parsed CAMUS ``Info_<view>.cfg`` beside a ``patientNNNN_<view>_*`` file, or None when absent."""

    cfg = _camus_cfg(Path(path))
    return parse_cfg(cfg) if cfg is not None else None


def _camus_frame_rate(path: Path) -> float | None:
    """``FrameRate`` of the CAMUS ``Info_<view>.cfg`` beside a ``patientNNNN_<view>_*`` file."""
    info = camus_info(path)
    rate = info.frame_rate if info is not None else None
    if rate is not None and rate <= 0:
        raise ValueError(f"{_camus_cfg(path)}: FrameRate must be > 0, got {rate}")
    return rate


def stretch_to_unit(arr: np.ndarray) -> np.ndarray:
    """Image values as :func:`to_uint8` takes them: integers in 0..255 and floats in [0, 1] stay, any
    other range (16-bit, signed, other floats) is stretched to [0, 1] from its minimum to its maximum."""
    lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
    top = 1.0 if np.issubdtype(arr.dtype, np.floating) else 255
    if arr.dtype == np.uint8 or (lo >= 0 and hi <= top):
        return arr
    return (arr.astype(np.float64) - lo) / max(hi - lo, 1e-12)


def _as_sequence(arr: np.ndarray, path: Path) -> np.ndarray:
    if arr.ndim == 2:
        return arr[None]
    if arr.ndim == 3:
        return arr
    raise ValueError(f"{path}: expected a 2-D image or a 2-D + time sequence, got shape {arr.shape}")


def _loop(
    frames: np.ndarray,
    calibration: Calibration,
    times: np.ndarray | None,
    path: Path,
    rect: tuple[int, int, int, int] | None = None,
    signal: np.ndarray | None = None,
    labels: np.ndarray | None = None,
) -> EchoLoop:
    """An :class:`EchoLoop` with its region detected; the calibration's warnings logged."""
    for warning in calibration.warnings:
        log.warning("%s", warning)
    region = region_from_frames(frames, rect, signal)
    return EchoLoop(frames, calibration.spacing_mm, times, region, calibration, path, labels)


def _respaced_header(path: Path, folder: Path) -> Path:
    """A copy of a MetaImage in ``folder`` whose ElementSpacing is 1 (its data file named by absolute path)."""
    data = path.read_bytes()
    out, offset, ndims = [], 0, 3
    for line in data.splitlines(keepends=True):
        offset += len(line)
        key, _, value = line.decode("latin-1").partition("=")
        key, value = key.strip(), value.strip()
        if key == "NDims" and value.isdigit():
            ndims = int(value)
        if key in ("ElementSpacing", "ElementSize"):
            continue
        if key == "ElementDataFile":
            if value not in ("LOCAL", "LIST") and "%" not in value:
                value = str((path.parent / value).resolve())
            out.append(
                f"ElementSpacing = {' '.join(['1'] * ndims)}\nElementDataFile = {value}\n".encode("latin-1")
            )
            break
        out.append(line)
    copy = folder / path.name
    copy.write_bytes(b"".join(out) + (data[offset:] if _suffix(path) == ".mha" else b""))
    return copy


def _read_medical_pixels(path: Path) -> tuple[np.ndarray, tuple[float, ...]]:
    """:func:`read_medical_array`; a MetaImage SimpleITK refuses for its spacing alone (NaN, 0, inf) is read
    with the spacing set aside (the calibration then says uncalibrated): never refused for its calibration."""
    import tempfile

    try:
        return read_medical_array(path)
    except ValueError:
        if _suffix(path) not in (".mhd", ".mha") or header_problem(path) is None:
            raise
    with tempfile.TemporaryDirectory(prefix="synthboost-mhd-") as tmp:
        return read_medical_array(_respaced_header(path, Path(tmp)))


def _read_medical(path: Path) -> EchoLoop:
    arr, spacing = _read_medical_pixels(path)
    arr = _as_sequence(np.squeeze(arr) if arr.ndim > 3 else arr, path)
    frames = to_uint8(stretch_to_unit(arr))
    labels = None
    gt = _gt_path(path)
    if not path.name.lower().split(".")[0].endswith("_gt") and gt.is_file():
        lab, _ = read_medical_array(gt)
        labels = to_uint8(_as_sequence(lab, gt))
        if labels.shape != frames.shape:
            raise ValueError(f"{gt}: label shape {labels.shape} does not match {path.name} {frames.shape}")
    rate = _camus_frame_rate(path)
    times = plausible_frame_times(np.arange(frames.shape[0]) / rate, path) if rate else None
    return _loop(frames, header_calibration(spacing[-2:], path), times, path, labels=labels)


def plausible_frame_times(times: np.ndarray | None, path: Path) -> np.ndarray | None:
    """``times`` when every step is a plausible frame interval (finite, a rate within
    :data:`FRAME_RATE_RANGE_HZ`), else None with a warning naming the file: never a made-up rate."""
    if times is None:
        return None
    times = np.asarray(times, np.float64)
    lo, hi = FRAME_RATE_RANGE_HZ
    steps = np.diff(times)
    problem = None
    if not np.isfinite(times).all():
        problem = "frame times that are not finite numbers"
    elif len(steps) and not ((steps >= 1.0 / hi) & (steps <= 1.0 / lo)).all():
        worst = float(steps.min() if (steps < 1.0 / hi).any() else steps.max())
        rate = 1.0 / worst if worst > 0 else math.inf
        problem = f"a frame interval of {worst * 1000:g} ms ({rate:g} Hz, outside {lo:g}-{hi:g} Hz)"
    if problem is None:
        return times
    log.warning("%s: %s: no frame times used (frame rate and heart rate unknown)", path, problem)
    return None


def _read_image(path: Path) -> EchoLoop:
    return _loop(read_png(path)[None], uncalibrated(), None, path)


def _read_dicom(path: Path, guard: FrameGuard | None) -> EchoLoop:
    d = read_dicom(path, guard)
    times = plausible_frame_times(d.frame_times_s, path)
    return _loop(d.frames, d.calibration, times, path, d.tissue_rect, d.signal)


def _read_video(path: Path, guard: FrameGuard | None) -> EchoLoop:
    frames, times = read_video(path, guard)
    return _loop(frames, video_calibration(path), plausible_frame_times(times, path), path)


def read_echo(path: str | os.PathLike, budget: DecodeBudget | None = None) -> EchoLoop:
    """Read an echo image or loop from DICOM, NIfTI/MetaImage, AVI/MP4 or PNG/JPEG.

    Args:
        path: the file.
        budget: what it may cost decoded (bytes, pixels per frame, frames, seconds), checked from the
            header first (:func:`~synthboost.data.imageio.budget.check_budget`) and after every decoded
            frame (:func:`~synthboost.data.imageio.budget.frame_guard`); None: no check (trusted files
            the project wrote itself).

    Raises:
        FileNotFoundError: the file does not exist.
        ImageTooLarge: over the budget (a ``ValueError``).
        ValueError: an unknown format, or a file that cannot be read (the message names the file and
            the problem, e.g. the package that decodes a compressed DICOM transfer syntax).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    guard = None
    if budget is not None:
        check_budget(path, budget)
        guard = frame_guard(path, budget)
    suffix = _suffix(path)
    if suffix in DICOM_SUFFIXES or (
        suffix not in (*MEDICAL_SUFFIXES, *VIDEO_SUFFIXES, *IMAGE_SUFFIXES) and is_dicom(path)
    ):
        return _read_dicom(path, guard)
    if suffix in MEDICAL_SUFFIXES:
        return _read_medical(path)
    if suffix in VIDEO_SUFFIXES:
        return _read_video(path, guard)
    if suffix in IMAGE_SUFFIXES:
        return _read_image(path)
    raise ValueError(
        f"{path}: unknown echo format {suffix or '(no suffix, no DICOM preamble)'} "
        f"(expected DICOM, {', '.join(MEDICAL_SUFFIXES + VIDEO_SUFFIXES + IMAGE_SUFFIXES)})"
    )
