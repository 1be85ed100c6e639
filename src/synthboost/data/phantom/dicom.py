"""A phantom cine as a scanner-like multi-frame DICOM (Ultrasound Multi-frame Image Storage).

Each frame is an RGB canvas: the grey sector image placed at ``offset``, burned-in text in the left
margin, and a green ECG-like trace (one PQRST beat, R peak at end-diastole) with a white cursor at
the frame's time in a strip below the sector. The header carries what :mod:`echo_dicom` reads:
two ``SequenceOfUltrasoundRegions`` items (the 2-D tissue region with PhysicalDeltaX/Y in cm, and
the ECG waveform region), ``FrameTime`` (ms), ``CineRate`` and ``FrameIncrementPointer``. The truth
(region, spacing, times) is therefore known exactly, for tests of the reader and of whole-loop
analysis.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np

from synthboost.utils.files import atomic_path

#: Canvas margins (pixels) around the sector image: top, left (text), right, bottom (ECG strip).
MARGINS = (16, 96, 16, 64)
ECG_HEIGHT = 40
ECG_COLOUR = (0, 220, 0)
TEXT_COLOUR = (230, 230, 230)
#: RegionSpatialFormat / RegionDataType codes of the ECG region (DICOM PS3.3 C.8.5.5.1).
SPATIAL_WAVEFORM, DATA_ECG = 4, 10


def ecg_trace(t: np.ndarray, es_time_s: float) -> np.ndarray:
    """A PQRST-like beat (arbitrary units, R = 1 at ``t = 0`` = end-diastole, T wave ending near ES)."""
    waves = (  # (centre s, amplitude, width s)
        (-0.18, 0.12, 0.025),
        (-0.03, -0.12, 0.01),
        (0.0, 1.0, 0.012),
        (0.03, -0.25, 0.012),
        (max(0.1, es_time_s - 0.08), 0.3, 0.045),
    )
    return sum(a * np.exp(-0.5 * ((t - c) / w) ** 2) for c, a, w in waves)


def canvas_shape(frame_shape: tuple[int, int]) -> tuple[int, int]:
    """``(rows, cols)`` of the DICOM frame holding a sector image of ``frame_shape``."""
    top, left, right, bottom = MARGINS
    return top + frame_shape[0] + bottom, left + frame_shape[1] + right


def compose_frames(frames: np.ndarray, times_s: np.ndarray, lines: list[str]) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 canvases: sector images, burned-in ``lines`` of text and the ECG strip."""
    from PIL import Image, ImageDraw

    top, left, _, _ = MARGINS
    t_count, h, w = frames.shape
    rows, cols = canvas_shape((h, w))
    strip_top = top + h + (MARGINS[3] - ECG_HEIGHT) // 2
    xs = np.arange(left, left + w)
    es = float(times_s[-1])
    window = (-0.3, max(es + 0.25, 0.6))
    t_of_x = window[0] + (xs - left) / max(w - 1, 1) * (window[1] - window[0])
    trace = ecg_trace(t_of_x, es)
    ys = strip_top + ECG_HEIGHT * (0.75 - 0.6 * trace)
    base = Image.new("RGB", (cols, rows))
    draw = ImageDraw.Draw(base)
    for i, line in enumerate(lines):
        draw.text((4, top + 2 + 12 * i), line, fill=TEXT_COLOUR)
    draw.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=ECG_COLOUR, width=1)
    base_arr = np.asarray(base)
    out = np.repeat(base_arr[None], t_count, axis=0)
    out[:, top : top + h, left : left + w] = frames[..., None]
    for k, t in enumerate(times_s):
        x = left + int(round((t - window[0]) / (window[1] - window[0]) * (w - 1)))
        out[k, strip_top : strip_top + ECG_HEIGHT, x] = 255
    return out


def _region(rect: tuple[int, int, int, int], spatial: int, data: int, delta_cm: tuple[float, float] | None):
    from pydicom.dataset import Dataset

    r = Dataset()
    r.RegionSpatialFormat, r.RegionDataType, r.RegionFlags = spatial, data, 0
    r.RegionLocationMinX0, r.RegionLocationMinY0 = rect[1], rect[0]
    r.RegionLocationMaxX1, r.RegionLocationMaxY1 = rect[3] - 1, rect[2] - 1
    if delta_cm is not None:
        r.PhysicalUnitsXDirection, r.PhysicalUnitsYDirection = 3, 3
        r.PhysicalDeltaX, r.PhysicalDeltaY = float(delta_cm[1]), float(delta_cm[0])
        r.ReferencePixelX0, r.ReferencePixelY0 = (rect[3] - rect[1]) // 2, 0
    else:
        r.PhysicalUnitsXDirection, r.PhysicalUnitsYDirection = 4, 0  # seconds, none
    return r


def write_cine_dicom(
    path: str | Path,
    frames: np.ndarray,
    spacing_mm: tuple[float, float],
    frame_rate: float,
    patient: str,
    view: str,
    lines: list[str] | None = None,
) -> tuple[int, int]:
    """Write a phantom cine (``(T, h, w)`` uint8 sector images) as a multi-frame RGB DICOM.

    Args:
        path: the ``.dcm`` file to write (through a temporary file and a rename).
        frames: the sector images, end-diastole first.
        spacing_mm: ``(row, col)`` pixel size in mm (written in cm as PhysicalDeltaY/X).
        frame_rate: frames per second (``FrameTime = 1000 / frame_rate`` ms).
        patient: patient id (PatientID / PatientName).
        view: ``2CH`` or ``4CH`` (SeriesDescription).
        lines: burned-in text (default: patient, view, frame rate, depth).

    Returns:
        ``offset = (row0, col0)`` of the sector image inside the DICOM frame.
    """
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, UltrasoundMultiFrameImageStorage, generate_uid

    t_count, h, w = frames.shape
    times = np.arange(t_count) / frame_rate
    depth_cm = h * spacing_mm[0] / 10.0
    lines = lines or [patient, f"Apical {view}", f"{frame_rate:.0f} Hz", f"D {depth_cm:.1f} cm", "PHANTOM"]
    canvas = compose_frames(frames, times, lines)
    top, left = MARGINS[0], MARGINS[1]
    rows, cols = canvas.shape[1:3]

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UltrasoundMultiFrameImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.Manufacturer = "US", "synthboost phantom"
    ds.PatientName, ds.PatientID = f"Phantom^{patient}", patient
    ds.StudyDate = ds.ContentDate = datetime.date(2000, 1, 1).strftime("%Y%m%d")
    ds.SeriesDescription = f"Apical {view} ED-ES"
    ds.BurnedInAnnotation = "YES"
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, cols, t_count
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.FrameTime = f"{1000.0 / frame_rate:.6g}"
    ds.CineRate = int(round(frame_rate))
    ds.FrameIncrementPointer = pydicom.tag.Tag("FrameTime")
    tissue = (top, left, top + h, left + w)
    strip = (top + h, left, rows, left + w)
    ds.SequenceOfUltrasoundRegions = [
        _region(tissue, 1, 1, (spacing_mm[0] / 10.0, spacing_mm[1] / 10.0)),
        _region(strip, SPATIAL_WAVEFORM, DATA_ECG, None),
    ]
    ds.PixelData = np.ascontiguousarray(canvas).tobytes()
    with atomic_path(path) as tmp:
        ds.save_as(tmp, enforce_file_format=True)
    return top, left
