"""Reader of the Echo-from-noise synthetic CAMUS set (SDM images, Stojanovski et al., ASMUS 2023).

Layout read (and written by ``synthboost synth sample`` / ``synth render``)::

    <root>/<split>/images/<stem>.png     grayscale, 256x256
    <root>/<split>/labels/<stem>.png     label map beside it
    <root>/attributes.json               optional: {stem: {sex, age, ...}} of generated shapes

with ``split`` in training / validation / testing and
``stem = patientNNNN_<view>_<phase>_<split>[_<k>]``. The testing images are the real CAMUS test
frames. Patient, view and phase come from the file name; sex and age from the CAMUS ``Info_<view>.cfg``
of the same patient *in the same release split* (training/validation images from ``training/``,
testing images from ``testing/``), or from ``attributes.json``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from synthboost.data.format import DatasetInfo
from synthboost.data.imageio.medical import read_png
from synthboost.data.sources.camus import detect_layout, parse_cfg
from synthboost.data.writer import Record, write_dataset
from synthboost.logs import get_logger
from synthboost.utils.files import read_json

log = get_logger("data.sources.sdm")

STEM_RE = re.compile(r"^(patient\d{4})_(2CH|4CH)_(ED|ES)_(training|validation|testing)(?:_(\d+))?$")
SPLIT_OF = {"training": "train", "validation": "val", "testing": "test"}
CAMUS_FOLDER_OF = {"training": "training", "validation": "training", "testing": "testing"}


def parse_label_map(spec: str) -> dict[int, int]:
    """Parse an override such as ``"0:0,85:1,170:2,255:3"`` (file value -> CAMUS label)."""
    out: dict[int, int] = {}
    for part in spec.split(","):
        src, sep, dst = part.partition(":")
        if not sep or not src.strip().isdigit() or dst.strip() not in {"0", "1", "2", "3"} or int(src) > 255:
            raise ValueError(f"label map {spec!r}: expected 'value:label' pairs, values 0-255, labels 0-3")
        out[int(src)] = int(dst)
    return out


def check_label_encoding(labels: np.ndarray, path: Path) -> None:
    """Refuse a label map that does not look like 0 background / 1 LV / 2 MYO / 3 LA.

    Checks the values present and the anatomy: the LV cavity (1) must be mostly bordered by
    myocardium (2), as it is in every CAMUS-encoded map; a 5-class conditioning map (0 outside the
    sector, 1 LV, 2 background, 3 MYO, 4 LA) or a scaled PNG fails with a message naming the file.
    """
    from scipy import ndimage

    values = np.unique(labels).tolist()
    hint = " (pass --label-map 'value:label,...' to map the file's values to 0 bg, 1 LV, 2 MYO, 3 LA)"
    if not set(values) <= {0, 1, 2, 3}:
        raise ValueError(f"{path}: label values {values[:8]} are not the CAMUS encoding 0-3{hint}")
    lv = labels == 1
    if not lv.any() or not (labels == 2).any():
        raise ValueError(
            f"{path}: LV cavity (1) or myocardium (2) missing; cannot verify the label encoding{hint}"
        )
    ring = ndimage.binary_dilation(lv, iterations=2) & ~lv
    frac_myo = float((labels[ring] == 2).mean())
    if frac_myo < 0.4:
        raise ValueError(
            f"{path}: only {frac_myo:.0%} of the LV cavity's border is myocardium; "
            f"this does not look like 0 bg / 1 LV / 2 MYO / 3 LA{hint}"
        )


def _warn_unused(folder: Path, used: set[str]) -> None:
    """Log every file of ``folder`` that is not read (nothing is skipped silently)."""
    unused = sorted(p.name for p in folder.iterdir() if p.name not in used) if folder.is_dir() else []
    if unused:
        log.warning(
            "%s: %d files not read (not a <stem>.png with its image): %s",
            folder,
            len(unused),
            ", ".join(unused),
        )


def list_sdm_images(root: str | Path) -> list[tuple[Path, Path, re.Match]]:
    """List (image, label, stem match) triples; every image needs its label map."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: SDM folder not found")
    found = []
    for split in ("training", "validation", "testing"):
        img_dir = root / split / "images"
        if not img_dir.is_dir():
            continue
        _warn_unused(img_dir, {p.name for p in img_dir.glob("*.png")})
        _warn_unused(root / split / "labels", {p.name for p in img_dir.glob("*.png")})
        for img in sorted(img_dir.glob("*.png")):
            m = STEM_RE.match(img.stem)
            if m is None:
                raise ValueError(
                    f"{img}: file name does not follow patientNNNN_<view>_<phase>_<split>[_<k>].png"
                )
            if m.group(4) != split:
                raise ValueError(f"{img}: file name says {m.group(4)!r} but it lies in {split}/")
            label = root / split / "labels" / img.name
            if not label.is_file():
                raise FileNotFoundError(f"{label}: label map of {img} not found")
            found.append((img, label, m))
    if not found:
        raise ValueError(f"{root}: no images in <split>/images/ (split = training, validation, testing)")
    return found


def _metadata_source(camus_raw: Path | None, attributes: Path | None, root: Path):
    """Return a function (stem, patient, view, split) -> dict of sex/age/quality/spacing."""

    if attributes is None and (root / "attributes.json").is_file():
        attributes = root / "attributes.json"
    if attributes is not None:
        table = read_json(attributes, expect=dict)

        def from_attributes(stem: str, patient: str, view: str, split: str) -> dict[str, Any]:
            if stem not in table:
                raise ValueError(f"{attributes}: no attributes for {stem}")
            a = table[stem]
            return {"sex": a.get("sex"), "age": a.get("age"), "quality": None}

        return from_attributes
    if camus_raw is None:
        raise ValueError(f"{root}: sex and age need --camus-raw (the CAMUS release) or an attributes.json")
    layout = detect_layout(camus_raw)
    if layout != "2019":
        raise ValueError(f"{camus_raw}: the SDM set follows the 2019 CAMUS numbering; give the 2019 release")

    def from_camus(stem: str, patient: str, view: str, split: str) -> dict[str, Any]:
        info = parse_cfg(Path(camus_raw) / CAMUS_FOLDER_OF[split] / patient / f"Info_{view}.cfg")
        # Real CAMUS test frames keep their quality; synthetic images have none.
        return {"sex": info.sex, "age": info.age, "quality": info.quality if split == "testing" else None}

    return from_camus


def sdm_records(
    root: Path, camus_raw: Path | None, attributes: Path | None, label_map: dict[int, int] | None
) -> tuple[int, Iterator[Record]]:
    """Return (count, records) of an SDM folder."""
    items = list_sdm_images(root)
    meta_of = _metadata_source(camus_raw, attributes, root)
    lut = None
    if label_map:
        lut = np.zeros(256, np.uint8)
        for src, dst in label_map.items():
            lut[src] = dst

    def gen() -> Iterator[Record]:
        for img_path, label_path, m in items:
            patient, view, phase, split = m.group(1), m.group(2), m.group(3), m.group(4)
            image, labels = read_png(img_path), read_png(label_path)
            if label_map:
                unknown = sorted(set(np.unique(labels).tolist()) - set(label_map))
                if unknown:
                    raise ValueError(f"{label_path}: values {unknown[:8]} not covered by --label-map")
                labels = lut[labels]
            check_label_encoding(labels, label_path)
            if image.shape != labels.shape:
                raise ValueError(f"{label_path}: size {labels.shape} does not match image {image.shape}")
            meta = {
                "name": img_path.stem,
                "group": "test" if split == "testing" else "train",
                "split": SPLIT_OF[split],
                "patient": patient,
                "view": view,
                "phase": phase,
                "domain": "real" if split == "testing" else "synthetic",
                "orig_height": image.shape[0],
                "orig_width": image.shape[1],
                **meta_of(img_path.stem, patient, view, split),
            }
            yield Record(meta, image, labels)

    return len(items), gen()


def prepare_sdm(
    root: str | Path,
    out: str | Path,
    camus_raw: str | Path | None = None,
    attributes: str | Path | None = None,
    label_map: dict[int, int] | None = None,
    image_size: int = 512,
    overwrite: bool = False,
    finalize: Callable[[Path], Any] | None = None,
) -> Path:
    """Turn an Echo-from-noise folder into a processed dataset (source ``sdm``); ``finalize`` as in
    :func:`synthboost.data.writer.write_dataset`."""
    root = Path(root)
    n, records = sdm_records(
        root, Path(camus_raw) if camus_raw else None, Path(attributes) if attributes else None, label_map
    )
    info = DatasetInfo(
        name=Path(out).name,
        source="sdm",
        image_size=image_size,
        extra={"raw": str(root.resolve()), "camus_raw": str(camus_raw or "")},
    )
    inputs = [root, *(Path(p) for p in (camus_raw, attributes) if p)]
    return write_dataset(out, info, records, n=n, overwrite=overwrite, inputs=inputs, finalize=finalize)
