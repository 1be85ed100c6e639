"""The processed dataset: the one on-disk format every stage after ``prepare`` reads.

Documented key by key in ``docs/formats.md``. Layout::

    <root>/dataset.json                          DatasetInfo
    <root>/meta.csv                              one row per image, columns META_COLUMNS
    <root>/images/<group>/<name>.png             8-bit grayscale at ``image_size``
    <root>/masks/<group>/mask_<k>/<name>_gt.png  0/255 binary, k in LABELS
    <root>/labels_native/<group>/<name>.png      uint8 label map 0..3 at the original size
    <root>/anns/{train,val,test}.json            task entries (see ``TaskEntry`` in prompts)

This module is the single place that knows the label map, the names of views, phases,
splits, and the paths inside a processed dataset.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1

#: CAMUS label values -> short structure keys.
LABELS: dict[int, str] = {1: "lv", 2: "myo", 3: "la"}
#: Structure key -> label value.
LABEL_OF: dict[str, int] = {v: k for k, v in LABELS.items()}
#: Structure key -> human-readable name.
STRUCTURE_TITLES: dict[str, str] = {"lv": "LV cavity", "myo": "Myocardium", "la": "LA cavity"}
VIEWS: tuple[str, ...] = ("2CH", "4CH")
PHASES: tuple[str, ...] = ("ED", "ES")
SPLITS: tuple[str, ...] = ("train", "val", "test")
SOURCES: tuple[str, ...] = ("camus", "sdm", "phantom", "synth", "echonet")
QUALITIES: tuple[str, ...] = ("good", "medium", "poor")
SEXES: tuple[str, ...] = ("female", "male")
DOMAINS: tuple[str, ...] = ("real", "synthetic")
MAX_AGE = 130
DEFAULT_IMAGE_SIZE = 512

#: Columns of ``meta.csv`` in order. Optional values are empty cells.
META_COLUMNS: tuple[str, ...] = (
    "name",  # file stem, e.g. patient0001_2CH_ED
    "group",  # name space folder (train | test), see docs/formats.md
    "split",  # train | val | test
    "patient",  # patient0001
    "view",  # 2CH | 4CH
    "phase",  # ED | ES | "" (a frame between them, in a half-sequence)
    "sex",  # female | male | ""
    "age",  # integer years | ""
    "quality",  # good | medium | poor | "" (none for synthetic images)
    "domain",  # real | synthetic
    "orig_height",  # rows of the original image
    "orig_width",  # columns of the original image
    "spacing_row_mm",  # pixel size along rows (y) in mm at the original size
    "spacing_col_mm",  # pixel size along columns (x) in mm at the original size
    "lv_edv",  # mL, from Info_<view>.cfg where present
    "lv_esv",  # mL
    "lv_ef",  # %
    "frame",  # 0-based frame index in its sequence | "" (a still of unknown position)
    "phase_position",  # (frame - ED) / (ES - ED) in [0, 1] | ""
)
#: Columns a ``meta.csv`` written before they existed may lack (read as empty).
META_OPTIONAL_COLUMNS: tuple[str, ...] = ("frame", "phase_position")


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Content of ``dataset.json``."""

    name: str
    source: str
    image_size: int = DEFAULT_IMAGE_SIZE
    labels: dict[str, str] = dataclasses.field(default_factory=lambda: {str(k): v for k, v in LABELS.items()})
    version: int = FORMAT_VERSION
    prompt_levels: tuple[str, ...] = ()
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def label_values(self) -> tuple[int, ...]:
        """The annotated label values (``1, 2, 3`` for CAMUS; ``1`` for EchoNet, which traces only the LV)."""
        return tuple(sorted(int(k) for k in self.labels))

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["prompt_levels"] = list(self.prompt_levels)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any], path: str | Path = "dataset.json") -> DatasetInfo:
        missing = {"name", "source", "version"} - set(d)
        if missing:
            raise ValueError(f"{path}: missing keys {sorted(missing)}")
        if d["source"] not in SOURCES:
            raise ValueError(f"{path}: source {d['source']!r} not one of {SOURCES}")
        labels = d.get("labels", {str(k): v for k, v in LABELS.items()})
        known = {str(k): v for k, v in LABELS.items()}
        if not isinstance(labels, dict) or not labels or any(known.get(k) != v for k, v in labels.items()):
            raise ValueError(f"{path}: labels {labels!r} must be a non-empty subset of {known}")
        if d["version"] != FORMAT_VERSION:
            raise ValueError(
                f"{path}: format version {d['version']} (this synthboost reads {FORMAT_VERSION})"
            )
        known = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        kw["prompt_levels"] = tuple(kw.get("prompt_levels", ()))
        return cls(**kw)


def default_group(split: str) -> str:
    """The name-space folder of a split when none is given: ``test`` for test, else ``train``."""
    return "test" if split == "test" else "train"


def image_path(root: str | Path, group: str, name: str) -> Path:
    """Path of a processed image."""
    return Path(root) / "images" / group / f"{name}.png"


def mask_relpath(label: int, name: str) -> str:
    """Mask path relative to ``masks/<group>``: ``mask_<k>/<name>_gt.png`` (the reference's ``mask_name``)."""
    return f"mask_{label}/{name}_gt.png"


def mask_path(root: str | Path, group: str, label: int, name: str) -> Path:
    """Path of a processed binary mask."""
    return Path(root) / "masks" / group / mask_relpath(label, name)


def native_label_path(root: str | Path, group: str, name: str) -> Path:
    """Path of the native-resolution label map (values 0..3)."""
    return Path(root) / "labels_native" / group / f"{name}.png"


def anns_path(root: str | Path, split: str) -> Path:
    """Path of a split's task JSON."""
    return Path(root) / "anns" / f"{split}.json"


def frame_name(patient: str, view: str, phase: str) -> str:
    """Canonical stem ``patientNNNN_<view>_<phase>``."""
    return f"{patient}_{view}_{phase}"
