"""The one interface every vision-language segmentation model (VLSM) implements.

``forward(pixel_values, input_ids, attention_mask) -> logits (B, 1, H, W)`` at the model's input
size, and a :class:`Preprocessing` describing what the model expects.
"""

from __future__ import annotations

import dataclasses

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """What a VLSM expects of its inputs.

    Attributes:
        image_size: square input side in pixels (352 for CLIPSeg, 416 for CRIS in the paper).
        mean: per-channel mean of the RGB input in [0, 1] units.
        std: per-channel std.
        context_length: token sequence length (77 for CLIP), padded to max length.
        tokenizer: name or folder of the tokenizer (``"clip-bpe"`` = the shipped OpenAI CLIP BPE).
    """

    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    context_length: int = 77
    tokenizer: str = "clip-bpe"
