"""The geometric shape classifier and the shape cache."""

from __future__ import annotations

import json

import numpy as np
import pytest
from skimage.draw import disk, ellipse, polygon

from synthboost.prompts.shapes import (
    FALLBACK_SHAPE,
    ShapeCache,
    classify_shape,
    extract_shape_cache,
    shape_features,
)

SIZE = 128


def _canvas() -> np.ndarray:
    return np.zeros((SIZE, SIZE), dtype=np.uint8)


def _poly(points: np.ndarray) -> np.ndarray:
    m = _canvas()
    m[polygon(points[:, 0], points[:, 1], m.shape)] = 255
    return m


def _rotated_square(angle: float, half: float = 35.0) -> np.ndarray:
    corners = np.array([[-half, -half], [-half, half], [half, half], [half, -half]])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return _poly(corners @ rot.T + SIZE / 2)


def test_disk_is_circle():
    m = _canvas()
    m[disk((64, 64), 40)] = 1
    f = shape_features(m)
    assert f.aspect_ratio == pytest.approx(1.0, abs=0.03)
    assert f.hull_fill == pytest.approx(np.pi / 4, abs=0.04)
    assert classify_shape(m) == "circle"


def test_elongated_ellipse_is_oval():
    m = _canvas()
    m[ellipse(64, 64, 20, 50, rotation=0.5)] = 1
    assert shape_features(m).aspect_ratio == pytest.approx(2.5, abs=0.1)
    assert classify_shape(m) == "oval"


@pytest.mark.parametrize("angle", [0.0, 0.3, np.pi / 4])
def test_square_any_rotation(angle):
    m = _rotated_square(angle)
    assert shape_features(m).hull_fill > 0.95
    assert classify_shape(m) == "square"


def test_three_to_one_rectangle():
    m = _canvas()
    m[50:80, 10:100] = 1
    f = shape_features(m)
    assert f.aspect_ratio == pytest.approx(3.0, abs=0.05)
    assert classify_shape(m) == "rectangle"


@pytest.mark.parametrize("points", [[[20, 64], [100, 20], [100, 110]], [[10, 10], [30, 120], [110, 40]]])
def test_triangle(points):
    m = _poly(np.array(points, dtype=float))
    assert shape_features(m).hull_fill == pytest.approx(0.5, abs=0.04)
    assert classify_shape(m) == "triangle"


def test_largest_component_decides_and_empty_falls_back():
    m = _canvas()
    m[disk((64, 64), 40)] = 1
    m[0:6, 0:20] = 1  # a speck elsewhere
    assert classify_shape(m) == "circle"
    assert classify_shape(_canvas()) == FALLBACK_SHAPE == "oval"
    assert classify_shape(_canvas(), fallback="circle") == "circle"
    with pytest.raises(ValueError, match="2-D"):
        shape_features(np.zeros((2, 4, 4)))


def _task(img, mask, shape):
    p = [f"Myocardium of {shape} shape in two-chamber view of the heart.", "x"]
    return {
        "img_name": img,
        "mask_name": mask,
        "prompts": {"p0": "", "p1": ["Myocardium of the heart."], "p2": p},
    }


def test_extract_and_lookup(tmp_path):
    (tmp_path / "val.json").write_text(json.dumps([_task("a.png", "mask_2/a_gt.png", "triangular")]))
    (tmp_path / "test.json").write_text(json.dumps([_task("a.png", "mask_2/a_gt.png", "oval")]))
    table = extract_shape_cache([tmp_path / "val.json", tmp_path / "test.json"])
    assert table == {
        "train": {"a.png|mask_2/a_gt.png": "triangular"},
        "test": {"a.png|mask_2/a_gt.png": "oval"},
    }
    (tmp_path / "cache.json").write_text(json.dumps(table))
    cache = ShapeCache.from_file(tmp_path / "cache.json")
    assert cache.get("test", "a.png", "mask_2/a_gt.png") == "oval"
    assert cache.get("train", "a.png", "mask_2/other/layout.png") == "triangular"  # same image + label
    assert cache.get("train", "a.png", "mask_1/a_gt.png") is None
    assert cache.get("nope", "a.png", "mask_2/a_gt.png") is None


def test_bad_cache_and_conflicts(tmp_path):
    with pytest.raises(ValueError, match="bad entry"):
        ShapeCache({"train": {"no-separator": "oval"}})
    (tmp_path / "a.json").write_text(json.dumps([_task("a.png", "mask_2/a_gt.png", "oval")]))
    (tmp_path / "b.json").write_text(json.dumps([_task("a.png", "mask_2/a_gt.png", "square")]))
    with pytest.raises(ValueError, match="b.json"):
        extract_shape_cache([tmp_path / "a.json", tmp_path / "b.json"])
