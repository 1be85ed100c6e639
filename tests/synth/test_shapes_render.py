"""Label maps without images (shapes), rendering (speckle, sdm hook) and plausibility."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from synthboost.data.imageio.medical import read_png
from synthboost.data.phantom import heart_model as hm
from synthboost.data.phantom.speckle import render_bmode
from synthboost.synth.plausibility import check_label_map, is_plausible
from synthboost.synth.render import render_folder
from synthboost.synth.shapes import write_shape_masks
from synthboost.utils.files import read_json

SIZE = 64


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_shape_masks(tmp_path_factory.mktemp("sh") / "shapes", count=42, seed=3, image_size=SIZE)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_shapes_are_plausible_and_described(shapes: Path) -> None:
    attrs = read_json(shapes / "attributes.json")
    assert len(attrs) == 42
    assert {a["split"] for a in attrs.values()} == {"training", "validation"}
    assert {(a["view"], a["phase"]) for a in attrs.values()} == {(v, p) for v in hm.VIEWS for p in hm.PHASES}
    for stem, a in attrs.items():
        assert stem == f"{a['patient']}_{a['view']}_{a['phase']}_{a['split']}_1"
        assert a["sex"] in ("female", "male") and 20 <= a["age"] <= 90
        labels = read_png(shapes / "labels" / f"{stem}.png")
        sector = read_png(shapes / "sectors" / f"{stem}.png")
        assert labels.shape == sector.shape == (SIZE, SIZE)
        assert set(np.unique(sector)) == {0, 255} and not labels[sector == 0].any()
        assert is_plausible(labels), check_label_map(labels)


def test_render_layout_sizes_and_determinism(shapes: Path, tmp_path: Path) -> None:
    out = render_folder(shapes, tmp_path / "r1", seed=1)
    attrs = read_json(out / "attributes.json")
    assert attrs == read_json(shapes / "attributes.json")
    assert sorted(p.name for p in out.iterdir()) == ["attributes.json", "training", "validation"]
    for stem, a in attrs.items():
        image = read_png(out / a["split"] / "images" / f"{stem}.png")
        labels = read_png(out / a["split"] / "labels" / f"{stem}.png")
        assert image.shape == (SIZE, SIZE)
        np.testing.assert_array_equal(labels, read_png(shapes / "labels" / f"{stem}.png"))
        sector = read_png(shapes / "sectors" / f"{stem}.png") > 0
        assert not image[~sector].any() and image[labels == 2].mean() > image[labels == 1].mean() + 40
    assert _tree(out) == _tree(render_folder(shapes, tmp_path / "r2", seed=1))
    assert _tree(out) != _tree(render_folder(shapes, tmp_path / "r3", seed=2))


def test_sdm_renderer_hook(shapes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def sample_images(run_dir, labels, sectors, seed, trust_pickle):
        assert trust_pickle is False  # SDM weights load with weights_only unless --trust-pickle
        calls.append((run_dir, len(labels), seed))
        return [lab.astype(np.float32) * 50.0 for lab in labels]

    monkeypatch.setattr("synthboost.synth.render.sample_images", sample_images)
    out = render_folder(shapes, tmp_path / "sdm", renderer="sdm:/runs/x")
    assert calls[0][0] == Path("/runs/x") and sum(c[1] for c in calls) == 42
    stem, a = next(iter(read_json(out / "attributes.json").items()))
    image = read_png(out / a["split"] / "images" / f"{stem}.png")
    np.testing.assert_array_equal(image, read_png(shapes / "labels" / f"{stem}.png") * 50)

    with pytest.raises(ValueError, match="renderer"):
        render_folder(shapes, tmp_path / "bad", renderer="paint")
    assert not (tmp_path / "bad").exists()


def _toy() -> np.ndarray:
    lab = np.zeros((60, 40), np.uint8)
    lab[10:40, 8:32] = 2
    lab[14:38, 12:28] = 1
    lab[38:52, 12:28] = 3
    return lab


def test_plausibility_catches_problems() -> None:
    assert check_label_map(_toy()) == []
    no_la = _toy()
    no_la[no_la == 3] = 0
    assert check_label_map(no_la) == ["la: missing"]
    split_lv = _toy()
    split_lv[25, :] = 2
    assert "lv: 2 connected components" in check_label_map(split_lv)
    flipped = _toy()[::-1]
    assert any("not below" in p for p in check_label_map(flipped))
    tiny_myo = _toy()
    tiny_myo[10:13, 8:32] = 0
    tiny_myo[10:40, 8:11] = 0
    tiny_myo[10:40, 29:32] = 0
    assert not is_plausible(tiny_myo)


def test_speckle_speed_and_quality_contrast() -> None:
    patient = hm.sample_patient(np.random.default_rng(0))
    acq = patient.views["4CH"].resized(256, 256)
    sector = hm.sector_mask(acq)
    labels, extra = hm.rasterize_view(patient, "4CH", "ED", acq, sector)
    rng = np.random.default_rng(0)
    render_bmode(labels, sector, rng)  # warm-up
    times, images = [], {}
    for quality in ("good", "medium", "poor", "good", "poor"):
        start = time.perf_counter()
        images[quality] = render_bmode(labels, sector, rng, quality, extra)
        times.append(time.perf_counter() - start)
    assert np.median(times) < 0.05
    img = images["good"]
    assert img.dtype == np.uint8 and not img[~sector].any()
    assert img[labels == 2].mean() > img[labels == 1].mean() + 80
    assert img[extra == hm.TISSUE_BLOOD].mean() < img[labels == 2].mean() - 60
    assert images["poor"][labels == 1].mean() > img[labels == 1].mean()
    with pytest.raises(ValueError, match="quality"):
        render_bmode(labels, sector, rng, "excellent")
    with pytest.raises(ValueError, match="shape"):
        render_bmode(labels, sector[:10], rng)
