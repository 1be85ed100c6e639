"""Shared helpers: device choice and the inference precision rule."""

from __future__ import annotations

import torch

from synthboost.utils.device import inference_autocast, torch_device


def test_torch_device_auto_and_explicit() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert torch_device(None).type == torch_device("auto").type == expected
    assert torch_device("cpu") == torch.device("cpu")


def test_inference_autocast_keeps_float32_on_cpu() -> None:
    x = torch.ones(2, 2)
    with inference_autocast(torch.device("cpu")):
        assert (x @ x).dtype == torch.float32
