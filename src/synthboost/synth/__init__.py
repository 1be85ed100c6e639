"""Synth stage: mask perturbation, the semantic diffusion model (SDM), sampling, scoring.

Public entry points (imported lazily so ``import synthboost.synth`` stays light)::

    perturb_dataset(dataset_root, out, per_mask=5, seed=0, size=256, overwrite=False) -> Path
    train_sdm(dataset_root, run_dir, view, phase, config, max_steps=None, device=None) -> Path
    sample_images(run_dir, labels, sectors, seed=0, steps=50, sampler="ddim", guidance=1.0,
                  batch_size=8, device=None) -> list[np.ndarray]
    sample_folder(run_dir, perturbed_dir, out, steps=50, sampler="ddim", seed=0, batch_size=8) -> Path
    score(generated, real, segmenter=None) -> pandas.DataFrame
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "perturb_dataset": "synthboost.synth.perturb",
    "train_sdm": "synthboost.synth.sdm_train",
    "sample_images": "synthboost.synth.sample",
    "sample_folder": "synthboost.synth.sample",
    "score": "synthboost.synth.score",
    "SDMUNet": "synthboost.synth.unet",
    "UNetConfig": "synthboost.synth.unet",
    "SDMConfig": "synthboost.synth.config",
    "load_config": "synthboost.synth.config",
    "SemanticDiffusionPipeline": "synthboost.synth.diffusion",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'synthboost.synth' has no attribute {name!r}")
