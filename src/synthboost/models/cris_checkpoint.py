"""Read OpenAI CLIP and official CRIS checkpoints into :class:`CRISModel`, and convert them.

Accepted inputs:
- OpenAI ``RN50.pt`` (a TorchScript archive) or a plain CLIP state dict → the ``backbone``; only
  the CRIS additions (``visual.attnpool.connect``) may be missing.
- CRIS checkpoints as the official training script writes them (``{"state_dict": {"module.…"}}``)
  or a bare state dict, with or without the ``module.`` prefix → the whole model, strictly.
Every load reports missing and unexpected keys and raises ``ValueError`` naming the source when
anything else is off.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from synthboost.checkpoints import load_state_dict
from synthboost.logs import get_logger
from synthboost.models.cris import CRISModel, load_cris_state_dict, load_state, named_config, strip_prefix

log = get_logger("models.cris")

CLIP_EXTRA_KEYS = ("input_resolution", "context_length", "vocab_size")
CLIP_ADDED_PREFIX = "backbone.visual.attnpool.connect."


def read_state_dict(path: str | Path, trust_pickle: bool = False) -> dict[str, torch.Tensor]:
    """Read a checkpoint file (TorchScript archive, ``{"state_dict": ...}`` or bare) to a flat state dict.

    ``module.`` prefixes (DataParallel) are removed. Loads with ``weights_only``; ``trust_pickle``
    allows pickled objects and TorchScript archives such as OpenAI's ``RN50.pt`` (trusted files only).
    """
    return strip_prefix(load_state_dict(path, trust_pickle), "module.")


def checkpoint_kind(state: Mapping[str, Any]) -> str:
    """``"cris"`` (full model keys), ``"clip"`` (CLIP's own keys) or raise ``ValueError``."""
    if any(k.startswith("backbone.") for k in state):
        return "cris"
    if "token_embedding.weight" in state and any(k.startswith("visual.") for k in state):
        return "clip"
    raise ValueError("state dict is neither a CRIS nor an OpenAI CLIP checkpoint")


def load_clip_state_dict(model: CRISModel, state: Mapping[str, Any], source: str = "CLIP state dict") -> None:
    """Load OpenAI CLIP weights (CLIP's own key names) into ``model.backbone``."""
    state = {f"backbone.{k}": v for k, v in state.items() if k not in CLIP_EXTRA_KEYS}
    load_state(model, state, (CLIP_ADDED_PREFIX, "neck.", "decoder.", "proj."), source)


def load_weights(model: CRISModel, path: str | Path, trust_pickle: bool = False) -> CRISModel:
    """Load a CLIP or CRIS checkpoint file into ``model`` (kind detected from the keys)."""
    return _load_any(model, read_state_dict(path, trust_pickle), path)


def _load_any(model: CRISModel, state: dict[str, Any], path: str | Path) -> CRISModel:
    try:
        kind = checkpoint_kind(state)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from err
    loader = load_cris_state_dict if kind == "cris" else load_clip_state_dict
    loader(model, state, source=str(path))
    return model


def convert_cris_checkpoint(
    src: str | Path, dst: str | Path, config: str = "paper", trust_pickle: bool = False, **overrides: Any
) -> Path:
    """Convert an official CRIS (or CLIP) checkpoint into a ``save_pretrained`` folder.

    Args:
        src: official checkpoint file.
        dst: output folder (``config.json`` + ``model.safetensors``), replaced if present.
        config: named config the checkpoint was trained with (``paper``/``official`` differ only
            in dropout, which is not stored in the weights).
        trust_pickle: allow arbitrary pickled objects in ``src``.
        **overrides: :class:`CRISConfig` fields (e.g. ``image_size``).

    Returns:
        The output folder.
    """
    state = read_state_dict(src, trust_pickle)  # a bad file fails before the large model is built
    return _load_any(CRISModel(named_config(config, **overrides)), state, src).save_pretrained(dst)
