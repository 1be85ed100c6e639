"""to_masks on a known probability map."""

from __future__ import annotations

import numpy as np
import pytest

from synthboost.evaluation.postprocess import nearest_resize, to_masks


def ramp(h: int = 4, w: int = 5) -> np.ndarray:
    return np.tile(np.arange(w, dtype=np.float32) / (w - 1), (h, 1))  # 0, .25, .5, .75, 1


def test_to_masks_grid_and_native():
    grid, native = to_masks(ramp(), native_shape=(3, 10), threshold=0.5, grid=10)
    assert grid.dtype == bool and grid.shape == (10, 10)
    assert native.dtype == bool and native.shape == (3, 10)
    # grid: threshold first (columns 3, 4 of 5), then nearest → output columns 6..9
    np.testing.assert_array_equal(grid[0], np.arange(10) >= 6)
    assert (grid == grid[0]).all()
    # native: bilinear x → x/2 − 0.25 in input columns; value > 0.5 ⇔ x ≥ 5
    np.testing.assert_array_equal(native[1], np.arange(10) >= 5)


def test_to_masks_default_grid_and_threshold():
    prob = np.zeros((8, 8), np.float32)
    prob[2:6, 2:6] = 0.8
    grid, native = to_masks(prob, (16, 24), threshold=0.7)
    assert grid.shape == (512, 512) and grid.sum() == 256 * 256
    assert native.shape == (16, 24) and 0 < native.sum() < 16 * 24


def test_nearest_resize_identity_and_downscale():
    a = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(nearest_resize(a, (3, 4)), a)
    np.testing.assert_array_equal(nearest_resize(a, (3, 2)), a[:, [1, 3]])  # pixel centres 1.0 and 3.0


@pytest.mark.parametrize("bad", [np.full((4, 4), 1.5), np.full((4, 4), np.nan), np.zeros((2, 4, 4))])
def test_to_masks_rejects_bad_probabilities(bad):
    with pytest.raises(ValueError, match="to_masks"):
        to_masks(bad, (10, 10))
