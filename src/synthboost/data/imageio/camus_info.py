"""CAMUS ``Info_<view>.cfg`` metadata (``Key: value`` lines), read beside a CAMUS image by the echo reader
(frame rate) and by the CAMUS source (sex, age, quality, ED/ES, reference volumes)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

QUALITY_WORDS = {"good": "good", "medium": "medium", "poor": "poor"}


SEX_WORDS = {"f": "female", "m": "male", "female": "female", "male": "male"}


#: cfg keys read as numbers when present (CAMUS 2019 uses LVef, the 2023 release may write EF).
NUMERIC_KEYS = ("ED", "ES", "NbFrame", "Age", "LVedv", "LVesv", "LVef", "EF", "FrameRate")


REQUIRED_KEYS = ("ED", "ES", "NbFrame", "Sex", "Age", "ImageQuality")


MAX_AGE = 120


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
