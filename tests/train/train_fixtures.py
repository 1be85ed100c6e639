"""Helpers of the training tests (importable by name, unlike conftest)."""

from __future__ import annotations

from pathlib import Path


def tiny_overrides(root: Path, **extra: str) -> list[str]:
    """Dotted overrides that make a run tiny and fast on a CPU."""
    sets = {
        "data.root": str(root),
        "data.batch_size": "16",
        "trainer.max_epochs": "3",
        "trainer.min_epochs": "1",
        "trainer.accelerator": "cpu",
        "trainer.progress_bar": "false",
        "trainer.log_every_n_steps": "1",
    }
    sets.update(extra)
    return [f"{k}={v}" for k, v in sets.items()]
