"""Label maps without annotated images: apical 2CH/4CH sections of the 3-D heart model (``synth shapes``).

Layout written::

    <out>/labels/<stem>.png     uint8 label map 0 bg, 1 LV, 2 MYO, 3 LA (image_size × image_size)
    <out>/sectors/<stem>.png    0/255 field of view
    <out>/attributes.json       {stem: {"view", "phase", "sex", "age", "patient", "split"}}

``stem = patientNNNN_<view>_<phase>_<split>_<k>`` (the Echo-from-noise naming; ``k = 1``), split
``training`` or ``validation`` (every 10th generated patient is a validation patient; numbers
restart at 0001 in each split). Only maps that pass :func:`synthboost.synth.plausibility.check_label_map`
are kept; rejections are counted and logged. The prompts' attributes (sex, age, view, phase)
come from the generator itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from synthboost.data.imageio.medical import write_png
from synthboost.data.phantom import heart_model as hm
from synthboost.logs import get_logger
from synthboost.synth.plausibility import check_label_map
from synthboost.utils.files import atomic_dir, write_json_atomic

log = get_logger("synth.shapes")

SHAPE_SPLITS: tuple[str, ...] = ("training", "validation")
VALIDATION_EVERY = 10
_SEED_CODE = 2  # keeps shape patients apart from the phantom's training (0) and testing (1) ones
_SEX_WORDS = {"F": "female", "M": "male"}


def shape_stem(number: int, view: str, phase: str, split: str, k: int = 1) -> str:
    """``patientNNNN_<view>_<phase>_<split>_<k>``."""
    return f"patient{number:04d}_{view}_{phase}_{split}_{k}"


def _patient_maps(
    index: int, seed: int, image_size: int
) -> tuple[hm.Patient, list[tuple[str, str, np.ndarray, np.ndarray]]]:
    """The patient of generator ``index`` and its (view, phase, labels, sector) maps."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, _SEED_CODE, index]))
    patient = hm.sample_patient(rng)
    maps = []
    for view in hm.VIEWS:
        acq = patient.views[view].resized(image_size, image_size)
        sector = hm.sector_mask(acq)
        for phase in hm.PHASES:
            labels = hm.rasterize_view(patient, view, phase, acq, sector)[0]
            maps.append((view, phase, labels, sector))
    return patient, maps


def write_shape_masks(
    out: Path, count: int, seed: int = 0, image_size: int = 256, overwrite: bool = False
) -> Path:
    """Write ``count`` plausible label maps (with sectors and attributes) drawn from the heart model.

    Args:
        out: destination folder (written atomically).
        count: number of label maps to keep (4 per patient: 2CH/4CH × ED/ES).
        seed: base seed; generated patient ``i`` uses ``SeedSequence([seed, 2, i])``.
        image_size: side of the square maps.
        overwrite: replace an existing ``out``.

    Returns:
        ``out``.
    """
    out = Path(out)
    if count < 1:
        raise ValueError(f"{out}: count must be >= 1, got {count}")
    if image_size < 32:
        raise ValueError(f"{out}: image_size must be >= 32, got {image_size}")
    attributes: dict[str, dict[str, Any]] = {}
    numbers = dict.fromkeys(SHAPE_SPLITS, 0)
    rejected, index, max_patients = 0, 0, 10 * count + 10
    with atomic_dir(out, overwrite=overwrite, markers=("attributes.json",)) as tmp:
        while len(attributes) < count:
            if index >= max_patients:
                raise RuntimeError(f"{out}: only {len(attributes)} plausible maps after {index} patients")
            split = "validation" if index % VALIDATION_EVERY == VALIDATION_EVERY - 1 else "training"
            numbers[split] += 1
            patient, maps = _patient_maps(index, seed, image_size)
            index += 1
            for view, phase, labels, sector in maps:
                if len(attributes) == count:
                    break
                stem = shape_stem(numbers[split], view, phase, split)
                if problems := check_label_map(labels):
                    rejected += 1
                    log.debug("shapes: rejected %s: %s", stem, "; ".join(problems))
                    continue
                write_png(tmp / "labels" / f"{stem}.png", labels)
                write_png(tmp / "sectors" / f"{stem}.png", sector.astype(np.uint8) * 255)
                attributes[stem] = {
                    "view": view,
                    "phase": phase,
                    "sex": _SEX_WORDS[patient.sex],
                    "age": patient.age,
                    "patient": f"patient{numbers[split]:04d}",
                    "split": split,
                }
        write_json_atomic(tmp / "attributes.json", attributes)
    log.info("shapes: kept %d label maps from %d patients, rejected %d implausible", count, index, rejected)
    return out
