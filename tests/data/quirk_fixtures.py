"""Echo files as scanners and archives export them, drawn with known geometry (pydicom, PyAV, SimpleITK).

Every display here is drawn by hand: an apical fan whose apex, depth and half-angle are known, a
dark cavity moving inside it, and what real exports put around it (an ECG strip under the fan with a
moving cursor, burned-in text, a grey colour bar, depth-scale dots, a frame border). The masks of
each part come back with the frames, so a test knows the answer.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
from echo_fixtures import us_region, write_dicom


@dataclasses.dataclass(frozen=True)
class Display:
    """A drawn loop and the masks of what it holds."""

    frames: np.ndarray  # (T, H, W) uint8
    fan: np.ndarray  # (H, W) bool: the imaging sector
    ecg: np.ndarray  # (H, W) bool: the ECG strip (trace and cursor area)
    text: np.ndarray  # (H, W) bool: burned-in text, colour bar, depth dots, border
    depth_px: float  # the fan's radius in pixels


def fan_mask(
    shape: tuple[int, int], apex: tuple[float, float], depth: float, half_angle: float = 38
) -> np.ndarray:
    """An apical fan: pixels within ``depth`` of ``apex`` (row, col) and ``half_angle`` degrees of vertical."""
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    y, x = rows - apex[0], cols - apex[1]
    return (y >= 0) & (np.abs(x) <= y * np.tan(np.radians(half_angle))) & (np.hypot(x, y) <= depth)


def draw_fan_loop(
    n: int, shape: tuple[int, int], apex: tuple[float, float], depth: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``(frames, fan)``: speckle (30..220) in the fan, a dark cavity beating inside it, 0 outside."""
    rng = np.random.default_rng(seed)
    fan = fan_mask(shape, apex, depth)
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    frames = np.zeros((n, *shape), np.uint8)
    for t in range(n):
        r = 0.18 + 0.05 * np.cos(2 * np.pi * t / max(n, 1))
        cavity = ((rows - apex[0] - 0.55 * depth) / (0.3 * depth)) ** 2 + (
            (cols - apex[1]) / (r * depth)
        ) ** 2 <= 1
        speckle = rng.integers(30, 221, shape).astype(np.uint8)
        frames[t] = np.where(fan & ~cavity, speckle, np.where(fan, rng.integers(0, 12, shape), 0))
    return frames, fan


def echo_display(n: int = 12, shape: tuple[int, int] = (160, 200), seed: int = 0) -> Display:
    """A scanner display: fan, ECG strip under it with a sweeping cursor, text, colour bar, depth dots, border."""
    h, w = shape
    apex, depth = (8.0, w / 2), 0.72 * h
    frames, fan = draw_fan_loop(n, shape, apex, depth, seed)
    ecg, text = np.zeros(shape, bool), np.zeros(shape, bool)
    top, bottom, left, right = int(apex[0] + depth) + 2, h - 6, 12, w - 12  # strip starts 2 px under the fan
    ecg[top:bottom, left:right] = True
    base = (top + bottom) // 2
    cols = np.arange(left, right)
    trace = base - np.round(
        3 * np.sin(cols / 7.0) + 9 * np.exp(-(((cols - left) % 45 - 20) ** 2) / 3.0)
    ).astype(int)
    step = -(-(right - left) // n)  # the cursor sweeps the whole strip over the loop
    for t in range(n):
        cursor = left + t * step
        for c, r in zip(cols, trace, strict=True):
            if not cursor <= c < cursor + 6:  # the sweep erases a gap in front of the cursor
                frames[t, max(r - 1, top) : min(r + 1, bottom), c] = 255
        frames[t, top:bottom, cursor : cursor + step] = 90  # the cursor band
    # static overlays: text lines, a grey colour bar, depth dots beside the fan, the frame's border
    for k, row in enumerate((4, 12, 20)):
        for c in range(6, 50, 4):
            text[row : row + 5, c] = True  # letter strokes
            text[row + 2 + (k + c) % 3, c : c + 3] = True
    text[30:110, w - 10 : w - 4] = True
    for r in range(20, int(apex[0] + depth), 10):
        text[r : r + 2, int(apex[1] + 0.8 * depth) : int(apex[1] + 0.8 * depth) + 2] = True
    text[0, :] = text[-1, :] = text[:, 0] = text[:, -1] = True
    bar = np.linspace(60, 250, h).astype(np.uint8)[:, None] * np.ones((1, w), np.uint8)
    value = np.where(text, bar, 0).astype(np.uint8)
    value[text & ~(np.arange(w)[None, :] >= w - 10)] = 230
    frames = np.where(text & ~fan, value, frames).astype(np.uint8)
    return Display(frames, fan, ecg, text & ~fan, depth)


def us_dicom(
    path: Path,
    frames: np.ndarray,
    regions: list[Any] | None = None,
    photometric: str = "MONOCHROME2",
    pixels: bytes | None = None,
    **tags: Any,
) -> Path:
    """A US multi-frame DICOM of ``frames`` with the given ultrasound regions (and ``FrameTime`` 40 ms)."""
    if regions is not None:
        tags["SequenceOfUltrasoundRegions"] = regions
    tags.setdefault("FrameTime", "40")
    data = frames.tobytes() if pixels is None else pixels
    return write_dicom(path, data, frames.shape[1:3], frames.shape[0], photometric, **tags)


def resized_export(
    path: Path, factor: int = 2, delta_cm: float = 0.05, margin: float = 0.0
) -> tuple[Path, float]:
    """A loop acquired at (factor·80)×(factor·100) with a tissue region in cm, exported downsampled by
    ``factor`` with the acquisition's region and deltas left as they were. ``margin``: the region is that
    fraction of the fan's depth larger than the fan on every side but the top (the fan fills it nowhere).
    Returns ``(file, fan depth in mm)``."""
    big = (80 * factor, 100 * factor)
    apex, depth = (2.0 * factor, 50.0 * factor), (70.0 if not margin else 60.0) * factor
    frames, _ = draw_fan_loop(8, big, apex, depth, seed=3)
    small = frames.reshape(8, 80, factor, 100, factor).max(axis=(2, 4))
    half, extra = depth * np.sin(np.radians(38)), margin * depth
    rect = (int(apex[0]), int(apex[1] - half - extra) - 1, int(apex[0] + depth + extra) + 1,
            int(apex[1] + half + extra) + 2)  # fmt: skip
    region = us_region(rect, delta_cm=(delta_cm, delta_cm))
    return us_dicom(path, small, [region]), depth * delta_cm * 10.0


def enlarged_export(path: Path, factor: int = 2, delta_cm: float = 0.05) -> tuple[Path, float]:
    """A loop acquired at 80×100 with its tissue region in cm, exported enlarged ``factor`` times (pixels
    repeated) with the acquisition's region and deltas left as they were: the region fits the frame and
    the fan outgrows it. Returns ``(file, fan depth in mm)``."""
    apex, depth = (2.0, 50.0), 70.0
    frames, _ = draw_fan_loop(8, (80, 100), apex, depth, seed=5)
    big = frames.repeat(factor, axis=1).repeat(factor, axis=2)
    half = depth * np.sin(np.radians(38))
    rect = (int(apex[0]), int(apex[1] - half) - 1, int(apex[0] + depth) + 1, int(apex[1] + half) + 2)
    region = us_region(rect, delta_cm=(delta_cm, delta_cm))
    return us_dicom(path, big, [region]), depth * delta_cm * 10.0


def write_nifti_pixdim(path: Path, frames: np.ndarray, pixdim: tuple[float, float]) -> Path:
    """A NIfTI-1 (.nii) of ``frames`` whose header pixdim[1], pixdim[2] (col, row) are patched to ``pixdim``."""
    import struct

    import SimpleITK as sitk

    img = sitk.GetImageFromArray(frames)
    img.SetSpacing((0.3, 0.3, 1.0)[: img.GetDimension()])
    sitk.WriteImage(img, str(path))
    data = bytearray(path.read_bytes())
    data[80:88] = struct.pack("<2f", pixdim[1], pixdim[0])
    path.write_bytes(bytes(data))
    return path
