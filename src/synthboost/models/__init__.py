"""Vision-language segmentation models (VLSMs) behind one interface.

``build_model(name, pretrained, config, freeze_encoders, **overrides)`` and
``load_pretrained(folder_or_hub_id)`` return a :class:`VLSM`:
``forward(pixel_values, input_ids, attention_mask) -> logits (B, 1, H, W)`` with
``model.preprocessing``; ``get_tokenizer(preprocessing)`` turns prompts into model inputs.
Names are imported lazily so that the CLI starts without importing torch.
"""

from __future__ import annotations

from synthboost.utils.lazy import lazy_exports

_EXPORTS = {
    "build_model": "factory",
    "load_pretrained": "factory",
    "MODEL_NAMES": "factory",
    "VLSM": "base",
    "Preprocessing": "base",
    "ImageFeatures": "base",
    "count_parameters": "base",
    "get_tokenizer": "tokenizer",
    "CLIPSegVLSM": "clipseg",
    "CRISConfig": "cris",
    "CRISModel": "cris",
    "convert_cris_checkpoint": "cris_checkpoint",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
