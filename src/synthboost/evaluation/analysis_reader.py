"""Validated readers of an analysis folder written by ``synthboost analyze`` (docs/formats.md, "Cine
analysis"), for sequence evaluation: ``analysis.json``, each loop's ``summary.json`` and ``frames.csv``,
and ``biplane.json``. A file that is a list, holds strings where numbers belong or lacks a key is one
``ValueError`` naming the file and the key, never a traceback or a silently wrong score.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from synthboost.utils.files import read_json

VIEWS = ("2CH", "4CH")
#: ``frames.csv`` columns sequence evaluation relies on (the file has more; docs/formats.md).
FRAME_CSV_REQUIRED = ("frame", "lv_area", "is_ED", "is_ES")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _require(data: dict[str, Any], path: Path, keys: tuple[str, ...]) -> None:
    missing = [k for k in keys if k not in data]
    if missing:
        raise ValueError(
            f"{path}: missing keys {missing} (is this an analysis folder of synthboost analyze?)"
        )


def read_analysis_marker(folder: Path) -> list[str]:
    """The loop names listed in ``folder/analysis.json``; each must be a sub-folder name of ``folder``."""

    path = folder / ANALYSIS_MARKER
    data = read_json(path, expect=dict)
    _require(data, path, ("loops",))
    loops = data["loops"]
    if not isinstance(loops, list) or not all(isinstance(s, str) and s.strip() for s in loops):
        raise ValueError(f"{path}: loops must be a list of loop folder names, got {str(loops)[:80]}")
    bad = [s for s in loops if Path(s).name != s or s in (".", "..")]
    if bad:
        raise ValueError(f"{path}: loops {bad[:3]} are not folder names inside {folder}")
    if len(set(loops)) != len(loops):
        raise ValueError(f"{path}: loops lists a folder twice")
    return loops


def _frame_list(data: dict[str, Any], key: str, n_frames: int, path: Path) -> list[int]:
    value = data[key]
    if not isinstance(value, list) or not all(_is_int(f) for f in value):
        raise ValueError(f"{path}: {key} must be a list of frame numbers, got {str(value)[:80]}")
    outside = [f for f in value if not 0 <= f < n_frames]
    if outside:
        raise ValueError(f"{path}: {key} {outside[:3]} outside the loop's frames 0..{n_frames - 1}")
    return value


def read_loop_summary(path: Path) -> dict[str, Any]:
    """A loop's ``summary.json``, with the keys sequence evaluation uses checked by type and range."""
    data = read_json(path, expect=dict)
    _require(data, path, ("view", "source", "n_frames", "ed_frames", "es_frames", "ef_percent"))
    if data["view"] not in VIEWS:
        raise ValueError(f"{path}: view must be one of {VIEWS}, got {str(data['view'])[:40]!r}")
    if not isinstance(data["source"], str) or not data["source"]:
        raise ValueError(f"{path}: source must be the path of the analysed loop, got {data['source']!r}")
    n = data["n_frames"]
    if not _is_int(n) or n < 1:
        raise ValueError(f"{path}: n_frames must be a positive integer, got {str(n)[:40]!r}")
    _frame_list(data, "ed_frames", n, path)
    _frame_list(data, "es_frames", n, path)
    ef = data["ef_percent"]
    if ef is not None and (not isinstance(ef, (int, float)) or isinstance(ef, bool) or not math.isfinite(ef)):
        raise ValueError(f"{path}: ef_percent must be a finite number or null, got {str(ef)[:40]!r}")
    patient = data.get("patient")
    if patient is not None and not isinstance(patient, str):
        raise ValueError(f"{path}: patient must be a string or null, got {str(patient)[:40]!r}")
    return data


#: Columns of ``frames.csv`` that hold text (QC's reasons, written by ``analyze``).
FRAME_CSV_TEXT = ("qc_reasons",)


def read_frames_csv(path: Path, n_frames: int) -> list[dict[str, str]]:
    """A loop's ``frames.csv``: the required columns, one row per frame (``frame`` = 0..n-1) and numbers
    (or empty cells) in every column but the text ones (:data:`FRAME_CSV_TEXT`)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found (every analysed loop has one)")
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            columns = reader.fieldnames or []
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"{path}: not a CSV table ({err})") from err
    missing = [c for c in FRAME_CSV_REQUIRED if c not in columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing} (header: {columns[:6]})")
    if len(rows) != n_frames:
        raise ValueError(f"{path}: {len(rows)} rows but summary.json says n_frames = {n_frames}")
    numeric = [c for c in columns if c not in FRAME_CSV_TEXT]
    for line, row in enumerate(rows, start=2):
        for column in numeric:
            cell = (row.get(column) or "").strip()
            try:
                value = float(cell) if cell else math.nan
            except ValueError:
                raise ValueError(
                    f"{path}: line {line}, column {column}: {cell[:30]!r} is not a number"
                ) from None
            if column == "frame" and value != line - 2:
                raise ValueError(f"{path}: line {line}: frame {cell!r}, expected {line - 2}")
    return rows


def read_biplane(path: Path) -> dict[str, dict[str, Any]]:
    """``biplane.json`` (``{}`` when absent): patient → indices with a numeric or null ``ef_percent``."""
    if not path.is_file():
        return {}
    data = read_json(path, expect=dict)
    for patient, entry in data.items():
        if not isinstance(entry, dict):
            raise ValueError(f"{path}: entry {patient!r} must be an object of indices, got {str(entry)[:40]}")
        ef = entry.get("ef_percent")
        if ef is not None and (
            not isinstance(ef, (int, float)) or isinstance(ef, bool) or not math.isfinite(ef)
        ):
            raise ValueError(
                f"{path}: {patient}.ef_percent must be a finite number or null, got {str(ef)[:40]!r}"
            )
    return data


ANALYSIS_MARKER = "analysis.json"
