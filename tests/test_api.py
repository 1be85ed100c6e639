"""The package root's Python API: the few names users need, imported lazily."""

from __future__ import annotations

import subprocess
import sys


def test_root_exports_are_the_stage_functions() -> None:
    import synthboost
    from synthboost import Segmenter, build_model, evaluate, load_pretrained, predict, train
    from synthboost.evaluate.per_image import evaluate as evaluate_fn
    from synthboost.evaluate.predict import predict as predict_fn
    from synthboost.evaluate.segmenter import Segmenter as SegmenterClass
    from synthboost.models.factory import build_model as build_fn
    from synthboost.models.factory import load_pretrained as load_fn

    assert Segmenter is SegmenterClass and build_model is build_fn and load_pretrained is load_fn
    assert predict is predict_fn
    # train and evaluate are also sub-packages: the package object itself calls the stage function
    assert train is synthboost.train and evaluate is synthboost.evaluate
    assert callable(train) and callable(evaluate) and evaluate_fn is not evaluate
    assert sorted(synthboost.__all__) == sorted(
        ["Segmenter", "build_model", "evaluate", "load_pretrained", "predict", "train"]
    )


def test_calling_the_train_and_evaluate_packages_runs_the_functions(tmp_path) -> None:
    import pytest

    import synthboost

    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        synthboost.train(tmp_path / "missing.yaml", tmp_path / "run")
    with pytest.raises((FileNotFoundError, ValueError), match="nowhere"):
        synthboost.evaluate(tmp_path / "nowhere", tmp_path / "data")


def test_import_stays_light() -> None:
    code = (
        "import sys, synthboost; from synthboost import train, evaluate; "
        "print(sorted(m for m in ('torch', 'transformers', 'lightning', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
