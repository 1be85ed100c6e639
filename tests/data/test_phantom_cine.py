"""Phantom half-sequences (CAMUS 2023 layout) and their DICOM cines, read back with read_echo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from synthboost.data.imageio.camus_info import parse_cfg
from synthboost.data.imageio.echo import read_echo
from synthboost.data.phantom import heart_model as hm
from synthboost.data.phantom.cine import model_positions, read_truth
from synthboost.data.phantom.patient import patient_rngs
from synthboost.data.phantom.writer import generate_phantom

SCALE, FRAMES = 0.2, 8


@pytest.fixture(scope="module")
def cine_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cine") / "ph"
    return generate_phantom(root, n_patients=2, seed=3, image_scale=SCALE, n_frames=FRAMES, dicom=True)


def _patient(number: int) -> hm.Patient:
    return hm.sample_patient(patient_rngs(3, "training", number)[0])


def test_layout_2023_with_sequences(cine_root: Path) -> None:
    assert sorted(p.name for p in cine_root.iterdir()) == [
        "database_nifti",
        "database_split",
        "dicom",
        "phantom.json",
    ]
    folder = cine_root / "database_nifti" / "patient0002"
    names = {p.name for p in folder.iterdir()}
    for view in ("2CH", "4CH"):
        for suffix in ("half_sequence", "half_sequence_gt", "ED", "ED_gt", "ES", "ES_gt"):
            assert f"patient0002_{view}_{suffix}.nii.gz" in names
        assert f"patient0002_{view}_half_sequence_truth.json" in names and f"Info_{view}.cfg" in names
    assert (cine_root / "database_split" / "subgroup_validation.txt").read_text() == "patient0001\n"
    assert (cine_root / "database_split" / "subgroup_training.txt").read_text() == "patient0002\n"
    assert sorted(p.name for p in (cine_root / "dicom").iterdir()) == [
        f"patient000{i}_{v}.dcm" for i in (1, 2) for v in ("2CH", "4CH")
    ]
    assert json.loads((cine_root / "phantom.json").read_text())["layout"] == "2023"


def test_truth_volumes_are_exact(cine_root: Path) -> None:
    patient = _patient(2)
    seq = cine_root / "database_nifti/patient0002/patient0002_4CH_half_sequence.nii.gz"
    truth = read_truth(seq)
    s = model_positions(FRAMES)
    assert s[0] == 0.0 and s[-1] == 1.0 and np.all(np.diff(s) > 0)
    assert truth["model_position"] == pytest.approx(s.tolist(), abs=0)
    expected = [hm.lv_volume_ml(patient.anatomy, float(x)) for x in s]
    assert truth["lv_volume_ml"] == pytest.approx(expected, rel=1e-12)
    assert truth["lv_volume_ml"][0] == pytest.approx(hm.lv_volume_ml(patient.anatomy, "ED"), rel=1e-12)
    assert truth["lv_volume_ml"][-1] == pytest.approx(hm.lv_volume_ml(patient.anatomy, "ES"), rel=1e-12)
    assert np.all(np.diff(truth["lv_volume_ml"]) < 0)  # ejection: the volume falls every frame
    cfg = parse_cfg(seq.with_name("Info_4CH.cfg"))
    assert cfg.nb_frame == FRAMES and cfg.es == FRAMES and cfg.frame_rate == 50.0
    assert cfg.lv_edv == pytest.approx(truth["lv_edv_ml"], abs=0.005)
    assert truth["frame_times_s"] == pytest.approx(np.arange(FRAMES) / 50.0)


def test_half_sequence_reads_with_labels_and_times(cine_root: Path) -> None:
    patient = _patient(1)
    acq = patient.views["2CH"]
    acq = acq.resized(round(acq.rows * SCALE), round(acq.cols * SCALE))
    loop = read_echo(cine_root / "database_nifti/patient0001/patient0001_2CH_half_sequence.nii.gz")
    assert loop.frames.shape == (FRAMES, acq.rows, acq.cols) and loop.calibration.source == "header"
    assert loop.spacing_mm == pytest.approx(acq.spacing, rel=1e-6)  # NIfTI stores float32
    assert loop.frame_times_s == pytest.approx(np.arange(FRAMES) / 50.0)
    assert loop.labels is not None and loop.labels.shape == loop.frames.shape
    lv_area = (loop.labels == 1).sum(axis=(1, 2))
    assert lv_area[0] > lv_area[-1] > 0 and all(
        (loop.labels[k] == v).any() for k in (0, -1) for v in (1, 2, 3)
    )
    ed = read_echo(cine_root / "database_nifti/patient0001/patient0001_2CH_ED.nii.gz")
    assert np.array_equal(ed.frames[0], loop.frames[0]) and np.array_equal(ed.labels[0], loop.labels[0])
    sector = hm.sector_mask(acq)
    assert loop.region.source == "detected"
    assert (loop.region.mask & sector).sum() / (loop.region.mask | sector).sum() > 0.95


def test_dicom_cine_reads_back_exactly(cine_root: Path) -> None:
    patient = _patient(2)
    acq = patient.views["4CH"]
    acq = acq.resized(round(acq.rows * SCALE), round(acq.cols * SCALE))
    truth = read_truth(cine_root / "database_nifti/patient0002/patient0002_4CH_half_sequence_truth.json")
    loop = read_echo(cine_root / truth["dicom"]["file"])
    assert loop.calibration.source == "us_regions" and loop.spacing_mm == pytest.approx(
        acq.spacing, rel=1e-12
    )
    assert loop.frame_times_s == pytest.approx(truth["frame_times_s"], abs=1e-12)
    r0, c0 = truth["dicom"]["image_offset"]
    assert loop.region.bbox == (r0, c0, r0 + acq.rows, c0 + acq.cols)
    nifti = read_echo(cine_root / "database_nifti/patient0002/patient0002_4CH_half_sequence.nii.gz")
    assert np.array_equal(loop.region.crop(loop.frames), nifti.frames)  # grey tissue: luma is exact
    sector = hm.sector_mask(acq)
    inside = loop.region.crop(loop.region.mask)
    assert (inside & sector).sum() / (inside | sector).sum() > 0.95
    outside = ~loop.region.mask
    assert loop.frames[:, outside].max() > 100  # burned-in text and the ECG trace are there ...
    assert loop.masked_frames()[:, outside].max() == 0  # ... and masked
    ecg = loop.frames[:, r0 + acq.rows :, :]
    cursor_cols = [int(np.flatnonzero((f == 255).sum(axis=0) > 10)[0]) for f in ecg]
    assert np.all(np.diff(cursor_cols) > 0)  # the ECG cursor moves with time


def test_phantom_cli_sequences(tmp_path: Path) -> None:
    from synthboost.cli import app

    out = tmp_path / "p"
    args = ["phantom", str(out), "--patients", "1", "--image-scale", "0.1", "--sequences", "--frames", "3"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    loop = read_echo(out / "database_nifti/patient0001/patient0001_2CH_half_sequence.nii.gz")
    assert loop.n_frames == 3 and not (out / "dicom").exists()
    ds = tmp_path / "ds"
    result = CliRunner().invoke(
        app, ["prepare", "camus", str(out), str(ds), "--image-size", "32", "--half-sequences"]
    )
    assert result.exit_code == 0, result.output
    assert sorted((ds / "images" / "train").iterdir())[2].name == "patient0001_2CH_frame001.png"
    assert len(list((ds / "images" / "train").iterdir())) == 6  # 2 views x (ED, frame 1, ES)
    bad = CliRunner().invoke(app, ["phantom", str(tmp_path / "q"), "--sequences", "--frames", "1"])
    assert bad.exit_code != 0


def test_prepare_camus_half_sequences(cine_root: Path, tmp_path: Path) -> None:
    from synthboost.data.processed import check_dataset, read_meta
    from synthboost.data.sources.camus import prepare_camus
    from synthboost.prompts.annotate import write_annotations

    out = prepare_camus(cine_root, tmp_path / "seq", image_size=32, half_sequences=True)
    write_annotations(out)
    assert check_dataset(out) == []
    rows = [r for r in read_meta(out) if r["patient"] == "patient0002" and r["view"] == "2CH"]
    rows.sort(key=lambda r: r["frame"])
    assert [r["frame"] for r in rows] == list(range(FRAMES))
    assert [r["phase"] for r in rows] == ["ED"] + [None] * (FRAMES - 2) + ["ES"]
    assert [r["phase_position"] for r in rows] == pytest.approx(np.arange(FRAMES) / (FRAMES - 1), abs=1e-6)
    assert rows[3]["name"] == "patient0002_2CH_frame003" and rows[3]["split"] == "train"
    loop = read_echo(cine_root / "database_nifti/patient0002/patient0002_2CH_half_sequence.nii.gz")
    from synthboost.data.imageio.medical import read_png

    native = read_png(out / "labels_native" / "train" / "patient0002_2CH_frame003.png")
    assert np.array_equal(native, loop.labels[3])
    stills = prepare_camus(cine_root, tmp_path / "stills", image_size=32)
    assert {(r["phase"], r["frame"]) for r in read_meta(stills)} == {("ED", 0), ("ES", FRAMES - 1)}


def test_half_sequences_need_the_2023_release(tmp_path: Path) -> None:
    from synthboost.data.sources.camus import prepare_camus

    raw = generate_phantom(tmp_path / "p2019", n_patients=1, image_scale=0.1)
    with pytest.raises(ValueError, match="p2019: labelled half-sequences exist only in the CAMUS 2023"):
        prepare_camus(raw, tmp_path / "out", half_sequences=True)


def test_write_patients_with_sequences_draws_the_same_patient(cine_root: Path, tmp_path: Path) -> None:
    from synthboost.data.phantom.writer import write_patients

    (folder,) = write_patients(tmp_path, "training", [1], seed=3, image_scale=SCALE, sequences=True)
    assert folder == tmp_path / "training" / "patient0001"
    for view in ("2CH", "4CH"):
        mine, full = (
            parse_cfg(f / f"Info_{view}.cfg") for f in (folder, cine_root / "database_nifti" / "patient0001")
        )
        assert (
            mine.lv_ef == full.lv_ef and mine.ed == 1 and 12 <= mine.es <= 25
        )  # the acquisition's own frames
        loop = read_echo(folder / f"patient0001_{view}_half_sequence.nii.gz")
        assert loop.n_frames == mine.es and loop.labels is not None
