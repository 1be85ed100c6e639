"""The CAMUS script's method of discs on domes whose discs are derived by hand, pixel by pixel."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from synthboost.clinical.camus_ef import frame_discs, isotropic_mask, lv_volumes_camus

sys.path.insert(0, str(Path(__file__).parent))
from camus_literal import literal_discs, literal_volumes  # noqa: E402

CC, SIZE = 150, 300  # dome centre column (even) and image size


def dome(a: int, height: int, base_row: int) -> np.ndarray:
    """Half ellipse, apex up: pixel (r, c) inside iff (c-CC)²/a² + (base_row-r)²/height² ≤ 1, r ≤ base_row."""
    r, c = np.mgrid[:SIZE, :SIZE]
    inside = (c - CC) ** 2 * height**2 + (base_row - r) ** 2 * a**2 <= a**2 * height**2
    return inside & (r <= base_row)


def half_extent(a: int, height: int, dz: int) -> int:
    """Largest integer h with h²·H² + dz²·a² ≤ a²·H² (the row's pixels run CC-h..CC+h); -1 if empty."""
    if abs(dz) > height or dz < 0:
        return -1
    return math.isqrt((a * a * height * height - dz * dz * a * a) // (height * height))


def hand_diameters_px(a: int, height: int, base_row: int) -> list[float]:
    """The script's 20 diameters (pixels) on :func:`dome`, derived by hand.

    Base mid point: the bottom contour point under the centre, (base_row + ½, CC); apex: the top
    contour point (base_row - height - ½, CC); so the axis is vertical, L = height + 1 pixels.
    Disc i samples row rint(base_row + ½ - L·i/20) (halves to even) and walks sideways from 8 px
    in half steps: from the even column CC the walk stops at h + 1 when h is even (CC ± (h + ½)
    rounds back inside), at h + ½ when h is odd; a row outside the dome stops both walks at 8.
    """
    length = height + 1
    out = []
    for i in range(20):
        row = int(np.rint(base_row + 0.5 - length * i / 20))
        h = half_extent(a, height, base_row - row)
        out.append(16.0 if h < 0 else 2 * h + (2 if h % 2 == 0 else 1))
    return out


@pytest.mark.parametrize("base_row", [250, 251])
def test_dome_discs_are_the_hand_derived_ones(base_row):
    fd = frame_discs(dome(60, 200, base_row), (0.25, 0.25))
    np.testing.assert_array_equal(fd.base, [base_row + 0.5, CC])
    np.testing.assert_array_equal(fd.apex, [base_row - 200 - 0.5, CC])
    assert fd.length_mm == pytest.approx(201 * 0.25)
    np.testing.assert_array_equal(fd.diameters_mm / 0.25, hand_diameters_px(60, 200, base_row))
    # the first disc: on an even base row the walk runs along the basal row (122 px), on an odd one
    # the sample row rounds outside and only the 2 × 8 px start is counted
    assert fd.diameters_mm[0] / 0.25 == (122 if base_row % 2 == 0 else 16)


def test_volumes_follow_the_hand_derived_discs_within_one_percent():
    spacing = (0.25, 0.25)
    shapes = {("2CH", "ED"): (60, 200), ("4CH", "ED"): (72, 200), ("2CH", "ES"): (48, 180),
              ("4CH", "ES"): (56, 180)}  # fmt: skip
    masks = {k: dome(a, h, 250) for k, (a, h) in shapes.items()}
    v = lv_volumes_camus(masks, {k: spacing for k in masks})
    step = 201 * 0.25 / 20  # the longest of the four axes (ED, 201 px) / 20, also for ES
    assert v.disc_height_mm == pytest.approx(step)
    expected = {}
    for phase in ("ED", "ES"):
        d2 = np.array(hand_diameters_px(*shapes[("2CH", phase)], 250)) * 0.25
        d4 = np.array(hand_diameters_px(*shapes[("4CH", phase)], 250)) * 0.25
        expected[phase] = math.pi / 4 * float(np.sum(d2 * d4)) * step / 1000
    assert v.edv_unrounded == pytest.approx(expected["ED"], rel=0.01)
    assert v.esv_unrounded == pytest.approx(expected["ES"], rel=0.01)
    assert (v.edv, v.esv) == (round(v.edv_unrounded), round(v.esv_unrounded))
    assert v.ef == pytest.approx(100 * (v.edv - v.esv) / v.edv)
    assert v.ef_unrounded == pytest.approx(100 * (1 - expected["ES"] / expected["ED"]), abs=0.5)
    # and the continuous disc sum of the ideal half ellipsoids: π/4·Σ 2a₂√(1-f²)·2a₄√(1-f²)·h, f = i/20
    f = np.arange(20) / 20
    ideal_ed = math.pi * 60 * 72 * 0.25**2 * float(np.sum(1 - f**2)) * step / 1000
    assert v.edv_unrounded == pytest.approx(ideal_ed, rel=0.03)


def test_anisotropic_pixels_are_stretched_by_nearest_neighbour():
    mask = dome(30, 60, 100)[:120, 100:200]
    iso, s = isotropic_mask(mask[::2], (0.5, 0.25))  # every other row at twice the row spacing
    assert s == 0.25 and iso.shape == (120, 100)
    np.testing.assert_array_equal(iso, np.repeat(mask[::2], 2, axis=0))


def test_matches_the_literal_reading_on_tilted_anisotropic_domes():
    rng = np.random.default_rng(0)
    masks, spacings = {}, {}
    for view in ("2CH", "4CH"):
        for phase, scale in (("ED", 1.0), ("ES", 0.8)):
            r, c = np.mgrid[:90, :80]
            a, h, tilt = rng.uniform(14, 22) * scale, rng.uniform(40, 55) * scale, rng.uniform(-0.3, 0.3)
            u = (c - 40) * np.cos(tilt) + (75 - r) * np.sin(tilt)
            w = (75 - r) * np.cos(tilt) - (c - 40) * np.sin(tilt)
            masks[(view, phase)] = ((u / a) ** 2 + (w / h) ** 2 <= 1) & (w >= 0)
            spacings[(view, phase)] = (0.3, 0.2) if view == "2CH" else (0.25, 0.25)
    for key, mask in masks.items():
        fd = frame_discs(mask, spacings[key])
        diameters, length = literal_discs(mask, spacings[key])
        np.testing.assert_allclose(fd.diameters_mm, diameters, rtol=1e-12)
        assert fd.length_mm == pytest.approx(length, rel=1e-12)
    v = lv_volumes_camus(masks, spacings)
    edv, esv = literal_volumes(masks, spacings)
    assert v.edv_unrounded == pytest.approx(edv, rel=1e-9) and v.esv_unrounded == pytest.approx(esv, rel=1e-9)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="missing 4CH ES"):
        lv_volumes_camus({k: dome(30, 60, 100) for k in [("2CH", "ED"), ("2CH", "ES"), ("4CH", "ED")]},
                         {k: (0.3, 0.3) for k in [("2CH", "ED"), ("2CH", "ES"), ("4CH", "ED")]})  # fmt: skip
    with pytest.raises(ValueError, match="empty LV mask"):
        frame_discs(np.zeros((20, 20), bool), (0.3, 0.3))
    speck = np.zeros((20, 20), bool)
    speck[5, 5] = True  # the script walks from 8 px out: a one-pixel LV still measures 16 px wide
    np.testing.assert_allclose(frame_discs(speck, (0.3, 0.3)).diameters_mm, 16 * 0.3)
    with pytest.raises(ValueError, match="positive and finite"):
        frame_discs(dome(30, 60, 100), (0.0, 0.3))
