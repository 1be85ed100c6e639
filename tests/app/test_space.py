"""``synthboost app --export-space``: a Space folder that builds the same app for the same model."""

from __future__ import annotations

import json
import runpy
import shutil

import pytest

pytest.importorskip("gradio")


@pytest.fixture
def finished_run(tiny_model, tmp_path):
    run = tmp_path / "runs" / "clipseg_real_p2"
    shutil.copytree(tiny_model / "model", run / "model")
    (run / "run.json").write_text(json.dumps({"prompt": "p2", "loss": {"threshold": 0.35},
                                              "data": {"root": "/home/someone/camus"}}))  # fmt: skip
    result = {"model": "clipseg", "strategy": "real", "prompt": "p2", "best_val_dice": 0.8123,
              "dataset": "/home/someone/camus"}  # fmt: skip
    (run / "result.json").write_text(json.dumps(result))
    return run


def test_export_space_writes_a_runnable_space(finished_run, tmp_path, app_workdir):
    from typer.testing import CliRunner

    from synthboost.cli import app

    out = tmp_path / "space"
    res = CliRunner().invoke(app, ["app", "--model", str(finished_run), "--export-space", str(out)])
    assert res.exit_code == 0, res.output
    readme = (out / "README.md").read_text()
    header = readme.split("---")[1]
    assert "sdk: gradio" in header and "app_file: app.py" in header and "sdk_version: 6." in header
    assert "| validation Dice | 0.8123 |" in readme and "research use only" in readme
    assert (out / "requirements.txt").read_text().splitlines()[0] == "synthboost[app]"
    exported = json.loads((out / "clipseg_real_p2" / "result.json").read_text())
    assert exported["best_val_dice"] == 0.8123 and "dataset" not in exported  # no paths of the lab
    assert json.loads((out / "clipseg_real_p2" / "run.json").read_text()) == {
        "prompt": "p2",
        "loss": {"threshold": 0.35},
    }

    from safetensors.numpy import load_file

    original = load_file(str(finished_run / "model" / "model.safetensors"))
    exported_weights = load_file(str(out / "clipseg_real_p2" / "model" / "model.safetensors"))
    assert original.keys() == exported_weights.keys()
    assert all((original[k] == exported_weights[k]).all() for k in original)

    demo = runpy.run_path(str(out / "app.py"))["demo"]  # builds, does not launch
    header_md = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "header").value
    assert "clipseg_real_p2" in header_md and "0.812" in header_md and "strategy **real**" in header_md

    again = CliRunner().invoke(app, ["app", "--model", str(finished_run), "--export-space", str(out)])
    assert again.exit_code != 0 and "exists and is not an empty folder" in str(again.exception)
