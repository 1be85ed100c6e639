"""DICOM echo files (pydicom): grayscale frames, calibration from the ultrasound regions, frame times.

What is read (docs/formats.md, "DICOM echo"):

- pixels of any photometric interpretation as ``(T, H, W)`` uint8 grayscale: MONOCHROME2 as is,
  MONOCHROME1 inverted, RGB → ITU-R 601 luma, YBR_FULL / YBR_FULL_422 → their Y channel (the same
  luma), PALETTE COLOR through its lookup table then luma; more than 8 bits stored are scaled by
  ``255 / (2**BitsStored - 1)``;
- calibration and the tissue rectangle: :func:`synthboost.data.imageio.calibration.dicom_calibration`
  (the ultrasound regions, checked against the sector detected on the frames; else consistent
  ``PixelSpacing`` / ``ImagerPixelSpacing``; else uncalibrated — never a guessed spacing, never a
  refusal);
- frame times: ``FrameTimeVector`` (ms increments, first 0), else ``FrameTime`` (ms), else
  ``CineRate`` (frames/s); none of them → unknown.

Compressed pixel data decodes through pydicom's plugins (JPEG family, JPEG 2000, RLE); the video
transfer syntaxes (MPEG-2, MPEG-4 AVC/H.264, HEVC/H.265), whose fragments form one video stream,
through PyAV. A syntax nothing decodes is an error naming it and the package that would.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import math
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from synthboost.data.imageio.calibration import Calibration, dicom_calibration
from synthboost.data.imageio.region import detect_signal_sector, sector_signal
from synthboost.data.imageio.video import decode_video

#: Called with the number of frames decoded so far (:func:`synthboost.data.imageio.budget.frame_guard`).
FrameGuard = Callable[[int], None]

#: Packages that decode each compressed transfer syntax family (named in the error when missing).
DECODER_PACKAGES: dict[str, str] = {
    "JPEG Baseline": "pylibjpeg and pylibjpeg-libjpeg (or Pillow)",
    "JPEG Extended": "pylibjpeg and pylibjpeg-libjpeg (or Pillow)",
    "JPEG Lossless": "pylibjpeg and pylibjpeg-libjpeg",
    "JPEG-LS": "pylibjpeg and pylibjpeg-libjpeg (or pyjpegls)",
    "JPEG 2000": "pylibjpeg and pylibjpeg-openjpeg",
    "High-Throughput JPEG 2000": "pylibjpeg and pylibjpeg-openjpeg",
    "RLE": "pylibjpeg-rle (pydicom's own decoder should handle it)",
    "Deflated": "zlib (part of Python)",
}
#: DICOM video transfer syntaxes (MPEG-2, MPEG-4 AVC/H.264, HEVC/H.265): decoded by PyAV (FFmpeg).
VIDEO_SYNTAXES = frozenset(
    f"1.2.840.10008.1.2.4.{n}" for n in ("100", "100.1", "101", "101.1", "102", "102.1", "103", "103.1",
                                          "104", "104.1", "105", "105.1", "106", "106.1", "107", "108")
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class DicomEcho:
    """What a DICOM echo file gives before the region mask is computed."""

    frames: np.ndarray  # (T, H, W) uint8
    calibration: Calibration
    frame_times_s: np.ndarray | None
    tissue_rect: tuple[int, int, int, int] | None  # half-open (row0, col0, row1, col1)
    signal: np.ndarray  # (H, W) bool: region.sector_signal of the frames

    @property
    def spacing_mm(self) -> tuple[float, float] | None:
        """``(row, col)`` mm, None when uncalibrated."""
        return self.calibration.spacing_mm


def _decoder_hint(ds: Any) -> str:
    if not ds.file_meta.TransferSyntaxUID.is_transfer_syntax:
        return f"unknown transfer syntax {ds.file_meta.TransferSyntaxUID}"
    name = ds.file_meta.TransferSyntaxUID.name
    for family, package in DECODER_PACKAGES.items():
        if name.startswith(family) or family in name:
            return f"transfer syntax {name} ({ds.file_meta.TransferSyntaxUID}); decoder: {package}"
    return f"transfer syntax {name} ({ds.file_meta.TransferSyntaxUID})"


def _luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma of ``(..., H, W, 3)`` uint8 frames (Pillow's ``convert('L')``, exact for grey)."""
    from PIL import Image

    flat = rgb.reshape(-1, *rgb.shape[-3:])
    out = np.empty(flat.shape[:-1], np.uint8)
    h, w = flat.shape[1:3]
    for k, frame in enumerate(flat):  # one frame at a time: no copy of the whole RGB stack
        out[k] = Image.frombuffer("RGB", (w, h), np.ascontiguousarray(frame), "raw", "RGB", 0, 1).convert("L")
    return out.reshape(rgb.shape[:-1])


def _scale_bits(arr: np.ndarray, bits: int, signed: bool = False) -> np.ndarray:
    """Stored values → uint8: ``0 .. 2**bits - 1`` (signed: ``-2**(bits-1) .. 2**(bits-1) - 1``) onto 0..255."""
    if arr.dtype == np.uint8 and not signed:
        return arr
    offset = float(2 ** (bits - 1)) if signed else 0.0
    scaled = (arr.astype(np.float64) + offset) * (255.0 / float(2**bits - 1))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


#: Photometric interpretations whose uncompressed 8-bit pixels are read straight from the buffer.
_DIRECT = ("MONOCHROME1", "MONOCHROME2", "RGB", "YBR_FULL")
#: Transfer syntaxes Pillow decodes fastest (8-bit JPEG); others use pydicom's first available plugin.
_PILLOW_FIRST = ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51")
#: Errors pydicom's decoders and their plugins raise for broken (not merely unsupported) pixel data.
_BROKEN = (ValueError, KeyError, AttributeError, TypeError, EOFError, IndexError, OverflowError, MemoryError)


@dataclasses.dataclass(frozen=True)
class _PixelModule:
    """The Image Pixel module facts the conversion to grey needs, checked."""

    frames: int
    pi: str
    samples: int
    bits: int  # BitsStored
    signed: bool  # PixelRepresentation 1


def int_tag(ds: Any, path: Path | str, tag: str, default: int) -> int:
    """An integer tag of ``ds`` (``default`` when absent or empty); a ValueError naming the file and the tag."""
    value = ds.get(tag, default)
    try:
        return int(value if value not in (None, "") else default)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{path}: DICOM {tag} {value!r} is not an integer") from None


def _pixel_module(ds: Any, path: Path) -> _PixelModule:
    """The checked Image Pixel module of ``ds``: a clear error naming the tag for impossible values."""
    allocated = int_tag(ds, path, "BitsAllocated", 8)
    stored = int_tag(ds, path, "BitsStored", allocated)
    representation = int_tag(ds, path, "PixelRepresentation", 0)
    frames = int_tag(ds, path, "NumberOfFrames", 1) or 1
    samples = int_tag(ds, path, "SamplesPerPixel", 1)
    if not 1 <= stored <= allocated:
        raise ValueError(
            f"{path}: DICOM BitsStored {stored} must be between 1 and BitsAllocated ({allocated})"
        )
    if representation not in (0, 1):
        raise ValueError(f"{path}: DICOM PixelRepresentation must be 0 or 1, got {representation}")
    if frames < 1:
        raise ValueError(f"{path}: DICOM NumberOfFrames must be a positive integer, got {frames}")
    if samples not in (1, 3):
        raise ValueError(f"{path}: {samples} samples per pixel not supported (expected 1 or 3)")
    pi = str(ds.get("PhotometricInterpretation", "")).strip()
    return _PixelModule(frames, pi, samples, stored, representation == 1)


def _direct(ds: Any, path: Path, px: _PixelModule) -> np.ndarray | None:
    """Uncompressed unsigned 8-bit interleaved pixels as a zero-copy view of the buffer, or None when not that case."""
    tsyntax = ds.file_meta.TransferSyntaxUID
    if tsyntax.is_compressed or tsyntax.is_deflated or not tsyntax.is_little_endian:
        return None
    if (
        int(ds.get("BitsAllocated", 0)) != 8
        or px.signed
        or px.pi not in _DIRECT
        or int(ds.get("PlanarConfiguration", 0) or 0) != 0
    ):
        return None
    shape = (px.frames, int(ds.Rows), int(ds.Columns), *((px.samples,) if px.samples > 1 else ()))
    size = int(np.prod(shape))
    data = ds.PixelData
    if len(data) < size:
        raise ValueError(
            f"{path}: broken pixel data ({len(data)} bytes for {px.frames} frames of {shape[1:]})"
        )
    return np.frombuffer(data, np.uint8, count=size).reshape(shape)


def _decode_video(ds: Any, path: Path, guard: FrameGuard | None) -> np.ndarray:
    """The grey frames of a DICOM video transfer syntax: its fragments are one MPEG/H.264/HEVC stream."""
    import io

    from pydicom.encaps import generate_fragments

    try:
        stream = b"".join(generate_fragments(ds.PixelData))
    except (ValueError, KeyError, EOFError) as err:
        raise ValueError(f"{path}: broken encapsulated pixel data ({err})") from None
    try:
        return decode_video(io.BytesIO(stream), path, guard)[0]
    except ValueError as err:
        if type(err).__name__ == "ImageTooLarge":
            raise
        raise ValueError(f"{err} ({_decoder_hint(ds)})") from None


def _to_grey(arr: np.ndarray, ds: Any, path: Path, pi: str, px: _PixelModule) -> np.ndarray:
    """Decoded pixels ``(..., H, W[, 3])`` of photometric interpretation ``pi`` → ``(..., H, W)`` uint8 grey."""
    from pydicom.pixels import apply_color_lut

    samples, bits, signed = (arr.shape[-1] if arr.ndim == 4 or px.samples == 3 else 1), px.bits, px.signed
    if pi == "PALETTE COLOR":
        try:
            arr = apply_color_lut(arr, ds)
        except _BROKEN as err:
            raise ValueError(
                f"{path}: PALETTE COLOR without a usable lookup table ({_first_line(err)})"
            ) from None
        samples, bits, signed = 3, 16 if arr.dtype != np.uint8 else 8, False
    if samples == 3:
        arr = _scale_bits(arr, bits, signed)
        # YBR: the Y channel is the luma; RGB: ITU-R 601 luma.
        return np.ascontiguousarray(arr[..., 0]) if pi.startswith("YBR") else _luma(arr)
    if pi not in ("MONOCHROME1", "MONOCHROME2"):
        raise ValueError(f"{path}: photometric interpretation {pi!r} not supported")
    out = _scale_bits(arr, bits, signed)
    return 255 - out if pi == "MONOCHROME1" else out


def _drop_record(record: logging.LogRecord) -> bool:
    return False


@contextlib.contextmanager
def _quiet_decoder_log() -> Iterator[None]:
    """pydicom logs each failing plugin's traceback (``LOGGER.exception``) before raising: drop those
    records while decoding, the error raised names the file and the plugin's reason."""
    logger = logging.getLogger("pydicom.pixels.decoders.base")
    logger.addFilter(_drop_record)
    try:
        yield
    finally:
        logger.removeFilter(_drop_record)


def _plugin_reason(err: BaseException) -> str:
    """The plugins' own reasons in pydicom's 'raised by all available plugins' error (its first line otherwise)."""
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    return "; ".join(lines[1:]) if len(lines) > 1 else _first_line(err)


def _iter_decoded(ds: Any, path: Path, px: _PixelModule) -> Any:
    """``(frame (H, W[, 3]), photometric interpretation)`` of each frame, decoded one at a time."""
    with _quiet_decoder_log():
        yield from _decoded_frames(ds, path, px)


def _decoded_frames(ds: Any, path: Path, px: _PixelModule) -> Any:
    from pydicom.pixels import get_decoder

    tsyntax = ds.file_meta.TransferSyntaxUID
    try:
        if px.pi == "YBR_FULL_422" and not tsyntax.is_compressed:
            # pydicom's frame iterator miscounts native 4:2:2 frames (2 bytes a pixel, not 3): decode
            # them at once (the header's size was within the budget) and hand them out one by one
            from pydicom.pixels import pixel_array

            arr = pixel_array(ds, as_rgb=False)
            for frame in arr.reshape(px.frames, *arr.shape[-3:]) if px.frames > 1 else arr[None]:
                yield frame, "YBR_FULL"
            return
        decoder = get_decoder(tsyntax)
        plugin = "pillow" if tsyntax in _PILLOW_FIRST and "pillow" in decoder.available_plugins else ""
        frames = decoder.iter_array(ds, as_rgb=False, decoding_plugin=plugin)
        while True:
            item = next(frames, None)
            if item is None:
                return
            arr, meta = item
            yield arr, str(meta.get("photometric_interpretation", px.pi))
    except NotImplementedError:
        raise ValueError(f"{path}: cannot decode the pixel data: {_decoder_hint(ds)}") from None
    except RuntimeError as err:  # no plugin available, or every plugin failed on the data
        if "available" in str(err) and "raised" not in str(err):
            raise ValueError(f"{path}: cannot decode the pixel data: {_decoder_hint(ds)}") from None
        name = ds.file_meta.TransferSyntaxUID.name
        raise ValueError(f"{path}: broken {name} pixel data ({_plugin_reason(err)})") from None
    except _BROKEN as err:
        raise ValueError(f"{path}: broken pixel data ({_first_line(err)})") from None


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _pixels(ds: Any, path: Path, guard: FrameGuard | None = None) -> np.ndarray:
    """Decoded pixels, ``(T, H, W)`` uint8 grayscale, one frame at a time (only the uint8 frames are held)."""
    if "PixelData" not in ds:
        raise ValueError(f"{path}: DICOM file has no pixel data (not an image)")
    px = _pixel_module(ds, path)
    tsyntax = ds.file_meta.TransferSyntaxUID
    if not tsyntax.is_transfer_syntax:
        raise ValueError(f"{path}: cannot decode the pixel data: {_decoder_hint(ds)}")
    if tsyntax in VIDEO_SYNTAXES:
        return _decode_video(ds, path, guard)  # FFmpeg's grey conversion is the luma
    direct = _direct(ds, path, px)
    if direct is not None:
        out = _to_grey(direct, ds, path, px.pi, px)
        return out if out.flags.writeable else out.copy()  # a view of the file's bytes is read-only
    out = None
    for k, (frame, pi) in enumerate(_iter_decoded(ds, path, px)):
        grey = _to_grey(frame, ds, path, pi, px)
        if out is None:
            out = np.empty((px.frames, *grey.shape), np.uint8)
        if k >= px.frames or grey.shape != out.shape[1:]:
            raise ValueError(
                f"{path}: broken pixel data (frame {k} does not match NumberOfFrames × Rows × Columns)"
            )
        out[k] = grey
        if guard is not None:
            guard(k + 1)
    if out is None or k + 1 != px.frames:
        raise ValueError(
            f"{path}: broken pixel data ({0 if out is None else k + 1} of {px.frames} frames decoded)"
        )
    return out


def _number(ds: Any, path: Path, tag: str) -> float | None:
    """A numeric tag as a float (None when absent); a clear error naming the file and the tag otherwise."""
    try:
        value = ds.get(tag)
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{path}: DICOM {tag} {ds.get(tag, '')!r} is not a number") from None


def _frame_times(ds: Any, path: Path, n: int) -> np.ndarray | None:
    """Seconds from the first frame, from FrameTimeVector, FrameTime or CineRate (as the file says them:
    :func:`synthboost.data.imageio.echo.plausible_frame_times` judges them).

    Raises:
        ValueError: a timing tag that is not a number, or a FrameTimeVector of the wrong length.
    """
    vector = ds.get("FrameTimeVector")
    if vector is not None and vector != "":
        vector = vector if isinstance(vector, Sequence) and not isinstance(vector, str) else [vector]
        try:
            inc = np.asarray([float(v) for v in vector], np.float64)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"{path}: DICOM FrameTimeVector holds a value that is not a number") from None
        if len(inc) != n:
            raise ValueError(f"{path}: FrameTimeVector has {len(inc)} values for {n} frames")
        inc[0] = 0.0
        return np.cumsum(inc) / 1000.0
    frame_time = _number(ds, path, "FrameTime")
    if frame_time is not None:
        return np.arange(n) * frame_time / 1000.0 if math.isfinite(frame_time) else np.full(n, np.nan)
    rate = _number(ds, path, "CineRate")
    if rate is not None:
        return np.arange(n) / rate if rate != 0 else np.full(n, np.nan)
    return None


class BoundedFile(io.FileIO):
    """A file whose ``read(n)`` asks for no more than what is left: a corrupt element length (up to 4 GiB)
    would otherwise make CPython allocate ``n`` bytes before reading the few that exist."""

    def read(self, size: int | None = -1) -> bytes:
        if size is not None and size > 0:
            size = min(size, max(os.fstat(self.fileno()).st_size - self.tell(), 0))
        return super().read(size)


def dcmread_bounded(path: Path, **kwargs: Any) -> Any:
    """``pydicom.dcmread`` through a :class:`BoundedFile` (the caller maps its errors)."""
    import pydicom

    with BoundedFile(path, "rb") as f:
        return pydicom.dcmread(f, **kwargs)


def is_dicom(path: Path) -> bool:
    """True when the file carries the DICOM preamble magic ``DICM`` at byte 128."""
    with open(path, "rb") as f:
        head = f.read(132)
    return len(head) == 132 and head[128:] == b"DICM"


def read_dicom(path: Path, guard: FrameGuard | None = None) -> DicomEcho:
    """Read a DICOM echo image or cine loop (see the module docstring).

    Raises:
        ValueError: not DICOM, no pixel data, an undecodable transfer syntax (naming the package to
            install), an unsupported photometric interpretation, or inconsistent timing or regions.
    """
    from pydicom.errors import InvalidDicomError

    try:
        ds = dcmread_bounded(path, force=False)
    except InvalidDicomError:
        raise ValueError(f"{path}: not a DICOM file (no 'DICM' preamble and file meta header)") from None
    except Exception as err:  # noqa: BLE001 - pydicom raises many types for a broken file
        raise ValueError(f"{path}: not a readable DICOM file ({_first_line(err)})") from None
    try:
        frames = _pixels(ds, path, guard)
        if frames.shape[0] == 0 or frames.size == 0:
            raise ValueError(f"{path}: DICOM file holds no frames")
        signal = sector_signal(frames)
        calibration, rect = dicom_calibration(ds, path, detect_signal_sector(signal))
        times = _frame_times(ds, path, frames.shape[0])
    except ValueError:
        raise
    except Exception as err:  # noqa: BLE001 - pydicom converts elements lazily: a broken one raises anything
        raise ValueError(f"{path}: a broken DICOM data element ({_first_line(err)})") from None
    return DicomEcho(frames, calibration, times, rect, signal)
