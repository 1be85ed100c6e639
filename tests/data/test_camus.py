"""CAMUS reader and prepare: both layouts, splits, metadata, and every bad input."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from camus_fixtures import write_medical
from synthboost.data.imageio.medical import read_png
from synthboost.data.processed import check_dataset, read_meta
from synthboost.data.sources.camus import detect_layout, list_frames, parse_cfg, prepare_camus, read_frame


def test_detect_and_list_2019(camus2019: Path) -> None:
    layout, frames = list_frames(camus2019)
    assert layout == "2019"
    assert len(frames) == 12 * 4
    splits = {(f.group, f.patient): f.split for f in frames}
    assert splits[("train", "patient0001")] == "val"  # first 1/9 of training patients
    assert splits[("train", "patient0002")] == "train"
    assert splits[("test", "patient0001")] == "test"  # testing numbering restarts: separate group


def test_read_frame_spacing_row_col(camus2019: Path) -> None:
    _, frames = list_frames(camus2019)
    image, labels, spacing = read_frame(frames[0])
    assert image.dtype == np.uint8 and image.shape == (40, 32)
    assert set(np.unique(labels)) == {0, 1, 2, 3}
    assert spacing == pytest.approx((0.2, 0.3))  # written as (x=0.3, y=0.2)


def test_parse_cfg(camus2019: Path) -> None:
    info = parse_cfg(camus2019 / "training/patient0003/Info_2CH.cfg")
    assert (info.sex, info.age, info.quality, info.es, info.nb_frame) == ("female", 43, "good", 12, 14)
    assert (info.lv_edv, info.lv_esv, info.lv_ef) == (100.0, 40.0, 60.0)


def test_2023_layout_uses_split_files(camus2023: Path) -> None:
    layout, frames = list_frames(camus2023)
    assert layout == "2023"
    by_patient = {f.patient: (f.split, f.group) for f in frames}
    assert by_patient == {
        "patient0001": ("train", "train"),
        "patient0002": ("train", "train"),
        "patient0003": ("val", "train"),
        "patient0004": ("test", "test"),
    }
    image, labels, spacing = read_frame(frames[0])
    assert image.shape == labels.shape == (40, 32) and spacing == pytest.approx((0.2, 0.3))


def test_split_file_overrides(camus2019: Path, tmp_path: Path) -> None:
    sf = tmp_path / "split.json"
    sf.write_text('{"train": ["patient0001"], "val": ["patient0002"], "test": ["patient0002"]}')
    _, frames = list_frames(camus2019, sf)
    assert {(f.group, f.patient, f.split) for f in frames} == {
        ("train", "patient0001", "train"),
        ("train", "patient0002", "val"),
        ("test", "patient0002", "test"),
    }


def test_prepare_writes_processed_dataset(camus2019: Path, tmp_path: Path) -> None:
    out = prepare_camus(camus2019, tmp_path / "proc", image_size=64)
    rows = read_meta(out)
    assert len(rows) == 48
    row = next(r for r in rows if r["group"] == "test" and r["name"] == "patient0002_4CH_ES")
    assert (row["sex"], row["age"], row["quality"], row["split"]) == ("male", 72, "poor", "test")
    assert (row["orig_height"], row["orig_width"]) == (40, 32)
    assert row["spacing_row_mm"] == pytest.approx(0.2) and row["lv_ef"] == 60.0
    assert read_png(out / "images/test/patient0002_4CH_ES.png").shape == (64, 64)
    mask = read_png(out / "masks/train/mask_1/patient0001_2CH_ED_gt.png")
    assert set(np.unique(mask)) == {0, 255}
    native = read_png(out / "labels_native/train/patient0001_2CH_ED.png")
    assert native.shape == (40, 32) and set(np.unique(native)) == {0, 1, 2, 3}
    # only the prompts are missing until the prompts stage has run
    problems = check_dataset(out)
    assert problems and all("anns" in p for p in problems)


def _expect_error(raw: Path, out: Path, exc: type, *fragments: str) -> None:
    with pytest.raises(exc) as err:
        prepare_camus(raw, out, image_size=32)
    for frag in fragments:
        assert frag in str(err.value)
    assert not out.exists(), "prepare must not leave a half-written dataset"
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")]


def test_missing_cfg(camus2019: Path, tmp_path: Path) -> None:
    cfg = camus2019 / "training/patient0004/Info_4CH.cfg"
    cfg.unlink()
    _expect_error(camus2019, tmp_path / "o", FileNotFoundError, str(cfg), "metadata")


def test_malformed_cfg(camus2019: Path, tmp_path: Path) -> None:
    cfg = camus2019 / "training/patient0004/Info_2CH.cfg"
    cfg.write_text("ED: 1\nthis line is broken\n")
    _expect_error(camus2019, tmp_path / "o", ValueError, str(cfg), "malformed line")
    cfg.write_text("ED: 1\nES: 3\nNbFrame: 4\nSex: X\nAge: 50\nImageQuality: Good\n")
    _expect_error(camus2019, tmp_path / "o", ValueError, str(cfg), "Sex")
    cfg.write_text("ED: 1\nES: 3\nNbFrame: 4\nSex: F\nImageQuality: Good\n")
    _expect_error(camus2019, tmp_path / "o", ValueError, str(cfg), "missing keys", "Age")


def test_missing_gt(camus2019: Path, tmp_path: Path) -> None:
    gt = camus2019 / "testing/patient0001/patient0001_2CH_ES_gt.mhd"
    gt.unlink()
    _expect_error(camus2019, tmp_path / "o", FileNotFoundError, str(gt), "_gt")


def test_header_does_not_match_data(camus2019: Path, tmp_path: Path) -> None:
    mhd = camus2019 / "training/patient0005/patient0005_2CH_ED.mhd"
    text = mhd.read_text().replace("DimSize = 32 40", "DimSize = 64 80")
    mhd.write_text(text)
    _expect_error(camus2019, tmp_path / "o", ValueError, str(mhd), "cannot read")


def test_label_values_outside_range(camus2019: Path, tmp_path: Path) -> None:
    gt = camus2019 / "training/patient0006/patient0006_4CH_ED_gt.mhd"
    lab = np.zeros((40, 32), np.uint8)
    lab[5:10, 5:10] = 7
    write_medical(gt, lab)
    _expect_error(camus2019, tmp_path / "o", ValueError, str(gt), "outside 0-3")


def test_image_label_size_mismatch(camus2019: Path, tmp_path: Path) -> None:
    gt = camus2019 / "training/patient0007/patient0007_2CH_ES_gt.mhd"
    write_medical(gt, np.zeros((20, 32), np.uint8))
    _expect_error(camus2019, tmp_path / "o", ValueError, str(gt), "does not match")


def test_not_a_camus_folder(tmp_path: Path) -> None:
    (tmp_path / "something").mkdir()
    with pytest.raises(ValueError, match="not a CAMUS release"):
        detect_layout(tmp_path / "something")


def test_existing_output_is_kept(camus2019: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError, match="already exists"):
        prepare_camus(camus2019, out)
    assert (out / "keep.txt").read_text() == "x"


def test_meta_csv_column_order(camus2023: Path, tmp_path: Path) -> None:
    out = prepare_camus(camus2023, tmp_path / "p", image_size=32)
    with (out / "meta.csv").open() as f:
        header = next(csv.reader(f))
    from synthboost.data.format import META_COLUMNS

    assert tuple(header) == META_COLUMNS


def test_singleton_slice_axis_is_read_as_2d(tmp_path: Path) -> None:
    from synthboost.data.imageio.medical import read_medical

    write_medical(tmp_path / "a.mhd", np.arange(12, dtype=np.uint8).reshape(1, 3, 4), spacing=(0.3, 0.2, 1.0))
    arr, spacing = read_medical(tmp_path / "a.mhd")
    assert arr.shape == (3, 4) and spacing == pytest.approx((0.2, 0.3))
    write_medical(tmp_path / "b.mhd", np.zeros((2, 3, 4), np.uint8), spacing=(1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="b.mhd: expected a 2-D image"):
        read_medical(tmp_path / "b.mhd")
