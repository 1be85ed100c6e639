"""write_annotations / load_annotations on a tiny processed dataset written here, and the CLI."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import typer
from PIL import Image
from skimage.draw import disk, polygon
from typer.testing import CliRunner

from synthboost.cli import prompts as commands
from synthboost.data.format import META_COLUMNS, DatasetInfo, anns_path, image_path, mask_path
from synthboost.prompts.annotate import load_annotations, write_annotations
from synthboost.prompts.templates import levels_for

SIZE = 64
#        name, group, split, patient, view, phase, sex, age, quality, domain
FRAMES = [
    ("patient0002_4CH_ES", "train", "train", "patient0002", "4CH", "ES", "male", "70", "poor", "synthetic"),
    ("patient0001_2CH_ED", "train", "train", "patient0001", "2CH", "ED", "female", "56", "good", "real"),
    ("patient0003_2CH_ES", "train", "val", "patient0003", "2CH", "ES", "", "", "", "real"),
    ("patient0001_4CH_ED", "test", "test", "patient0001", "4CH", "ED", "male", "73.0", "medium", "real"),
]


def _masks() -> dict[int, np.ndarray]:
    lv, myo, la = (np.zeros((SIZE, SIZE), np.uint8) for _ in range(3))
    lv[disk((32, 32), 18)] = 255
    myo[10:30, 4:60] = 255
    la[polygon([8, 56, 56], [32, 6, 58], la.shape)] = 255
    return {1: lv, 2: myo, 3: la}


def _write_meta(root, rows, columns=META_COLUMNS):
    with (root / "meta.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for r in rows:
            w.writerow((list(r) + [""] * len(columns))[: len(columns)])


@pytest.fixture
def root(tmp_path):
    info = DatasetInfo(name="tiny", source="camus", image_size=SIZE, extra={"keep": 1})
    (tmp_path / "dataset.json").write_text(json.dumps(info.to_json()))
    for name, group, *_ in FRAMES:
        image_path(tmp_path, group, name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((SIZE, SIZE), np.uint8)).save(image_path(tmp_path, group, name))
        for k, m in _masks().items():
            mask_path(tmp_path, group, k, name).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(m).save(mask_path(tmp_path, group, k, name))
    _write_meta(tmp_path, FRAMES)
    return tmp_path


def test_write_and_load(root):
    assert write_annotations(root) == {"train": 6, "val": 3, "test": 3}
    info = json.loads((root / "dataset.json").read_text())
    assert info["prompt_levels"] == list(levels_for("camus")) and info["extra"] == {"keep": 1}
    train = load_annotations(root, "train")
    names = ["patient0001_2CH_ED.png", "patient0002_4CH_ES.png"]
    assert [(e["img_name"], e["label"]) for e in train] == [(n, k) for n in names for k in (1, 2, 3)]
    e = train[0]
    assert e["mask_name"] == "mask_1/patient0001_2CH_ED_gt.png"
    assert (e["group"], e["split"], e["structure"], e["patient"], e["view"], e["phase"]) == (
        "train",
        "train",
        "lv",
        "patient0001",
        "2CH",
        "ED",
    )
    assert e["attributes"] == {
        "sex": "female",
        "age": 56,
        "quality": "good",
        "shape": "circle",
        "shape_source": "geometry",
        "domain": "real",
    }
    assert e["prompts"]["p7"][0] == (
        "Left ventricular cavity of circle shape in two-chamber view of the heart at end of the diastole "
        "cycle of a fifty-six-year-old female with good image quality."
    )
    assert [x["attributes"]["shape"] for x in train[:3]] == ["circle", "rectangle", "triangle"]
    test = load_annotations(root, "test")
    assert test[0]["group"] == "test" and test[0]["attributes"]["age"] == 73
    val = load_annotations(root, "val")
    assert val[0]["attributes"]["sex"] is None and val[0]["prompts"]["p6"] == val[0]["prompts"]["p3"]


def test_domain_and_cache(root, tmp_path_factory):
    cache = tmp_path_factory.mktemp("c") / "cache.json"
    cache.write_text(
        json.dumps({"train": {"patient0001_2CH_ED.png|mask_2/patient0001_2CH_ED_gt.png": "triangular"}})
    )
    write_annotations(root, shape_source="cache", shape_cache=cache, domain=True)
    train = load_annotations(root, "train")
    assert [(x["attributes"]["shape"], x["attributes"]["shape_source"]) for x in train[:2]] == [
        ("circle", "geometry"),
        ("triangular", "cache"),
    ]
    assert "of triangular shape" in train[1]["prompts"]["p7"][0]
    assert train[0]["prompts"]["p1"][1] == "Left ventricular cavity in a real cardiac ultrasound."
    assert train[3]["prompts"]["p1"][1] == "Left ventricular cavity in a synthetic cardiac ultrasound."
    with pytest.raises(ValueError, match="needs a shape cache"):
        write_annotations(root, shape_source="cache")
    with pytest.raises(ValueError, match="shape source"):
        write_annotations(root, shape_source="vqa")


def test_sdm_source_levels(root):
    info = json.loads((root / "dataset.json").read_text()) | {"source": "sdm"}
    (root / "dataset.json").write_text(json.dumps(info))
    write_annotations(root)
    assert json.loads((root / "dataset.json").read_text())["prompt_levels"] == list(levels_for("sdm"))
    assert "image quality" not in json.dumps(load_annotations(root, "train"))


@pytest.mark.parametrize(
    "change,match",
    [
        ({1: ("view", "3CH")}, r"meta.csv: line 3 .*view '3CH'"),
        ({0: ("age", "old")}, r"meta.csv: line 2 .*age 'old'"),
        ({0: ("domain", "")}, r"meta.csv: line 2 .*domain"),
        ({3: ("split", "dev")}, r"meta.csv: line 5 .*split"),
        ({1: ("name", "patient0002_4CH_ES")}, r"meta.csv: line 3: duplicate"),
    ],
)
def test_bad_meta(root, change, match):
    rows = [list(r) for r in FRAMES]
    for i, (col, value) in change.items():
        rows[i][META_COLUMNS.index(col)] = value
    _write_meta(root, rows)
    with pytest.raises(ValueError, match=match):
        write_annotations(root)
    assert not anns_path(root, "train").exists()


def test_missing_column_and_mask(root):
    _write_meta(root, [r[:9] for r in FRAMES], columns=META_COLUMNS[:9])
    with pytest.raises(ValueError, match=r"meta.csv: missing columns \['domain', 'orig_height'"):
        write_annotations(root)
    _write_meta(root, FRAMES)
    mask_path(root, "test", 3, FRAMES[3][0]).unlink()
    with pytest.raises(FileNotFoundError, match="mask_3/patient0001_4CH_ED_gt.png"):
        write_annotations(root)


def test_load_reference_style_entries(root):
    anns_path(root, "test").parent.mkdir(exist_ok=True)
    ref = [{"img_name": "a.png", "mask_name": "mask_1/a_gt.png", "prompts": {"p0": "", "p1": ["A.", "B."]}}]
    anns_path(root, "test").write_text(json.dumps(ref))
    assert load_annotations(root, "test")[0]["group"] == "test"
    ref[0]["prompts"]["p1"] = "A."
    anns_path(root, "val").write_text(json.dumps(ref))
    with pytest.raises(ValueError, match=r"val.json: entry 0: prompts\['p1'\]"):
        load_annotations(root, "val")
    with pytest.raises(ValueError, match="split"):
        load_annotations(root, "dev")


def test_cli(root):
    app = typer.Typer()
    commands.register(app)
    result = CliRunner().invoke(app, ["prompts", str(root)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["train: 6", "val: 3", "test: 3"]  # log records go to stderr
    out = root / "cache.json"
    result = CliRunner().invoke(app, ["shape-cache", str(out), str(anns_path(root, "train"))])
    assert result.exit_code == 0, result.output
    assert len(json.loads(out.read_text())["train"]) == 6
