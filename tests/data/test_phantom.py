"""The phantom: CAMUS 2019 layout, cfg, labels, geometry, determinism and true volumes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from synthboost.data.phantom import heart_model as hm
from synthboost.data.phantom.patient import patient_rngs
from synthboost.data.phantom.writer import generate_phantom, split_counts

SCALE = 0.4
CFG_KEYS = ["ED", "ES", "NbFrame", "Sex", "Age", "ImageQuality", "LVedv", "LVesv", "LVef"]


@pytest.fixture(scope="module")
def phantom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_phantom(tmp_path_factory.mktemp("ph") / "camus", n_patients=3, seed=7, image_scale=SCALE)


def _read(path: Path) -> tuple[np.ndarray, tuple[float, float]]:
    img = sitk.ReadImage(str(path))
    sx, sy = img.GetSpacing()
    return sitk.GetArrayFromImage(img), (sy, sx)


def _cfg(path: Path) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in path.read_text().splitlines())


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout_is_camus_2019(phantom: Path) -> None:
    assert sorted(p.name for p in phantom.iterdir()) == ["phantom.json", "training"]
    assert sorted(p.name for p in (phantom / "training").iterdir()) == [f"patient000{i}" for i in (1, 2, 3)]
    files = sorted(p.name for p in (phantom / "training" / "patient0002").iterdir())
    expected = ["Info_2CH.cfg", "Info_4CH.cfg"]
    for view in ("2CH", "4CH"):
        for phase in ("ED", "ES"):
            for gt in ("", "_gt"):
                expected += [f"patient0002_{view}_{phase}{gt}.mhd", f"patient0002_{view}_{phase}{gt}.raw"]
    assert files == sorted(expected)
    header = (phantom / "training/patient0002/patient0002_4CH_ES_gt.mhd").read_text()
    assert "NDims = 2" in header and "MET_UCHAR" in header and "patient0002_4CH_ES_gt.raw" in header


def test_compressed_phantom_reads_the_same_arrays(phantom: Path, tmp_path: Path) -> None:
    from synthboost.data.imageio.medical import read_medical

    packed = generate_phantom(tmp_path / "z", n_patients=3, seed=7, image_scale=SCALE, compress=True)
    stem = "training/patient0002/patient0002_4CH_ES"
    for name in (stem, stem + "_gt"):
        assert "CompressedData = True" in (packed / f"{name}.mhd").read_text()
        assert not (packed / f"{name}.raw").exists()
        zipped, plain = read_medical(packed / f"{name}.mhd"), read_medical(phantom / f"{name}.mhd")
        np.testing.assert_array_equal(zipped[0], plain[0])
        assert zipped[1] == plain[1]
        assert (packed / f"{name}.zraw").stat().st_size < 0.7 * (phantom / f"{name}.raw").stat().st_size
    assert {p.name for p in (packed / "training/patient0002").iterdir() if p.suffix == ".cfg"} == {
        "Info_2CH.cfg", "Info_4CH.cfg"
    }  # fmt: skip


def test_split_rule(tmp_path: Path) -> None:
    assert split_counts(3) == (3, 0) and split_counts(10) == (9, 1) and split_counts(60) == (54, 6)
    assert split_counts(500) == (450, 50)
    root = generate_phantom(tmp_path / "p", n_patients=10, image_scale=0.1)
    assert len(list((root / "training").iterdir())) == 9
    assert [p.name for p in (root / "testing").iterdir()] == ["patient0001"]


def test_cfg_and_true_volumes(phantom: Path) -> None:
    for number in (1, 2, 3):
        folder = phantom / "training" / f"patient{number:04d}"
        cfgs = [_cfg(folder / f"Info_{view}.cfg") for view in ("2CH", "4CH")]
        anatomy = hm.sample_patient(patient_rngs(7, "training", number)[0]).anatomy
        for cfg in cfgs:
            assert list(cfg) == CFG_KEYS
            assert cfg["ED"] == "1" and int(cfg["ES"]) == int(cfg["NbFrame"]) > 1
            assert cfg["Sex"] in ("F", "M") and 20 <= int(cfg["Age"]) <= 90
            assert cfg["ImageQuality"] in ("Good", "Medium", "Poor")
            assert float(cfg["LVedv"]) == pytest.approx(hm.lv_volume_ml(anatomy, "ED"), abs=0.006)
            assert float(cfg["LVesv"]) == pytest.approx(hm.lv_volume_ml(anatomy, "ES"), abs=0.006)
            assert float(cfg["LVef"]) == pytest.approx(hm.ejection_fraction(anatomy), abs=0.006)
            assert 35 <= float(cfg["LVef"]) <= 70
        for key in ("Sex", "Age", "LVedv", "LVesv", "LVef"):
            assert cfgs[0][key] == cfgs[1][key]


def test_labels_geometry_and_sector(phantom: Path) -> None:
    for number in (1, 2, 3):
        folder = phantom / "training" / f"patient{number:04d}"
        patient = hm.sample_patient(patient_rngs(7, "training", number)[0])
        for view in ("2CH", "4CH"):
            areas = {}
            for phase in ("ED", "ES"):
                image, spacing = _read(folder / f"patient{number:04d}_{view}_{phase}.mhd")
                labels, _ = _read(folder / f"patient{number:04d}_{view}_{phase}_gt.mhd")
                acq = patient.views[view]
                acq = acq.resized(round(acq.rows * SCALE), round(acq.cols * SCALE))
                assert image.dtype == labels.dtype == np.uint8 and image.shape == labels.shape
                assert spacing == pytest.approx(acq.spacing)
                assert set(np.unique(labels)) == {0, 1, 2, 3}
                sector = hm.sector_mask(acq)
                assert not image[~sector].any() and not labels[~sector].any()
                assert image[sector].mean() > 15
                lv = labels == 1
                ring = ndimage.binary_dilation(lv) & ~lv
                assert np.isin(labels[ring], (2, 3)).all(), "myocardium (or LA) must surround the cavity"
                assert (labels[ring] == 3).any() and (labels[ring] == 2).mean() > 0.7
                rows = np.arange(labels.shape[0])[:, None]
                assert (rows * (labels == 3)).sum() / (labels == 3).sum() > (rows * lv).sum() / lv.sum()
                assert image[lv].mean() < image[labels == 2].mean() - 40
                areas[phase] = lv.sum()
            assert areas["ED"] > areas["ES"]


def _disc_diameters(labels: np.ndarray, spacing: tuple[float, float], n: int) -> tuple[np.ndarray, float]:
    """Reference method of discs on one view: diameters (mm) of n discs and the long axis (mm)."""
    sy, sx = spacing
    lv = labels == 1
    annulus = lv & ndimage.binary_dilation(labels == 3)
    scale = np.array([sy, sx])
    pts = np.argwhere(lv) * scale
    mid = np.argwhere(annulus).mean(0) * scale
    dist = np.linalg.norm(pts - mid, axis=1)
    length = dist.max()
    axis = (pts[dist.argmax()] - mid) / length
    perp = np.array([-axis[1], axis[0]])
    t, s = (pts - mid) @ axis, (pts - mid) @ perp
    pixel = abs(perp[0]) * sy + abs(perp[1]) * sx
    diam = []
    for centre in (np.arange(n) + 0.5) * length / n:  # a thin strip across the axis at each disc centre
        strip = np.abs(t - centre) <= 0.5 * max(sy, sx)
        diam.append(np.ptp(s[strip]) + pixel if strip.any() else 0.0)
    return np.array(diam), length


def test_simpson_biplane_agrees_with_cfg(phantom: Path) -> None:
    for number in (1, 2, 3):
        folder = phantom / "training" / f"patient{number:04d}"
        cfg = _cfg(folder / "Info_2CH.cfg")
        for phase, key in (("ED", "LVedv"), ("ES", "LVesv")):
            d2, l2 = _disc_diameters(*_read(folder / f"patient{number:04d}_2CH_{phase}_gt.mhd"), 20)
            d4, l4 = _disc_diameters(*_read(folder / f"patient{number:04d}_4CH_{phase}_gt.mhd"), 20)
            assert l2 == pytest.approx(l4, rel=0.03)
            volume = math.pi / 4 * (d2 * d4).sum() * max(l2, l4) / 20 / 1000
            assert volume == pytest.approx(float(cfg[key]), rel=0.05)


def test_determinism_and_independence_of_n_patients(tmp_path: Path, phantom: Path) -> None:
    a = _tree(generate_phantom(tmp_path / "a", n_patients=2, seed=7, image_scale=SCALE))
    b = _tree(generate_phantom(tmp_path / "b", n_patients=2, seed=7, image_scale=SCALE))
    assert a == b
    full = _tree(phantom)
    assert all(full[k] == v for k, v in a.items() if k != "phantom.json")  # the marker records n_patients
    c = _tree(generate_phantom(tmp_path / "c", n_patients=2, seed=8, image_scale=SCALE))
    assert c.keys() == a.keys() and c != a


def test_refuses_to_overwrite_and_bad_input(tmp_path: Path) -> None:
    root = generate_phantom(tmp_path / "p", n_patients=1, image_scale=0.1)
    with pytest.raises(FileExistsError):
        generate_phantom(root, n_patients=1, image_scale=0.1)
    generate_phantom(root, n_patients=1, image_scale=0.1, overwrite=True)
    with pytest.raises(ValueError, match="n_patients"):
        generate_phantom(tmp_path / "q", n_patients=0)
    assert not (tmp_path / "q").exists()
