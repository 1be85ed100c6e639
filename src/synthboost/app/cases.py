"""Example cases of the app: test-split patients of the procedural phantom.

The cases are the phantom's *testing* patients (seeded by seed, split and number, as
:func:`synthboost.data.phantom.writer.generate_phantom` writes them), never training or validation
patients, so the app shows a model on cases that chose nothing. Their ``Info_*.cfg`` carry the true
LV volumes, shown beside the app's EDV/ESV/EF.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterator, Mapping
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
    from synthboost.data.imageio.camus_info import parse_cfg
    from synthboost.data.phantom.writer import write_patients

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


def case_ids(n_patients: int) -> list[str]:
    """The ids :func:`phantom_cases` gives its cases, known before they are written."""
    return [
        frame_name(f"patient{i:04d}", v, p) for i in range(1, n_patients + 1) for v in VIEWS for p in PHASES
    ]


class LazyCases(Mapping[str, Case]):
    """The cases by id: ids known at once, the cases themselves once :meth:`fill` was called (lookups wait)."""

    def __init__(self, ids: list[str]) -> None:
        self._ids = list(ids)
        self._future: concurrent.futures.Future = concurrent.futures.Future()

    def fill(self, make: Callable[[], dict[str, Case]]) -> BaseException | None:
        """Compute the cases with ``make()`` (in the calling thread); returns the error, if any."""
        try:
            self._future.set_result(make())
        except BaseException as err:  # noqa: BLE001 - handed to every lookup and to the caller
            self._future.set_exception(err)
            return err
        return None

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __getitem__(self, case_id: str) -> Case:
        return self._future.result()[case_id]


def case_image(case: Case) -> tuple[np.ndarray, tuple[float, float] | None]:
    """Image (uint8) and spacing (row, col mm; MetaImages carry it) of a case."""
    from synthboost.evaluation.segmenter import read_image

    return read_image(case.path)


def patients(cases: Mapping[str, Case]) -> list[str]:
    """The patients of ``cases``, sorted (from the ids: no lookup)."""
    return sorted({case_id.rsplit("_", 2)[0] for case_id in cases})


def patient_frames(cases: Mapping[str, Case], patient: str) -> dict[tuple[str, str], Case]:
    """The four frames ``(view, phase) -> Case`` of a patient; ``ValueError`` when unknown."""
    frames = {(cases[i].view, cases[i].phase): cases[i] for i in cases if i.rsplit("_", 2)[0] == patient}
    if not frames:
        raise ValueError(f"unknown phantom patient {patient!r}")
    return frames
