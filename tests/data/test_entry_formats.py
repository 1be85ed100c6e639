"""Every entry point reads every format through the one reader: ``read_echo``, ``synthboost segment``
(``--frame``), ``Segmenter`` / ``segment_all`` on a path, ``predict`` on a folder of files, ``analyze``
and the app's Image and Cine tabs.
Each asserts the frames it read and the calibration record it gives (tiny files, the tiny model)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from format_fixtures import FORMATS, N_FRAMES, SHAPE, STILLS, UNWRITABLE, write_format

from synthboost.data.imageio.echo import read_echo

LOOPS = tuple(f for f in FORMATS if f not in STILLS)


def _expected_calibration(name: str) -> tuple[str, list[float] | None]:
    if name.startswith("dicom"):
        return "us_regions", [0.3, 0.3]
    if name.startswith(("nifti", "metaimage")):
        return "header", [0.3, 0.3]
    return "uncalibrated", None


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, tuple[Path, np.ndarray, bool]]:
    folder = tmp_path_factory.mktemp("formats")
    return {name: write_format(name, folder) for name in FORMATS if name not in UNWRITABLE}


def _file(corpus: dict, name: str) -> tuple[Path, np.ndarray, bool]:
    if name in UNWRITABLE:
        pytest.skip(UNWRITABLE[name])
    return corpus[name]


def _check_calibration(record: dict, name: str) -> None:
    source, spacing = _expected_calibration(name)
    assert record["source"] == source, (name, record)
    assert record["spacing_mm"] == (pytest.approx(spacing, rel=1e-5) if spacing else None)
    assert record["scaled_by"] is None and record["warnings"] == []


@pytest.mark.parametrize("name", FORMATS)
def test_read_echo(corpus, name: str) -> None:
    path, expected, lossy = _file(corpus, name)
    loop = read_echo(path)
    assert loop.frames.shape == expected.shape and loop.frames.dtype == np.uint8
    error = np.abs(loop.frames.astype(int) - expected)
    assert (error.mean() <= 3 and error.max() <= 60) if lossy else error.max() == 0, (
        error.mean(),
        error.max(),
    )
    _check_calibration(loop.calibration.as_dict(), name)


@pytest.mark.parametrize("name", FORMATS)
def test_segment_cli(corpus, name: str, tiny_model: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from synthboost.cli import app

    path, expected, _ = _file(corpus, name)
    last = expected.shape[0] - 1
    args = [
        "segment",
        str(path),
        "--model",
        str(tiny_model),
        "--prompt",
        "left ventricle",
        "--out",
        str(tmp_path),
    ]
    result = CliRunner().invoke(app, [*args, "--frame", str(last), "--device", "cpu"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert f"frame: {last} of {expected.shape[0]}" in result.output
    stem = path.name.split(".")[0]
    out = json.loads((tmp_path / f"{stem}_segment.json").read_text())
    assert out["frame"] == last and out["n_frames"] == expected.shape[0] and out["file"] == str(path)
    _check_calibration(out["calibration"], name)
    assert out["unit"] == ("mm²" if out["calibration"]["spacing_mm"] else "px")
    row = (tmp_path / f"{stem}_segment.csv").read_text().splitlines()
    assert len(row) == 2 and row[1].split(",")[1] == str(last)


@pytest.mark.parametrize("name", FORMATS)
def test_segmenter_api_on_a_path(corpus, name: str, segmenter) -> None:
    path, _, _ = _file(corpus, name)
    assert segmenter(path, "left ventricle").mask.shape == SHAPE
    assert segmenter.segment_all(path, view="4CH").shape == SHAPE


@pytest.mark.parametrize("name", FORMATS)
def test_analyze(corpus, name: str, tiny_model: Path, tmp_path: Path) -> None:
    from synthboost.cine.analysis import analyze
    from synthboost.cine.loop import SegmentOptions

    path, expected, _ = _file(corpus, name)
    if name in STILLS:
        with pytest.raises(ValueError, match=r"a still image \(1 frame\); analyze needs a loop"):
            analyze(path, model=tiny_model, out=tmp_path / "a", video="none", device="cpu")
        return
    res = analyze(path, model=tiny_model, out=tmp_path / "a", video="none", device="cpu",
                  options=SegmentOptions(batch_size=4))  # fmt: skip
    (a,) = res["loops"]
    summary = json.loads((tmp_path / "a" / a.stem / "summary.json").read_text())
    assert summary["n_frames"] == N_FRAMES and a.labels.shape == expected.shape
    _check_calibration(summary["calibration"], name)
    assert summary["sector"]["bbox"] == list(a.loop.region.bbox)
    assert (tmp_path / "a" / a.stem / "sector.png").is_file()


def _upload(path: Path) -> str | list[str]:
    return [str(path), str(path.with_suffix(".raw"))] if path.suffix == ".mhd" else str(path)


@pytest.mark.parametrize("name", FORMATS)
def test_app_image_tab(corpus, name: str, segmenter, tmp_path: Path) -> None:
    from synthboost.app.ui import AppState, segment_fn

    path, expected, _ = _file(corpus, name)
    state = AppState(segmenter, {"name": "tiny"}, {}, tmp_path)
    (image, masks), text = segment_fn(state)(_upload(path), None, "left ventricle", 0.5, None, None)
    assert image.shape == SHAPE and masks[0][0].shape == SHAPE
    source, _ = _expected_calibration(name)
    assert f"Calibration: {source}" in text
    assert ("Frame 1 of 4" in text) == (expected.shape[0] > 1)


@pytest.mark.parametrize("name", LOOPS)
def test_app_cine_tab(corpus, name: str, segmenter, tmp_path: Path) -> None:
    from synthboost.app.ui import AppState, cine_fn

    path, _, _ = _file(corpus, name)
    if path.suffix == ".mhd":
        pytest.skip("the Cine tab takes one file; a MetaImage loop is uploaded as .mha")
    state = AppState(segmenter, {"name": "tiny"}, {}, tmp_path)
    video, curve, rows, notes = cine_fn(state)(str(path), "4CH", 0.5)
    assert Path(video).is_file() and Path(curve).is_file()
    source, _ = _expected_calibration(name)
    assert f"Calibration: {source}" in notes and "Sector:" in notes


def test_segmenter_api_on_an_array_and_a_pil_image(corpus, segmenter) -> None:
    from PIL import Image

    frame = read_echo(corpus["png"][0]).frames[0]
    by_path = segmenter(corpus["png"][0], "left ventricle").probability
    np.testing.assert_allclose(segmenter(frame, "left ventricle").probability, by_path, atol=1e-6)
    pil = Image.fromarray(frame)
    np.testing.assert_allclose(segmenter(pil, "left ventricle").probability, by_path, atol=1e-6)
    assert segmenter.segment_all(np.stack([frame] * 3, axis=-1), view="4CH").shape == SHAPE


def test_segment_frame_out_of_range_names_the_file(corpus, tiny_model: Path, tmp_path: Path) -> None:
    from synthboost.evaluation.segmenter import read_frame

    path = corpus["dicom_rle"][0]
    with pytest.raises(
        ValueError, match=r"dicom_rle_4CH\.dcm: no frame 4 \(the file holds 4 frame\(s\), 0\.\.3\)"
    ):
        read_frame(path, 4)
    assert read_frame(path, -1).index == 3


# --- the quirk corpus through every output -------------------------------------------------------------


def _quirk(name: str, folder: Path) -> tuple[Path, str, list[float] | None, float | None, str | None]:
    """``(file, calibration source, spacing, scaled_by, a fragment of the warning)`` of one quirk."""
    from echo_fixtures import us_region, write_video
    from quirk_fixtures import draw_fan_loop, echo_display, resized_export, us_dicom

    frames, _ = draw_fan_loop(6, (80, 100), (2.0, 50.0), 70.0, seed=1)
    if name == "resized":
        path, _ = resized_export(folder / "resized_4CH.dcm", 2)
        return path, "us_regions", [1.0, 1.0], 0.5, "resized after acquisition by 0.5"
    if name == "cropped":
        path = us_dicom(
            folder / "cropped_4CH.dcm", frames, [us_region((0, 0, 120, 140), delta_cm=(0.04, 0.04))]
        )
        return path, "us_regions", [0.4, 0.4], None, "the frame was cropped"
    if name == "non_cm":
        path = us_dicom(folder / "noncm_4CH.dcm", frames, [us_region((0, 0, 80, 100), units=0)])
        return path, "uncalibrated", None, None, "are not cm"
    if name == "nan_delta":
        region = us_region((0, 0, 80, 100), delta_cm=(float("nan"), 0.03))
        return (
            us_dicom(folder / "nan_4CH.dcm", frames, [region]),
            "uncalibrated",
            None,
            None,
            "PhysicalDeltaY/X",
        )
    if name == "mp4_no_metadata":
        path = write_video(folder / "plain_4CH.mp4", echo_display(n=8).frames, fps=25, codec="libx264")
        return path, "uncalibrated", None, None, None
    raise KeyError(name)


QUIRKS = ("resized", "cropped", "non_cm", "nan_delta", "mp4_no_metadata")


def _check_quirk(record: dict, source: str, spacing, scaled_by, fragment) -> None:
    assert record["source"] == source and record["scaled_by"] == (
        pytest.approx(scaled_by) if scaled_by else None
    )
    assert record["spacing_mm"] == (pytest.approx(spacing) if spacing else None)
    if fragment is None:
        assert record["warnings"] == []
    else:
        assert any(fragment in w for w in record["warnings"]), record["warnings"]


@pytest.mark.parametrize("quirk", QUIRKS)
def test_quirk_calibration_reaches_every_output(
    quirk: str, tiny_model: Path, segmenter, tmp_path: Path
) -> None:
    from synthboost.app.ui import AppState, cine_fn, segment_fn
    from synthboost.cine.analysis import analyze
    from synthboost.evaluation.segmenter import segment_file

    path, *expected = _quirk(quirk, tmp_path)
    loop = read_echo(path)
    assert loop.n_frames >= 6
    _check_quirk(loop.calibration.as_dict(), *expected)
    seg = segment_file(path, segmenter, "left ventricle", tmp_path / "seg")
    _check_quirk(json.loads(Path(seg["json"]).read_text())["calibration"], *expected)
    res = analyze(path, model=tiny_model, out=tmp_path / "an", video="none", device="cpu")
    summary = json.loads((tmp_path / "an" / res["loops"][0].stem / "summary.json").read_text())
    _check_quirk(summary["calibration"], *expected)
    state = AppState(segmenter, {"name": "tiny"}, {}, tmp_path)
    _, text = segment_fn(state)(str(path), None, "left ventricle", 0.5, None, None)
    notes = cine_fn(state)(str(path), "4CH", 0.5)[3]
    for shown in (text, notes):
        assert f"Calibration: {expected[0]}" in shown
        assert expected[3] is None or expected[3] in shown
    if expected[0] == "uncalibrated":  # EF is still given (square pixels) or withheld with the reason
        assert summary["calibrated"] is False and "uncalibrated" in summary["message"]
        assert summary["edv_ml"] is None and summary["area_unit"] == "px"


@pytest.mark.parametrize("name", FORMATS)
def test_predict_on_a_folder_of_files(name: str, tiny_model: Path, tmp_path: Path) -> None:
    import csv

    from typer.testing import CliRunner

    from synthboost.cli import app
    from synthboost.data.imageio.medical import read_png

    if name in UNWRITABLE:
        pytest.skip(UNWRITABLE[name])
    folder = tmp_path / "in"
    folder.mkdir()
    path, expected, _ = write_format(name, folder)
    last = expected.shape[0] - 1
    out = tmp_path / "out"
    args = [
        "predict",
        str(tiny_model),
        str(folder),
        "--out",
        str(out),
        "--frame",
        str(last),
        "--device",
        "cpu",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, (result.output, result.exception)
    with (out / "predictions.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["file"] for r in rows] == [path.name]
    row = rows[0]
    assert (int(row["frame"]), int(row["n_frames"])) == (last, expected.shape[0])
    source, spacing = _expected_calibration(name)
    assert row["calibration"] == source
    assert row["area_unit"] == ("mm²" if spacing else "px")
    labels = read_png(out / row["labels"])
    assert labels.shape == SHAPE and set(np.unique(labels)) <= {0, 1, 2, 3}
    total = sum(float(row[f"{s}_area"]) for s in ("lv", "myo", "la"))
    scale = spacing[0] * spacing[1] if spacing else 1.0
    assert total == pytest.approx(np.count_nonzero(labels) * scale, rel=1e-6)


def test_predict_on_a_folder_lists_what_it_leaves_out(tiny_model: Path, tmp_path: Path, caplog) -> None:
    from synthboost.evaluation.predict_files import echo_files, predict_files

    folder = tmp_path / "in"
    folder.mkdir()
    path, _, _ = write_format("png", folder)
    (folder / "notes.txt").write_text("x")
    gt = folder / "patient0001_2CH_ED_gt.png"
    gt.write_bytes(path.read_bytes())
    with caplog.at_level("INFO", logger="synthboost"):
        assert echo_files(folder) == [path]
    assert "notes.txt: not an echo file" in caplog.text and "_gt.png: a label file" in caplog.text
    (folder / "broken.dcm").write_bytes(b"not a dicom")
    with pytest.raises(ValueError, match="broken.dcm"):
        predict_files(tiny_model, folder, tmp_path / "out", device="cpu")
    assert not (tmp_path / "out").exists()  # nothing half-written
    with pytest.raises(ValueError, match="no echo file"):
        echo_files(tmp_path)
