"""SDM (Echo-from-noise) reader: names, metadata from the right CAMUS split, label encoding checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from camus_fixtures import toy_labels
from synthboost.data.processed import read_meta
from synthboost.data.sources.sdm import check_label_encoding, parse_label_map, prepare_sdm


def _png(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def make_sdm(root: Path, encode=lambda lab: lab) -> Path:
    rng = np.random.default_rng(0)
    stems = [
        ("training", "patient0002_2CH_ED_training_0"),
        ("training", "patient0002_2CH_ED_training_1"),
        ("validation", "patient0001_4CH_ES_validation_3"),
        ("testing", "patient0001_4CH_ES_testing"),
    ]
    for split, stem in stems:
        lab = toy_labels()
        _png(root / split / "images" / f"{stem}.png", (rng.random(lab.shape) * 255).astype(np.uint8))
        _png(root / split / "labels" / f"{stem}.png", encode(lab).astype(np.uint8))
    return root


def test_prepare_sdm_metadata_from_matching_release_split(camus2019: Path, tmp_path: Path) -> None:
    root = make_sdm(tmp_path / "sdm")
    out = prepare_sdm(root, tmp_path / "proc", camus_raw=camus2019, image_size=32)
    rows = {r["name"]: r for r in read_meta(out)}
    assert len(rows) == 4
    val = rows["patient0001_4CH_ES_validation_3"]
    test = rows["patient0001_4CH_ES_testing"]
    # training-release patient0001 is a 41-year-old female; testing patient0001 a 71-year-old male.
    assert (val["split"], val["group"], val["sex"], val["age"], val["quality"]) == (
        "val",
        "train",
        "female",
        41,
        None,
    )
    assert (test["split"], test["group"], test["sex"], test["age"], test["quality"]) == (
        "test",
        "test",
        "male",
        71,
        "poor",
    )
    assert val["domain"] == "synthetic" and test["domain"] == "real"
    assert rows["patient0002_2CH_ED_training_1"]["split"] == "train"


def test_five_class_conditioning_map_is_refused(camus2019: Path, tmp_path: Path) -> None:
    # 0 outside sector, 1 LV, 2 in-sector background, 3 MYO, 4 LA
    five = {0: 2, 1: 1, 2: 3, 3: 4}
    root = make_sdm(tmp_path / "sdm", lambda lab: np.vectorize(five.get)(lab))
    with pytest.raises(ValueError, match="not the CAMUS encoding 0-3") as err:
        prepare_sdm(root, tmp_path / "proc", camus_raw=camus2019)
    assert "--label-map" in str(err.value) and "labels" in str(err.value)
    assert not (tmp_path / "proc").exists()


def test_swapped_labels_are_refused_then_overridden(camus2019: Path, tmp_path: Path) -> None:
    swap = {0: 0, 1: 2, 2: 1, 3: 3}  # LV and MYO exchanged: values fine, anatomy wrong
    root = make_sdm(tmp_path / "sdm", lambda lab: np.vectorize(swap.get)(lab))
    with pytest.raises(ValueError, match="does not look like"):
        prepare_sdm(root, tmp_path / "proc", camus_raw=camus2019)
    out = prepare_sdm(
        root, tmp_path / "proc", camus_raw=camus2019, label_map=parse_label_map("0:0,1:2,2:1,3:3")
    )
    native = np.asarray(Image.open(out / "labels_native/train/patient0002_2CH_ED_training_0.png"))
    assert np.array_equal(native, toy_labels())


def test_scaled_png_needs_map(tmp_path: Path) -> None:
    lab = toy_labels() * 85
    with pytest.raises(ValueError, match="not the CAMUS encoding"):
        check_label_encoding(lab, tmp_path / "x.png")
    check_label_encoding(toy_labels(), tmp_path / "x.png")  # the right encoding passes


def test_bad_names_and_missing_labels(camus2019: Path, tmp_path: Path) -> None:
    root = make_sdm(tmp_path / "sdm")
    bad = root / "training/images/heart_01.png"
    _png(bad, np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="heart_01.png: file name"):
        prepare_sdm(root, tmp_path / "p", camus_raw=camus2019)
    bad.unlink()
    (root / "training/labels/patient0002_2CH_ED_training_1.png").unlink()
    with pytest.raises(FileNotFoundError, match="label map"):
        prepare_sdm(root, tmp_path / "p", camus_raw=camus2019)


def test_metadata_source_required(tmp_path: Path) -> None:
    root = make_sdm(tmp_path / "sdm")
    with pytest.raises(ValueError, match="--camus-raw"):
        prepare_sdm(root, tmp_path / "p")


def test_attributes_json(tmp_path: Path) -> None:
    import json

    root = make_sdm(tmp_path / "sdm")
    stems = [p.stem for p in root.glob("*/images/*.png")]
    (root / "attributes.json").write_text(json.dumps({s: {"sex": "male", "age": 33} for s in stems}))
    out = prepare_sdm(root, tmp_path / "p", image_size=32)
    assert {(r["sex"], r["age"]) for r in read_meta(out)} == {("male", 33)}


def test_label_map_values_must_fit_a_byte() -> None:
    assert parse_label_map("0:0,85:1,170:2,255:3") == {0: 0, 85: 1, 170: 2, 255: 3}
    with pytest.raises(ValueError, match="values 0-255"):
        parse_label_map("0:0,300:1")
