"""Each endpoint of the Gradio app through ``gradio_client``, against the served app."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gradio")

from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from synthboost.app import analysis  # noqa: E402
from synthboost.app.cases import case_image, phantom_cases  # noqa: E402
from synthboost.data.imageio.medical import read_png  # noqa: E402

CASE = "patient0001_2CH_ED"


@pytest.fixture(scope="module")
def client(app_url, tmp_path_factory) -> Client:
    return Client(app_url, verbose=False, download_files=str(tmp_path_factory.mktemp("client")))


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """The app's phantom case, written again (same seed, split and number: the same image)."""
    return phantom_cases(tmp_path_factory.mktemp("cases"), 1)[CASE]


def _area(text: str) -> tuple[float, str]:
    m = re.search(r"Area: ([\d,.]+) (mm²|px)", text)
    assert m, text
    return float(m.group(1).replace(",", "")), m.group(2)


def test_prompt_endpoint_builds_the_paper_prompts(client):
    p = client.predict("la", "4CH", "ES", "", 56, "", api_name="/prompt")
    assert p.startswith("Left atrium cavity in four-chamber view") and "fifty-six-year-old" in p
    assert client.predict("myo", "", "", "", None, "", api_name="/prompt") == "Myocardium of the heart."


def test_segment_a_phantom_case_gives_the_area_in_mm2(client, case, segmenter):
    prompt = "Left ventricular cavity in two-chamber view of the heart."
    overlay, text = client.predict([], CASE, prompt, 0.4, None, None, api_name="/segment")
    value, unit = _area(text)
    image, spacing = case_image(case)
    mask = analysis.segment(segmenter, image, prompt, 0.4)
    assert unit == "mm²" and value == pytest.approx(mask.sum() * spacing[0] * spacing[1], abs=0.06)
    assert [a["label"] for a in overlay["annotations"]] == [prompt]
    assert read_png(overlay["image"]).shape == image.shape  # the overlay is drawn on the image itself


def test_segment_an_uploaded_png_without_spacing_gives_pixels_then_mm2(client, echo_png):
    _, text = client.predict([handle_file(echo_png)], "", "Left ventricular cavity of the heart.", 0.5,
                             None, None, api_name="/segment")  # fmt: skip
    pixels, unit = _area(text)
    assert unit == "px" and 0 <= pixels <= 60 * 48 and "no pixel spacing" in text
    _, text = client.predict([handle_file(echo_png)], "", "Left ventricular cavity of the heart.", 0.5,
                             0.5, 0.25, api_name="/segment")  # fmt: skip
    assert _area(text) == (pytest.approx(pixels * 0.125, abs=0.06), "mm²")


def test_label_map_holds_all_three_structures(client, case, segmenter):
    overlay, table, label_png = client.predict([], CASE, "2CH", "ED", "", None, "", 0.5, None, None,
                                               api_name="/label_map")  # fmt: skip
    labels = read_png(label_png)
    image, spacing = case_image(case)
    expected = analysis.label_map(segmenter, image, {"view": "2CH", "phase": "ED"}, 0.5)
    np.testing.assert_array_equal(labels, expected)
    assert [a["label"] for a in overlay["annotations"]] == ["LV cavity", "Myocardium", "LA cavity"]
    rows = {r[0]: r[1:] for r in table["data"]}
    for k, name in ((1, "LV cavity"), (2, "Myocardium"), (3, "LA cavity")):
        assert rows[name][:2] == [
            pytest.approx((labels == k).sum() * spacing[0] * spacing[1], abs=0.06),
            "mm²",
        ]
        assert rows[name][2].startswith("raw: prompt_dis ")  # the test model has no qc.json


def test_four_views_of_a_phantom_patient_with_reference(client, case):
    *overlays, table, notes = client.predict("patient0001", None, None, None, None, None, None,
                                             api_name="/four_views")  # fmt: skip
    assert len(overlays) == 4 and all(len(o["annotations"]) == 3 for o in overlays)
    rows = {r[0]: r[1:] for r in table["data"]}
    assert rows["EDV"][1:] == [pytest.approx(case.reference["edv"]), "mL"]
    assert rows["EF"][1:] == [pytest.approx(case.reference["ef"]), "%"]
    # a random tiny model: an index may be missing, but then the note says so (and it is None, not NaN)
    for name, (value, _, _) in rows.items():
        assert (value is not None and np.isfinite(value)) or f"{name}: not computed" in notes


def test_bad_uploads_are_clear_errors_and_the_app_keeps_serving(client, tmp_path, echo_png):
    junk = tmp_path / "notes.png"
    junk.write_bytes(b"#!/bin/sh\necho hi\n")
    with pytest.raises(AppError, match=r"notes\.png: not a readable image"):
        client.predict([handle_file(junk)], "", "x", 0.5, None, None, api_name="/segment")
    raw = tmp_path / "scan.raw"
    raw.write_bytes(b"\0" * 64)
    with pytest.raises(AppError, match=r"scan\.raw: a MetaImage data file needs its \.mhd header"):
        client.predict([handle_file(raw)], "", "x", 0.5, None, None, api_name="/segment")
    with pytest.raises(AppError, match="upload an image or pick a phantom case"):
        client.predict([], "", "x", 0.5, None, None, api_name="/segment")
    with pytest.raises(AppError, match="upload all four views"):
        client.predict("", handle_file(echo_png), None, None, None, None, None, api_name="/four_views")
    with pytest.raises(AppError, match="pixel spacing"):
        client.predict("", *[handle_file(echo_png)] * 4, None, None, api_name="/four_views")
    _, text = client.predict([], CASE, "Myocardium of the heart.", 0.5, None, None, api_name="/segment")
    assert "mm²" in text


def _raw_call(url: str, api_name: str, body: str) -> str:
    """POST a JSON body as written (``NaN``/``Infinity`` included) to Gradio's REST API; the SSE answer."""
    import json
    import urllib.request

    req = urllib.request.Request(f"{url}gradio_api/call/{api_name}", data=body.encode(), method="POST",
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=60) as r:
        event_id = json.loads(r.read())["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/{api_name}/{event_id}", timeout=60) as r:
        return r.read().decode()


@pytest.mark.parametrize(
    ("threshold", "spacing", "match"),
    [("NaN", "null, null", "threshold must be a finite number, got nan"),
     ("0.5", "Infinity, 0.3", r"pixel spacing \(row, mm\) must be a finite number"),
     ("0.5", "-1, 0.3", "Value -1 is less than minimum value 0")],  # Gradio checks the bound
)  # fmt: skip
def test_non_finite_or_negative_numbers_are_refused(app_url, threshold, spacing, match):
    body = f'{{"data": [[], "{CASE}", "Myocardium of the heart.", {threshold}, {spacing}]}}'
    answer = _raw_call(app_url, "segment", body)
    assert "event: error" in answer and re.search(match, answer), answer


def test_case_ids_are_known_before_the_cases_are_written(tmp_path):
    from synthboost.app.cases import LazyCases, case_ids, patients

    lazy = LazyCases(case_ids(2))
    assert patients(lazy) == ["patient0001", "patient0002"] and len(lazy) == 8
    assert lazy.fill(lambda: phantom_cases(tmp_path, 2)) is None
    assert sorted(lazy) == sorted(phantom_cases(tmp_path / "again", 2))
    assert lazy["patient0002_4CH_ES"].reference["ef"] > 0


def test_perfect_segmenter_gives_the_true_ef(tmp_path):
    """With the phantom's true label maps as 'predictions' the four-view EF is the true EF."""
    from synthboost.app.ui import AppState, four_views_fn
    from synthboost.data.sources.camus import read_frame

    cases = phantom_cases(tmp_path / "cases", 1, seed=1)
    truth = {}
    for c in cases.values():
        image, labels, _ = read_frame(type("F", (), {"image": c.path, "label": c.path.with_name(
            c.path.name.replace(".mhd", "_gt.mhd"))})())  # fmt: skip
        truth[image.tobytes()] = labels

    class Oracle:
        """Answers every image with its true label map."""

        threshold = 0.5

        def segment_all(self, image, **attrs):
            return truth[image.tobytes()]

    state = AppState(Oracle(), {"name": "oracle"}, cases, tmp_path)
    *_, rows, notes = four_views_fn(state)("patient0001", None, None, None, None, None, None)
    table = {r[0]: r[1:3] for r in rows}
    assert notes.startswith("All indices computed")
    assert table["EDV"][0] == pytest.approx(table["EDV"][1], rel=0.05)
    assert table["EF"][0] == pytest.approx(table["EF"][1], abs=3)


@pytest.fixture(scope="module")
def cine_loop(tmp_path_factory):
    """A phantom half-sequence (8 frames ED→ES, NIfTI with spacing), copied alone as a user would upload it."""
    import shutil

    from synthboost.data.phantom.writer import generate_phantom

    root = generate_phantom(tmp_path_factory.mktemp("cine") / "p", n_patients=1, seed=1, image_scale=0.3,
                            sequences=True, n_frames=8)  # fmt: skip
    src = root / "database_nifti" / "patient0001" / "patient0001_4CH_half_sequence.nii.gz"
    dst = tmp_path_factory.mktemp("upload") / src.name
    shutil.copyfile(src, dst)
    return dst


def test_cine_endpoint_gives_video_curve_and_the_cine_stage_numbers(client, cine_loop, segmenter):
    from synthboost.cine.analysis import analyze_loop
    from synthboost.cine.loop import SegmentOptions
    from synthboost.data.imageio.echo import read_echo

    video, curve, table, notes = client.predict(handle_file(cine_loop), "", 0.5, api_name="/cine")
    with open(video["video"] if isinstance(video, dict) else video, "rb") as f:
        assert f.read(12)[4:8] == b"ftyp"  # an MP4
    assert Path(curve).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = {r[0]: r[1] for r in table["data"]}
    expected = analyze_loop(read_echo(cine_loop), "4CH", segmenter, {"prompt_level": "p1", "threshold": 0.5},
                            SegmentOptions(threshold=0.5), qc=True).summary  # fmt: skip
    for key, name in (("edv_ml", "EDV"), ("esv_ml", "ESV"), ("ef_percent", "EF")):
        assert rows[name] == (pytest.approx(expected[key], abs=0.006) if expected[key] is not None else None)
    assert rows["ED / ES frames"] == f"{expected['ed_frames']} / {expected['es_frames']}"
    light, first, calibration, sector = notes.splitlines()
    assert first == (expected["message"] or f"4CH, 8 frames, {expected['method']}")
    assert light.startswith(
        {"ok": "🟢", "review": "🟡", "unreliable": "🔴"}[expected["qc"]["verdict"]] + " QC: "
    )
    assert "no calibrated QC threshold" in light  # the test model has no qc.json
    assert calibration.startswith("Calibration: header: ") and sector.startswith("Sector: ")


def test_image_tab_takes_the_first_frame_of_a_loop_and_says_so(client, cine_loop):
    from synthboost.data.imageio.echo import read_echo

    overlay, text = client.predict([handle_file(cine_loop)], "", "Myocardium of the heart.", 0.5, None, None,
                                   api_name="/segment")  # fmt: skip
    assert "Frame 1 of 8 (the Cine tab analyses the whole loop)" in text and _area(text)[1] == "mm²"
    assert read_png(overlay["image"]).shape == read_echo(cine_loop).frames[0].shape


def test_cine_refuses_a_still_image_and_other_types(client, echo_png, tmp_path):
    import SimpleITK as sitk

    still = tmp_path / "still.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((40, 30), np.uint8)), str(still))
    with pytest.raises(AppError, match=r"still\.nii\.gz: a still image \(1 frame\)"):
        client.predict(handle_file(still), "2CH", 0.5, api_name="/cine")
    with pytest.raises(AppError, match="Invalid file type"):  # Gradio's own file-type check
        client.predict(handle_file(echo_png), "2CH", 0.5, api_name="/cine")
