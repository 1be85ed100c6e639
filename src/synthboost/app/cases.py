"""Example cases of the app: test-split patients of the procedural phantom.

The cases are the phantom's *testing* patients (seeded by seed, split and number, as
:func:`synthboost.data.phantom.generate_phantom` writes them), never training or validation
patients, so the app shows a model on cases that chose nothing. Their ``Info_*.cfg`` carry the true
LV volumes, shown beside the app's EDV/ESV/EF.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthboost.data.format import PHASES, VIEWS, frame_name

#: Split the example cases come from.
CASE_SPLIT = "testing"


@dataclass(frozen=True)
class Case:
    """One frame of an example patient (attributes as in ``Info_<view>.cfg``)."""

    id: str
    patient: str
    view: str
    phase: str
    sex: str
    age: int
    quality: str
    path: Path
    reference: dict[str, float | None]

    def attributes(self) -> dict[str, str | int]:
        """The prompt attributes of the case."""
        return {"view": self.view, "phase": self.phase, "sex": self.sex, "age": self.age,
                "quality": self.quality}  # fmt: skip


def phantom_cases(folder: str | Path, n_patients: int = 1, seed: int = 0) -> dict[str, Case]:
    """Write ``n_patients`` test-split phantom patients into ``folder``; their frames by case id."""
    from synthboost.data.camus import parse_cfg
    from synthboost.data.phantom import write_patients

    cases: dict[str, Case] = {}
    for patient_dir in write_patients(folder, CASE_SPLIT, list(range(1, n_patients + 1)), seed=seed):
        patient = patient_dir.name
        for view in VIEWS:
            info = parse_cfg(patient_dir / f"Info_{view}.cfg")
            reference = {"edv": info.lv_edv, "esv": info.lv_esv, "ef": info.lv_ef}
            for phase in PHASES:
                name = frame_name(patient, view, phase)
                cases[name] = Case(name, patient, view, phase, info.sex, info.age, info.quality,
                                   patient_dir / f"{name}.mhd", reference)  # fmt: skip
    return cases


def case_image(case: Case) -> tuple[np.ndarray, tuple[float, float] | None]:
    """Image (uint8) and spacing (row, col mm; MetaImages carry it) of a case."""
    from synthboost.evaluate.segmenter import read_image

    return read_image(case.path)


def patients(cases: dict[str, Case]) -> list[str]:
    """The patients of ``cases``, sorted."""
    return sorted({c.patient for c in cases.values()})


def patient_frames(cases: dict[str, Case], patient: str) -> dict[tuple[str, str], Case]:
    """The four frames ``(view, phase) -> Case`` of a patient; ``ValueError`` when unknown."""
    frames = {(c.view, c.phase): c for c in cases.values() if c.patient == patient}
    if not frames:
        raise ValueError(f"unknown phantom patient {patient!r}")
    return frames
