"""CRIS: CLIP-Driven Referring Image Segmentation (Wang et al., CVPR 2022), RN50 configuration.

Our pure-PyTorch implementation (no ``clip`` package, no torchvision), written from the paper and
the official implementation's structure (github.com/DerrickWang005/CRIS.pytorch, MIT licence). Its
parameter names are the official ones (``backbone.*`` with CLIP's names inside, ``neck.*``,
``decoder.*``, ``proj.*``), so OpenAI's ``RN50.pt`` and official CRIS checkpoints load as they are
(see :mod:`synthboost.models.cris_checkpoint`).

Two deliberate differences, both switchable: the decoder's word padding mask comes from
``attention_mask`` (the reference compared ids with 0, which never fires for a tokenizer that pads
with the end-of-text id; ``reference_padding=True`` restores it), and the logits are upsampled to
the input size. Named configs: ``paper`` (416 px, decoder dropout 0.2) and ``tiny``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from synthboost.checkpoints import load_safetensors
from synthboost.logs import get_logger
from synthboost.models.base import (
    CLIP_MEAN,
    CLIP_STD,
    CONFIG_NAME,
    VLSM,
    WEIGHTS_NAME,
    ImageFeatures,
    Preprocessing,
)
from synthboost.models.cris_clip import CLIPBackbone
from synthboost.models.cris_layers import FPN, Projector, TransformerDecoder
from synthboost.models.hub import hub_file
from synthboost.utils.files import atomic_dir, read_json, write_json_atomic

_TUPLE_FIELDS = ("mean", "std", "vision_layers", "fpn_out")

log = get_logger("models.cris")


@dataclasses.dataclass(frozen=True)
class CRISConfig:
    """Architecture and preprocessing of a CRIS model (defaults: the paper's RN50 setting)."""

    image_size: int = 416
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD
    context_length: int = 77
    tokenizer: str = "clip-bpe"
    embed_dim: int = 1024
    clip_image_resolution: int = 224
    vision_layers: tuple[int, int, int, int] = (3, 4, 6, 3)
    vision_width: int = 64
    clip_context_length: int = 77
    vocab_size: int = 49408
    text_width: int = 512
    text_heads: int = 8
    text_layers: int = 12
    eos_token_id: int = 49407
    fpn_out: tuple[int, int, int] = (256, 512, 1024)
    num_layers: int = 3
    num_heads: int = 8
    dim_ffn: int = 2048
    dropout: float = 0.2
    reference_padding: bool = False
    upsample_mode: str = "bilinear"

    def __post_init__(self) -> None:
        if self.text_width != self.fpn_out[1]:
            raise ValueError(
                f"CRISConfig: text_width {self.text_width} must equal fpn_out[1] {self.fpn_out[1]}"
            )
        if self.context_length > self.clip_context_length:
            raise ValueError(
                f"CRISConfig: context_length {self.context_length} > clip_context_length {self.clip_context_length}"
            )
        if self.eos_token_id >= self.vocab_size:
            raise ValueError(
                f"CRISConfig: eos_token_id {self.eos_token_id} outside vocab of {self.vocab_size}"
            )

    @property
    def fpn_in(self) -> tuple[int, int, int]:
        """Channels of C3, C4, C5."""
        return (self.vision_width * 8, self.vision_width * 16, self.embed_dim)

    @property
    def preprocessing(self) -> Preprocessing:
        """What the model expects of its inputs."""
        return Preprocessing(self.image_size, self.mean, self.std, self.context_length, self.tokenizer)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (with ``model_type``)."""
        return {"model_type": "cris", **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], **overrides: Any) -> CRISConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        data = {k: v for k, v in {**data, **overrides}.items() if k != "model_type"}
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"CRISConfig: unknown keys {sorted(unknown)}")
        return cls(**{k: tuple(v) if k in _TUPLE_FIELDS else v for k, v in data.items()})


CONFIGS: dict[str, dict[str, Any]] = {
    "paper": {},
    "official": {"dropout": 0.1},
    "tiny": {"image_size": 64, "embed_dim": 64, "clip_image_resolution": 64, "vision_layers": (1, 1, 1, 1),
             "vision_width": 8, "text_width": 16, "text_heads": 2, "text_layers": 2, "fpn_out": (16, 16, 64),
             "num_layers": 1, "num_heads": 4, "dim_ffn": 64, "dropout": 0.1},
}  # fmt: skip


def named_config(name: str, **overrides: Any) -> CRISConfig:
    """A named :class:`CRISConfig` (``paper``, ``official``, ``tiny``) with field overrides."""
    if name not in CONFIGS:
        raise ValueError(f"cris: unknown config {name!r} (choose from {sorted(CONFIGS)})")
    return CRISConfig.from_dict({**CONFIGS[name], **overrides})


class CRISModel(VLSM):
    """CRIS with the VLSM interface: ``forward(pixel_values, input_ids, attention_mask) -> (B, 1, H, W)``."""

    model_type = "cris"

    def __init__(self, config: CRISConfig) -> None:
        super().__init__()
        self.config = config
        self.preprocessing = config.preprocessing
        self.backbone = CLIPBackbone(
            config.embed_dim, config.clip_image_resolution, config.vision_layers, config.vision_width,
            config.clip_context_length, config.vocab_size, config.text_width, config.text_heads,
            config.text_layers, config.eos_token_id,
        )  # fmt: skip
        self.neck = FPN(config.fpn_in, config.fpn_out)
        self.decoder = TransformerDecoder(
            config.num_layers, config.fpn_out[1], config.num_heads, config.dim_ffn, config.dropout
        )
        self.proj = Projector(config.embed_dim, config.fpn_out[1] // 2, 3)

    def encoder_modules(self) -> dict[str, nn.Module]:
        """The CLIP backbone (image and text encoders share CLIP's module)."""
        return {"clip": self.backbone}

    def padding_mask(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """``True`` at word positions the decoder must ignore."""
        if self.config.reference_padding:
            return input_ids == 0
        return attention_mask == 0

    def encode_image(self, pixel_values: torch.Tensor) -> ImageFeatures:
        """C3, C4, C5 of the CLIP ResNet: the text-free part (the FPN neck gates C5 by the sentence)."""
        maps = tuple(self.backbone.encode_image(pixel_values))
        return ImageFeatures(maps, (int(pixel_values.shape[-2]), int(pixel_values.shape[-1])))

    def decode(
        self, features: ImageFeatures, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> torch.Tensor:
        """Segmentation logits ``(B, 1, H, W)`` at the encoded size: neck, decoder and projector."""
        self.check_batch(features, input_ids)
        words, state = self.backbone.encode_text(input_ids)
        fq = self.neck(features.maps, state)
        fq = self.decoder(fq, words, self.padding_mask(input_ids, attention_mask))
        pred = self.proj(fq, state)
        if pred.shape[-2:] != features.size:
            align = False if self.config.upsample_mode in ("bilinear", "bicubic") else None
            pred = F.interpolate(pred, size=features.size, mode=self.config.upsample_mode,
                                 align_corners=align)  # fmt: skip
        return pred

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write ``config.json`` + ``model.safetensors`` (replacing ``folder`` atomically)."""
        from safetensors.torch import save_file

        folder = Path(folder)
        tensors = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        with atomic_dir(folder, overwrite=True, markers=(CONFIG_NAME, WEIGHTS_NAME)) as tmp:
            write_json_atomic(tmp / CONFIG_NAME, self.config.to_dict())
            save_file(tensors, str(tmp / WEIGHTS_NAME), metadata={"format": "pt", "model_type": "cris"})
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path, **overrides: Any) -> CRISModel:
        """Load a folder written by :meth:`save_pretrained` (or a hub id holding the same files)."""

        config_path, weights_path = resolve_files(folder)
        try:
            config = CRISConfig.from_dict(read_json(config_path, expect=dict), **overrides)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{config_path}: not a CRIS config ({err})") from err
        model = cls(config)
        load_cris_state_dict(model, load_safetensors(weights_path), source=str(weights_path))
        return model


def resolve_files(folder: str | Path) -> tuple[Path, Path]:
    """``(config.json, model.safetensors)`` of a local folder or a hub id (cache/offline aware)."""
    path = Path(folder)
    if path.is_dir():
        files = (path / CONFIG_NAME, path / WEIGHTS_NAME)
        for file in files:
            if not file.is_file():
                raise FileNotFoundError(f"{file}: missing (expected a save_pretrained folder)")
        return files
    if path.exists() or str(folder).count("/") != 1:
        raise FileNotFoundError(f"{folder}: not a model folder or hub id")

    return tuple(hub_file(str(folder), name) for name in (CONFIG_NAME, WEIGHTS_NAME))  # type: ignore[return-value]


def strip_prefix(state: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Remove ``prefix`` from every key that has it."""
    return {k[len(prefix) :] if k.startswith(prefix) else k: v for k, v in state.items()}


def load_state(
    model: CRISModel, state: Mapping[str, Any], allowed_missing: tuple[str, ...], source: str
) -> None:
    try:
        result = model.load_state_dict(dict(state), strict=False)
    except RuntimeError as err:  # shape mismatches
        raise ValueError(f"{source}: does not fit the CRIS config ({err})") from err
    missing = [k for k in result.missing_keys if not k.startswith(allowed_missing)]
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise ValueError(
            f"{source}: does not fit the CRIS config: {len(missing)} missing keys {missing[:8]}, "
            f"{len(result.unexpected_keys)} unexpected keys {result.unexpected_keys[:8]}"
        )
    log.info("%s: loaded %d tensors (%d left at init)", source, len(state), len(result.missing_keys))


def load_cris_state_dict(model: CRISModel, state: Mapping[str, Any], source: str = "CRIS state dict") -> None:
    """Load a full CRIS state dict (official names, ``module.`` prefix already removed or not)."""
    load_state(model, strip_prefix(dict(state), "module."), (), source)
