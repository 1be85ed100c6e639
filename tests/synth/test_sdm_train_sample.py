"""train_sdm run folders (resumable) and sampling (arrays and a resumable folder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_perturb import fan_sector, heart_labels, tiny_dataset  # noqa: F401
from test_sdm_unet import one_thread  # noqa: F401

import synthboost.synth.sample as sample_mod
from synthboost.synth.config import load_config
from synthboost.synth.perturb import perturb_dataset
from synthboost.synth.sample import sample_folder, sample_images
from synthboost.synth.sdm_train import latest_step, train_sdm


def tiny16(**train) -> dict:
    cfg = load_config("tiny").to_dict()
    cfg["model"]["image_size"] = 16
    cfg["train"].update(save_interval=2, log_interval=1, batch_size=2, **train)
    cfg["sample"]["steps"] = 3
    return cfg


@pytest.fixture
def run(tiny_dataset, tmp_path) -> Path:  # noqa: F811
    return train_sdm(tiny_dataset, tmp_path / "run", "2CH", None, tiny16(), max_steps=3, device="cpu")


def test_train_writes_a_resumable_run(run, tiny_dataset):  # noqa: F811
    names = {p.name for p in run.iterdir()}
    assert {
        "config.yaml",
        "run.json",
        "loss.csv",
        "model000002.pt",
        "ema_0.9_000003.pt",
        "opt000003.pt",
    } <= names
    assert latest_step(run) == 3
    assert load_config(run / "config.yaml").model.image_size == 16
    rows = (run / "loss.csv").read_text().splitlines()
    assert rows[0] == "step,loss,mse,vb,lr" and [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3"]
    train_sdm(tiny_dataset, run, "2CH", None, None, max_steps=4, device="cpu")
    assert latest_step(run) == 4
    assert torch.load(run / "opt000004.pt", weights_only=True)["step"] == 4
    assert [r.split(",")[0] for r in (run / "loss.csv").read_text().splitlines()[1:]] == ["1", "2", "3", "4"]
    other = tiny16()
    other["model"]["model_channels"] = 64
    with pytest.raises(ValueError, match="another model config"):
        train_sdm(tiny_dataset, run, "2CH", None, other, max_steps=5, device="cpu")
    with pytest.raises(ValueError, match="no rows"):
        train_sdm(tiny_dataset, run.parent / "r2", "4CH", None, tiny16(), max_steps=1, device="cpu")


def test_sample_images_shapes_sector_and_seed(run):
    labels = [
        np.asarray(Image.fromarray(heart_labels(80, 60)).resize((64, 64), Image.NEAREST)),
        heart_labels(80, 60),
    ]
    sectors = [fan_sector(64), np.asarray(Image.fromarray(fan_sector(64)).resize((60, 80), Image.NEAREST))]
    imgs = sample_images(run, labels, sectors, seed=1, steps=3, sampler="ddim", batch_size=1, device="cpu")
    assert [i.shape for i in imgs] == [(64, 64), (80, 60)] and all(i.dtype == np.uint8 for i in imgs)
    assert imgs[0][~fan_sector(64)].max() == 0 and imgs[0][fan_sector(64)].std() > 0
    again = sample_images(run, labels[:1], sectors[:1], seed=1, steps=3, device="cpu")
    other = sample_images(run, labels[:1], sectors[:1], seed=2, steps=3, device="cpu")
    assert np.array_equal(again[0], imgs[0]) and not np.array_equal(other[0], imgs[0])
    with pytest.raises(ValueError, match="2 label maps but 1 sectors"):
        sample_images(run, labels, sectors[:1])


def test_sample_folder_resumes_after_interruption(run, tiny_dataset, tmp_path, monkeypatch):  # noqa: F811
    pert = perturb_dataset(tiny_dataset, tmp_path / "pert", per_mask=1, size=16)
    full = sample_folder(run, pert, tmp_path / "full", steps=3, sampler="dpm", batch_size=2, device="cpu")
    real_generate, calls = sample_mod.generate, []

    def interrupted(*args, **kwargs):
        if calls:
            raise KeyboardInterrupt
        calls.append(1)
        return real_generate(*args, **kwargs)

    monkeypatch.setattr(sample_mod, "generate", interrupted)
    part = tmp_path / "part"
    with pytest.raises(KeyboardInterrupt):
        sample_folder(run, pert, part, steps=3, sampler="dpm", batch_size=2, device="cpu")
    assert len(list(part.glob("*/images/*.png"))) == 2
    monkeypatch.setattr(sample_mod, "generate", real_generate)
    sample_folder(run, pert, part, steps=3, sampler="dpm", batch_size=3, device="cpu")
    files = sorted(p.relative_to(full) for p in full.rglob("*.png"))
    assert files == sorted(p.relative_to(part) for p in part.rglob("*.png"))
    assert (full / "sampling.json").read_text() == (part / "sampling.json").read_text()
    assert len(files) == 12 and not [p for p in part.rglob(".*")]
    for rel in files:
        a, b = np.asarray(Image.open(full / rel), int), np.asarray(Image.open(part / rel), int)
        assert np.abs(a - b).max() <= 1, rel
    assert {p.parent.parent.name for p in files} == {"training", "validation"}
