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
import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from synthboost.data.format import LABELS, PHASES, VIEWS, DatasetInfo, default_group, frame_name
from synthboost.data.imageio.budget import PREPARE_BUDGET, check_budget
from synthboost.data.imageio.camus_info import parse_cfg
from synthboost.data.imageio.echo import read_echo
from synthboost.data.imageio.medical import read_medical, to_uint8
from synthboost.data.writer import Record, write_dataset
from synthboost.logs import get_logger
from synthboost.utils.files import read_json

log = get_logger("data.sources.camus")

#: Written by the phantom generator at the root of a CAMUS-layout folder (source ``phantom``).
PHANTOM_MARKER = "phantom.json"
PATIENT_RE = re.compile(r"^patient\d{4}$")
NIFTI_SPLIT_FILES = {
    "train": "subgroup_training.txt",
    "val": "subgroup_validation.txt",
    "test": "subgroup_testing.txt",
}


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
    check_budget(frame.image, PREPARE_BUDGET)
    check_budget(frame.label, PREPARE_BUDGET)
    image, spacing = read_medical(frame.image)
    labels, _ = read_medical(frame.label)
    if image.shape != labels.shape:
        raise ValueError(
            f"{frame.label}: label size {labels.shape} does not match image {frame.image} {image.shape}"
        )
    return to_uint8(image), check_labels(frame.label, labels), spacing


def _camus_meta(
    item: Any, info: Any, name: str, shape: tuple[int, ...], spacing: tuple[float, float]
) -> dict:
    """The meta row of a CAMUS still or sequence frame (``item``: a CamusFrame or CamusSequence)."""
    return {
        "name": name,
        "group": item.group,
        "split": item.split,
        "patient": item.patient,
        "view": item.view,
        "sex": info.sex,
        "age": info.age,
        "quality": info.quality,
        "domain": "real",
        "orig_height": shape[-2],
        "orig_width": shape[-1],
        "spacing_row_mm": round(spacing[0], 6),
        "spacing_col_mm": round(spacing[1], 6),
        "lv_edv": info.lv_edv,
        "lv_esv": info.lv_esv,
        "lv_ef": info.lv_ef,
    }


def camus_records(frames: list, cfg_cache: dict[Path, Any] | None = None) -> Iterable[Record]:
    """Read CAMUS frames lazily and turn them into records (``cfg_cache``: already parsed cfg files).

    ``frame`` is the 0-based cfg index of ED / ES (``ED - 1``, ``ES - 1``); ``phase_position`` 0 / 1.
    """

    cfg_cache = dict(cfg_cache or {})
    for fr in frames:
        if fr.cfg not in cfg_cache:
            cfg_cache[fr.cfg] = parse_cfg(fr.cfg)
        info = cfg_cache[fr.cfg]
        image, labels, spacing = read_frame(fr)
        meta = _camus_meta(fr, info, fr.name, image.shape, spacing)
        meta.update(phase=fr.phase, frame=(info.ed if fr.phase == "ED" else info.es) - 1)
        meta["phase_position"] = 0.0 if fr.phase == "ED" else 1.0
        yield Record(meta, image, labels)


def sequence_frame_name(patient: str, view: str, frame: int) -> str:
    """Stem of a half-sequence frame between ED and ES: ``patientNNNN_<view>_frameKKK`` (0-based)."""
    return f"{patient}_{view}_frame{frame:03d}"


def camus_sequence_records(sequences: list) -> Iterable[Record]:
    """The frames strictly between ED and ES of CAMUS 2023 half-sequences (ED and ES come from the stills).

    ``phase`` is empty, ``frame`` the 0-based index in the sequence and ``phase_position``
    ``(frame - ED) / (ES - ED)`` with ED, ES from the cfg (1-based there).
    """

    for seq in sequences:
        info = parse_cfg(seq.cfg)
        loop = read_echo(seq.image, PREPARE_BUDGET)
        if loop.labels is None or loop.spacing_mm is None:
            raise ValueError(f"{seq.image}: half-sequence without labels or spacing")
        n = loop.n_frames
        if info.nb_frame != n:
            raise ValueError(f"{seq.cfg}: NbFrame {info.nb_frame} but {seq.image.name} holds {n} frames")
        ed, es = info.ed - 1, info.es - 1
        if not 0 <= ed < es < n:
            raise ValueError(f"{seq.cfg}: ED {info.ed} / ES {info.es} not increasing within 1..{n}")
        labels = check_labels(seq.label, loop.labels)
        for k in range(ed + 1, es):
            name = sequence_frame_name(seq.patient, seq.view, k)
            meta = _camus_meta(seq, info, name, loop.frames.shape, loop.spacing_mm)
            meta.update(phase=None, frame=k, phase_position=round((k - ed) / (es - ed), 6))
            yield Record(meta, loop.frames[k], labels[k])


def prepare_camus(
    raw: str | Path,
    out: str | Path,
    image_size: int = 512,
    split_file: str | Path | None = None,
    overwrite: bool = False,
    half_sequences: bool = False,
    finalize: Callable[[Path], Any] | None = None,
) -> Path:
    """Turn a raw CAMUS release (2019 or 2023 layout, or the phantom) into a processed dataset.

    The phantom is recognised by the ``phantom.json`` file its generator writes, and recorded as
    source ``phantom``. Prompts are written afterwards by the prompts stage. With
    ``half_sequences`` (2023 layout only) every labelled frame between ED and ES of the
    half-sequences is added beside the ED/ES stills. ``finalize``: see :func:`write_dataset`.
    """
    raw = Path(raw)
    layout, frames = list_frames(raw, split_file)
    sequences = list_sequences(raw, split_file) if half_sequences else []
    source = "phantom" if (raw / PHANTOM_MARKER).is_file() else "camus"
    info = DatasetInfo(
        name=Path(out).name,
        source=source,
        image_size=image_size,
        extra={"layout": layout, "raw": str(raw.resolve()), "split_file": str(split_file or ""),
               "half_sequences": half_sequences},
    )  # fmt: skip
    log.info("%s: CAMUS %s layout, %d frames, %d half-sequences", raw, layout, len(frames), len(sequences))
    infos = {fr.cfg: parse_cfg(fr.cfg) for fr in frames}  # every metadata file is valid before any write
    records = itertools.chain(camus_records(frames, infos), camus_sequence_records(sequences))
    inputs = [raw, *filter(None, [split_file])]
    return write_dataset(
        out, info, records, n=None if sequences else len(frames), overwrite=overwrite, inputs=inputs,
        finalize=finalize,
    )  # fmt: skip
