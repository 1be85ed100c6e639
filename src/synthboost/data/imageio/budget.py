"""What a file may cost once decoded, checked from its header before a single pixel is decoded.

A small compressed file can hold a huge image (a 130 KB PNG of 16-bit RGBA pixels decodes to
gigabytes), so :func:`check_budget` reads only the header (Pillow's lazy ``open``, SimpleITK's
``ReadImageInformation``, pydicom without pixel data, the video stream's size and frame count) and
refuses the file when ``frames × pixels × channels × bytes per sample``, the pixels of one frame or
the number of frames is over the budget. A header can lie (a video container's frame count is a
hint), so the decoders also check the frame count and the decoding time frame by frame
(:func:`frame_guard`) and stop at the first frame over the budget. The one reader
(:func:`synthboost.data.imageio.echo.read_echo`) checks both for every entry point: the CLI, the
Python API and the app share these budgets.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthboost.data.imageio.dicom import dcmread_bounded, int_tag, is_dicom
from synthboost.data.imageio.medical import check_metaimage_header, sitk_path
from synthboost.data.imageio.suffixes import DICOM_SUFFIXES, MEDICAL_SUFFIXES, VIDEO_SUFFIXES

#: Sample bits of Pillow modes (the others are 8-bit).
_PIL_BITS = {"1": 1, "I;16": 16, "I;16B": 16, "I;16L": 16, "I;16N": 16, "I": 32, "F": 32}


@dataclass(frozen=True)
class DecodeBudget:
    """What one file may cost once decoded.

    Attributes:
        max_pixels: pixels of one frame.
        max_bytes: bytes of the decoded file (all frames, channels × bytes per sample).
        max_frames: frames of the file (every frame costs a pass through the model downstream).
        max_seconds: wall-clock seconds the decoding may take (checked after every frame).
    """

    max_pixels: int = 4096 * 4096
    max_bytes: int = 64 * 2**20
    max_frames: int = 1024
    max_seconds: float = 120.0

    def __post_init__(self) -> None:
        for name in ("max_pixels", "max_bytes", "max_frames"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(
                    f"DecodeBudget.{name} must be a positive integer, got {getattr(self, name)!r}"
                )
        if not (isinstance(self.max_seconds, (int, float)) and math.isfinite(self.max_seconds)) or (
            self.max_seconds <= 0
        ):
            raise ValueError(f"DecodeBudget.max_seconds must be a positive number, got {self.max_seconds!r}")


#: The budget of a still image (one frame).
STILL_BUDGET = DecodeBudget()
#: The budget of one frame taken from any file, a loop included (``segment``, ``Segmenter``).
FILE_BUDGET = DecodeBudget(max_pixels=4096 * 4096, max_bytes=512 * 2**20)
#: The budget of a cine loop (all its frames).
LOOP_BUDGET = DecodeBudget(max_pixels=2048 * 2048, max_bytes=512 * 2**20)
#: The budget of one raw file being prepared into a dataset (``prepare``: EchoNet videos, CAMUS sequences;
#: EchoNet-Dynamic's longest videos hold about 1,000 frames).
PREPARE_BUDGET = DecodeBudget(
    max_pixels=2048 * 2048, max_bytes=1024 * 2**20, max_frames=4096, max_seconds=600.0
)


@dataclass(frozen=True)
class DecodedSize:
    """Header facts of an image file: ``shape`` (frames..., rows, cols), channels, bits per sample."""

    shape: tuple[int, ...]
    channels: int
    bits: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.channels * max(1, self.bits // 8)

    @property
    def frame_pixels(self) -> int:
        return math.prod(self.shape[-2:])


class ImageTooLarge(ValueError):
    """A file whose decoded size is over its :class:`DecodeBudget` (refused before decoding)."""


#: The clock of the time budget (seconds; a module attribute so that a test can drive it).
clock: Callable[[], float] = time.monotonic

#: What a decoder calls after each frame with the number of frames decoded so far (raises when over).
FrameGuard = Callable[[int], None]


def _reason(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__


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
    try:
        ds = dcmread_bounded(path, stop_before_pixels=True)
        rows, cols = int_tag(ds, path.name, "Rows", 0), int_tag(ds, path.name, "Columns", 0)
        frames = int_tag(ds, path.name, "NumberOfFrames", 1) or 1
        channels = int_tag(ds, path.name, "SamplesPerPixel", 1)
        bits = int_tag(ds, path.name, "BitsAllocated", 8)
    except ValueError as err:
        if str(err).startswith(path.name):
            raise  # int_tag's own message: the file and the tag
        raise ValueError(f"{path}: not a readable DICOM header ({_reason(err)})") from None
    except Exception as err:  # noqa: BLE001 - pydicom raises many types for a broken header
        raise ValueError(f"{path}: not a readable DICOM header ({_reason(err)})") from None
    for tag, value in (
        ("Rows", rows),
        ("Columns", cols),
        ("NumberOfFrames", frames),
        ("SamplesPerPixel", channels),
    ):
        if value < 1:
            raise ValueError(f"{path}: DICOM {tag} must be a positive integer, got {value}")
    if bits not in (1, 8, 16, 32, 64):
        raise ValueError(f"{path}: DICOM BitsAllocated must be 1, 8, 16, 32 or 64, got {bits}")
    return DecodedSize((frames, rows, cols) if frames > 1 else (rows, cols), channels, bits)


def _video_size(path: Path) -> DecodedSize:
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            frames = stream.frames or _frames_from_duration(stream, container)
            rows, cols = int(stream.codec_context.height), int(stream.codec_context.width)
    except Exception as err:  # noqa: BLE001 - PyAV raises many types for a broken container
        raise ValueError(f"{path}: not a readable video ({_reason(err)})") from None
    if rows < 1 or cols < 1:
        raise ValueError(f"{path}: not a readable video (frame size {rows}×{cols})")
    return DecodedSize((frames, rows, cols), 3, 8)


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
    reader.SetFileName(sitk_path(path))
    check_metaimage_header(path)
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        raise ValueError(f"{path}: cannot read the image header") from None
    bits = re.search(r"(\d+)-bit", sitk.GetPixelIDValueAsString(reader.GetPixelID()))
    shape = tuple(int(s) for s in reversed(reader.GetSize()))
    return DecodedSize(shape, reader.GetNumberOfComponents(), int(bits.group(1)) if bits else 64)


def _amount(nbytes: int) -> str:
    """``37 MiB`` (whole MiB), or ``1,536 bytes`` under 16 MiB where rounding would hide the difference."""
    return f"{nbytes / 2**20:,.0f} MiB" if nbytes >= 16 * 2**20 else f"{nbytes:,} bytes"


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
            f"{path}: {what} = {_amount(size.nbytes)} decoded, more than the "
            f"{_amount(budget.max_bytes)} this tool decodes per file"
        )
    frames = math.prod(size.shape[:-2])
    if frames > budget.max_frames:
        raise ImageTooLarge(
            f"{path}: {frames:,} frames, more than the {budget.max_frames:,} frames this tool decodes per file"
        )
    return size


def frame_guard(path: str | Path, budget: DecodeBudget) -> FrameGuard:
    """A :data:`FrameGuard` for one decoding of ``path``: refuses the frame after ``budget.max_frames`` and
    any frame decoded after ``budget.max_seconds`` (the clock starts now).

    Raises (from the guard):
        ImageTooLarge: over the frame or the time budget, naming the file and the limit.
    """
    name, start = Path(path).name, clock()

    def guard(n_decoded: int) -> None:
        if n_decoded > budget.max_frames:
            raise ImageTooLarge(
                f"{name}: more than the {budget.max_frames:,} frames this tool decodes per file "
                "(the header said fewer)"
            )
        elapsed = clock() - start
        if elapsed > budget.max_seconds:
            raise ImageTooLarge(
                f"{name}: decoding took more than the {budget.max_seconds:g} s this tool allows per file "
                f"({n_decoded:,} frames in {elapsed:.0f} s)"
            )

    return guard
