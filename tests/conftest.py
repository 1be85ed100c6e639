"""Shared test fixtures: tiny raw CAMUS trees in both release layouts, a tiny saved model; tests run offline."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from camus_fixtures import write_patient

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def camus2019(tmp_path: Path) -> Path:
    """A 2019-layout release: 10 training patients (val = 0001) and 2 testing patients."""
    root = tmp_path / "camus2019"
    for i in range(1, 11):
        p = f"patient{i:04d}"
        write_patient(root / "training" / p, p, ".mhd", i, sex="F" if i % 2 else "M", age=40 + i)
    for i in range(1, 3):
        p = f"patient{i:04d}"
        write_patient(root / "testing" / p, p, ".mhd", 100 + i, sex="M", age=70 + i, q="Poor")
    return root


@pytest.fixture
def camus2023(tmp_path: Path) -> Path:
    """A 2023-layout release: 4 patients in NIfTI with split files."""
    root = tmp_path / "camus2023"
    for i in range(1, 5):
        p = f"patient{i:04d}"
        write_patient(root / "database_nifti" / p, p, ".nii.gz", i, age=30 + i)
    split = root / "database_split"
    split.mkdir(parents=True)
    (split / "subgroup_training.txt").write_text("patient0001\npatient0002\n")
    (split / "subgroup_validation.txt").write_text("patient0003\n")
    (split / "subgroup_testing.txt").write_text("patient0004\n")
    return root


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A run folder whose ``model/`` holds a tiny random CLIPSeg (``save_pretrained``)."""
    import torch

    from synthboost.models import build_model

    torch.manual_seed(0)
    run = tmp_path_factory.mktemp("run")
    build_model("clipseg", config="tiny").save_pretrained(run / "model")
    return run


@pytest.fixture(scope="session")
def segmenter(tiny_model):
    from synthboost.evaluation.segmenter import Segmenter

    return Segmenter.from_pretrained(tiny_model, device="cpu")


@pytest.fixture
def echo_png(tmp_path) -> Path:
    """A small gray PNG (60 × 48) with a bright blob."""
    from synthboost.data.imageio.medical import write_png

    img = np.full((60, 48), 30, np.uint8)
    img[15:45, 12:36] = 200
    path = tmp_path / "echo.png"
    write_png(path, img)
    return path


@pytest.fixture(scope="session")
def quick_demo(tmp_path_factory) -> tuple[Path, dict]:
    """The quick demo, run once per session: ``(out folder, run_demo's result)``."""
    from synthboost.demo import run_demo

    out = tmp_path_factory.mktemp("demo")
    return out, run_demo(out, quick=True)
