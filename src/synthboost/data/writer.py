"""Write a processed dataset (docs/formats.md) from any reader's records."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from synthboost.data.format import LABELS, META_COLUMNS, DatasetInfo, image_path, mask_path, native_label_path
from synthboost.data.imageio.medical import resize, write_png
from synthboost.logs import get_logger
from synthboost.progress import track
from synthboost.utils.environment import ENVIRONMENT_KEY, environment_versions
from synthboost.utils.files import atomic_dir, write_json_atomic, write_text_atomic

log = get_logger("data.writer")


@dataclasses.dataclass
class Record:
    """One image of a dataset: its meta row (``META_COLUMNS`` keys), the image and native label map."""

    meta: dict[str, Any]
    image: np.ndarray
    labels: np.ndarray


def _progress(items: Iterable, description: str, total: int | None) -> Iterable:

    return track(items, description, total)


def meta_to_csv(rows: list[dict[str, Any]]) -> str:
    """Serialise meta rows as ``meta.csv`` text (empty cells for missing values)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(META_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in META_COLUMNS})
    return buf.getvalue()


def write_record(root: Path, rec: Record, image_size: int, labels: tuple[int, ...] = tuple(LABELS)) -> None:
    """Write the resized image, one binary mask per annotated structure and the native label map."""
    group, name = rec.meta["group"], rec.meta["name"]
    size = (image_size, image_size)
    write_png(image_path(root, group, name), resize(rec.image, size))
    small = resize(rec.labels, size, nearest=True)
    for k in labels:
        write_png(mask_path(root, group, k, name), np.where(small == k, 255, 0).astype(np.uint8))
    write_png(native_label_path(root, group, name), rec.labels)


def write_dataset(
    out: str | Path,
    info: DatasetInfo,
    records: Iterable[Record],
    n: int | None = None,
    overwrite: bool = False,
    inputs: Sequence[str | Path] = (),
    finalize: Callable[[Path], Any] | None = None,
) -> Path:
    """Write records into a new processed dataset at ``out`` (atomically: temp folder, then rename).

    Args:
        out: destination folder; must not exist unless ``overwrite``.
        info: content of ``dataset.json``.
        records: the images (any iterable; consumed once).
        n: number of records, for the progress bar.
        overwrite: replace an existing dataset (only a folder holding ``dataset.json``, never one of
            ``inputs`` or a folder containing one).
        inputs: the folders the records are read from.
        finalize: called on the complete temporary folder before it is renamed into place (the CLI
            writes the prompts there, so a killed run never leaves a dataset without them).
    """
    out = Path(out)
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    with atomic_dir(out, overwrite=overwrite, markers=("dataset.json",), inputs=inputs) as tmp:
        for rec in _progress(records, f"Writing {out.name}", n):
            key = (rec.meta["group"], rec.meta["name"])
            if key in seen:
                raise ValueError(f"{out}: duplicate image {key[0]}/{key[1]} in the input")
            seen.add(key)
            write_record(tmp, rec, info.image_size, info.label_values)
            rows.append(rec.meta)
        if not rows:
            raise ValueError(f"{out}: no images to write")
        rows.sort(key=lambda r: (r["group"], r["name"]))
        write_text_atomic(tmp / "meta.csv", meta_to_csv(rows))
        write_json_atomic(tmp / "dataset.json", {**info.to_json(), ENVIRONMENT_KEY: environment_versions()})
        if finalize is not None:
            finalize(tmp)
    log.info("wrote %d images to %s", len(rows), out)
    return out
