"""Shared fixtures of the app tests: one tiny random CLIPSeg saved once per session."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


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
    from synthboost.app.segment import Segmenter

    return Segmenter.from_pretrained(tiny_model, device="cpu")


@pytest.fixture
def echo_png(tmp_path) -> Path:
    """A small gray PNG (60 × 48) with a bright blob."""
    from synthboost.data.imageio import write_png

    img = np.full((60, 48), 30, np.uint8)
    img[15:45, 12:36] = 200
    path = tmp_path / "echo.png"
    write_png(path, img)
    return path
