"""``synthboost app --model FOLDER_OF_RUNS`` serves the run of best validation Dice, never one chosen on test."""

from __future__ import annotations

import json

import pytest

from synthboost.app.analysis import choose_model


def fake_run(folder, val_dice: float, dataset: str, test_dice: float) -> None:
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "config.json").write_text("{}")
    (folder / "result.json").write_text(json.dumps({"best_val_dice": val_dice, "dataset": dataset}))
    (folder / "test_metrics.json").write_text(json.dumps({"dice": test_dice}))  # must not matter
    (folder / "DONE").write_text("done\n")


def test_folder_of_runs_resolves_to_the_best_validation_run(tmp_path):
    real, synthetic = str(tmp_path / "camus"), str(tmp_path / "synthetic")
    fake_run(tmp_path / "out" / "runs" / "a", 0.61, real, test_dice=0.95)
    fake_run(tmp_path / "out" / "runs" / "b", 0.80, real, test_dice=0.40)
    fake_run(tmp_path / "out" / "runs" / "syn", 0.97, synthetic, test_dice=0.10)
    (tmp_path / "out" / "runs" / "unfinished").mkdir()
    with pytest.raises(ValueError, match="give --dataset"):
        choose_model(tmp_path / "out")
    model, note = choose_model(tmp_path / "out", dataset=real)
    assert model == str(tmp_path / "out" / "runs" / "b")
    assert "best validation Dice 0.8000 of 3 runs" in note and "test data chose nothing" in note


def test_a_model_or_run_folder_or_hub_id_is_served_as_given(tmp_path):
    fake_run(tmp_path / "run", 0.5, "x", 0.5)
    assert choose_model(tmp_path / "run") == (str(tmp_path / "run"), None)
    assert choose_model(tmp_path / "run" / "model") == (str(tmp_path / "run" / "model"), None)
    assert choose_model("owner/model-name") == ("owner/model-name", None)


def test_missing_gradio_names_the_extra(monkeypatch, tmp_path):
    import importlib.util

    from typer.testing import CliRunner

    from synthboost.cli import app

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "gradio" else real(name, *a)
    )
    fake_run(tmp_path / "run", 0.5, "x", 0.5)
    res = CliRunner().invoke(app, ["app", "--model", str(tmp_path / "run")])
    assert res.exit_code != 0 and "pip install 'synthboost[app]'" in str(res.exception)
