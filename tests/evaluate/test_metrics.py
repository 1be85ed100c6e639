"""Hand-computed metric cases: shifted squares, a ring, an outlier pixel, empty masks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.distance import directed_hausdorff

from synthboost.evaluation import metrics as m


def square(shape=(40, 40), top=10, left=10, size=10) -> np.ndarray:
    a = np.zeros(shape, bool)
    a[top : top + size, left : left + size] = True
    return a


def test_shifted_squares_overlap_and_distance():
    a, b = square(), square(top=13)
    assert m.compute_dice(a, b) == pytest.approx(0.7)
    assert m.compute_iou(a, b) == pytest.approx(70 / 130)
    assert m.compute_hausdorff(a, b) == pytest.approx(3.0)
    # 3 rows of 2 mm: the anisotropic spacing scales the row shift only
    assert m.compute_hausdorff(a, b, spacing=(2.0, 0.5)) == pytest.approx(6.0)
    c = square(left=13)
    assert m.compute_hausdorff(a, c, spacing=(2.0, 0.5)) == pytest.approx(1.5)


def test_ring_hd95_and_mean_distance_in_mm():
    gt = square(shape=(30, 30), top=0, left=0, size=21)
    pred = gt.copy()
    pred[7:14, 7:14] = False  # 7×7 hole: 28 inner boundary pixels
    assert m.compute_dice(pred, gt) == pytest.approx(2 * 392 / (392 + 441))
    # isotropic: every inner boundary pixel is 6 px from the outer square
    assert m.compute_hausdorff(pred, gt) == pytest.approx(6.0)
    assert m.compute_hd95(pred, gt) == pytest.approx(6.0)
    assert m.compute_mean_surface_distance(pred, gt) == pytest.approx(28 * 6 / (108 + 80))
    # CREATIS MAD: each direction's mean counts half: (28·6 / 108 + 0 / 80) / 2
    assert m.compute_mean_absolute_distance(pred, gt) == pytest.approx(28 * 6 / 108 / 2)
    # (2 mm, 0.5 mm): sides 3 mm; top/bottom rows 0.5·min(c, 20−c) → 3.5, 4, 4.5, 5, 4.5, 4, 3.5
    sp = (2.0, 0.5)
    assert m.compute_hausdorff(pred, gt, spacing=sp) == pytest.approx(5.0)
    assert m.compute_hd95(pred, gt, spacing=sp) == pytest.approx(4.325)  # 95th pct of 80×0 + 28 values
    total = 14 * 3 + 2 * (3.5 + 4 + 4.5 + 5 + 4.5 + 4 + 3.5)
    assert m.compute_mean_surface_distance(pred, gt, spacing=sp) == pytest.approx(total / 188)


def test_hd95_is_the_larger_directed_percentile_not_the_pooled_one():
    gt = square(shape=(30, 30), top=0, left=0, size=21)
    pred = gt.copy()
    pred[7:14, 7:14] = False
    sp = (2.0, 0.5)
    d_pg, d_gp = m.surface_distances(pred, gt, sp)
    directed = max(np.percentile(d_pg, 95), np.percentile(d_gp, 95))
    pooled = np.percentile(np.concatenate([d_pg, d_gp]), 95)
    assert directed == pytest.approx(4.325) and pooled == pytest.approx(3.825)  # the conventions differ
    assert m.compute_hd95(pred, gt, spacing=sp) == pytest.approx(directed)
    assert m.native_scores(pred, gt, sp)["hd95_mm"] == pytest.approx(directed)


def test_outlier_pixel_changes_max_not_hd95():
    gt = square(shape=(50, 40), top=5, left=5, size=20)
    pred = gt.copy()
    pred[34, 10] = True  # 10 rows below the bottom row (24)
    assert m.compute_hausdorff(pred, gt) == pytest.approx(10.0)
    assert m.compute_hausdorff(pred, gt, spacing=(2.0, 0.5)) == pytest.approx(20.0)
    assert m.compute_hd95(pred, gt, spacing=(2.0, 0.5)) == 0.0
    assert m.compute_mean_surface_distance(pred, gt, spacing=(2.0, 0.5)) == pytest.approx(20 / 153)


def test_empty_cases_documented_values():
    z = np.zeros((30, 40), bool)
    a = square(shape=(30, 40))
    assert m.compute_dice(z, z) == 1.0 and m.compute_iou(z, z) == 1.0
    assert m.compute_hausdorff(z, z) == 0.0 and m.compute_mean_surface_distance(z, z) == 0.0
    assert m.compute_dice(a, z) == 0.0 and m.compute_iou(z, a) == 0.0
    assert m.compute_hausdorff(a, z) == pytest.approx(50.0)  # hypot(30, 40)
    assert m.compute_hd95(z, a, spacing=(2.0, 0.5)) == pytest.approx(math.hypot(60, 20))
    assert m.native_scores(z, a, (1.0, 1.0)) == {"hd95_mm": 50.0, "mean_distance_mm": 50.0}


def test_matches_brute_force_hausdorff_including_border():
    rng = np.random.default_rng(0)
    for _ in range(5):
        a = rng.random((24, 30)) > 0.7
        b = rng.random((24, 30)) > 0.6
        a[0, :] = True  # touch the image border
        sp = (1.7, 0.6)
        ea = np.argwhere(m._boundary(np.pad(a, 1))[1:-1, 1:-1]) * sp
        eb = np.argwhere(m._boundary(np.pad(b, 1))[1:-1, 1:-1]) * sp
        want = max(directed_hausdorff(ea, eb)[0], directed_hausdorff(eb, ea)[0])
        assert m.compute_hausdorff(a, b, spacing=sp) == pytest.approx(want)


def test_grid_scores_reference_columns():
    gt = square(shape=(512, 512), top=100, left=100, size=100)
    pred = square(shape=(512, 512), top=103, left=100, size=100)
    s = m.grid_scores(pred, gt)
    assert s["dice"] == pytest.approx(100 * m.compute_dice(pred, gt))
    assert s["iou"] == pytest.approx(100 * m.compute_iou(pred, gt))
    assert s["hausdorff_distance"] == pytest.approx(300.0)
    # reference meaning: Dice minus the Dice of an all-ones / all-zeros prediction
    assert s["ones_dice_diff"] == pytest.approx(s["dice"] - 100 * 2 * 10_000 / (512 * 512 + 10_000))
    assert s["zeros_dice_diff"] == pytest.approx(s["dice"])
    assert m.dice_gain_over_constant(pred, gt, True) == pytest.approx(s["ones_dice_diff"] / 100)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="shape"):
        m.compute_dice(np.zeros((3, 3)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="spacing"):
        m.compute_hausdorff(square(), square(), spacing=(1.0, -1.0))
