"""Where tensors run: the device, inference mixed precision, seeds."""

from __future__ import annotations

from typing import Any


def torch_device(name: Any = None) -> Any:
    """``name`` (``"cuda"``, ``"cpu"``, a ``torch.device``) or, for ``None``/``"auto"``, CUDA when
    available, else CPU."""
    import torch

    if name is None or name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def inference_autocast(device: Any) -> Any:
    """The mixed precision of inference: fp16 autocast on CUDA (as training's ``16-mixed``), none
    elsewhere (float32 on CPU). One rule for ``predict`` and the app, so they give the same masks."""
    import torch

    return torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda")


def seed_everything(seed: int) -> None:
    """Seed python, numpy and (if imported) torch."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover
        pass
