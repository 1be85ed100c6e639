"""PredictionWriter round trip, atomicity and read_predictions validation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from eval_fixtures import GRID, NAMES, NATIVE, label_map

from synthboost.evaluation.predictions import PredictionWriter, load_mask, read_predictions

INFO = {"run": "r", "dataset": "d", "split": "test", "prompt_level": "p1", "threshold": 0.5, "model": "m"}


def test_round_trip(tiny):
    _, pred = tiny
    p = read_predictions(pred)
    assert p.info["prompt_level"] == "p2" and p.info["version"] == 1
    assert len(p.items) == 6
    item = p.items[0]
    assert item.mask == f"masks/test/mask_1/{NAMES[0]}_gt.png"
    assert item.native == f"native/test/mask_1/{NAMES[0]}.png"
    np.testing.assert_array_equal(load_mask(pred / item.mask), label_map((GRID, GRID)) == 1)
    np.testing.assert_array_equal(load_mask(pred / item.native), label_map(NATIVE) == 1)
    assert set(np.unique(np.asarray(__import__("PIL.Image").Image.open(pred / item.mask)))) == {0, 255}


def test_nothing_appears_before_close_and_abort_discards(tmp_path):
    out = tmp_path / "pred"
    w = PredictionWriter(out, INFO)
    w.add("test", "a", 1, np.ones((4, 4)), np.ones((5, 6)))
    assert not out.exists()
    w.close()
    assert (out / "prediction.json").is_file()
    with pytest.raises(RuntimeError), PredictionWriter(tmp_path / "p2", INFO) as w2:
        w2.add("test", "a", 1, np.ones((4, 4)), np.ones((5, 6)))
        raise RuntimeError("boom")
    assert not (tmp_path / "p2").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["pred"]


def test_writer_input_errors(tmp_path):
    with pytest.raises(ValueError, match="lacks keys"):
        PredictionWriter(tmp_path / "x", {"run": "r"})
    w = PredictionWriter(tmp_path / "y", INFO)
    w.add("test", "a", 1, np.ones((4, 4)), np.ones((4, 4)))
    with pytest.raises(ValueError, match="duplicate"):
        w.add("test", "a", 1, np.ones((4, 4)), np.ones((4, 4)))
    with pytest.raises(ValueError, match="label 7"):
        w.add("test", "a", 7, np.ones((4, 4)), np.ones((4, 4)))
    w.abort()
    assert not (tmp_path / "y").exists()


def test_read_predictions_names_problems(tiny):
    _, pred = tiny
    (pred / f"native/test/mask_2/{NAMES[1]}.png").unlink()
    with pytest.raises(ValueError, match=f"prediction.json.*native/test/mask_2/{NAMES[1]}.png missing"):
        read_predictions(pred)
    doc = json.loads((pred / "prediction.json").read_text())
    doc["version"] = 9
    (pred / "prediction.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="version 9"):
        read_predictions(pred)
