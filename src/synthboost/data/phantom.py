"""Procedural apical-echo phantom in the exact CAMUS 2019 MetaImage layout (the default dataset).

Layout written (read unchanged by the CAMUS reader)::

    <out>/training/patient0001/patient0001_2CH_ED.mhd (+ .raw)      uint8 B-mode image
    <out>/training/patient0001/patient0001_2CH_ED_gt.mhd (+ .raw)   uint8 labels 0 bg, 1 LV, 2 MYO, 3 LA
    ... _2CH_ES, _4CH_ED, _4CH_ES (image and _gt each), Info_2CH.cfg, Info_4CH.cfg
    <out>/testing/patient0001/...                                   numbering restarts at 0001

Split rule: with ``n_patients >= 10``, ``max(1, n_patients // 10)`` patients go to ``testing/``
(numbered from 0001 again, as in CAMUS) and the rest to ``training/``; with fewer than 10 all
are training patients. Each patient is drawn from ``SeedSequence([seed, split, number])``, so a
patient's files depend only on the seed, its split and its number, never on ``n_patients``.

The images are 2-D MetaImages with ``ElementSpacing = col_mm row_mm``. ``Info_<view>.cfg``
carries ``ED``, ``ES``, ``NbFrame``, ``Sex``, ``Age``, ``ImageQuality`` (per view) and the LV
volumes ``LVedv``/``LVesv`` (mL) and ``LVef`` (%) — the true volumes of the 3-D model of
:mod:`synthboost.data.heart_model`, identical in both views. No ``_sequence`` files are written.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
from pathlib import Path

import numpy as np
from rich.progress import track

from synthboost.data import heart_model as hm
from synthboost.utils import atomic_dir, get_logger, write_json_atomic

log = get_logger("data.phantom")

SPLIT_CODES: dict[str, int] = {"training": 0, "testing": 1}
PHANTOM_MARKER = "phantom.json"
TEST_EVERY = 10  # one testing patient per TEST_EVERY patients (at least one from 10 patients on)


@dataclasses.dataclass(frozen=True)
class _Job:
    folder: Path
    patient: str
    seed: int
    split: str
    number: int
    image_scale: float


def split_counts(n_patients: int) -> tuple[int, int]:
    """Numbers of (training, testing) patients for ``n_patients`` (see the module docstring)."""
    n_test = max(1, n_patients // TEST_EVERY) if n_patients >= TEST_EVERY else 0
    return n_patients - n_test, n_test


def patient_rngs(seed: int, split: str, number: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent generators (anatomy, rendering) of one patient, keyed by seed, split and number."""
    if split not in SPLIT_CODES:
        raise ValueError(f"phantom: unknown split {split!r} (expected one of {sorted(SPLIT_CODES)})")
    anatomy_ss, render_ss = np.random.SeedSequence([seed, SPLIT_CODES[split], number]).spawn(2)
    return np.random.default_rng(anatomy_ss), np.random.default_rng(render_ss)


def cfg_text(patient: hm.Patient, view: str) -> str:
    """``Info_<view>.cfg`` content, one ``Key: value`` per line as in CAMUS."""
    acq = patient.views[view]
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
    return "\n".join(lines) + "\n"


def _write_mhd(path: Path, arr: np.ndarray, spacing: tuple[float, float]) -> None:
    """Write a 2-D uint8 MetaImage (``.mhd`` header + ``.raw`` data); ``spacing`` is (row, col) mm."""
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(np.ascontiguousarray(arr, dtype=np.uint8))
    img.SetSpacing((float(spacing[1]), float(spacing[0])))
    sitk.WriteImage(img, str(path), False)


def render_frame(
    patient: hm.Patient, view: str, phase: str, rng: np.random.Generator, acq: hm.Acquisition | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(image, labels)`` uint8 arrays of one view and phase of ``patient``."""
    from synthboost.data.speckle import render_bmode

    acq = acq or patient.views[view]
    sector = hm.sector_mask(acq)
    labels, extra = hm.rasterize_view(patient, view, phase, acq, sector)
    image = render_bmode(labels, sector, rng, acq.quality, extra, spacing_mm=acq.spacing)
    return image, labels


def _write_patient(job: _Job) -> str:
    """Write one patient folder; returns the patient name."""
    anatomy_rng, render_rng = patient_rngs(job.seed, job.split, job.number)
    patient = hm.sample_patient(anatomy_rng)
    job.folder.mkdir(parents=True)
    for view in hm.VIEWS:
        acq = patient.views[view]
        if job.image_scale != 1.0:
            acq = acq.resized(round(acq.rows * job.image_scale), round(acq.cols * job.image_scale))
        for phase in hm.PHASES:
            image, labels = render_frame(patient, view, phase, render_rng, acq)
            stem = job.folder / f"{job.patient}_{view}_{phase}"
            _write_mhd(stem.with_name(stem.name + ".mhd"), image, acq.spacing)
            _write_mhd(stem.with_name(stem.name + "_gt.mhd"), labels, acq.spacing)
        (job.folder / f"Info_{view}.cfg").write_text(cfg_text(patient, view), encoding="utf-8")
    return job.patient


def _jobs(root: Path, n_patients: int, seed: int, image_scale: float) -> list[_Job]:
    n_train, n_test = split_counts(n_patients)
    jobs = []
    for split, count in (("training", n_train), ("testing", n_test)):
        for number in range(1, count + 1):
            name = f"patient{number:04d}"
            jobs.append(_Job(root / split / name, name, seed, split, number, image_scale))
    return jobs


def generate_phantom(
    out: Path,
    n_patients: int = 60,
    seed: int = 0,
    *,
    overwrite: bool = False,
    workers: int = 1,
    image_scale: float = 1.0,
) -> Path:
    """Write a synthetic CAMUS-2019-layout dataset of apical 2CH/4CH echo frames.

    Args:
        out: destination folder (written atomically: a temporary folder renamed at the end).
        n_patients: total number of patients (training + testing, see the split rule).
        seed: base seed; each patient uses ``SeedSequence([seed, split, number])``.
        overwrite: replace an existing ``out``.
        workers: processes used to write patients in parallel.
        image_scale: factor on the native image size (e.g. 0.25 for tiny test data); the
            physical geometry, spacing-corrected, and the cfg volumes do not change.

    Returns:
        ``out``.
    """
    out = Path(out)
    if n_patients < 1:
        raise ValueError(f"{out}: n_patients must be >= 1, got {n_patients}")
    if workers < 1:
        raise ValueError(f"{out}: workers must be >= 1, got {workers}")
    if not 0.05 <= image_scale <= 4.0:
        raise ValueError(f"{out}: image_scale must be in [0.05, 4], got {image_scale}")
    with atomic_dir(out, overwrite=overwrite) as tmp:
        jobs = _jobs(tmp, n_patients, seed, image_scale)
        desc = f"Phantom ({n_patients} patients)"
        if workers == 1:
            for job in track(jobs, description=desc, transient=True):
                _write_patient(job)
        else:
            with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
                chunk = max(1, len(jobs) // (8 * workers))
                results = pool.map(_write_patient, jobs, chunksize=chunk)
                list(track(results, description=desc, total=len(jobs), transient=True))
        # Marks the folder as a phantom (``prepare`` records source "phantom") and keeps its recipe.
        write_json_atomic(
            tmp / PHANTOM_MARKER,
            {"generator": "synthboost.data.phantom", "n_patients": n_patients, "seed": seed,
             "image_scale": image_scale, "volumes": "LVedv/LVesv/LVef in Info_*.cfg are exact 3-D model volumes"},
        )  # fmt: skip
    n_train, n_test = split_counts(n_patients)
    log.info(
        "phantom: %d training + %d testing patients (%d frames) in %s", n_train, n_test, 4 * n_patients, out
    )
    return out
