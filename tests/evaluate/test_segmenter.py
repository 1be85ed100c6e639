"""Single-image segmentation: the Segmenter API, inputs, files, prompts and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from synthboost.data.imageio.medical import read_png
from synthboost.evaluation.segmenter import (
    Segmenter,
    area,
    label_map,
    overlay,
    read_image,
    segment_file,
)
from synthboost.prompts.select import prompt_from_attributes
from synthboost.training.runfolder import DEFAULT_THRESHOLD, resolve_model


def test_probabilities_have_the_image_size(segmenter):
    img = np.random.default_rng(0).integers(0, 255, (70, 53), dtype=np.uint8)
    res = segmenter(img, "Left ventricular cavity of the heart.")
    prob = res.probability
    assert prob.shape == (70, 53) and prob.dtype == np.float32
    assert 0 <= prob.min() and prob.max() <= 1 and prob.std() > 0
    assert res.threshold == 0.5 and res.mask.dtype == bool
    np.testing.assert_array_equal(res.mask, prob > 0.5)
    np.testing.assert_array_equal(segmenter(img, res.prompt, threshold=0.6).mask, prob > 0.6)
    # the prompt reaches the model
    other = segmenter(img, "Left atrium cavity in four-chamber view of the heart.").probability
    assert np.abs(prob - other).max() > 1e-4
    np.testing.assert_allclose(
        segmenter(img, "Left ventricular cavity of the heart.").probability, prob, atol=1e-6
    )


def test_path_pil_and_rgb_inputs_equal_the_grayscale_array(segmenter, echo_png):
    from PIL import Image

    gray = read_image(echo_png)[0]
    prompt = "Myocardium of the heart."
    expected = segmenter(gray, prompt).probability
    rgb = np.repeat(gray[..., None], 3, axis=2)
    for image in (echo_png, str(echo_png), Image.open(echo_png), Image.fromarray(rgb), rgb, gray / 255.0):
        np.testing.assert_allclose(segmenter(image, prompt).probability, expected, atol=1e-6)
    with pytest.raises(ValueError, match=r"shape \(2, 3, 4, 5\)"):
        segmenter(np.zeros((2, 3, 4, 5)), prompt)
    with pytest.raises(FileNotFoundError, match="nope.png"):
        segmenter(echo_png.parent / "nope.png", prompt)


def test_segment_all_shares_one_encoding_and_resolves_overlaps(segmenter, echo_png):
    from unittest import mock

    structures = ("lv", "myo", "la")
    prompts = [prompt_from_attributes(s, "2CH", "ED", "female", 60) for s in structures]
    probs = np.stack([segmenter(echo_png, p).probability for p in prompts])
    with mock.patch.object(segmenter.model, "encode_image", wraps=segmenter.model.encode_image) as enc:
        labels = segmenter.segment_all(echo_png, view="2CH", phase="ED", sex="female", age=60, threshold=0.4)
    assert enc.call_count == 1
    assert labels.shape == (60, 48) and labels.dtype == np.uint8
    np.testing.assert_array_equal(labels, label_map(probs, 0.4))
    assert len(np.unique(labels)) > 1


def test_label_map_picks_the_most_probable_structure():
    probs = np.zeros((3, 4, 4), np.float32)
    probs[0, 0], probs[0, 1] = 0.9, 0.6  # LV
    probs[1, 1] = 0.7  # myocardium wins row 1 over LV
    probs[2, 2] = 0.4  # LA below the threshold
    np.testing.assert_array_equal(label_map(probs, 0.5)[:, 0], [1, 2, 0, 0])
    np.testing.assert_array_equal(label_map(probs, 0.3)[:, 0], [1, 2, 3, 0])


def test_load_pretrained_accepts_run_folders(tiny_model, tmp_path):
    from synthboost.models import load_pretrained

    assert load_pretrained(tiny_model).model_type == "clipseg"
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_pretrained(tmp_path)


def test_model_folder_resolution(tiny_model, tmp_path):
    assert resolve_model(tiny_model)[0] == str(tiny_model / "model")
    assert resolve_model(tiny_model / "model")[0] == str(tiny_model / "model")
    # a bare model folder has no run settings: no prompt level, the default threshold
    assert resolve_model(tiny_model / "model")[1] == {"prompt": None, "threshold": DEFAULT_THRESHOLD}
    with pytest.raises(FileNotFoundError, match="no config.json"):
        resolve_model(tmp_path)
    with pytest.raises(FileNotFoundError, match="not found"):
        Segmenter.from_pretrained(tmp_path / "missing")


def test_run_threshold_is_the_default(tiny_model, tmp_path):
    import json
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_model, run)
    assert Segmenter.from_pretrained(run).threshold == 0.5  # no run.json: the default
    (run / "run.json").write_text(json.dumps({"prompt": "p2", "loss": {"threshold": 0.35}}))
    assert Segmenter.from_pretrained(run).threshold == 0.35  # CRIS under the reference preset
    assert Segmenter.from_pretrained(run / "model").threshold == 0.5  # a bare model folder


def test_segment_file_writes_mask_and_overlay(segmenter, echo_png, tmp_path):
    res = segment_file(echo_png, segmenter, "Myocardium of the heart.", tmp_path / "out", threshold=0.5)
    mask = read_png(res["mask"])
    assert mask.shape == (60, 48) and set(np.unique(mask)) <= {0, 255}
    assert res["unit"] == "px" and res["area"] == np.count_nonzero(mask)
    from PIL import Image

    with Image.open(res["overlay"]) as im:
        assert im.mode == "RGB" and im.size == (48, 60)


def test_medical_image_gives_area_in_mm2(tmp_path):
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(np.full((30, 20), 100, np.uint8))
    img.SetSpacing((0.5, 0.25))  # (col, row) mm
    sitk.WriteImage(img, str(tmp_path / "a.nii.gz"))
    arr, spacing = read_image(tmp_path / "a.nii.gz")
    assert arr.shape == (30, 20) and spacing == (0.25, 0.5)
    assert area(np.ones((4, 4), bool), spacing) == (2.0, "mm²")


def test_unreadable_image_is_a_clear_error(tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("hello")
    with pytest.raises(ValueError, match="notes.png"):
        read_image(bad)
    with pytest.raises(FileNotFoundError, match="missing.png"):
        read_image(tmp_path / "missing.png")


def test_prompt_level_follows_the_given_attributes():
    assert prompt_from_attributes("lv") == "Left ventricular cavity of the heart."
    p3 = prompt_from_attributes("lv", "2CH", "ED")
    assert p3 == "Left ventricular cavity in two-chamber view of the heart at end of the diastole cycle."
    p7 = prompt_from_attributes("lv", "2CH", "ED", "female", 56, "good", "oval")
    assert p7 == (
        "Left ventricular cavity of oval shape in two-chamber view of the heart at end of the diastole "
        "cycle of a fifty-six-year-old female with good image quality."
    )
    with pytest.raises(ValueError, match="view"):
        prompt_from_attributes("lv", "3CH", "ED")


def test_overlay_draws_the_contour():
    img = np.zeros((40, 40), np.uint8)
    mask = np.zeros((40, 40), bool)
    mask[10:30, 10:30] = True
    rgb = overlay(img, mask)
    assert rgb.shape == (40, 40, 3)
    assert tuple(rgb[10, 20]) == (255, 64, 32) and tuple(rgb[0, 0]) == (0, 0, 0)
    assert rgb[20, 20, 0] > 0 and tuple(rgb[20, 20]) != (255, 64, 32)


def test_cli_segment(tiny_model, echo_png, tmp_path):
    from typer.testing import CliRunner

    from synthboost.cli import app

    args = ["segment", str(echo_png), "--model", str(tiny_model), "--structure", "lv", "--view", "2CH",
            "--phase", "ED", "--sex", "female", "-o", str(tmp_path / "o")]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "of a female" in res.output and (tmp_path / "o" / "echo_mask.png").is_file()
    assert "px" in res.output
    pixels = np.count_nonzero(read_png(tmp_path / "o" / "echo_mask.png"))
    assert pixels > 0
    res = CliRunner().invoke(app, [*args, "--spacing", "0.5", "0.25"])
    assert res.exit_code == 0, res.output
    assert f"area: {pixels * 0.125:.1f} mm²" in res.output
    res = CliRunner().invoke(app, [*args, "--spacing", "0", "0.25"])
    assert res.exit_code != 0 and "spacing must be two positive" in str(res.exception)
    res = CliRunner().invoke(app, ["segment", str(echo_png), "--model", str(tiny_model)])
    assert res.exit_code != 0 and "--structure" in str(res.exception)
