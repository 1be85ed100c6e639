"""The prediction folder written by ``synthboost predict`` and read by ``synthboost evaluate``.

Layout (documented in ``docs/formats.md``, section "Prediction folder")::

    <out>/prediction.json                               info + one item per (image, structure)
    <out>/masks/<group>/mask_<k>/<name>_gt.png          0/255 on the reference grid (512×512)
    <out>/native/<group>/mask_<k>/<name>.png            0/255 at the original image size

The folder appears atomically: everything is written to a temporary sibling that is renamed
on :meth:`PredictionWriter.close`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from synthboost.data.format import LABELS, mask_relpath
from synthboost.data.imageio.medical import read_png, write_png
from synthboost.logs import get_logger
from synthboost.utils.files import atomic_dir, read_json, write_json_atomic

log = get_logger("evaluation.predictions")

PREDICTION_VERSION = 1
PREDICTION_JSON = "prediction.json"
#: Keys every prediction.json ``info`` must carry (others are kept as given).
REQUIRED_INFO: tuple[str, ...] = ("run", "dataset", "split", "prompt_level", "threshold", "model")


def native_relpath(group: str, label: int, name: str) -> str:
    """Native mask path relative to the prediction folder."""
    return f"native/{group}/mask_{label}/{name}.png"


def grid_relpath(group: str, label: int, name: str) -> str:
    """Reference-grid mask path relative to the prediction folder."""
    return f"masks/{group}/{mask_relpath(label, name)}"


@dataclasses.dataclass(frozen=True)
class PredictionItem:
    """One predicted (image, structure) pair."""

    group: str
    name: str
    label: int
    mask: str  # relative path of the 512-grid mask
    native: str  # relative path of the native-size mask


def _save_mask(path: Path, mask: np.ndarray) -> None:
    write_png(path, np.where(np.asarray(mask, dtype=bool), 255, 0).astype(np.uint8))


class PredictionWriter:
    """Write a prediction folder item by item; nothing appears at ``out`` before :meth:`close`.

    Use as a context manager (an exception discards the partial folder) or call
    :meth:`close` / :meth:`abort` yourself.
    """

    def __init__(
        self,
        out: str | Path,
        info: dict[str, Any],
        overwrite: bool = False,
        inputs: Sequence[str | Path] = (),
    ) -> None:
        missing = [k for k in REQUIRED_INFO if k not in info]
        if missing:
            raise ValueError(f"{Path(out) / PREDICTION_JSON}: info lacks keys {missing}")
        self.out = Path(out)
        self.info = dict(info)
        self.items: list[PredictionItem] = []
        self._seen: set[tuple[str, str, int]] = set()
        self._cm = atomic_dir(self.out, overwrite=overwrite, markers=(PREDICTION_JSON,), inputs=inputs)
        self._tmp = self._cm.__enter__()

    def add(self, group: str, name: str, label: int, grid_mask: np.ndarray, native_mask: np.ndarray) -> None:
        """Store one structure's masks (boolean or 0/1 arrays)."""
        if label not in LABELS:
            raise ValueError(f"{self.out}: label {label} not one of {sorted(LABELS)}")
        if (group, name, label) in self._seen:
            raise ValueError(f"{self.out}: duplicate prediction for {group}/{name} label {label}")
        if np.ndim(grid_mask) != 2 or np.ndim(native_mask) != 2:
            raise ValueError(f"{self.out}: masks of {name} must be 2-D")
        item = PredictionItem(
            group, name, label, grid_relpath(group, label, name), native_relpath(group, label, name)
        )
        _save_mask(self._tmp / item.mask, grid_mask)
        _save_mask(self._tmp / item.native, native_mask)
        self._seen.add((group, name, label))
        self.items.append(item)

    def file(self, relpath: str) -> Path:
        """Where to write an extra file of the folder (e.g. ``qc.csv``) before :meth:`close`."""
        return self._tmp / relpath

    def close(self) -> Path:
        """Write ``prediction.json`` and move the folder into place; return its path."""
        doc = {
            "version": PREDICTION_VERSION,
            **self.info,
            "items": [dataclasses.asdict(i) for i in self.items],
        }
        write_json_atomic(self._tmp / PREDICTION_JSON, doc)
        self._cm.__exit__(None, None, None)
        log.info("wrote %d predicted masks to %s", len(self.items), self.out)
        return self.out

    def abort(self) -> None:
        """Discard everything written so far."""
        try:
            self._cm.__exit__(RuntimeError, RuntimeError("aborted"), None)
        except RuntimeError:
            pass

    def __enter__(self) -> PredictionWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


@dataclasses.dataclass(frozen=True)
class Predictions:
    """A validated prediction folder."""

    root: Path
    info: dict[str, Any]
    items: tuple[PredictionItem, ...]


def read_predictions(folder: str | Path) -> Predictions:
    """Read and validate a prediction folder; errors name the file and the problem."""
    folder = Path(folder)
    path = folder / PREDICTION_JSON
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: prediction folder not found")
    doc = read_json(path, expect=dict)
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected a JSON object")
    if doc.get("version") != PREDICTION_VERSION:
        raise ValueError(
            f"{path}: version {doc.get('version')!r}, this synthboost reads {PREDICTION_VERSION}"
        )
    missing = [k for k in (*REQUIRED_INFO, "items") if k not in doc]
    if missing:
        raise ValueError(f"{path}: missing keys {missing}")
    items = []
    for i, raw in enumerate(doc["items"]):
        try:
            item = PredictionItem(**raw)
        except TypeError as err:
            raise ValueError(f"{path}: item {i} malformed ({err})") from err
        for rel in (item.mask, item.native):
            if not (folder / rel).is_file():
                raise ValueError(f"{path}: item {i} ({item.name}, label {item.label}) — file {rel} missing")
        items.append(item)
    info = {k: v for k, v in doc.items() if k != "items"}
    return Predictions(folder, info, tuple(items))


def load_mask(path: str | Path) -> np.ndarray:
    """Read a 0/255 (or 0/1) PNG mask as a boolean array."""
    return read_png(path) > 0
