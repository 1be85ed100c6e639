"""Synth stage: mask perturbation, the semantic diffusion model (SDM), sampling, scoring.

Public entry points (imported lazily so ``import synthboost.synth`` stays light)::

    perturb_dataset(dataset_root, out, per_mask=5, seed=0, size=256, overwrite=False) -> Path
    train_sdm(dataset_root, run_dir, view, phase, config, max_steps=None, device=None) -> Path
    sample_images(run_dir, labels, sectors, seed=0, steps=None, sampler=None, guidance=None,
                  batch_size=8, device=None) -> list[np.ndarray]   # None: the run config's
    sample_folder(run_dir, perturbed_dir, out, steps=None, sampler=None, seed=0, batch_size=8) -> Path
    score(generated, real, segmenter=None) -> pandas.DataFrame
"""

from __future__ import annotations

from synthboost.utils.lazy import lazy_exports

_EXPORTS = {
    "perturb_dataset": "perturb",
    "train_sdm": "sdm_train",
    "sample_images": "sample",
    "sample_folder": "sample",
    "score": "score",
    "SDMUNet": "unet",
    "UNetConfig": "unet",
    "SDMConfig": "config",
    "load_config": "config",
    "SemanticDiffusionPipeline": "diffusion",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
