"""``analyze`` end to end on phantom loops: ground truth recovers the exact EF; a DICOM cine goes through the model."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synthboost.cine import SegmentOptions, analyze
from synthboost.cine.phases import CURVE_SIGMA
from synthboost.data.imageio.camus_info import parse_cfg


def _patient_dir(root: Path, patient: str = "patient0001") -> Path:
    return root / "database_nifti" / patient


def test_ground_truth_half_sequences_give_ed_es_and_the_exact_ef(cine_phantom, tmp_path):
    folder = _patient_dir(cine_phantom)
    res = analyze(folder, ground_truth=True, out=tmp_path / "a", video="gif")
    assert [a.view for a in res["loops"]] == ["2CH", "4CH"]  # stills and _gt files left out
    ef_true = parse_cfg(folder / "Info_2CH.cfg").lv_ef
    for a in res["loops"]:
        s = a.summary
        assert (s["ed_frames"], s["es_frames"]) == ([0], [7])
        assert s["curve_smoothing_sigma_frames"] == CURVE_SIGMA  # the half-sequence default
        assert s["ef_percent"] == pytest.approx(ef_true, abs=2.0)  # ~1 mm pixels
        assert s["heart_rate_bpm"] is None  # a half-cycle has no rate
        assert s["la_max_ml"] > 0
    assert res["biplane"]["patient0001"]["ef_percent"] == pytest.approx(ef_true, abs=2.0)
    out = tmp_path / "a" / "patient0001_2CH_half_sequence"
    rows = list(csv.DictReader((out / "frames.csv").open()))
    assert len(rows) == 8 and (rows[0]["is_ED"], rows[0]["is_ES"]) == ("1", "0")
    assert (rows[-1]["is_ED"], rows[-1]["is_ES"]) == ("0", "1") and rows[0]["qc_reasons"] == "QC off"
    assert (
        json.loads((out / "summary.json").read_text())["ef_percent"] == res["loops"][0].summary["ef_percent"]
    )
    assert (out / "overlay.gif").stat().st_size > 0 and (out / "volume.png").stat().st_size > 0
    html = res["report"].read_text()
    assert "patient0001_4CH_half_sequence" in html and "Biplane" in html


def test_dicom_cine_goes_through_the_model_end_to_end(cine_phantom, tiny_model, tmp_path):
    import av

    from synthboost.data.imageio.echo import read_echo
    from synthboost.data.imageio.medical import read_medical_array

    dcm = cine_phantom / "dicom" / "patient0001_4CH.dcm"
    loop = read_echo(dcm)
    opts = SegmentOptions(batch_size=3)
    res = analyze([dcm], model=tiny_model, out=tmp_path / "b", options=opts, device="cpu")
    (a,) = res["loops"]
    out = tmp_path / "b" / "patient0001_4CH"
    labels, spacing = read_medical_array(out / "labels.nii.gz")
    assert labels.shape == loop.frames.shape  # the input's geometry
    assert spacing[-2:] == pytest.approx(loop.spacing_mm, rel=1e-5)
    np.testing.assert_array_equal(labels, a.labels)
    assert not labels[:, ~loop.region.mask].any()  # nothing outside the imaging region
    assert len((out / "frames.csv").read_text().splitlines()) == loop.n_frames + 1
    s = json.loads((out / "summary.json").read_text())
    assert (
        s["view"] == "4CH"
        and s["calibration"] == loop.calibration.as_dict()
        and s["model"] == str(tiny_model)
    )
    assert s["calibration"]["source"] == "us_regions" and s["calibration"]["spacing_mm"] == list(
        loop.spacing_mm
    )
    assert s["sector"]["bbox"] == list(loop.region.bbox) and s["files"]["sector"] == "sector.png"
    sector_png = np.asarray(Image.open(out / "sector.png"))
    np.testing.assert_array_equal(sector_png > 0, loop.region.mask)
    assert s["frame_rate_hz"] == pytest.approx(loop.frame_rate)
    with av.open(str(out / "overlay.mp4")) as video:
        assert sum(1 for _ in video.decode(video=0)) == loop.n_frames
    assert "<video" in res["report"].read_text()
    # the report says the calibration in words (source, size, the warning), not a raw record
    assert (
        f"us_regions, {loop.spacing_mm[0]:.4g} × {loop.spacing_mm[1]:.4g} mm; 1 warning(s)"
        in res["report"].read_text()
    )


def test_shared_encoding_gives_the_probabilities_of_separate_calls(cine_phantom, tiny_model):
    from synthboost.cine.segment import loop_probabilities, loop_prompts
    from synthboost.data.imageio.echo import read_echo
    from synthboost.evaluation.segmenter import Segmenter

    seg = Segmenter.from_pretrained(tiny_model, device="cpu")
    frames = read_echo(cine_phantom / "dicom" / "patient0001_2CH.dcm").frames[:4]
    sets = loop_prompts("p3", "2CH")
    assert len(sets) == 2 and "diastole" in sets[0][0] and "systole" in sets[1][0]
    shared = loop_probabilities(seg, frames, sets, batch_size=3, shared=True)
    separate = loop_probabilities(seg, frames, sets, batch_size=2, shared=False)
    assert shared.shape == (4, 3, seg.preprocessing.image_size, seg.preprocessing.image_size)
    np.testing.assert_allclose(shared, separate, atol=1e-5)


def test_cli_analyze_and_sequence_evaluation(cine_phantom, tmp_path):
    from typer.testing import CliRunner

    from synthboost.cli import app

    runner = CliRunner()
    out = tmp_path / "c"
    folder = _patient_dir(cine_phantom, "patient0002")
    result = runner.invoke(
        app, ["analyze", str(folder), "--ground-truth", "--video", "none", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "biplane: EDV" in result.output
    csv = tmp_path / "seq.csv"
    result = runner.invoke(app, ["evaluate", str(out), str(cine_phantom), "--out", str(csv)])
    assert result.exit_code == 0, result.output
    assert "ED and ES within ±1 frame 100 %" in result.output
    import pandas as pd

    df = pd.read_csv(csv)
    loops = df[df["view"] != "biplane"]
    assert len(loops) == 2 and (loops["dice_mean"] == 100).all()
    assert (loops["ed_error"] == 0).all() and (loops["es_error"] == 0).all()
    # ~1 mm pixels at image_scale 0.3: the ≤ 1 point figure is for native size (benchmarks/bench_cine.py)
    assert loops["ef_error"].abs().max() <= 2.0 and (loops["tc_ratio"] == 1).all()
    assert df[df["view"] == "biplane"]["ef_error"].abs().item() <= 2.0


def test_prompt_attributes_come_from_the_cfg_beside_the_loop(cine_phantom):
    from synthboost.cine.analysis import cfg_attributes
    from synthboost.cine.segment import loop_prompts

    folder = _patient_dir(cine_phantom)
    attrs = cfg_attributes(folder / "patient0001_2CH_half_sequence.nii.gz")
    info = parse_cfg(folder / "Info_2CH.cfg")
    assert attrs == {"sex": info.sex, "age": info.age, "quality": info.quality}
    assert cfg_attributes(cine_phantom / "dicom" / "patient0001_2CH.dcm") == {}
    (ed, es) = loop_prompts("p5", "2CH", "both", attrs)
    assert info.sex in ed[0] and "year-old" in ed[0] and "diastole" in ed[0] and "systole" in es[0]


def _copy_as_metaimage(src: Path, dst: Path, spacing_factor: float | None) -> Path:
    """``src`` (NIfTI) as a MetaImage ``dst`` with its spacing × ``spacing_factor`` (None: no ElementSpacing)."""
    import re

    import SimpleITK as sitk

    img = sitk.ReadImage(str(src))
    if spacing_factor is not None:
        img.SetSpacing(tuple(s * spacing_factor for s in img.GetSpacing()[:2]) + img.GetSpacing()[2:])
    sitk.WriteImage(img, str(dst))
    if spacing_factor is None:
        dst.write_bytes(re.sub(rb"ElementSpacing = [^\n]*\n", b"", dst.read_bytes()))
    return dst


@pytest.mark.parametrize(
    ("factor", "fragment"), [(100.0, "outside the plausible"), (None, "no ElementSpacing")]
)
def test_uncalibrated_loop_gives_ef_when_the_pixel_aspect_is_known(cine_phantom, tmp_path, factor, fragment):
    folder = _patient_dir(cine_phantom)
    stem = "patient0001_2CH_half_sequence"
    calibrated = analyze(folder / f"{stem}.nii.gz", ground_truth=True)["loops"][0].summary
    for suffix in ("", "_gt"):
        _copy_as_metaimage(folder / f"{stem}{suffix}.nii.gz", tmp_path / f"{stem}{suffix}.mha", factor)
    s = analyze(tmp_path / f"{stem}.mha", ground_truth=True, out=tmp_path / "out", video="none")["loops"][
        0
    ].summary
    assert s["calibration"]["source"] == "uncalibrated" and fragment in s["calibration"]["warnings"][0]
    assert s["calibrated"] is False and s["edv_ml"] is None and s["esv_ml"] is None and s["area_unit"] == "px"
    assert (s["ed_frames"], s["es_frames"]) == (calibrated["ed_frames"], calibrated["es_frames"])
    assert s["fac_percent"] == pytest.approx(calibrated["fac_percent"])
    if factor is not None:  # the aspect is known (the header's sizes are implausible, their ratio is not)
        assert s["ef_percent"] == pytest.approx(calibrated["ef_percent"], abs=1e-6)
        assert s["curve"] == "lv_volume_px" and "pixel units" in s["message"]
    else:  # nothing says the pixels' shape: EF withheld, and why
        assert s["ef_percent"] is None and s["curve"] == "lv_area"
        assert "unknown pixel aspect" in s["message"] and "no ElementSpacing" in s["message"]
    from typer.testing import CliRunner

    from synthboost.cli import app

    args = [
        "analyze",
        str(tmp_path / f"{stem}.mha"),
        "--ground-truth",
        "--video",
        "none",
        "--out",
        str(tmp_path / "c"),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, (result.output, result.exception)
    ef = "EF n/a" if factor is None else f"EF {s['ef_percent']:.1f} %"
    assert f"ES {s['es_frames']}, {ef}" in result.output and " mL, EF" not in result.output
    assert (
        "calibration: uncalibrated, spacing None mm" in result.output
        and f"warning: {stem}.mha: " in result.output
    )
