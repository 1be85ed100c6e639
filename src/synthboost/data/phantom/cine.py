"""Phantom cines: CAMUS-2023-style ED→ES half-sequences, every frame labelled, with exact volumes.

Frame ``k`` of ``T`` sits at model position ``s_k = (1 - cos(pi k / (T - 1))) / 2`` between
end-diastole (``s = 0``, frame 0) and end-systole (``s = 1``, frame ``T - 1``): slow at both ends
as ejection is. Every dimension of the 3-D model is interpolated at ``s_k``
(:meth:`synthboost.data.phantom.heart_model.Anatomy.chamber`), so each frame's LV is an exact truncated
ellipsoid whose volume :func:`~synthboost.data.phantom.heart_model.lv_volume_ml` gives exactly. Those
volumes, the frame times and positions go to a sidecar JSON beside the sequence
(``<patient>_<view>_half_sequence_truth.json``, docs/formats.md), read with :func:`read_truth`.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np

from synthboost.data.imageio.medical import write_medical
from synthboost.data.phantom import heart_model as hm
from synthboost.data.phantom.dicom import write_cine_dicom
from synthboost.data.phantom.patient import (
    DEFAULT_FRAME_RATE,
    PatientJob,
    cfg_text,
    job_patient,
    render_frame,
)
from synthboost.utils.files import read_json, write_json_atomic

TRUTH_SUFFIX = "_half_sequence_truth.json"


def model_positions(n_frames: int) -> np.ndarray:
    """Model positions in [0, 1] (0 = ED geometry, 1 = ES geometry) of ``n_frames`` frames from ED to ES."""
    if n_frames < 2:
        raise ValueError(f"phantom cine: need at least 2 frames from ED to ES, got {n_frames}")
    return (1.0 - np.cos(np.pi * np.arange(n_frames) / (n_frames - 1))) / 2.0


@dataclasses.dataclass(frozen=True)
class Cine:
    """One rendered half-sequence."""

    frames: np.ndarray  # (T, H, W) uint8
    labels: np.ndarray  # (T, H, W) uint8, 0 bg, 1 LV, 2 MYO, 3 LA
    positions: np.ndarray  # (T,) in [0, 1]
    volumes_ml: np.ndarray  # (T,) exact LV cavity volume of each frame
    frame_rate: float
    spacing_mm: tuple[float, float]

    @property
    def times_s(self) -> np.ndarray:
        return np.arange(len(self.positions)) / self.frame_rate


def render_cine(
    patient: hm.Patient,
    view: str,
    acq: hm.Acquisition,
    rng: np.random.Generator,
    frame_rate: float = DEFAULT_FRAME_RATE,
) -> Cine:
    """Render ``acq.n_frames`` frames from ED to ES of one view (independent speckle per frame)."""
    positions = model_positions(acq.n_frames)
    frames, labels = zip(*(render_frame(patient, view, float(s), rng, acq) for s in positions), strict=True)
    volumes = np.array([hm.lv_volume_ml(patient.anatomy, float(s)) for s in positions])
    return Cine(np.stack(frames), np.stack(labels), positions, volumes, frame_rate, acq.spacing)


def truth_path(sequence: str | Path) -> Path:
    """The truth sidecar of ``<patient>_<view>_half_sequence.nii.gz``."""
    sequence = Path(sequence)
    stem = sequence.name.split("_half_sequence")[0]
    return sequence.with_name(stem + TRUTH_SUFFIX)


def truth_dict(cine: Cine, patient: str, view: str, dicom: dict[str, Any] | None = None) -> dict[str, Any]:
    """The sidecar content (see docs/formats.md, "Phantom half-sequence truth")."""
    edv, esv = float(cine.volumes_ml[0]), float(cine.volumes_ml[-1])
    return {
        "patient": patient,
        "view": view,
        "n_frames": len(cine.positions),
        "ed_frame": 0,
        "es_frame": len(cine.positions) - 1,
        "frame_rate_hz": cine.frame_rate,
        "frame_times_s": [float(t) for t in cine.times_s],
        "model_position": [float(s) for s in cine.positions],
        "lv_volume_ml": [float(v) for v in cine.volumes_ml],
        "lv_edv_ml": edv,
        "lv_esv_ml": esv,
        "lv_ef_percent": 100.0 * (edv - esv) / edv,
        "spacing_mm": [float(cine.spacing_mm[0]), float(cine.spacing_mm[1])],
        "dicom": dicom,
    }


def read_truth(path: str | Path) -> dict[str, Any]:
    """Read a truth sidecar, given the sidecar or its ``_half_sequence.nii.gz``.

    Raises:
        FileNotFoundError: no sidecar. ValueError: not valid JSON or the per-frame lists disagree.
    """
    path = Path(path)
    if not path.name.endswith(TRUTH_SUFFIX):
        path = truth_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: phantom truth sidecar not found")
    truth = read_json(path, expect=dict)
    n = truth.get("n_frames")
    for key in ("frame_times_s", "model_position", "lv_volume_ml"):
        if not isinstance(truth.get(key), list) or len(truth[key]) != n:
            raise ValueError(f"{path}: {key} must list one value per frame ({n})")
    if not all(math.isfinite(v) and v > 0 for v in truth["lv_volume_ml"]):
        raise ValueError(f"{path}: lv_volume_ml must be positive numbers")
    return truth


def write_cine_patient(job: PatientJob) -> str:
    """Write one patient of the CAMUS 2023 layout (a :class:`~synthboost.data.phantom.patient.PatientJob` with ``cine``).

    Per view: the half-sequence and its labels, the ED/ES stills (its first and last frames), the
    cfg (with ``FrameRate``), the truth sidecar and, when asked, the DICOM cine.
    """
    patient, acqs, render_rng = job_patient(job)
    opts = job.cine
    job.folder.mkdir(parents=True)
    for view, acq in acqs.items():
        cine = render_cine(patient, view, acq, render_rng, opts.frame_rate)
        stem = f"{job.patient}_{view}"
        for suffix, arr in (("half_sequence", cine.frames), ("half_sequence_gt", cine.labels)):
            write_medical(job.folder / f"{stem}_{suffix}.nii.gz", arr, acq.spacing)
        for phase, k in (("ED", 0), ("ES", -1)):
            write_medical(job.folder / f"{stem}_{phase}.nii.gz", cine.frames[k], acq.spacing)
            write_medical(job.folder / f"{stem}_{phase}_gt.nii.gz", cine.labels[k], acq.spacing)
        text = cfg_text(patient, view, acq, opts.frame_rate)
        (job.folder / f"Info_{view}.cfg").write_text(text, encoding="utf-8")
        dicom = None
        if opts.dicom_dir is not None:
            offset = write_cine_dicom(
                opts.dicom_dir / f"{stem}.dcm", cine.frames, acq.spacing, opts.frame_rate, job.patient, view
            )
            dicom = {"file": f"dicom/{stem}.dcm", "image_offset": list(offset)}
        write_json_atomic(job.folder / f"{stem}{TRUTH_SUFFIX}", truth_dict(cine, job.patient, view, dicom))
    return job.patient
