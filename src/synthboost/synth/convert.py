"""Checkpoint conversion between the two qkv layouts of guided-diffusion attention.

The ``qkv`` 1×1 convolution of an :class:`~synthboost.synth.nn_blocks.AttentionBlock` emits
``3·H·C`` channels. The *legacy* layout (``use_new_attention_order=False``, SDM's default) orders
them head-major ``[head][q|k|v][c]``; the *new* layout orders them ``[q|k|v][head][c]``. A model
trained in one layout runs identically in the other once the rows of ``qkv.weight`` and
``qkv.bias`` are permuted.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

LAYOUTS = ("legacy", "new")


def _heads(channels: int, num_heads: int, num_head_channels: int) -> int:
    return num_heads if num_head_channels == -1 else channels // num_head_channels


def permute_qkv(t: torch.Tensor, heads: int, to: str) -> torch.Tensor:
    """Permute the output rows of one qkv weight ``(3HC, C, 1)`` or bias ``(3HC,)`` into layout ``to``."""
    if to not in LAYOUTS:
        raise ValueError(f"qkv layout {to!r} not one of {LAYOUTS}")
    rows = t.shape[0]
    if rows % (3 * heads):
        raise ValueError(f"qkv tensor with {rows} rows cannot hold 3 × {heads} heads")
    ch = rows // (3 * heads)
    src = (heads, 3, ch) if to == "new" else (3, heads, ch)
    return t.reshape(*src, *t.shape[1:]).transpose(0, 1).reshape(t.shape).contiguous()


def convert_qkv_layout(
    state_dict: Mapping[str, torch.Tensor], to: str, num_heads: int = 1, num_head_channels: int = -1
) -> dict[str, torch.Tensor]:
    """Return a copy of ``state_dict`` with every attention ``qkv`` converted to layout ``to``.

    Args:
        state_dict: a guided-diffusion/SDM UNet state dict.
        to: ``"new"`` (legacy → new) or ``"legacy"`` (new → legacy).
        num_heads: heads per attention block when ``num_head_channels`` is -1.
        num_head_channels: channels per head (64 for Echo from noise); -1 to use ``num_heads``.
    """
    out = dict(state_dict)
    for key, value in state_dict.items():
        if key.endswith(".qkv.weight"):
            heads = _heads(value.shape[1], num_heads, num_head_channels)
            out[key] = permute_qkv(value, heads, to)
            bias = key[: -len("weight")] + "bias"
            if bias in state_dict:
                out[bias] = permute_qkv(state_dict[bias], heads, to)
    return out
