"""One phantom patient: its random draws (keyed by seed, split and number), its acquisitions on the
image grid of a write job, its ``Info_<view>.cfg`` text and its rendered frames.

Both writers (:mod:`~synthboost.data.phantom.writer` for stills, :mod:`~synthboost.data.phantom.cine`
for half-sequences) build on these pieces, so a patient's 2019-layout stills and 2023-layout cine
are the same anatomy.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from synthboost.data.phantom import heart_model as hm
from synthboost.data.phantom.speckle import render_bmode

SPLIT_CODES: dict[str, int] = {"training": 0, "testing": 1}
DEFAULT_FRAME_RATE = 50.0


SPLIT_CODES: dict[str, int] = {"training": 0, "testing": 1}


@dataclasses.dataclass(frozen=True)
class PatientJob:
    """One patient to write: where, which draw (seed, split, number) and how (scale, cine, compression)."""

    folder: Path
    patient: str
    seed: int
    split: str
    number: int
    image_scale: float
    cine: CineOptions | None = None  # set: write the CAMUS 2023 layout with half-sequences
    compress: bool = False  # 2019 layout: zlib-compressed MetaImage data (.zraw)


@dataclasses.dataclass(frozen=True)
class CineOptions:
    """How the half-sequences of ``sequences=True`` are written."""

    n_frames: int | None  # frames ED→ES (None: the acquisition's own 12-25)
    frame_rate: float
    dicom_dir: Path | None  # also write each cine as a DICOM file here


def patient_rngs(seed: int, split: str, number: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent generators (anatomy, rendering) of one patient, keyed by seed, split and number."""
    if split not in SPLIT_CODES:
        raise ValueError(f"phantom: unknown split {split!r} (expected one of {sorted(SPLIT_CODES)})")
    anatomy_ss, render_ss = np.random.SeedSequence([seed, SPLIT_CODES[split], number]).spawn(2)
    return np.random.default_rng(anatomy_ss), np.random.default_rng(render_ss)


def cfg_text(
    patient: hm.Patient, view: str, acq: hm.Acquisition | None = None, frame_rate: float | None = None
) -> str:
    """``Info_<view>.cfg`` content, one ``Key: value`` per line as in CAMUS (``FrameRate`` when given)."""
    acq = acq or patient.views[view]
    edv, esv = hm.lv_volume_ml(patient.anatomy, "ED"), hm.lv_volume_ml(patient.anatomy, "ES")
    lines = [
        "ED: 1",
        f"ES: {acq.n_frames}",
        f"NbFrame: {acq.n_frames}",
        f"Sex: {patient.sex}",
        f"Age: {patient.age}",
        f"ImageQuality: {acq.quality}",
        f"LVedv: {edv:.2f}",
        f"LVesv: {esv:.2f}",
        f"LVef: {100.0 * (edv - esv) / edv:.2f}",
    ]
    if frame_rate is not None:
        lines.append(f"FrameRate: {frame_rate:g}")
    return "\n".join(lines) + "\n"


def render_frame(
    patient: hm.Patient,
    view: str,
    phase: str | float,
    rng: np.random.Generator,
    acq: hm.Acquisition | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(image, labels)`` uint8 arrays of one view and phase (name or ED→ES position) of ``patient``."""
    acq = acq or patient.views[view]
    sector = hm.sector_mask(acq)
    labels, extra = hm.rasterize_view(patient, view, phase, acq, sector)
    image = render_bmode(labels, sector, rng, acq.quality, extra, spacing_mm=acq.spacing)
    return image, labels


def job_patient(job: PatientJob) -> tuple[hm.Patient, dict[str, hm.Acquisition], np.random.Generator]:
    """The patient of a job, its acquisitions on the job's image grid, and its rendering generator."""
    anatomy_rng, render_rng = patient_rngs(job.seed, job.split, job.number)
    patient = hm.sample_patient(anatomy_rng)
    acqs = {}
    for view in hm.VIEWS:
        acq = patient.views[view]
        if job.image_scale != 1.0:
            acq = acq.resized(round(acq.rows * job.image_scale), round(acq.cols * job.image_scale))
        if job.cine is not None and job.cine.n_frames is not None:
            acq = dataclasses.replace(acq, n_frames=job.cine.n_frames)
        acqs[view] = acq
    return patient, acqs, render_rng
