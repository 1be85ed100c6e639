"""Write a processed dataset (docs/formats.md) from any reader's records."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from synthboost.data.format import (
    LABELS,
    META_COLUMNS,
    DatasetInfo,
    image_path,
    mask_path,
    native_label_path,
)
from synthboost.data.imageio import resize, write_png
from synthboost.environment import ENVIRONMENT_KEY, environment_versions
from synthboost.utils import atomic_dir, get_logger, write_json_atomic, write_text_atomic

log = get_logger("data.prepare")


@dataclasses.dataclass
class Record:
    """One image of a dataset: its meta row (``META_COLUMNS`` keys), the image and native label map."""

    meta: dict[str, Any]
    image: np.ndarray
    labels: np.ndarray


def _progress(items: Iterable, description: str, total: int | None) -> Iterable:
    from synthboost.progress import track

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
    from synthboost.data.camus import parse_cfg, read_frame

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
    from synthboost.data.camus import check_labels, parse_cfg
    from synthboost.data.echo_io import read_echo

    for seq in sequences:
        info = parse_cfg(seq.cfg)
        loop = read_echo(seq.image)
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
    import itertools

    from synthboost.data.camus import list_frames, list_sequences, parse_cfg
    from synthboost.data.phantom import PHANTOM_MARKER

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
