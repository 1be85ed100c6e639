"""Read and validate a processed dataset (docs/formats.md)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from synthboost.data.format import (
    DOMAINS,
    MAX_AGE,
    META_COLUMNS,
    META_OPTIONAL_COLUMNS,
    PHASES,
    QUALITIES,
    SEXES,
    SPLITS,
    VIEWS,
    DatasetInfo,
    anns_path,
    default_group,
    image_path,
    mask_path,
    native_label_path,
)
from synthboost.data.imageio.medical import read_png
from synthboost.utils.files import read_json

_CHOICES = {
    "split": SPLITS,
    "view": VIEWS,
    "phase": PHASES,
    "sex": SEXES,
    "quality": QUALITIES,
    "domain": DOMAINS,
}
_OPTIONAL = ("sex", "quality", "phase")
_INTS = ("orig_height", "orig_width", "frame")
_FLOATS = ("spacing_row_mm", "spacing_col_mm", "lv_edv", "lv_esv", "lv_ef", "phase_position")


def read_info(root: str | Path) -> DatasetInfo:
    """Read and validate ``<root>/dataset.json``."""
    path = Path(root) / "dataset.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found; is {root} a processed dataset (synthboost prepare)?")
    return DatasetInfo.from_json(read_json(path, expect=dict), path)


def _parse_age(value: str) -> int | None:
    if value == "":
        return None
    age = float(value)  # accepts "56" and "56.0"; ValueError otherwise
    if not age.is_integer() or not 0 <= age <= MAX_AGE:
        raise ValueError(f"not an integer age in 0..{MAX_AGE}")
    return int(age)


def _parse_row(row: dict[str, str]) -> dict[str, Any]:
    """Validate and convert one row; raises ``ValueError`` naming the column."""
    out: dict[str, Any] = {k: (v or "").strip() for k, v in row.items() if k is not None}
    for col in META_OPTIONAL_COLUMNS:
        out.setdefault(col, "")
    for col in ("name", "group", "patient"):
        if not out[col]:
            raise ValueError(f"empty {col}")
    for col, choices in _CHOICES.items():
        if col in _OPTIONAL and out[col] == "":
            out[col] = None
        elif out[col] not in choices:
            opt = " or empty" if col in _OPTIONAL else ""
            raise ValueError(f"{col} {out[col]!r} is not one of {choices}{opt}")
    try:
        out["age"] = _parse_age(out["age"])
    except ValueError as err:
        raise ValueError(f"age {row['age']!r}: {err}") from None
    for col in _INTS + _FLOATS:
        if out[col] == "":
            out[col] = None
            continue
        try:
            out[col] = int(out[col]) if col in _INTS else float(out[col])
        except ValueError:
            raise ValueError(f"{col} {row[col]!r} is not a number") from None
    if out["phase_position"] is not None and not 0.0 <= out["phase_position"] <= 1.0:
        raise ValueError(f"phase_position {out['phase_position']} outside [0, 1]")
    return out


def read_meta(root: str | Path) -> list[dict[str, Any]]:
    """Read and validate ``<root>/meta.csv`` (the one reader of that file).

    Numbers are parsed and empty optional cells become ``None``; errors name the file, the line
    and the column; a duplicate (group, name) is an error.
    """
    path = Path(root) / "meta.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [
            c for c in META_COLUMNS if c not in (reader.fieldnames or ()) and c not in META_OPTIONAL_COLUMNS
        ]
        if missing:
            raise ValueError(f"{path}: missing columns {missing} (see docs/formats.md, meta.csv)")
        rows, seen = [], set()
        for line, row in enumerate(reader, start=2):
            try:
                parsed = _parse_row(row)
            except ValueError as err:
                raise ValueError(f"{path}: line {line} ({row.get('name')!r}): {err}") from None
            key = (parsed["group"], parsed["name"])
            if key in seen:
                raise ValueError(f"{path}: line {line}: duplicate image {key[0]}/{key[1]}")
            seen.add(key)
            rows.append(parsed)
    if not rows:
        raise ValueError(f"{path}: no rows")
    return rows


def spacing_mm(row: dict[str, Any]) -> tuple[float, float]:
    """Pixel spacing ``(row_mm, col_mm)`` of a meta row; ``ValueError`` when it is unknown."""
    sr, sc = row.get("spacing_row_mm"), row.get("spacing_col_mm")
    if sr is None or sc is None or sr <= 0 or sc <= 0:
        raise ValueError(f"meta.csv: {row['group']}/{row['name']} has no positive pixel spacing")
    return float(sr), float(sc)


def _check_png(
    path: Path, shape: tuple[int, int], allowed: tuple[int, ...] | None, problems: list[str]
) -> None:

    if not path.is_file():
        problems.append(f"{path}: missing")
        return
    try:
        arr = read_png(path)
    except ValueError as err:
        problems.append(str(err))
        return
    if arr.shape != shape:
        problems.append(f"{path}: size {arr.shape}, expected {shape}")
    if allowed is not None and not np.isin(np.unique(arr), allowed).all():
        problems.append(f"{path}: values {np.unique(arr).tolist()[:6]} outside {list(allowed)}")


def entry_problem(entry: object) -> str | None:
    """What makes a task entry of ``anns/*.json`` unreadable (not an object; ``img_name``, ``mask_name``
    or ``group`` not a non-empty string; ``prompts`` not an object), or ``None``."""
    if not isinstance(entry, dict):
        return f"not an object ({type(entry).__name__} {str(entry)[:40]!r})"
    for key in ("img_name", "mask_name"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            return f"{key} must be a non-empty file name, got {entry.get(key)!r}"
    if "group" in entry and (not isinstance(entry["group"], str) or not entry["group"]):
        return f"group must be a non-empty folder name, got {entry['group']!r}"
    if not isinstance(entry.get("prompts", {}), dict):
        return f"prompts must be an object of prompt levels, got {type(entry['prompts']).__name__}"
    return None


def check_dataset(root: str | Path, check_files: bool = True) -> list[str]:
    """Validate a processed dataset; return a list of problems (empty when valid).

    Checks ``dataset.json``, ``meta.csv``, every image, mask and native label map (sizes and
    values), and that every task entry of ``anns/*.json`` points to existing files and holds the
    dataset's prompt levels.
    """
    root = Path(root)
    problems: list[str] = []
    try:
        info = read_info(root)
        rows = read_meta(root)
    except (FileNotFoundError, ValueError) as err:
        return [str(err)]
    size = (info.image_size, info.image_size)
    if check_files:
        for row in rows:
            g, n = row["group"], row["name"]
            _check_png(image_path(root, g, n), size, None, problems)
            for k in info.label_values:
                _check_png(mask_path(root, g, k, n), size, (0, 255), problems)
            native = native_label_path(root, g, n)
            _check_png(native, (row["orig_height"], row["orig_width"]), (0, *info.label_values), problems)
    known = {(r["group"], f"{r['name']}.png") for r in rows}
    for split in SPLITS:
        path = anns_path(root, split)
        if not path.is_file():
            problems.append(f"{path}: missing (run `synthboost prompts {root}`)")
            continue
        try:
            entries = read_json(path)
        except ValueError as err:
            problems.append(str(err))
            continue
        if not isinstance(entries, list):
            problems.append(f"{path}: expected a list of task entries, got {type(entries).__name__}")
            continue
        for i, e in enumerate(entries):
            malformed = entry_problem(e)
            if malformed:
                problems.append(f"{path}: entry {i}: {malformed}")
                continue
            group = e.get("group", default_group(split))
            if (group, e.get("img_name")) not in known:
                problems.append(f"{path}: entry {i} image {group}/{e.get('img_name')} not in meta.csv")
            elif not (root / "masks" / group / e.get("mask_name", "")).is_file():
                problems.append(f"{path}: entry {i} mask {e.get('mask_name')} missing")
            lacking = [lv for lv in info.prompt_levels if lv not in e.get("prompts", {})]
            if lacking:
                problems.append(f"{path}: entry {i} lacks prompt levels {lacking}")
    return problems
