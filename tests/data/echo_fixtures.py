"""Echo files written by the tests: DICOM through pydicom, video through PyAV."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np


def us_region(
    rect: tuple[int, int, int, int],
    spatial: int = 1,
    data: int = 1,
    delta_cm: tuple[float, float] | None = (0.03, 0.04),
    units: int = 3,
) -> Any:
    """A SequenceOfUltrasoundRegions item over the half-open ``rect`` (row0, col0, row1, col1)."""
    from pydicom.dataset import Dataset

    r = Dataset()
    r.RegionSpatialFormat, r.RegionDataType, r.RegionFlags = spatial, data, 0
    r.RegionLocationMinX0, r.RegionLocationMinY0 = rect[1], rect[0]
    r.RegionLocationMaxX1, r.RegionLocationMaxY1 = rect[3] - 1, rect[2] - 1
    r.PhysicalUnitsXDirection = r.PhysicalUnitsYDirection = units
    if delta_cm is not None:
        r.PhysicalDeltaY, r.PhysicalDeltaX = delta_cm
    return r


def write_dicom(
    path: Path,
    pixel_bytes: bytes,
    shape: tuple[int, int],
    n_frames: int | None,
    photometric: str = "MONOCHROME2",
    bits: int = 8,
    transfer_syntax: str | None = None,
    **tags: Any,
) -> Path:
    """Write a US (multi-frame when ``n_frames``) DICOM holding ``pixel_bytes`` as they are."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import (
        ExplicitVRLittleEndian,
        UltrasoundImageStorage,
        UltrasoundMultiFrameImageStorage,
        generate_uid,
    )

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UltrasoundMultiFrameImageStorage if n_frames else UltrasoundImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = transfer_syntax or ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "US"
    ds.Rows, ds.Columns = shape
    if n_frames:
        ds.NumberOfFrames = n_frames
    colour = photometric in ("RGB", "YBR_FULL", "YBR_FULL_422")
    ds.SamplesPerPixel, ds.PhotometricInterpretation = (3 if colour else 1), photometric
    if colour:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = (
        (8 if bits <= 8 else 16),
        bits,
        bits - 1,
        0,
    )
    for key, value in tags.items():
        setattr(ds, key, value)
    ds.PixelData = pixel_bytes
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)
    return path


def jpeg_frames(rgb: np.ndarray, quality: int = 95) -> list[bytes]:
    """Each ``(H, W, 3)`` frame as baseline JPEG bytes (Pillow, YCbCr 4:2:0)."""
    from PIL import Image

    out = []
    for frame in rgb:
        buf = io.BytesIO()
        Image.fromarray(frame, "RGB").save(buf, format="JPEG", quality=quality)
        out.append(buf.getvalue())
    return out


def write_video(path: Path, frames: np.ndarray, fps: int = 25, codec: str = "ffv1") -> Path:
    """Write ``(T, H, W)`` uint8 frames as a video with PyAV (``ffv1`` is lossless)."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "gray" if codec == "ffv1" else "yuv420p"
        container.start_encoding()  # writes the header even when there are no frames
        for f in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="gray")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def sector_frames(n: int, shape: tuple[int, int] = (60, 80), seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(frames (n, H, W) uint8, sector mask)``: speckle in an apical fan, zero outside."""
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    x, y = cols - (shape[1] - 1) / 2, rows + 2.0
    sector = (np.abs(x) <= y * np.tan(np.radians(35))) & (np.hypot(x, y) <= shape[0] - 4)
    rng = np.random.default_rng(seed)
    frames = rng.integers(40, 220, (n, *shape)).astype(np.uint8) * sector
    return frames.astype(np.uint8), sector
