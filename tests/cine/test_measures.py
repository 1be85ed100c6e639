"""Per-frame volumes of phantom label loops against the 3-D model's exact volumes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from cine_fixtures import half_cycle_fractions, loop_labels, patient

from synthboost.cine.measures import biplane_indices, cycle_indices, mean_indices, measure_loop
from synthboost.cine.phases import find_phases
from synthboost.data.phantom import heart_model as hm


@pytest.fixture(scope="module")
def loops():
    p = patient(3)
    fractions = half_cycle_fractions(12)
    return p, {view: loop_labels(p, view, fractions) for view in hm.VIEWS}


def test_single_plane_ef_of_the_ellipsoid_is_the_true_ef(loops):
    p, views = loops
    true_ef = hm.ejection_fraction(p.anatomy)
    for view, (labels, spacing, _) in views.items():
        m = measure_loop(labels, spacing)
        ph = find_phases(m["lv_volume"])
        assert ph.cycles == ((0, 11),)
        ef = mean_indices(cycle_indices(m, ph.cycles))["ef_percent"]
        assert ef == pytest.approx(true_ef, abs=1.0), view
        assert np.all(m["la_volume"] > 0)
        assert m["lv_area"][0] > m["lv_area"][-1]


def test_biplane_volumes_match_the_model(loops):
    p, views = loops
    (l2, s2, vols), (l4, s4, _) = views["2CH"], views["4CH"]
    out = biplane_indices(l2, s2, [(0, 11)], l4, s4, [(0, 11)])
    assert out["edv_ml"] == pytest.approx(vols[0], rel=0.03)
    assert out["esv_ml"] == pytest.approx(vols[-1], rel=0.03)
    assert out["ef_percent"] == pytest.approx(hm.ejection_fraction(p.anatomy), abs=1.0)
    assert out["la_max_ml"] > 0 and out["cycles_used"] == 1


def test_uncalibrated_loop_has_pixel_areas_and_no_volume(loops):
    labels = loops[1]["2CH"][0]
    m = measure_loop(labels, None)
    assert m["lv_area"][0] == (labels[0] == 1).sum()
    assert np.isnan(m["lv_volume"]).all()


def test_two_beats_give_two_cycles_and_the_heart_rate():
    from cine_fixtures import cycle_fractions

    from synthboost.cine.loop import measure_labels
    from synthboost.data.imageio.calibration import uncalibrated
    from synthboost.data.imageio.echo import EchoLoop
    from synthboost.data.imageio.region import full_frame

    p = patient(5)
    labels, spacing, volumes = loop_labels(p, "4CH", cycle_fractions(20, n_cycles=2, start=0.1), scale=0.3)
    times = np.arange(20) * 0.075  # 10 frames per beat at 0.75 s/beat: 80 bpm
    loop = EchoLoop(
        labels, spacing, times, full_frame(labels.shape[1:]), "header", Path("p_4CH.nii.gz"), labels
    )
    s = measure_labels(loop, labels, "4CH").summary
    assert s["ed_frames"] == [9, 19] and s["es_frames"] == [4, 14]  # ES at phase 0.5, ED at phase 1.0
    assert [(c["ed_frame"], c["es_frame"]) for c in s["cycles"]] == [(9, 14)]
    assert s["heart_rate_bpm"] == pytest.approx(80.0, rel=0.01)
    assert s["ef_percent"] == pytest.approx(100 * (1 - volumes[14] / volumes[9]), abs=1.5)
    calibrated = s
    # uncalibrated with the pixels' aspect known: the same EF, FAC, ED/ES and heart rate, no mL
    aspect = spacing[0] / spacing[1]
    uncal = dataclasses.replace(loop, spacing_mm=None, calibration=uncalibrated(aspect=aspect))
    s = measure_labels(uncal, labels, "4CH").summary
    assert s["ef_percent"] == pytest.approx(calibrated["ef_percent"], abs=1e-9)
    assert s["edv_ml"] is None and s["esv_ml"] is None and s["la_max_ml"] is None and s["area_unit"] == "px"
    assert s["calibrated"] is False and "uncalibrated" in s["message"] and "EDV, ESV" in s["message"]
    assert s["es_frames"] == [4, 14] and s["heart_rate_bpm"] == pytest.approx(calibrated["heart_rate_bpm"])
    assert s["fac_percent"] == pytest.approx(calibrated["fac_percent"]) and s["curve"] == "lv_volume_px"
    # the wrong aspect (square assumed for non-square pixels) gives another EF: the aspect matters
    square = dataclasses.replace(loop, spacing_mm=None, calibration=uncalibrated(aspect=1.0))
    assert measure_labels(square, labels, "4CH").summary["ef_percent"] != pytest.approx(
        s["ef_percent"], abs=0.5
    )
    # unknown aspect: EF withheld, and the summary says why
    unknown = dataclasses.replace(
        loop, spacing_mm=None, calibration=uncalibrated(["x.dcm: PixelAspectRatio bad"], None)
    )
    s = measure_labels(unknown, labels, "4CH").summary
    assert s["ef_percent"] is None and s["edv_ml"] is None and "unknown pixel aspect" in s["message"]
    assert "x.dcm: PixelAspectRatio bad" in s["message"] and "EF" in s["message"]
    assert s["es_frames"] == [4, 14] and s["fac_percent"] > 0


def _border_mm(half_axis: float, radius: float, f: float) -> float:
    """Arc length of the truncated ellipse z = A(1 - cos t), r = a sin t from the apex to z = A(1 + f), both sides."""
    t = np.linspace(0.0, np.arccos(-f), 20001)
    return 2 * float(np.trapezoid(np.hypot(half_axis * np.sin(t), radius * np.cos(t)), t))


def test_gls_style_shortening_matches_the_ellipse_arc_lengths(loops):
    p, views = loops
    a, f = p.anatomy, p.anatomy.truncation
    for view, (labels, spacing, _) in views.items():
        m = measure_loop(labels, spacing)
        (cycle,) = cycle_indices(m, [(0, len(labels) - 1)])
        ed = _border_mm(a.ed.half_axis, a.ed.radius(view), f)
        es = _border_mm(a.es.half_axis, a.es.radius(view), f)
        assert m["lv_border"][0] == pytest.approx(ed, rel=0.03), view
        assert cycle["gls_percent"] == pytest.approx(100 * (es - ed) / ed, abs=1.5), view
        assert cycle["gls_percent"] < 0
