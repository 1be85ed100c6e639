"""Reader of the CAMUS dataset (Leclerc et al., IEEE TMI 2019) in both public layouts.

- ``2019`` MetaImage release::

      <root>/training/patientNNNN/patientNNNN_{2CH,4CH}_{ED,ES}[_gt].mhd (+ .raw), Info_{2CH,4CH}.cfg
      <root>/testing/patientNNNN/...            (testing patients are numbered 0001-0050 again)

- ``2023`` NIfTI release::

      <root>/database_nifti/patientNNNN/patientNNNN_{2CH,4CH}_{ED,ES}[_gt].nii.gz, Info_{2CH,4CH}.cfg
      <root>/database_nifti/patientNNNN/patientNNNN_{2CH,4CH}_half_sequence[_gt].nii.gz   ED→ES, labelled
      <root>/database_split/subgroup_{training,validation,testing}.txt

The layout is detected from the folders present; anything else is an error, never a guess.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from synthboost.data.format import LABELS, PHASES, VIEWS, default_group, frame_name
from synthboost.data.imageio import read_medical, to_uint8

PATIENT_RE = re.compile(r"^patient\d{4}$")
QUALITY_WORDS = {"good": "good", "medium": "medium", "poor": "poor"}
SEX_WORDS = {"f": "female", "m": "male", "female": "female", "male": "male"}
#: cfg keys read as numbers when present (CAMUS 2019 uses LVef, the 2023 release may write EF).
NUMERIC_KEYS = ("ED", "ES", "NbFrame", "Age", "LVedv", "LVesv", "LVef", "EF", "FrameRate")
REQUIRED_KEYS = ("ED", "ES", "NbFrame", "Sex", "Age", "ImageQuality")
MAX_AGE = 120
NIFTI_SPLIT_FILES = {
    "train": "subgroup_training.txt",
    "val": "subgroup_validation.txt",
    "test": "subgroup_testing.txt",
}


@dataclasses.dataclass(frozen=True)
class PatientInfo:
    """Parsed ``Info_<view>.cfg``."""

    sex: str
    age: int
    quality: str
    ed: int
    es: int
    nb_frame: int
    lv_edv: float | None = None
    lv_esv: float | None = None
    lv_ef: float | None = None
    frame_rate: float | None = None


@dataclasses.dataclass(frozen=True)
class CamusFrame:
    """One annotated frame of the raw dataset (paths only; read with :func:`read_frame`)."""

    patient: str
    view: str
    phase: str
    group: str
    split: str
    image: Path
    label: Path
    cfg: Path

    @property
    def name(self) -> str:
        return frame_name(self.patient, self.view, self.phase)


def parse_cfg(path: str | Path) -> PatientInfo:
    """Parse a CAMUS ``Info_<view>.cfg`` file (``Key: value`` lines).

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: a line is malformed, a required key is missing or a value is invalid.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: metadata file not found")
    values: dict[str, str] = {}
    for i, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep or not key.strip():
            raise ValueError(f"{path}:{i}: malformed line {line!r} (expected 'Key: value')")
        values[key.strip()] = value.strip()
    missing = [k for k in REQUIRED_KEYS if k not in values]
    if missing:
        raise ValueError(f"{path}: missing keys {missing}")
    nums: dict[str, float] = {}
    for key in NUMERIC_KEYS:
        if key in values:
            try:
                nums[key] = float(values[key])
            except ValueError:
                raise ValueError(f"{path}: {key} is not a number: {values[key]!r}") from None
            if not math.isfinite(nums[key]):
                raise ValueError(f"{path}: {key} is not a finite number: {values[key]!r}")
    if not 0 <= nums["Age"] <= MAX_AGE:
        raise ValueError(f"{path}: Age must be between 0 and {MAX_AGE} years, got {values['Age']!r}")
    for key in ("ED", "ES", "NbFrame"):
        if nums[key] < 1 or nums[key] != int(nums[key]):
            raise ValueError(f"{path}: {key} must be a frame number ≥ 1, got {values[key]!r}")
    sex = SEX_WORDS.get(values["Sex"].lower())
    quality = QUALITY_WORDS.get(values["ImageQuality"].lower())
    if sex is None:
        raise ValueError(f"{path}: Sex must be F or M, got {values['Sex']!r}")
    if quality is None:
        raise ValueError(f"{path}: ImageQuality must be Good, Medium or Poor, got {values['ImageQuality']!r}")
    return PatientInfo(
        sex=sex,
        age=int(nums["Age"]),
        quality=quality,
        ed=int(nums["ED"]),
        es=int(nums["ES"]),
        nb_frame=int(nums["NbFrame"]),
        lv_edv=nums.get("LVedv"),
        lv_esv=nums.get("LVesv"),
        lv_ef=nums.get("LVef", nums.get("EF")),
        frame_rate=nums.get("FrameRate"),
    )


def detect_layout(root: str | Path) -> str:
    """Return ``"2019"`` or ``"2023"`` for a raw CAMUS folder, or raise naming what is missing."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: CAMUS folder not found")
    has_2019 = (root / "training").is_dir()
    has_2023 = (root / "database_nifti").is_dir()
    if has_2019 and has_2023:
        raise ValueError(
            f"{root}: holds both 'training/' (2019) and 'database_nifti/' (2023); point to one release"
        )
    if has_2019:
        return "2019"
    if has_2023:
        return "2023"
    raise ValueError(
        f"{root}: not a CAMUS release (expected 'training/' and 'testing/' for the 2019 MetaImage release, "
        "or 'database_nifti/' and 'database_split/' for the 2023 NIfTI release)"
    )


def _patients(folder: Path) -> list[str]:
    """Patient folders of a release folder; an entry named like a patient that is not one
    (``Patient0002``, ``patient2``, a broken link or a symlink loop) is an error, never skipped."""
    names = []
    for p in sorted(folder.iterdir()):
        if not p.name.lower().startswith("patient"):
            continue
        if not PATIENT_RE.match(p.name):
            raise ValueError(f"{p}: looks like a patient folder but is not named patientNNNN (4 digits)")
        try:
            p.resolve(strict=True)
        except (OSError, RuntimeError) as err:  # a symlink loop or a dangling link
            raise ValueError(f"{p}: unreadable patient entry ({err.__class__.__name__}: {err})") from err
        if not p.is_dir():
            raise ValueError(f"{p}: a patient entry that is not a folder")
        names.append(p.name)
    return names


def reference_val_count(n_training: int) -> int:
    """Validation patients taken from the start of the training release.

    The reference used patients 0001-0050 of the 450 training patients (1/9); the same fraction
    is kept for smaller datasets such as the phantom (at least one patient when n >= 2).
    """
    return max(1, n_training // 9) if n_training >= 2 else 0


def _read_split_file(path: Path) -> dict[str, set[str]]:
    from synthboost.utils import read_json

    data = read_json(path)
    if not isinstance(data, dict) or not set(data) <= {"train", "val", "test"}:
        raise ValueError(f"{path}: split file must be a JSON object with keys among train, val, test")
    out: dict[str, set[str]] = {}
    for split, names in data.items():
        bad = [n for n in names if not PATIENT_RE.match(str(n))]
        if bad:
            raise ValueError(f"{path}: {split} lists invalid patient ids {bad[:3]}")
        out[split] = set(map(str, names))
    return out


def _splits_2019(root: Path, split_file: Path | None) -> Iterator[tuple[str, str, str, Path]]:
    """Yield (patient, group, split, folder) for the 2019 release."""
    training = _patients(root / "training")
    testing = _patients(root / "testing") if (root / "testing").is_dir() else []
    override = _read_split_file(split_file) if split_file else None
    n_val = reference_val_count(len(training))
    for i, patient in enumerate(training):
        if override is not None:
            split = "val" if patient in override.get("val", set()) else "train"
            if patient not in override.get("val", set()) | override.get("train", set()):
                continue
        else:
            split = "val" if i < n_val else "train"
        yield patient, "train", split, root / "training" / patient
    for patient in testing:
        if override is None or patient in override.get("test", set()):
            yield patient, "test", "test", root / "testing" / patient


def _splits_2023(root: Path, split_file: Path | None) -> Iterator[tuple[str, str, str, Path]]:
    """Yield (patient, group, split, folder) for the 2023 release from its split files."""
    if split_file:
        splits = _read_split_file(split_file)
    else:
        splits = {}
        for split, fname in NIFTI_SPLIT_FILES.items():
            path = root / "database_split" / fname
            if not path.is_file():
                raise FileNotFoundError(f"{path}: split file of the 2023 CAMUS release not found")
            names = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
            bad = [n for n in names if not PATIENT_RE.match(n)]
            if bad:
                raise ValueError(f"{path}: invalid patient ids {bad[:3]}")
            splits[split] = set(names)
    for split in ("train", "val", "test"):
        for patient in sorted(splits.get(split, ())):
            folder = root / "database_nifti" / patient
            if not folder.is_dir():
                raise FileNotFoundError(f"{folder}: patient listed in the split but its folder is missing")
            yield patient, default_group(split), split, folder


@dataclasses.dataclass(frozen=True)
class CamusSequence:
    """One labelled ED→ES half-sequence of the 2023 release (paths only)."""

    patient: str
    view: str
    group: str
    split: str
    image: Path
    label: Path
    cfg: Path


def list_sequences(root: str | Path, split_file: str | Path | None = None) -> list[CamusSequence]:
    """List the labelled half-sequences of a raw CAMUS 2023 folder, in the same splits as the stills.

    Raises:
        ValueError: the folder is the 2019 release (it has no labelled sequences).
        FileNotFoundError: a patient lacks a half-sequence, its ``_gt`` or its cfg.
    """
    root = Path(root)
    if detect_layout(root) != "2023":
        raise ValueError(f"{root}: labelled half-sequences exist only in the CAMUS 2023 NIfTI release")
    out = []
    for patient, group, split, folder in _splits_2023(root, Path(split_file) if split_file else None):
        for view in VIEWS:
            image = folder / f"{patient}_{view}_half_sequence.nii.gz"
            label = folder / f"{patient}_{view}_half_sequence_gt.nii.gz"
            cfg = folder / f"Info_{view}.cfg"
            for p, what in (
                (image, "half-sequence"),
                (label, "half-sequence labels (_gt)"),
                (cfg, "metadata"),
            ):
                if not p.is_file():
                    raise FileNotFoundError(f"{p}: {what} file not found")
            out.append(CamusSequence(patient, view, group, split, image, label, cfg))
    return out


def check_labels(path: Path, labels: np.ndarray) -> np.ndarray:
    """``labels`` as uint8 after checking its values are CAMUS labels 0..3 (the error names ``path``)."""
    values = np.unique(labels)
    if values.tolist() == [0]:
        raise ValueError(f"{path}: label map is all zero (no structure annotated)")
    allowed = np.array([0, *LABELS])
    if not np.isin(values, allowed).all() or not np.allclose(labels, np.rint(labels)):
        raise ValueError(f"{path}: label values {values.tolist()[:10]} outside 0-3 (0 bg, 1 LV, 2 MYO, 3 LA)")
    return labels.astype(np.uint8)


def list_frames(root: str | Path, split_file: str | Path | None = None) -> tuple[str, list[CamusFrame]]:
    """List the annotated ED/ES frames of a raw CAMUS folder.

    Args:
        root: the release folder.
        split_file: optional JSON ``{"train": [...], "val": [...], "test": [...]}`` of patient ids that
            overrides the default splits (2019: ``val`` and ``train`` name training-release patients,
            ``test`` names testing-release patients).

    Returns:
        ``(layout, frames)``; missing images, labels or cfg files raise ``FileNotFoundError``.
    """
    root = Path(root)
    layout = detect_layout(root)
    ext = ".mhd" if layout == "2019" else ".nii.gz"
    walker = _splits_2019 if layout == "2019" else _splits_2023
    frames = []
    for patient, group, split, folder in walker(root, Path(split_file) if split_file else None):
        for view in VIEWS:
            cfg = folder / f"Info_{view}.cfg"
            for phase in PHASES:
                stem = folder / frame_name(patient, view, phase)
                image, label = Path(f"{stem}{ext}"), Path(f"{stem}_gt{ext}")
                for p, what in ((image, "image"), (label, "ground-truth label (_gt)"), (cfg, "metadata")):
                    if not p.is_file():
                        raise FileNotFoundError(f"{p}: {what} file not found")
                frames.append(CamusFrame(patient, view, phase, group, split, image, label, cfg))
    if not frames:
        raise ValueError(f"{root}: no patients found")
    return layout, frames


def read_frame(frame: CamusFrame) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Read and validate one frame: ``(image uint8, labels uint8 0..3, spacing (row, col) mm)``."""
    image, spacing = read_medical(frame.image)
    labels, _ = read_medical(frame.label)
    if image.shape != labels.shape:
        raise ValueError(
            f"{frame.label}: label size {labels.shape} does not match image {frame.image} {image.shape}"
        )
    return to_uint8(image), check_labels(frame.label, labels), spacing
