"""The shape word of a structure (P7 for CAMUS, P6 for SDM): geometry or a cache of VQA answers.

The authors asked a visual question answering model for the shape; its answers cannot be derived
from the other attributes. Two pluggable sources:

* ``geometry`` — :func:`classify_shape`, a deterministic rule on the binary mask.
* ``cache`` — :class:`ShapeCache`, words looked up per (group, image, mask), e.g. the authors'
  answers extracted from their released task files with :func:`extract_shape_cache`.

Cache file format (JSON), nested by group because the CAMUS testing patients reuse the numbers
of the training patients::

    {"train": {"patient0001_2CH_ED.png|mask_1/patient0001_2CH_ED_gt.png": "oval", ...},
     "test":  {"patient0001_2CH_ED.png|mask_1/patient0001_2CH_ED_gt.png": "oval", ...}}

Keys are ``"<img_name>|<mask_name>"`` as in the task files. A lookup that misses the exact key
falls back to the same image and label number (``mask_<k>``), so the SDM reference's
``mask_1/validation/<name>.png`` keys also serve our ``mask_1/<name>_gt.png`` layout.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull
from skimage import measure

from synthboost.logs import get_logger
from synthboost.prompts.templates import STRUCTURE_WORDS
from synthboost.utils.files import read_json

log = get_logger("prompts.shapes")

SHAPES: tuple[str, ...] = ("circle", "oval", "square", "rectangle", "triangle")
#: Word given to an empty mask (the reference's most frequent answer; no structure, no geometry).
FALLBACK_SHAPE = "oval"
#: Hull area / minimum-area rectangle area: any triangle gives 0.5, an ellipse pi/4 = 0.785,
#: a rectangle 1.0. The thresholds sit halfway between.
TRIANGLE_MAX_FILL = 0.64
BOX_MIN_FILL = 0.89
#: Long / short side of the minimum-area rectangle above which a shape is elongated.
ELONGATED_RATIO = 1.25

_LABEL_RE = re.compile(r"(?:^|/)mask_(\d+)/")
_SHAPE_RE = re.compile("^(?:" + "|".join(map(re.escape, STRUCTURE_WORDS.values())) + r") of ([a-z]+) shape ")


@dataclasses.dataclass(frozen=True)
class ShapeFeatures:
    """Geometry of the largest connected component of a mask (pixel units)."""

    area: float  # convex hull area
    hull_fill: float  # hull area / minimum-area enclosing rectangle area
    aspect_ratio: float  # long / short side of that rectangle


def _largest_component(mask: np.ndarray) -> np.ndarray:
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    if n <= 1:
        return labels > 0
    sizes = ndimage.sum_labels(np.ones_like(labels), labels, index=np.arange(1, n + 1))
    return labels == (int(np.argmax(sizes)) + 1)


def _hull_points(component: np.ndarray) -> np.ndarray:
    """Sub-pixel outline of a component (marching squares at level 0.5, pixel centres on integers)."""
    padded = np.pad(component.astype(float), 1)
    return np.concatenate(measure.find_contours(padded, 0.5)) - 1.0


def _min_area_rectangle(vertices: np.ndarray) -> tuple[float, float, float]:
    """Area and sides of the smallest rectangle around a convex polygon (one side on a hull edge)."""
    edges = np.roll(vertices, -1, axis=0) - vertices
    u = edges / np.linalg.norm(edges, axis=1, keepdims=True)
    v = np.stack([-u[:, 1], u[:, 0]], axis=1)
    pu, pv = vertices @ u.T, vertices @ v.T
    w, h = np.ptp(pu, axis=0), np.ptp(pv, axis=0)
    best = int(np.argmin(w * h))
    return float(w[best] * h[best]), float(w[best]), float(h[best])


def shape_features(mask: np.ndarray) -> ShapeFeatures | None:
    """Features of the largest connected component of ``mask`` (non-zero = foreground); ``None`` if empty."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"shape_features expects a 2-D mask, got shape {mask.shape}")
    component = _largest_component(mask > 0)
    if not component.any():
        return None
    hull = ConvexHull(_hull_points(component))
    vertices = hull.points[hull.vertices]
    rect_area, w, h = _min_area_rectangle(vertices)
    return ShapeFeatures(
        area=float(hull.volume), hull_fill=float(hull.volume) / rect_area, aspect_ratio=max(w, h) / min(w, h)
    )


def classify_shape(mask: np.ndarray, fallback: str = FALLBACK_SHAPE) -> str:
    """Shape word of a binary mask: circle, oval, square, rectangle or triangle.

    Decision rule, on the convex hull of the largest 8-connected component (the outline a viewer
    names, so the myocardium's horseshoe counts by its hull):

    1. ``fill`` = hull area / area of the minimum-area enclosing rectangle (rotation invariant).
       Any triangle has exactly 0.5, an ellipse pi/4, a rectangle 1.
    2. ``fill < 0.64`` -> triangle; ``fill >= 0.89`` -> square or rectangle; otherwise round
       (circle or oval).
    3. Round and box shapes split by the rectangle's side ratio: ``< 1.25`` -> circle / square,
       else oval / rectangle.

    An empty mask gives ``fallback`` (default :data:`FALLBACK_SHAPE`, "oval").
    """
    feats = shape_features(mask)
    if feats is None:
        return fallback
    elongated = feats.aspect_ratio >= ELONGATED_RATIO
    if feats.hull_fill < TRIANGLE_MAX_FILL:
        return "triangle"
    if feats.hull_fill >= BOX_MIN_FILL:
        return "rectangle" if elongated else "square"
    return "oval" if elongated else "circle"


def cache_key(img_name: str, mask_name: str) -> str:
    """Key of one entry in a shape cache."""
    return f"{img_name}|{mask_name}"


def _label_of(mask_name: str) -> int | None:
    m = _LABEL_RE.search(mask_name)
    return int(m.group(1)) if m else None


class ShapeCache:
    """Shape words per (group, img_name, mask_name); see the module docstring for the file format."""

    def __init__(self, table: dict[str, dict[str, str]], origin: str = "shape cache") -> None:
        if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
            raise ValueError(f"{origin}: expected {{group: {{'img|mask': shape}}}}")
        self.table = table
        self.origin = origin
        self._by_label: dict[tuple[str, str, int | None], str] = {}
        for group, entries in table.items():
            for key, shape in entries.items():
                if "|" not in key or not isinstance(shape, str) or not shape.isalpha():
                    raise ValueError(f"{origin}: bad entry {key!r}: {shape!r} in group {group!r}")
                img_name, mask_name = key.split("|", 1)
                self._by_label[(group, img_name, _label_of(mask_name))] = shape

    @classmethod
    def from_file(cls, path: str | Path) -> ShapeCache:
        """Read a cache JSON file."""
        return cls(read_json(path), origin=str(path))

    def __len__(self) -> int:
        return sum(len(v) for v in self.table.values())

    def get(self, group: str, img_name: str, mask_name: str) -> str | None:
        """The cached word, or ``None`` when the cache does not know this (image, structure)."""
        shape = self.table.get(group, {}).get(cache_key(img_name, mask_name))
        if shape is None:
            shape = self._by_label.get((group, img_name, _label_of(mask_name)))
        return shape


def shape_in_prompts(prompts: dict) -> str | None:
    """The shape word of a task entry's prompts (from its highest level), or ``None``."""
    levels = sorted((k for k in prompts if k != "p0"), key=lambda k: int(k[1:]))
    if not levels:
        return None
    m = _SHAPE_RE.match(prompts[levels[-1]][0])
    return m.group(1) if m else None


def extract_shape_cache(task_files: Iterable[str | Path]) -> dict[str, dict[str, str]]:
    """Build a cache table from task JSONs (e.g. the authors' ``tasks/camus/{val,test}.json``).

    The group of an entry is its ``group`` key, else ``test`` for a file named ``test.json`` and
    ``train`` otherwise (the rule of ``docs/formats.md``). Entries without a shape are skipped.
    """
    table: dict[str, dict[str, str]] = {}
    for path in map(Path, task_files):
        entries = read_json(path)
        if not isinstance(entries, list):
            raise ValueError(f"{path}: expected a list of task entries")
        for i, e in enumerate(entries):
            try:
                shape = shape_in_prompts(e["prompts"])
                key = cache_key(e["img_name"], e["mask_name"])
            except (KeyError, TypeError, IndexError) as err:
                raise ValueError(f"{path}: entry {i} is not a task entry ({err!r})") from err
            if shape is None:
                continue
            group = e.get("group") or ("test" if path.stem == "test" else "train")
            old = table.setdefault(group, {}).setdefault(key, shape)
            if old != shape:
                raise ValueError(f"{path}: entry {i} ({key}) says {shape!r}, an earlier file {old!r}")
    log.info("extracted %d shape words", sum(len(v) for v in table.values()))
    return table
