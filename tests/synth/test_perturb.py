"""Mask perturbation: label set, sector clipping, determinism, and the dataset writer."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synthboost.data.format import META_COLUMNS, image_path, native_label_path
from synthboost.data.imageio.region import sector_from_image
from synthboost.synth.perturb import camus_to_cond, cond_to_camus, perturb_dataset, perturb_many
from synthboost.synth.render import render_folder


def fan_sector(size: int) -> np.ndarray:
    """A 70° ultrasound fan with its apex at the top centre."""
    rows, cols = np.mgrid[0:size, 0:size].astype(float)
    angle = np.degrees(np.arctan2(cols - size / 2, rows + 1))
    return (np.abs(angle) < 35) & (np.hypot(rows + 1, cols - size / 2) < 0.95 * size)


def heart_labels(h: int, w: int, shift: int = 0) -> np.ndarray:
    """Native-size CAMUS label map: LV (1) in a myocardium (2) above an LA (3), inside the fan."""
    rows, cols = np.mgrid[0:h, 0:w].astype(float)
    cy, cx = 0.42 * h + shift, w / 2
    lab = np.zeros((h, w), np.uint8)
    lab[((rows - cy) / (0.26 * h)) ** 2 + ((cols - cx) / (0.16 * w)) ** 2 < 1] = 2
    lab[((rows - cy) / (0.20 * h)) ** 2 + ((cols - cx) / (0.10 * w)) ** 2 < 1] = 1
    lab[((rows - 0.8 * h) / (0.09 * h)) ** 2 + ((cols - cx) / (0.12 * w)) ** 2 < 1] = 3
    return lab


def write_tiny_dataset(root: Path, size: int = 64, native: tuple[int, int] = (80, 60)) -> Path:
    """A processed dataset (docs/formats.md): 3 train/val patients + 1 test patient, 2CH, ED/ES."""
    rng = np.random.default_rng(0)
    sector = fan_sector(size)
    rows = []
    for i, split in enumerate(("train", "train", "val", "test"), start=1):
        group = "test" if split == "test" else "train"
        for phase in ("ED", "ES"):
            name = f"patient{i:04d}_2CH_{phase}"
            lab = heart_labels(*native, shift=2 * i if phase == "ES" else 0)
            lab_sq = np.asarray(Image.fromarray(lab).resize((size, size), Image.NEAREST))
            img = np.where(sector, 40 + 60 * (lab_sq == 2) + rng.integers(1, 40, (size, size)), 0)
            for path, arr in (
                (image_path(root, group, name), img),
                (native_label_path(root, group, name), lab),
            ):
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(arr.astype(np.uint8)).save(path)
            rows.append({"name": name, "group": group, "split": split, "patient": f"patient{i:04d}",
                         "view": "2CH", "phase": phase, "domain": "real",
                         "orig_height": native[0], "orig_width": native[1]})  # fmt: skip
    with (root / "meta.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=META_COLUMNS, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return root


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    return write_tiny_dataset(tmp_path / "ds")


@pytest.fixture
def frame() -> tuple[np.ndarray, np.ndarray]:
    lab = np.asarray(Image.fromarray(heart_labels(80, 60)).resize((64, 64), Image.NEAREST))
    return lab, fan_sector(64)


def test_cond_encoding_round_trip(frame):
    lab, sector = frame
    cond = camus_to_cond(lab, sector)
    assert set(np.unique(cond)) == {0, 1, 2, 3, 4}
    assert np.array_equal(cond_to_camus(cond), np.where(sector, lab, 0))
    assert (cond[~sector] == 0).all() and (cond[sector & (lab == 0)] == 2).all()
    with pytest.raises(ValueError, match="outside CAMUS"):
        camus_to_cond(lab + 4, sector)


def test_sector_from_image_fills_dark_pixels_inside():
    sector = fan_sector(64)
    img = np.where(sector, 50, 0).astype(np.uint8)
    img[30:34, 30:34] = 0  # a black blood pool inside the sector
    assert np.array_equal(sector_from_image(img), sector)


def test_perturbation_properties(frame):
    lab, sector = frame
    maps = perturb_many(lab, sector, 4, seed=3)
    for cond in maps:
        assert set(np.unique(cond)) <= {0, 1, 2, 3, 4}
        assert (cond[~sector] == 0).all() and (cond[sector] > 0).all()
        area = (cond_to_camus(cond) > 0).sum() / (lab > 0).sum()
        assert 0.5 < area < 1.3  # scale 0.80–1.05 keeps the heart's size
        assert not np.array_equal(cond, camus_to_cond(lab, sector))  # it moved
    assert all(np.array_equal(a, b) for a, b in zip(maps, perturb_many(lab, sector, 4, seed=3), strict=True))
    assert not np.array_equal(maps[0], perturb_many(lab, sector, 1, seed=4)[0])
    assert not np.array_equal(maps[0], maps[1])


def test_perturb_dataset_layout(tiny_dataset, tmp_path):
    out = perturb_dataset(tiny_dataset, tmp_path / "pert", per_mask=2, seed=0, size=32)
    assert sorted(p.name for p in out.iterdir()) == ["attributes.json", "training", "validation"]
    stems = sorted(p.stem for p in (out / "training" / "cond").glob("*.png"))
    attributes = json.loads((out / "attributes.json").read_text())
    assert len(attributes) == 12
    assert {k: attributes[stems[1]][k] for k in ("patient", "view", "phase", "split")} == {
        "patient": "patient0001", "view": "2CH", "phase": "ED", "split": "training",
    }  # fmt: skip
    assert stems[:2] == ["patient0001_2CH_ED_training_0", "patient0001_2CH_ED_training_1"]
    assert len(stems) == 8 and len(list((out / "validation" / "cond").glob("*.png"))) == 4
    for stem in stems:
        cond = np.asarray(Image.open(out / "training" / "cond" / f"{stem}.png"))
        lab = np.asarray(Image.open(out / "training" / "labels" / f"{stem}.png"))
        sec = np.asarray(Image.open(out / "training" / "sectors" / f"{stem}.png"))
        assert cond.shape == lab.shape == sec.shape == (32, 32)
        assert lab.max() <= 3 and set(np.unique(sec)) <= {0, 255}
        assert np.array_equal(lab, cond_to_camus(cond)) and (cond[sec == 0] == 0).all()
    with pytest.raises(FileExistsError):
        perturb_dataset(tiny_dataset, out, per_mask=1)
    rendered = render_folder(out, tmp_path / "rendered", renderer="speckle", seed=0)
    assert len(list((rendered / "validation" / "images").glob("*.png"))) == 4
    assert np.array_equal(
        np.asarray(Image.open(rendered / "training" / "labels" / f"{stems[0]}.png")),
        np.asarray(Image.open(out / "training" / "labels" / f"{stems[0]}.png")),
    )
    again = perturb_dataset(tiny_dataset, tmp_path / "pert2", per_mask=2, seed=0, size=32)
    first = out / "validation" / "cond" / "patient0003_2CH_ES_validation_1.png"
    assert np.array_equal(
        np.asarray(Image.open(first)), np.asarray(Image.open(again / first.relative_to(out)))
    )


def test_cli_perturb_and_help(tiny_dataset, tmp_path):
    from typer.testing import CliRunner

    from synthboost.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["synth", "--help"])
    assert result.exit_code == 0
    for command in ("perturb", "train", "sample", "score", "shapes", "render"):
        assert command in result.output
    out = tmp_path / "cli_pert"
    result = runner.invoke(
        app, ["synth", "perturb", str(tiny_dataset), str(out), "--per-mask", "1", "--size", "16"]
    )
    assert result.exit_code == 0, result.output
    assert len(list(out.glob("*/cond/*.png"))) == 6


def test_several_images_of_one_frame_get_distinct_stems(tiny_dataset, tmp_path):
    # An SDM-like dataset: a second image of patient0001_2CH_ED under another name.
    meta = (tiny_dataset / "meta.csv").read_text().splitlines()
    row = next(line for line in meta if line.startswith("patient0001_2CH_ED,"))
    meta.append(row.replace("patient0001_2CH_ED,", "patient0001_2CH_ED_copy,", 1))
    (tiny_dataset / "meta.csv").write_text("\n".join(meta) + "\n")
    for src, dst in (
        (
            image_path(tiny_dataset, "train", "patient0001_2CH_ED"),
            image_path(tiny_dataset, "train", "patient0001_2CH_ED_copy"),
        ),
        (
            native_label_path(tiny_dataset, "train", "patient0001_2CH_ED"),
            native_label_path(tiny_dataset, "train", "patient0001_2CH_ED_copy"),
        ),
    ):
        dst.write_bytes(src.read_bytes())
    out = perturb_dataset(tiny_dataset, tmp_path / "pert", per_mask=2, seed=0, size=32)
    stems = sorted(p.stem for p in (out / "training" / "cond").glob("patient0001_2CH_ED_*.png"))
    assert stems == [f"patient0001_2CH_ED_training_{k}" for k in range(4)]
    assert len(json.loads((out / "attributes.json").read_text())) == 14


def test_half_sequence_frames_are_refused_before_writing(tiny_dataset, tmp_path):
    # A frame between ED and ES has no phase: it has no Echo-from-noise name (would be "..._None_...").
    with open(tiny_dataset / "meta.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    rows[0]["phase"] = ""
    with open(tiny_dataset / "meta.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(ValueError, match=r"meta\.csv: 1 train/val frames are neither ED nor ES"):
        perturb_dataset(tiny_dataset, tmp_path / "pert", per_mask=1, seed=0, size=32)
    assert not (tmp_path / "pert").exists()
