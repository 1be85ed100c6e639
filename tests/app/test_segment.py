"""Single-image segmentation: API, files, prompts and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from synthboost.app.segment import (
    Segmenter,
    area,
    overlay,
    prompt_from_attributes,
    read_image,
    segment_file,
)
from synthboost.data.imageio import read_png
from synthboost.train.runfolder import resolve_model


def test_probabilities_have_the_image_size(segmenter):
    img = np.random.default_rng(0).integers(0, 255, (70, 53), dtype=np.uint8)
    prob = segmenter(img, "Left ventricular cavity of the heart.")
    assert prob.shape == (70, 53) and prob.dtype == np.float32
    assert 0 <= prob.min() and prob.max() <= 1 and prob.std() > 0
    # the prompt reaches the model
    other = segmenter(img, "Left atrium cavity in four-chamber view of the heart.")
    assert np.abs(prob - other).max() > 1e-4
    np.testing.assert_allclose(segmenter(img, "Left ventricular cavity of the heart."), prob, atol=1e-6)


def test_model_folder_resolution(tiny_model, tmp_path):
    assert resolve_model(tiny_model)[0] == str(tiny_model / "model")
    assert resolve_model(tiny_model / "model")[0] == str(tiny_model / "model")
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
    res = CliRunner().invoke(app, ["segment", str(echo_png), "--model", str(tiny_model)])
    assert res.exit_code != 0 and "--structure" in str(res.exception)
