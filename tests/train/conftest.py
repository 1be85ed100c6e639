"""Tiny processed datasets (real and synthetic) and a tiny-model config for the train tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from tiny_dataset import write_tiny_dataset

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

torch.set_num_threads(1)  # 2 shared cores: oversubscription makes tiny steps 10x slower


@pytest.fixture(scope="session")
def real_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_dataset(tmp_path_factory.mktemp("data") / "real", "phantom", seed=0)


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_dataset(tmp_path_factory.mktemp("data") / "synth", "sdm", seed=1)
