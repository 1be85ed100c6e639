"""Simpson's biplane and area-length on hand-made masks with answers known in closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest

from synthboost.clinical.landmarks import view_geometry
from synthboost.clinical.simpson import (
    biplane_volume,
    disc_diameters,
    ejection_fraction,
    la_volume,
    lv_volume,
)

SPACING = (0.3, 0.2)  # anisotropic: rows 0.3 mm, columns 0.2 mm


def grid(shape: tuple[int, int], spacing=SPACING) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates in mm: y (rows, 1), x (1, cols)."""
    return np.arange(shape[0])[:, None] * spacing[0], np.arange(shape[1])[None, :] * spacing[1]


def truncated_ellipse_labels(radius: float, half_axis: float, f: float, tilt_deg: float = 0.0) -> np.ndarray:
    """Label map of a cavity ellipse (apex up) cut at z = A(1 + f), an LA beyond the cut, a myo shell."""
    y, x = grid((500, 600))
    t = math.radians(tilt_deg)
    dy, dx = y - 20.0, x - 60.0  # apex at (20, 60) mm
    z = dy * math.cos(t) + dx * math.sin(t)
    r = dx * math.cos(t) - dy * math.sin(t)
    length = half_axis * (1 + f)
    inside = ((z - half_axis) / half_axis) ** 2 + (r / radius) ** 2 <= 1
    outer = ((z - half_axis) / (half_axis + 8)) ** 2 + (r / (radius + 8)) ** 2 <= 1
    labels = np.zeros(z.shape, np.uint8)
    labels[((z - length - 12) / 15) ** 2 + (r / (radius + 10)) ** 2 <= 1] = 3
    labels[outer & (z <= length)] = 2
    labels[inside & (z <= length)] = 1
    return labels


def truncated_volume_ml(a: float, b: float, half_axis: float, f: float) -> float:
    """Volume of the ellipsoid (semi-axes a, b, A) from its apex to z = A(1 + f)."""
    return math.pi * a * b * half_axis * (f - f**3 / 3 + 2 / 3) / 1000


def test_rectangles_give_an_elliptic_cylinder_with_given_landmarks():
    w2, w4, h = 30.0, 42.0, 60.0  # mm
    masks, geoms = {}, {}
    for view, w in (("2CH", w2), ("4CH", w4)):
        y, x = grid((300, 300))
        masks[view] = (y >= 15) & (y < 15 + h) & (x >= 5) & (x < 5 + w)
        # pixel-centre extent: the contour lies half a pixel outside, i.e. exactly at 15..75 / 5..5+w mm
        y0, y1 = 15 - SPACING[0] / 2, 15 + h - SPACING[0] / 2
        xc = 5 + w / 2 - SPACING[1] / 2
        geoms[view] = view_geometry(masks[view], SPACING, annulus=[[y1, xc - 1], [y1, xc + 1]], apex=[y0, xc])
    d2 = disc_diameters(geoms["2CH"])
    np.testing.assert_allclose(d2, w2, atol=0.05)
    vol = biplane_volume(geoms["2CH"], geoms["4CH"]).volume_ml
    assert vol == pytest.approx(math.pi / 4 * w2 * w4 * h / 1000, rel=0.005)


def test_rectangle_annulus_is_found_where_the_cavity_meets_the_atrium():
    y, x = grid((300, 300))
    cavity = (y >= 15) & (y < 75) & (x >= 5) & (x < 35)
    la = (y >= 75) & (y < 95) & (x >= 0) & (x < 40)
    g = view_geometry(cavity, SPACING, la=la)
    assert g.method == "la"
    np.testing.assert_allclose(sorted(g.annulus[:, 1]), [5, 35], atol=0.5)
    np.testing.assert_allclose(g.annulus[:, 0], 75 - SPACING[0] / 2, atol=0.4)


def test_ellipsoid_converges_to_four_thirds_pi_abc():
    a, b, c = 18.0, 22.0, 40.0  # semi-axes: 2CH width, 4CH width, long axis (mm)
    geoms = []
    for semi in (a, b):
        y, x = grid((400, 400))
        mask = ((y - 50) / c) ** 2 + ((x - 40) / semi) ** 2 <= 1
        tip, top = [50 + c, 40 - SPACING[1] / 2], [50 - c, 40 - SPACING[1] / 2]
        geoms.append(view_geometry(mask, SPACING, annulus=[tip, tip], apex=top))
    vol = biplane_volume(*geoms).volume_ml
    assert vol == pytest.approx(4 / 3 * math.pi * a * b * c / 1000, rel=0.015)


@pytest.mark.parametrize("tilt", [0.0, 30.0])
def test_truncated_ellipsoid_with_detected_landmarks(tilt):
    a, b, half_axis, f = 20.0, 23.0, 50.0, 0.5
    lab2 = truncated_ellipse_labels(a, half_axis, f, tilt)
    lab4 = truncated_ellipse_labels(b, half_axis, f, -tilt)
    res = lv_volume(lab2, SPACING, lab4, SPACING)
    assert res.methods == ("la", "la")
    assert res.length_2ch == pytest.approx(half_axis * (1 + f), rel=0.01)
    assert not res.foreshortened
    assert res.volume_ml == pytest.approx(truncated_volume_ml(a, b, half_axis, f), rel=0.02)


def test_lv_volumes_on_geometries_is_ase_only():
    from synthboost.clinical.simpson import geometry_from_labels, lv_volumes

    geoms = {(v, "ED"): geometry_from_labels(truncated_ellipse_labels(20.0, 50.0, 0.0), SPACING)
             for v in ("2CH", "4CH")}  # fmt: skip
    assert lv_volumes(geoms)["ED"] == pytest.approx(truncated_volume_ml(20, 20, 50, 0.0), rel=0.005)
    for method in ("camus", "simpson"):  # camus works on masks: synthboost.clinical.camus_ef
        with pytest.raises(ValueError, match=f"clinical method '{method}'.*camus_ef"):
            lv_volumes(geoms, method)


def test_annulus_falls_back_to_myocardium_and_hull():
    lab = truncated_ellipse_labels(20.0, 50.0, 0.5)
    no_la = np.where(lab == 3, 0, lab)
    cavity_only = lab == 1
    g_myo = view_geometry(no_la == 1, SPACING, myo=no_la == 2)
    g_hull = view_geometry(cavity_only, SPACING)
    g_la = view_geometry(cavity_only, SPACING, la=lab == 3, myo=lab == 2)
    assert (g_myo.method, g_hull.method, g_la.method) == ("myo", "hull", "la")
    for g in (g_myo, g_hull):
        assert g.length == pytest.approx(g_la.length, rel=0.02)
        np.testing.assert_allclose(g.base, g_la.base, atol=1.0)


def test_ejection_fraction_and_empty_input():
    assert ejection_fraction(120.0, 48.0) == pytest.approx(60.0)
    assert math.isnan(ejection_fraction(0.0, 0.0))
    with pytest.raises(ValueError, match="no LV cavity"):
        lv_volume(np.zeros((20, 20), np.uint8), SPACING, np.zeros((20, 20), np.uint8), SPACING)


def test_la_area_length_matches_an_ellipsoid():
    # An LA ellipse of semi-axes (c along the axis, r across) in both views: the area-length
    # formula is exact for an ellipsoid of revolution when L is its full length (2c).
    c, r = 25.0, 18.0
    y, x = grid((400, 400))
    la = ((y - 60) / c) ** 2 + ((x - 40) / r) ** 2 <= 1
    labels = np.where(la, 3, 0).astype(np.uint8)
    vol = la_volume(labels, SPACING, labels, SPACING)
    assert vol == pytest.approx(4 / 3 * math.pi * r * r * c / 1000, rel=0.03)


def test_degenerate_predictions_give_nan_not_a_crash():
    from synthboost.clinical.indices import indices_from_labels

    good = truncated_ellipse_labels(20.0, 50.0, 0.5)
    dot = np.zeros_like(good)
    dot[100, 100] = 1
    frames = {(v, p): {"name": f"x_{v}_{p}", "patient": "x", "spacing_row_mm": 0.3, "spacing_col_mm": 0.2}
              for v in ("2CH", "4CH") for p in ("ED", "ES")}  # fmt: skip
    maps = {"x_2CH_ED": good, "x_4CH_ED": good, "x_2CH_ES": dot, "x_4CH_ES": None}
    out = indices_from_labels(frames, lambda row: maps[row["name"]])
    assert out["edv"] == pytest.approx(truncated_volume_ml(20.0, 20.0, 50.0, 0.5), rel=0.02)
    assert math.isnan(out["esv"]) and math.isnan(out["ef"]) and math.isnan(out["la_es"])
