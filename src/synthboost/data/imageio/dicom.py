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

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from synthboost.data.imageio.calibration import Calibration, dicom_calibration
from synthboost.data.imageio.region import detect_signal_sector, sector_signal
from synthboost.data.imageio.video import decode_video

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


def _scale_bits(arr: np.ndarray, bits: int) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    top = float(2**bits - 1)
    return np.clip(np.rint(arr.astype(np.float32) * (255.0 / top)), 0, 255).astype(np.uint8)


#: Photometric interpretations whose uncompressed 8-bit pixels are read straight from the buffer.
_DIRECT = ("MONOCHROME1", "MONOCHROME2", "RGB", "YBR_FULL")
#: Transfer syntaxes Pillow decodes fastest (8-bit JPEG); others use pydicom's first available plugin.
_PILLOW_FIRST = ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51")


def _direct(ds: Any, path: Path, pi: str, samples: int) -> np.ndarray | None:
    """Uncompressed 8-bit interleaved pixels as a zero-copy view of the buffer, or None when not that case."""
    tsyntax = ds.file_meta.TransferSyntaxUID
    if tsyntax.is_compressed or tsyntax.is_deflated or not tsyntax.is_little_endian:
        return None
    if (
        int(ds.get("BitsAllocated", 0)) != 8
        or pi not in _DIRECT
        or int(ds.get("PlanarConfiguration", 0)) != 0
    ):
        return None
    n = int(ds.get("NumberOfFrames", 1) or 1)
    shape = (n, int(ds.Rows), int(ds.Columns), *((samples,) if samples > 1 else ()))
    size = int(np.prod(shape))
    data = ds.PixelData
    if len(data) < size:
        raise ValueError(f"{path}: broken pixel data ({len(data)} bytes for {n} frames of {shape[1:]})")
    return np.frombuffer(data, np.uint8, count=size).reshape(shape)


def _decode_video(ds: Any, path: Path) -> np.ndarray:
    """The grey frames of a DICOM video transfer syntax: its fragments are one MPEG/H.264/HEVC stream."""
    import io

    from pydicom.encaps import generate_fragments

    try:
        stream = b"".join(generate_fragments(ds.PixelData))
    except (ValueError, KeyError, EOFError) as err:
        raise ValueError(f"{path}: broken encapsulated pixel data ({err})") from err
    try:
        return decode_video(io.BytesIO(stream), path)[0]
    except ValueError as err:
        raise ValueError(f"{err} ({_decoder_hint(ds)})") from err


def _decode(ds: Any, path: Path, pi: str, samples: int) -> tuple[np.ndarray, str]:
    """``(pixels (T, H, W[, 3]), photometric interpretation of what was returned)``; no colour conversion."""
    from pydicom.pixels import get_decoder

    tsyntax = ds.file_meta.TransferSyntaxUID
    if not tsyntax.is_transfer_syntax:
        raise ValueError(f"{path}: cannot decode the pixel data: {_decoder_hint(ds)}")
    if tsyntax in VIDEO_SYNTAXES:
        return _decode_video(ds, path), "MONOCHROME2"  # FFmpeg's grey conversion is the luma
    direct = _direct(ds, path, pi, samples)
    if direct is not None:
        return direct, pi
    try:
        decoder = get_decoder(tsyntax)
        plugin = "pillow" if tsyntax in _PILLOW_FIRST and "pillow" in decoder.available_plugins else ""
        arr, meta = decoder.as_array(ds, as_rgb=False, decoding_plugin=plugin)
    except (NotImplementedError, RuntimeError) as err:
        raise ValueError(f"{path}: cannot decode the pixel data: {_decoder_hint(ds)}") from err
    except (ValueError, KeyError, AttributeError, TypeError, EOFError) as err:
        raise ValueError(f"{path}: broken pixel data ({str(err).splitlines()[0]})") from err
    if arr.ndim == (2 if samples == 1 else 3):
        arr = arr[None]
    return arr, str(meta.get("photometric_interpretation", pi))


def _pixels(ds: Any, path: Path) -> np.ndarray:
    """Decoded pixels, ``(T, H, W)`` uint8 grayscale."""
    from pydicom.pixels import apply_color_lut

    if "PixelData" not in ds:
        raise ValueError(f"{path}: DICOM file has no pixel data (not an image)")
    pi = str(ds.get("PhotometricInterpretation", "")).strip()
    samples = int(ds.get("SamplesPerPixel", 1))
    bits = int(ds.get("BitsStored", 8))
    arr, pi = _decode(ds, path, pi, samples)
    samples = arr.shape[-1] if arr.ndim == 4 else 1
    if pi == "PALETTE COLOR":
        arr = apply_color_lut(arr, ds)
        samples, bits = 3, 16 if arr.dtype != np.uint8 else 8
    if samples == 3:
        arr = _scale_bits(arr, bits)
        # YBR: the Y channel is the luma; RGB: ITU-R 601 luma.
        return np.ascontiguousarray(arr[..., 0]) if pi.startswith("YBR") else _luma(arr)
    if samples != 1:
        raise ValueError(f"{path}: {samples} samples per pixel not supported (expected 1 or 3)")
    if pi == "MONOCHROME1":
        arr = (2**bits - 1) - arr.astype(np.int64)
    elif pi != "MONOCHROME2":
        raise ValueError(f"{path}: photometric interpretation {pi!r} not supported")
    out = _scale_bits(arr.astype(np.uint16) if arr.dtype != np.uint8 else arr, bits)
    return out if out.flags.writeable else out.copy()  # a view of the file's bytes is read-only


def _frame_times(ds: Any, path: Path, n: int) -> np.ndarray | None:
    """Seconds from the first frame, from FrameTimeVector, FrameTime or CineRate."""
    vector = ds.get("FrameTimeVector")
    if vector is not None and len(vector) > 0:
        inc = np.asarray([float(v) for v in vector], np.float64)
        if len(inc) != n:
            raise ValueError(f"{path}: FrameTimeVector has {len(inc)} values for {n} frames")
        inc[0] = 0.0
        return np.cumsum(inc) / 1000.0
    frame_time = ds.get("FrameTime")
    if frame_time is not None and float(frame_time) > 0:
        return np.arange(n) * float(frame_time) / 1000.0
    rate = ds.get("CineRate")
    if rate is not None and float(rate) > 0:
        return np.arange(n) / float(rate)
    return None


def is_dicom(path: Path) -> bool:
    """True when the file carries the DICOM preamble magic ``DICM`` at byte 128."""
    with open(path, "rb") as f:
        head = f.read(132)
    return len(head) == 132 and head[128:] == b"DICM"


def read_dicom(path: Path) -> DicomEcho:
    """Read a DICOM echo image or cine loop (see the module docstring).

    Raises:
        ValueError: not DICOM, no pixel data, an undecodable transfer syntax (naming the package to
            install), an unsupported photometric interpretation, or inconsistent timing or regions.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(path, force=False)
    except InvalidDicomError:
        raise ValueError(f"{path}: not a DICOM file (no 'DICM' preamble and file meta header)") from None
    except (EOFError, OSError, ValueError, KeyError, TypeError) as err:
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(f"{path}: not a readable DICOM file ({detail})") from err
    frames = _pixels(ds, path)
    if frames.shape[0] == 0 or frames.size == 0:
        raise ValueError(f"{path}: DICOM file holds no frames")
    signal = sector_signal(frames)
    calibration, rect = dicom_calibration(ds, path, detect_signal_sector(signal))
    times = _frame_times(ds, path, frames.shape[0])
    return DicomEcho(frames, calibration, times, rect, signal)
