"""The one interface every vision-language segmentation model (VLSM) implements.

``forward(pixel_values, input_ids, attention_mask) -> logits (B, 1, H, W)`` at the model's input
size, split in two so that one image encoding serves several prompts:
``forward = decode(encode_image(pixel_values), input_ids, attention_mask)``, where
:meth:`VLSM.encode_image` is the text-free part of the model and returns :class:`ImageFeatures`.
A :class:`Preprocessing` describes what the model expects. :class:`VLSM` adds encoder
freezing (no gradients *and* normalisation layers kept in eval mode), parameter counting and the
``save_pretrained`` folder layout (``config.json`` + ``model.safetensors``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from synthboost.logs import get_logger

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"

log = get_logger("models")


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

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessing:
        """Inverse of :meth:`to_dict` (lists become tuples)."""
        return cls(
            image_size=int(data["image_size"]),
            mean=tuple(float(v) for v in data["mean"]),
            std=tuple(float(v) for v in data["std"]),
            context_length=int(data.get("context_length", 77)),
            tokenizer=str(data.get("tokenizer", "clip-bpe")),
        )


def normalize(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """``uint8`` ``(B, 1|3, H, W)`` images → float RGB normalised with ``mean``/``std`` (gray repeated)."""
    x = images.float().div(255.0)  # not in place: float input must not be changed
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    mean_t = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x - mean_t) / std_t


@dataclasses.dataclass(frozen=True)
class ImageFeatures:
    """What :meth:`VLSM.encode_image` returns: text-free feature maps of a batch of images.

    Attributes:
        maps: the model's image features, each ``(B, ...)`` (CLIPSeg: ViT hidden states of the
            extracted layers; CRIS: the C3, C4, C5 maps of the CLIP ResNet).
        size: ``(rows, cols)`` of the encoded ``pixel_values``; :meth:`VLSM.decode` returns logits
            at this size.
    """

    maps: tuple[torch.Tensor, ...]
    size: tuple[int, int]

    @property
    def batch_size(self) -> int:
        """Number of encoded images."""
        return int(self.maps[0].shape[0])

    def expand(self, n: int) -> ImageFeatures:
        """The features of one image repeated ``n`` times (a view, no copy), to decode ``n`` prompts."""
        if self.batch_size != 1:
            raise ValueError(f"expand: features of {self.batch_size} images, expected 1")
        return dataclasses.replace(self, maps=tuple(m.expand(n, *m.shape[1:]) for m in self.maps))


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of ``module`` (only those with ``requires_grad`` if asked)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


class VLSM(nn.Module):
    """Base class of every vision-language segmentation model.

    Subclasses set ``model_type``, fill ``self.preprocessing``, implement :meth:`encode_image`,
    :meth:`decode`, :meth:`encoder_modules`, :meth:`save_pretrained` and :meth:`from_pretrained`.
    """

    model_type: ClassVar[str] = ""
    preprocessing: Preprocessing

    def __init__(self) -> None:
        super().__init__()
        self._frozen_encoders = False

    def forward(
        self, pixel_values: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> torch.Tensor:
        """Segmentation logits ``(B, 1, H, W)`` at the input size: ``decode(encode_image(...), ...)``."""
        return self.decode(self.encode_image(pixel_values), input_ids, attention_mask)

    def encode_image(self, pixel_values: torch.Tensor) -> ImageFeatures:  # pragma: no cover - abstract
        """The text-free image features of ``pixel_values`` ``(B, 3, H, W)``."""
        raise NotImplementedError

    def decode(
        self, features: ImageFeatures, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> torch.Tensor:  # pragma: no cover - abstract
        """Segmentation logits ``(B, 1, *features.size)`` of one prompt per encoded image.

        To segment one image with ``n`` prompts, decode ``features.expand(n)``.
        """
        raise NotImplementedError

    def check_batch(self, features: ImageFeatures, input_ids: torch.Tensor) -> None:
        """Fail clearly when the number of prompts differs from the number of encoded images."""
        if input_ids.shape[0] != features.batch_size:
            raise ValueError(
                f"{self.model_type}: {input_ids.shape[0]} prompts for {features.batch_size} images"
            )

    def encoder_modules(self) -> dict[str, nn.Module]:  # pragma: no cover - abstract
        """The image and text encoders, by name (``{"image": ..., "text": ...}``)."""
        raise NotImplementedError

    @property
    def encoders_frozen(self) -> bool:
        """Whether :meth:`freeze_encoders` was applied."""
        return self._frozen_encoders

    def freeze_encoders(self) -> VLSM:
        """Stop gradients into the encoders and keep their normalisation layers in eval mode."""
        for module in self.encoder_modules().values():
            module.requires_grad_(False)
            module.eval()
        self._frozen_encoders = True
        return self

    def train(self, mode: bool = True) -> VLSM:
        """Like ``nn.Module.train``, but frozen encoders stay in eval mode (BatchNorm statistics fixed)."""
        super().train(mode)
        if self._frozen_encoders:
            for module in self.encoder_modules().values():
                module.eval()
        return self

    def parameter_report(self) -> dict[str, int]:
        """Total and trainable parameter counts, overall and per encoder."""
        report = {"total": count_parameters(self), "trainable": count_parameters(self, True)}
        for name, module in self.encoder_modules().items():
            report[f"{name}_encoder_trainable"] = count_parameters(module, True)
        return report

    def log_parameters(self) -> None:
        """Log the parameter counts (called by the builders)."""
        r = self.parameter_report()
        log.info(
            "%s: %.2fM parameters, %.2fM trainable (encoders %s)",
            self.model_type,
            r["total"] / 1e6,
            r["trainable"] / 1e6,
            ("frozen + adapters" if getattr(self, "peft_config", None) else "frozen")
            if self._frozen_encoders
            else "trained",
        )

    def save_pretrained(self, folder: str | Path) -> Path:  # pragma: no cover - abstract
        """Write ``config.json`` + ``model.safetensors`` into ``folder``."""
        raise NotImplementedError

    @classmethod
    def from_pretrained(cls, folder: str | Path, **overrides: Any) -> VLSM:  # pragma: no cover - abstract
        """Load what :meth:`save_pretrained` wrote."""
        raise NotImplementedError
