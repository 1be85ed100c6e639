"""Files for the reader hardening tests (issue 23): DICOM of any pixel module, small videos."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def write_dicom(
    path: Path,
    frames: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    rle: bool = False,
    pixel_data: bytes | None = None,
    **tags: Any,
) -> Path:
    """A multi-frame DICOM of ``frames`` (``(T, H, W)`` of any integer dtype: its itemsize and signedness
    give BitsAllocated and PixelRepresentation), uncompressed or RLE Lossless; ``tags`` are set last
    (header lies included) and ``pixel_data`` replaces the encoded pixels."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import (
        ExplicitVRLittleEndian,
        RLELossless,
        UltrasoundMultiFrameImageStorage,
        generate_uid,
    )

    frames = np.asarray(frames)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UltrasoundMultiFrameImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.SamplesPerPixel, ds.PhotometricInterpretation = "US", 1, photometric
    ds.Rows, ds.Columns, ds.NumberOfFrames = frames.shape[1], frames.shape[2], frames.shape[0]
    bits = frames.dtype.itemsize * 8
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits, bits_stored or bits, (bits_stored or bits) - 1
    ds.PixelRepresentation = int(frames.dtype.kind == "i")
    ds.PixelData = np.ascontiguousarray(frames.astype(frames.dtype.newbyteorder("<"))).tobytes()
    if rle:
        ds.compress(RLELossless, encoding_plugin="pydicom")
    for key, value in tags.items():
        setattr(ds, key, value)
    if pixel_data is not None:
        ds.PixelData = pixel_data
    ds.save_as(path, enforce_file_format=True)
    return path


def write_avi(path: Path, frames: np.ndarray, fps: int = 25, codec: str = "mjpeg") -> Path:
    """``(T, H, W)`` uint8 frames as an AVI (every frame a key frame with MJPEG)."""
    import av

    with av.open(str(path), mode="w", format="avi") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        for frame in frames:
            rgb = np.repeat(frame[..., None], 3, axis=-1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def ramp_frames(n: int, rows: int = 16, cols: int = 16, seed: int = 0) -> np.ndarray:
    """``(n, rows, cols)`` uint8 frames of a bright disc moving over noise (distinct frames)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:rows, 0:cols]
    out = rng.integers(0, 60, (n, rows, cols)).astype(np.uint8)
    for k in range(n):
        out[k][np.hypot(yy - rows / 2, xx - (k % cols)) < rows / 4] = 220
    return out


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two arrays, flattened."""
    return float(np.corrcoef(np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel())[0, 1])
