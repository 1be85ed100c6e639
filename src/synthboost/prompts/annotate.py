"""Write and read ``anns/{train,val,test}.json`` of a processed dataset (``docs/formats.md``).

``write_annotations`` turns ``meta.csv`` (plus the masks, for the geometric shape) into one task
entry per (image, structure) with the prompts of :mod:`synthboost.prompts.templates`, and records
the available levels in ``dataset.json``. ``load_annotations`` reads them back, validated; the
authors' released three-key entries load too.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

from synthboost.data.format import (
    LABELS,
    SPLITS,
    DatasetInfo,
    anns_path,
    default_group,
    mask_path,
    mask_relpath,
)
from synthboost.data.imageio.medical import read_png
from synthboost.data.processed import read_meta
from synthboost.logs import get_logger
from synthboost.prompts.shapes import ShapeCache, classify_shape
from synthboost.prompts.templates import build_prompts, levels_for
from synthboost.utils.files import read_json, write_json_atomic

log = get_logger("prompts.annotate")

SHAPE_SOURCES: tuple[str, ...] = ("geometry", "cache")


@dataclasses.dataclass(frozen=True)
class FrameMeta:
    """The prompt-relevant part of one ``meta.csv`` row."""

    name: str
    group: str
    split: str
    patient: str
    view: str
    phase: str | None
    sex: str | None
    age: int | None
    quality: str | None
    domain: str


def read_frames(root: str | Path) -> list[FrameMeta]:
    """The prompt-relevant columns of ``<root>/meta.csv`` (read and validated by the data stage)."""
    fields = [f.name for f in dataclasses.fields(FrameMeta)]
    return [FrameMeta(**{k: row[k] for k in fields}) for row in read_meta(root)]


class _ShapeSource:
    """Shape word and its provenance for one (frame, label): cache first, geometry otherwise."""

    def __init__(self, root: Path, mode: str, cache_file: Path | None) -> None:
        if mode not in SHAPE_SOURCES:
            raise ValueError(f"shape source {mode!r} is not one of {SHAPE_SOURCES}")
        if mode == "cache" and cache_file is None:
            raise ValueError("shape source 'cache' needs a shape cache file (--shape-cache)")
        self.root = root
        self.cache = ShapeCache.from_file(cache_file) if mode == "cache" else None
        self.used: Counter[str] = Counter()

    def __call__(self, frame: FrameMeta, label: int) -> tuple[str, str]:
        path = mask_path(self.root, frame.group, label, frame.name)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: mask listed in meta.csv not found")
        shape = None
        if self.cache is not None:
            shape = self.cache.get(frame.group, f"{frame.name}.png", mask_relpath(label, frame.name))
        source = "cache" if shape is not None else "geometry"
        if shape is None:
            shape = classify_shape(read_png(path) > 127)
        self.used[source] += 1
        return shape, source


def _entry(frame: FrameMeta, label: int, shape: str, shape_source: str, source: str, domain: bool) -> dict:
    structure = LABELS[label]
    prompts = build_prompts(
        structure, frame.view, frame.phase, frame.sex, frame.age, frame.quality, shape,
        source=source, domain=frame.domain if domain else None,
    )  # fmt: skip
    return {
        "img_name": f"{frame.name}.png",
        "mask_name": mask_relpath(label, frame.name),
        "prompts": prompts,
        "group": frame.group,
        "split": frame.split,
        "structure": structure,
        "label": label,
        "patient": frame.patient,
        "view": frame.view,
        "phase": frame.phase,
        "attributes": {
            "sex": frame.sex,
            "age": frame.age,
            "quality": frame.quality,
            "shape": shape,
            "shape_source": shape_source,
            "domain": frame.domain,
        },
    }


def write_annotations(
    root: Path, shape_source: str = "geometry", shape_cache: Path | None = None, domain: bool = False
) -> dict[str, int]:
    """Write ``<root>/anns/{train,val,test}.json`` and set ``prompt_levels`` in ``dataset.json``.

    Args:
        root: processed dataset folder (``dataset.json``, ``meta.csv``, ``masks/``).
        shape_source: ``"geometry"`` (classify every mask) or ``"cache"`` (words from
            ``shape_cache``; entries the cache lacks fall back to geometry). Each entry records
            which one gave its word in ``attributes.shape_source``.
        shape_cache: cache JSON (format in :mod:`synthboost.prompts.shapes`).
        domain: tag every prompt with the image's ``domain`` (real/synthetic) from ``meta.csv``.

    Returns:
        Number of entries per split (all three splits; an empty split writes ``[]``).
    """
    root = Path(root)
    info_path = root / "dataset.json"
    raw_info = read_json(info_path, expect=dict)
    info = DatasetInfo.from_json(raw_info, info_path)
    frames = read_frames(root)
    shapes = _ShapeSource(root, shape_source, Path(shape_cache) if shape_cache else None)
    per_split: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for frame in frames:
        for label in info.label_values:
            shape, provenance = shapes(frame, label)
            per_split[frame.split].append(_entry(frame, label, shape, provenance, info.source, domain))
    for split, entries in per_split.items():
        entries.sort(key=lambda e: (e["group"], e["img_name"], e["label"]))
        write_json_atomic(anns_path(root, split), entries)
    raw_info["prompt_levels"] = list(levels_for(info.source))
    write_json_atomic(info_path, raw_info)
    missing = sum(f.sex is None or f.age is None or f.quality is None for f in frames)
    if missing:
        log.warning(
            "%d images lack sex, age or quality: those clauses are left out of their prompts", missing
        )
    log.info("shape words: %s", dict(shapes.used))
    return {split: len(entries) for split, entries in per_split.items()}


def _check_entry(e: object) -> str | None:
    """What is wrong with a task entry, or ``None``."""
    if not isinstance(e, dict):
        return "not an object"
    for key in ("img_name", "mask_name"):
        if not isinstance(e.get(key), str) or not e[key]:
            return f"missing or empty {key!r}"
    prompts = e.get("prompts")
    if not isinstance(prompts, dict) or prompts.get("p0") != "":
        return "'prompts' must be an object with p0 = ''"
    for level, value in prompts.items():
        if level == "p0":
            continue
        if not (isinstance(value, list) and value and all(isinstance(s, str) and s for s in value)):
            return f"prompts[{level!r}] must be a non-empty list of non-empty strings"
    return None


def read_tasks(path: str | Path, group: str = "train") -> list[dict]:
    """Read and validate any task JSON (ours or the authors'); a missing ``group`` becomes ``group``."""
    path = Path(path)
    entries = read_json(path)
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a list of task entries")
    for i, e in enumerate(entries):
        problem = _check_entry(e)
        if problem:
            raise ValueError(f"{path}: entry {i}: {problem}")
        e.setdefault("group", group)
    return entries


def load_annotations(root: Path, split: str) -> list[dict]:
    """Read ``<root>/anns/<split>.json``, validated; a missing ``group`` becomes the split's default."""
    if split not in SPLITS:
        raise ValueError(f"split {split!r} is not one of {SPLITS}")
    return read_tasks(anns_path(root, split), default_group(split))
