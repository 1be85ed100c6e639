"""The 3-D heart model: analytic volumes, sampled ranges, sections and the sector."""

from __future__ import annotations

import math

import numpy as np
import pytest

from synthboost.data.phantom import heart_model as hm


def _patients(n: int = 40) -> list[hm.Patient]:
    return [hm.sample_patient(np.random.default_rng(i)) for i in range(n)]


def test_analytic_volume_matches_voxel_integration() -> None:
    anatomy = hm.sample_anatomy(np.random.default_rng(5))
    c, f, step = anatomy.ed, anatomy.truncation, 0.5
    z = np.arange(0, hm.lv_length_mm(anatomy, "ED"), step)[:, None, None] + step / 2
    u = np.arange(-c.radius_2ch, c.radius_2ch, step)[None, :, None] + step / 2
    v = np.arange(-c.radius_4ch, c.radius_4ch, step)[None, None, :] + step / 2
    inside = ((z - c.half_axis) / c.half_axis) ** 2 + (u / c.radius_2ch) ** 2 + (v / c.radius_4ch) ** 2 <= 1
    voxel_ml = inside.sum() * step**3 / 1000
    assert voxel_ml == pytest.approx(hm.lv_volume_ml(anatomy, "ED"), rel=0.01)
    assert 0.4 <= f <= 0.65


def test_sampled_ranges() -> None:
    patients = _patients()
    efs = [hm.ejection_fraction(p.anatomy) for p in patients]
    assert 35 <= min(efs) and max(efs) <= 70
    assert {p.sex for p in patients} == {"F", "M"}
    assert all(20 <= p.age <= 90 for p in patients)
    edvs = [hm.lv_volume_ml(p.anatomy, "ED") for p in patients]
    assert 50 < min(edvs) and max(edvs) < 250
    for p in patients:
        assert 8 <= p.anatomy.ed.wall <= 12 and p.anatomy.es.wall > p.anatomy.ed.wall
        assert hm.lv_length_mm(p.anatomy, "ES") < hm.lv_length_mm(p.anatomy, "ED")


def test_sections_have_the_model_widths() -> None:
    patient = _patients(1)[0]
    for view in hm.VIEWS:
        acq = patient.views[view]
        labels = hm.rasterize_labels(patient, view, "ED", acq)
        assert set(np.unique(labels)) == {0, 1, 2, 3}
        sy, sx = acq.spacing
        ys, xs = np.nonzero(labels == 1)
        rows = np.bincount(ys, minlength=labels.shape[0])
        widest_mm = rows.max() * sx * math.cos(math.radians(acq.tilt_deg))
        assert widest_mm == pytest.approx(2 * patient.anatomy.ed.radius(view), rel=0.06)
        apex_mm, base_mm = ys.min() * sy, ys.max() * sy
        assert apex_mm == pytest.approx(acq.apex_depth_mm, abs=3 + abs(acq.tilt_deg) / 2)
        assert base_mm > apex_mm + 0.8 * hm.lv_length_mm(patient.anatomy, "ED") * math.cos(0.15)


def test_sector_mask_shape_and_apex() -> None:
    acq = _patients(1)[0].views["2CH"].resized(100, 80)
    sector = hm.sector_mask(acq)
    assert sector.shape == (100, 80)
    assert not sector[0, 0] and not sector[0, -1] and sector[50, 40]
    assert not sector[:2].any() or sector[:2, 38:42].any()


def test_bad_view_and_grid() -> None:
    patient = _patients(1)[0]
    with pytest.raises(ValueError, match="view"):
        patient.anatomy.ed.radius("3CH")
    with pytest.raises(ValueError, match="phase"):
        patient.anatomy.chamber("MD")
    with pytest.raises(ValueError, match="too small"):
        patient.views["2CH"].resized(8, 8)
