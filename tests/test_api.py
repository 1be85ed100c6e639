"""The package root's Python API: the few names users need, real functions and classes, imported lazily."""

from __future__ import annotations

import inspect
import subprocess
import sys


def test_root_exports_are_the_stage_functions() -> None:
    import synthboost
    from synthboost import Segmenter, build_model, evaluate, load_pretrained, predict, train
    from synthboost.evaluation.per_image import evaluate as evaluate_fn
    from synthboost.evaluation.predict import predict as predict_fn
    from synthboost.evaluation.segmenter import Segmenter as SegmenterClass
    from synthboost.models.factory import build_model as build_fn
    from synthboost.models.factory import load_pretrained as load_fn
    from synthboost.training.run import train as train_fn

    assert Segmenter is SegmenterClass and build_model is build_fn and load_pretrained is load_fn
    assert predict is predict_fn and train is train_fn and evaluate is evaluate_fn
    assert train is synthboost.train and evaluate is synthboost.evaluate
    assert all(inspect.isfunction(f) for f in (train, predict, evaluate, build_model, load_pretrained))
    assert inspect.isclass(Segmenter)
    # help(), IDEs and type checkers see the real signatures
    assert list(inspect.signature(train).parameters)[:2] == ["config", "out"]
    assert list(inspect.signature(evaluate).parameters)[:2] == ["pred_folder", "dataset_root"]
    assert sorted(synthboost.__all__) == sorted(
        ["Segmenter", "build_model", "evaluate", "load_pretrained", "predict", "train"]
    )


def test_the_stage_functions_run(tmp_path) -> None:
    import pytest

    import synthboost

    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        synthboost.train(tmp_path / "missing.yaml", tmp_path / "run")
    with pytest.raises((FileNotFoundError, ValueError), match="nowhere"):
        synthboost.evaluate(tmp_path / "nowhere", tmp_path / "data")


def test_import_stays_light() -> None:
    code = (
        "import sys, synthboost; assert synthboost.__all__; "
        "print(sorted(m for m in ('torch', 'transformers', 'lightning', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_no_import_hooks_or_patched_third_party_modules() -> None:
    """No file of the package defines or installs a meta-path hook or rebinds a third-party name."""
    from pathlib import Path

    import synthboost

    src = Path(synthboost.__file__).parent
    texts = {p: p.read_text(encoding="utf-8") for p in src.rglob("*.py")}
    for needle in ("meta_path", "MetaPathFinder", "path_hooks", "__class__ ="):
        assert not [p for p, t in texts.items() if needle in t], needle
