"""What a file may cost once decoded, checked from its header before a single pixel is decoded.

A small compressed file can hold a huge image (a 130 KB PNG of 16-bit RGBA pixels decodes to
gigabytes), so :func:`check_budget` reads only the header (Pillow's lazy ``open``, SimpleITK's
``ReadImageInformation``, pydicom without pixel data, the video stream's size and frame count) and
refuses the file when ``frames × pixels × channels × bytes per sample`` is over the budget. The one
reader (:func:`synthboost.data.imageio.echo.read_echo`) checks it for every entry point: the CLI, the
Python API and the app share these budgets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from synthboost.data.imageio.dicom import is_dicom
from synthboost.data.imageio.suffixes import DICOM_SUFFIXES, MEDICAL_SUFFIXES, VIDEO_SUFFIXES

#: Sample bits of Pillow modes (the others are 8-bit).
_PIL_BITS = {"1": 1, "I;16": 16, "I;16B": 16, "I;16L": 16, "I;16N": 16, "I": 32, "F": 32}


@dataclass(frozen=True)
class DecodeBudget:
    """What one file may cost once decoded.

    Attributes:
        max_pixels: pixels of one frame.
        max_bytes: bytes of the decoded file (all frames, channels × bytes per sample).
    """

    max_pixels: int = 4096 * 4096
    max_bytes: int = 64 * 2**20


#: The budget of a still image (one frame).
STILL_BUDGET = DecodeBudget()
#: The budget of one frame taken from any file, a loop included (``segment``, ``Segmenter``).
FILE_BUDGET = DecodeBudget(max_pixels=4096 * 4096, max_bytes=512 * 2**20)
#: The budget of a cine loop (all its frames).
LOOP_BUDGET = DecodeBudget(max_pixels=2048 * 2048, max_bytes=512 * 2**20)


@dataclass(frozen=True)
class DecodedSize:
    """Header facts of an image file: ``shape`` (frames..., rows, cols), channels, bits per sample."""

    shape: tuple[int, ...]
    channels: int
    bits: int

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.channels * max(1, self.bits // 8)

    @property
    def frame_pixels(self) -> int:
        return int(np.prod(self.shape[-2:], dtype=np.int64))


class ImageTooLarge(ValueError):
    """A file whose decoded size is over its :class:`DecodeBudget` (refused before decoding)."""


def decoded_size(path: str | Path) -> DecodedSize:
    """Shape, channels and bit depth of an image, loop or video file, from its header only.

    Raises:
        ValueError: the header cannot be read.
        ImageTooLarge: Pillow's own decompression-bomb guard refused to open the file.
    """
    path = Path(path)
    name = path.name.lower()
    if name.endswith(MEDICAL_SUFFIXES):
        return _sitk_size(path)
    if name.endswith(DICOM_SUFFIXES) or is_dicom(path):
        return _dicom_size(path)
    if name.endswith(VIDEO_SUFFIXES):
        return _video_size(path)
    return _pil_size(path)


def _pil_size(path: Path) -> DecodedSize:
    from PIL import Image

    try:
        with Image.open(path) as im:
            bits = _PIL_BITS.get(im.mode, 8)
            if any(";16" in str(t[3]) for t in getattr(im, "tile", []) or []):
                bits = max(bits, 16)  # e.g. a 16-bit RGBA PNG, decoded at 16 bits per sample first
            return DecodedSize((im.size[1], im.size[0]), len(im.getbands()), bits)
    except Image.DecompressionBombError as err:
        raise ImageTooLarge(f"{path}: {err}") from None
    except OSError as err:
        raise ValueError(f"{path}: not a readable image ({err})") from None


def _dicom_size(path: Path) -> DecodedSize:
    import pydicom

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        rows, cols = int(ds.Rows), int(ds.Columns)
        frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
        channels, bits = int(getattr(ds, "SamplesPerPixel", 1)), int(getattr(ds, "BitsAllocated", 8))
    except Exception as err:  # noqa: BLE001 - pydicom raises many types for a broken header
        raise ValueError(f"{path}: not a readable DICOM header ({type(err).__name__})") from None
    return DecodedSize((frames, rows, cols) if frames > 1 else (rows, cols), channels, bits)


def _video_size(path: Path) -> DecodedSize:
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            frames = stream.frames or _frames_from_duration(stream, container)
            return DecodedSize((frames, stream.codec_context.height, stream.codec_context.width), 3, 8)
    except (av.error.FFmpegError, OSError, IndexError, TypeError) as err:
        raise ValueError(f"{path}: not a readable video ({type(err).__name__})") from None


def _frames_from_duration(stream: Any, container: Any) -> int:
    """Frames of a stream whose header gives no count (Matroska, WebM): its duration (else the container's)
    times its rate, else its packets counted without decoding."""
    rate = stream.average_rate or stream.guessed_rate
    if stream.duration is not None and stream.time_base and rate:
        return int(float(stream.duration * stream.time_base * rate))
    if container.duration is not None and rate:
        return int(round(container.duration / 1e6 * float(rate)))
    return sum(1 for packet in container.demux(stream) if packet.size)


def _sitk_size(path: Path) -> DecodedSize:
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        raise ValueError(f"{path}: cannot read the image header") from None
    bits = re.search(r"(\d+)-bit", sitk.GetPixelIDValueAsString(reader.GetPixelID()))
    shape = tuple(int(s) for s in reversed(reader.GetSize()))
    return DecodedSize(shape, reader.GetNumberOfComponents(), int(bits.group(1)) if bits else 64)


def check_budget(path: str | Path, budget: DecodeBudget) -> DecodedSize:
    """:func:`decoded_size`, refused with :class:`ImageTooLarge` when over ``budget``."""
    path = Path(path)
    size = decoded_size(path)
    dims = "×".join(str(s) for s in size.shape)
    what = f"{dims} pixels × {size.channels} channel(s) × {size.bits} bit"
    if size.frame_pixels > budget.max_pixels:
        raise ImageTooLarge(
            f"{path}: {what}: more than the {budget.max_pixels:,} pixels per frame this tool decodes"
        )
    if size.nbytes > budget.max_bytes:
        raise ImageTooLarge(
            f"{path}: {what} = {size.nbytes / 2**20:,.0f} MiB decoded, more than the "
            f"{budget.max_bytes / 2**20:,.0f} MiB this tool decodes per file"
        )
    return size
