"""Shared helpers of the model tests: tiny models and a fixed input batch."""

from __future__ import annotations

import os

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from synthboost.models import build_model, get_tokenizer  # noqa: E402

PROMPTS = ["left ventricle of the heart", "myocardium in the cardiac ultrasound of a 60-year-old man"]


def tiny_model(name: str, seed: int = 0, **kwargs):
    """A tiny, seeded model of ``name`` in train mode."""
    torch.manual_seed(seed)
    return build_model(name, config="tiny", **kwargs)


def make_batch(model, batch_size: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random images (normalised scale) and real CLIP tokens of two prompts."""
    gen = torch.Generator().manual_seed(seed)
    size = model.preprocessing.image_size
    tokens = get_tokenizer(model.preprocessing)((PROMPTS * batch_size)[:batch_size])
    pixel_values = torch.randn(batch_size, 3, size, size, generator=gen)
    return {"pixel_values": pixel_values, **tokens}
