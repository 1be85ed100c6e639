"""Procedural apical-echo phantom in the exact CAMUS 2019 MetaImage layout (the default dataset).

Layout written (read unchanged by the CAMUS reader)::

    <out>/training/patient0001/patient0001_2CH_ED.mhd (+ .raw)      uint8 B-mode image
    <out>/training/patient0001/patient0001_2CH_ED_gt.mhd (+ .raw)   uint8 labels 0 bg, 1 LV, 2 MYO, 3 LA
    ... _2CH_ES, _4CH_ED, _4CH_ES (image and _gt each), Info_2CH.cfg, Info_4CH.cfg
    (``compress=True``: ``.zraw`` data files, ``CompressedData = True``; the demo writes these)
    <out>/testing/patient0001/...                                   numbering restarts at 0001

Split rule: with ``n_patients >= 10``, ``max(1, n_patients // 10)`` patients go to ``testing/``
(numbered from 0001 again, as in CAMUS) and the rest to ``training/``; with fewer than 10 all
are training patients; ``n_test`` sets the number of testing patients instead. Each patient is
drawn from ``SeedSequence([seed, split, number])``, so a patient's files depend only on the
seed, its split and its number, never on ``n_patients``.

The images are 2-D MetaImages with ``ElementSpacing = col_mm row_mm``. ``Info_<view>.cfg``
carries ``ED``, ``ES``, ``NbFrame``, ``Sex``, ``Age``, ``ImageQuality`` (per view) and the LV
volumes ``LVedv``/``LVesv`` (mL) and ``LVef`` (%) — the true volumes of the 3-D model of
:mod:`synthboost.data.phantom.heart_model`, identical in both views. No ``_sequence`` files are written.

With ``sequences=True`` (``synthboost phantom --sequences``) the folder takes the CAMUS 2023 NIfTI
layout instead, the ED/ES stills being the first and last frames of a labelled ED→ES cine::

    <out>/database_nifti/patientNNNN/patientNNNN_{2CH,4CH}_{ED,ES}[_gt].nii.gz
    <out>/database_nifti/patientNNNN/patientNNNN_<view>_half_sequence[_gt].nii.gz   (T, H, W)
    <out>/database_nifti/patientNNNN/patientNNNN_<view>_half_sequence_truth.json    exact per-frame LV volumes
    <out>/database_nifti/patientNNNN/Info_{2CH,4CH}.cfg                             + FrameRate
    <out>/database_split/subgroup_{training,validation,testing}.txt
    <out>/dicom/patientNNNN_<view>.dcm             with ``dicom=True``: the cine as a scanner-like DICOM

Patients are numbered 0001..n without restart (training patients first, then testing), each
drawn from the same ``SeedSequence`` as its 2019-layout twin; see :mod:`synthboost.data.phantom.cine`.
"""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

from synthboost.data.imageio.medical import write_medical
from synthboost.data.phantom import heart_model as hm
from synthboost.data.phantom.cine import write_cine_patient
from synthboost.data.phantom.patient import (
    DEFAULT_FRAME_RATE,
    SPLIT_CODES,
    CineOptions,
    PatientJob,
    cfg_text,
    job_patient,
    render_frame,
)
from synthboost.data.sources.camus import PHANTOM_MARKER, reference_val_count
from synthboost.logs import get_logger
from synthboost.progress import track
from synthboost.utils.files import atomic_dir, write_json_atomic

log = get_logger("data.phantom")

TEST_EVERY = 10  # one testing patient per TEST_EVERY patients (at least one from 10 patients on)


def split_counts(n_patients: int, n_test: int | None = None) -> tuple[int, int]:
    """Numbers of (training, testing) patients for ``n_patients`` (see the module docstring)."""
    if n_test is None:
        n_test = max(1, n_patients // TEST_EVERY) if n_patients >= TEST_EVERY else 0
    if not 0 <= n_test <= n_patients:
        raise ValueError(f"phantom: n_test must be in [0, {n_patients}], got {n_test}")
    return n_patients - n_test, n_test


def _write_patient(job: PatientJob) -> str:
    """Write one patient folder; returns the patient name."""
    if job.cine is not None:
        return write_cine_patient(job)
    patient, acqs, render_rng = job_patient(job)
    job.folder.mkdir(parents=True)
    for view, acq in acqs.items():
        for phase in hm.PHASES:
            image, labels = render_frame(patient, view, phase, render_rng, acq)
            stem = job.folder / f"{job.patient}_{view}_{phase}"
            write_medical(stem.with_name(stem.name + ".mhd"), image, acq.spacing, job.compress)
            write_medical(stem.with_name(stem.name + "_gt.mhd"), labels, acq.spacing, job.compress)
        (job.folder / f"Info_{view}.cfg").write_text(cfg_text(patient, view), encoding="utf-8")
    return job.patient


def _jobs(
    root: Path,
    n_patients: int,
    seed: int,
    image_scale: float,
    cine: CineOptions | None,
    n_test: int | None = None,
    compress: bool = False,
) -> list[PatientJob]:
    """One job per patient: 2019 layout (numbering restarts in testing/) or, with ``cine``, 2023 layout."""
    n_train, n_test = split_counts(n_patients, n_test)
    jobs = []
    for split, count in (("training", n_train), ("testing", n_test)):
        for number in range(1, count + 1):
            if cine is None:
                name, folder = f"patient{number:04d}", root / split / f"patient{number:04d}"
            else:
                name = f"patient{number + (n_train if split == 'testing' else 0):04d}"
                folder = root / "database_nifti" / name
            jobs.append(PatientJob(folder, name, seed, split, number, image_scale, cine, compress))
    return jobs


def _write_split_files(root: Path, jobs: list[PatientJob]) -> None:
    """``database_split/subgroup_*.txt`` of the 2023 layout (validation: the first training patients)."""
    train = [j.patient for j in jobs if j.split == "training"]
    n_val = reference_val_count(len(train))
    groups = {"training": train[n_val:], "validation": train[:n_val]}
    groups["testing"] = [j.patient for j in jobs if j.split == "testing"]
    (root / "database_split").mkdir()
    for name, patients in groups.items():
        (root / "database_split" / f"subgroup_{name}.txt").write_text("".join(p + "\n" for p in patients))


def write_patients(
    out: str | Path,
    split: str,
    numbers: list[int],
    seed: int = 0,
    image_scale: float = 1.0,
    sequences: bool = False,
) -> list[Path]:
    """Write only the given patients of one split into ``out/<split>/patientNNNN``.

    They are the patients :func:`generate_phantom` writes for the same seed, split and numbers (e.g. a
    few test-split cases for the app, without the training patients); with ``sequences``, their
    ED→ES half-sequences (each acquisition's own frame count, 50 frames/s) in the 2023 file layout.

    Returns:
        The patient folders.
    """
    if split not in SPLIT_CODES:
        raise ValueError(f"phantom: unknown split {split!r} (expected one of {sorted(SPLIT_CODES)})")
    cine = CineOptions(None, DEFAULT_FRAME_RATE, None) if sequences else None
    folders = []
    for number in numbers:
        name = f"patient{number:04d}"
        folders.append(Path(out) / split / name)
        _write_patient(PatientJob(folders[-1], name, seed, split, number, image_scale, cine))
    return folders


def generate_phantom(
    out: Path,
    n_patients: int = 60,
    seed: int = 0,
    *,
    overwrite: bool = False,
    workers: int = 1,
    image_scale: float = 1.0,
    sequences: bool = False,
    n_frames: int | None = None,
    frame_rate: float = DEFAULT_FRAME_RATE,
    dicom: bool = False,
    n_test: int | None = None,
    compress: bool = False,
) -> Path:
    """Write a synthetic CAMUS-layout dataset of apical 2CH/4CH echo frames (and cines).

    Args:
        out: destination folder (written atomically: a temporary folder renamed at the end).
        n_patients: total number of patients (training + testing, see the split rule).
        seed: base seed; each patient uses ``SeedSequence([seed, split, number])``.
        overwrite: replace an existing ``out``.
        workers: processes used to write patients in parallel.
        image_scale: factor on the native image size (e.g. 0.25 for tiny test data); the
            physical geometry, spacing-corrected, and the cfg volumes do not change.
        sequences: write the CAMUS 2023 layout with labelled ED→ES half-sequences (module docstring).
        n_frames: frames per half-sequence (default: each acquisition's own, 12-25).
        frame_rate: frames per second of the cines (``FrameRate`` in the cfg).
        dicom: also write each cine as a multi-frame DICOM under ``<out>/dicom/`` (implies ``sequences``).
        n_test: testing patients (default: the split rule of the module docstring).
        compress: 2019 layout: write the MetaImage pixel data zlib-compressed (``.zraw``, a
            quarter to a half of the size; the arrays read back are identical).

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
    if n_frames is not None and not 2 <= n_frames <= 500:
        raise ValueError(f"{out}: n_frames must be in [2, 500], got {n_frames}")
    if not 1.0 <= frame_rate <= 1000.0:
        raise ValueError(f"{out}: frame_rate must be in [1, 1000] frames/s, got {frame_rate}")
    sequences = sequences or dicom
    with atomic_dir(out, overwrite=overwrite, markers=(PHANTOM_MARKER,)) as tmp:
        cine = CineOptions(n_frames, frame_rate, tmp / "dicom" if dicom else None) if sequences else None
        jobs = _jobs(tmp, n_patients, seed, image_scale, cine, n_test, compress)
        if cine is not None:
            _write_split_files(tmp, jobs)
            if cine.dicom_dir is not None:
                cine.dicom_dir.mkdir()
        desc = f"Phantom ({n_patients} patients)"
        if workers == 1:
            for job in track(jobs, desc):
                _write_patient(job)
        else:
            with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
                chunk = max(1, len(jobs) // (8 * workers))
                results = pool.map(_write_patient, jobs, chunksize=chunk)
                list(track(results, desc, total=len(jobs)))
        # Marks the folder as a phantom (``prepare`` records source "phantom") and keeps its recipe.
        write_json_atomic(
            tmp / PHANTOM_MARKER,
            {"generator": "synthboost.data.phantom.writer", "n_patients": n_patients, "seed": seed,
             "image_scale": image_scale, "layout": "2023" if sequences else "2019", "sequences": sequences,
             "n_frames": n_frames, "frame_rate": frame_rate if sequences else None, "dicom": dicom, "n_test": n_test,
             "compress": compress and not sequences,
             "volumes": "LVedv/LVesv/LVef in Info_*.cfg are exact 3-D model volumes"},
        )  # fmt: skip
    n_train, n_test = split_counts(n_patients, n_test)
    log.info(
        "phantom: %d training + %d testing patients (%d frames) in %s", n_train, n_test, 4 * n_patients, out
    )
    return out
