"""CLIPSeg (Lüddecke & Ecker, CVPR 2022) behind the VLSM interface, wrapping ``transformers``.

``transformers``' ``CLIPSegForImageSegmentation.forward`` runs the CLIP vision encoder and the
text features under ``torch.no_grad()``, so training through it only trains the decoder. The
paper's Table 1 trains all parameters, so :class:`CLIPSegVLSM` calls the parts itself: the vision
encoder up to the deepest extracted layer (the layers above it do not feed the decoder), the
projected text feature, then the decoder. In eval mode its logits equal the ``transformers``
forward's logits for the same weights.

Named configs: ``paper`` (the ``CIDAS/clipseg-rd64-refined`` architecture, 352 px, ImageNet
mean/std) and ``tiny`` (64 px, for tests and the CPU demo).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from synthboost.checkpoints import safetensors_keys
from synthboost.models.base import (
    CONFIG_NAME,
    IMAGENET_MEAN,
    IMAGENET_STD,
    VLSM,
    WEIGHTS_NAME,
    ImageFeatures,
    Preprocessing,
    log,
)
from synthboost.models.tokenizer import EOT_ID, VOCAB_SIZE
from synthboost.utils.files import atomic_dir

PAPER_CHECKPOINT = "CIDAS/clipseg-rd64-refined"
PREPROCESSING_KEY = "synthboost_preprocessing"
LEGACY_EOS_ID = 2  # what configs written before transformers PR #24773 hold

CONFIGS: dict[str, dict[str, Any]] = {
    "paper": {
        "image_size": 352,
        "text_config": {},
        "vision_config": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                          "num_attention_heads": 12, "image_size": 224, "patch_size": 16},
        "hf": {"projection_dim": 512, "extract_layers": [3, 6, 9], "reduce_dim": 64,
               "decoder_num_attention_heads": 4, "decoder_intermediate_size": 2048,
               "conditional_layer": 0, "use_complex_transposed_convolution": True},
    },
    "tiny": {
        "image_size": 64,
        "text_config": {"hidden_size": 16, "intermediate_size": 64, "num_hidden_layers": 2,
                        "num_attention_heads": 2},
        "vision_config": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 4,
                          "num_attention_heads": 4, "image_size": 64, "patch_size": 8},
        "hf": {"projection_dim": 32, "extract_layers": [0, 1, 2], "reduce_dim": 16,
               "decoder_num_attention_heads": 2, "decoder_intermediate_size": 32,
               "conditional_layer": 0, "use_complex_transposed_convolution": False},
    },
}  # fmt: skip


def check_text_config(config: Any, eos_token_id: int = EOT_ID, vocab_size: int = VOCAB_SIZE) -> None:
    """Make the text config agree with the CLIP tokenizer, or raise ``ValueError``.

    A legacy ``eos_token_id`` of 2 (configs saved before transformers PR #24773, such as the
    original hub files) is set to the tokenizer's end-of-text id: both pool the first end-of-text
    token of CLIP-tokenized text. Any other mismatch would pool the wrong token and is refused.
    """
    text = config.text_config
    if text.eos_token_id == LEGACY_EOS_ID:
        log.info("clipseg: legacy text eos_token_id 2 set to the tokenizer's end-of-text id %d", eos_token_id)
        text.eos_token_id = eos_token_id
    if text.eos_token_id != eos_token_id:
        raise ValueError(
            f"clipseg text config: eos_token_id {text.eos_token_id} != tokenizer end-of-text id {eos_token_id}"
            " (the pooled text feature would come from the wrong token)"
        )
    if text.vocab_size < vocab_size:
        raise ValueError(f"clipseg text config: vocab_size {text.vocab_size} < tokenizer size {vocab_size}")


def named_config(name: str, **overrides: Any) -> tuple[Any, Preprocessing]:
    """Return ``(CLIPSegConfig, Preprocessing)`` of a named configuration with overrides.

    Overrides named like a :class:`Preprocessing` field set it; the others set ``CLIPSegConfig``
    attributes (``reduce_dim``, ``extract_layers``, ...).
    """
    from transformers import CLIPSegConfig

    if name not in CONFIGS:
        raise ValueError(f"clipseg: unknown config {name!r} (choose from {sorted(CONFIGS)})")
    spec = CONFIGS[name]
    prep_over, hf_over = _split_overrides(overrides)
    config = CLIPSegConfig(text_config=dict(spec["text_config"]), vision_config=dict(spec["vision_config"]),
                           **{**spec["hf"], **hf_over})  # fmt: skip
    prep = Preprocessing(image_size=spec["image_size"], mean=IMAGENET_MEAN, std=IMAGENET_STD)
    return config, Preprocessing(**{**prep.to_dict(), **prep_over})


def _split_overrides(overrides: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    fields = set(Preprocessing.__dataclass_fields__)
    return (
        {k: v for k, v in overrides.items() if k in fields},
        {k: v for k, v in overrides.items() if k not in fields},
    )


def check_weights_file(folder: Path) -> None:
    """A local CLIPSeg folder must hold ``model.safetensors`` (pickled ``.bin`` weights are not loaded)."""

    if (folder / f"{WEIGHTS_NAME}.index.json").is_file():
        return
    if (folder / WEIGHTS_NAME).is_file():
        keys = safetensors_keys(folder / WEIGHTS_NAME)
        if not any(k.startswith("clip.") for k in keys):
            raise ValueError(
                f"{folder / WEIGHTS_NAME}: holds no CLIPSeg weights (keys like {sorted(keys)[:3]}; "
                "expected clip.* and decoder.*: another model's weights in a CLIPSeg folder?)"
            )
        return
    pickled = [p.name for p in folder.glob("*.bin")]
    if pickled:
        raise ValueError(
            f"{folder / pickled[0]}: pickled weights are not loaded (unpickling can run code); "
            f"expected {folder / WEIGHTS_NAME} (convert the folder with a tool you trust)"
        )
    raise FileNotFoundError(f"{folder / WEIGHTS_NAME}: missing (expected a save_pretrained folder)")


class CLIPSegVLSM(VLSM):
    """CLIPSeg whose encoders really train when unfrozen.

    Args:
        model: a ``transformers.CLIPSegForImageSegmentation``.
        preprocessing: what the model expects of its inputs.
    """

    model_type = "clipseg"

    def __init__(self, model: nn.Module, preprocessing: Preprocessing) -> None:
        super().__init__()
        check_text_config(model.config)
        model.clip.text_model.eos_token_id = model.config.text_config.eos_token_id
        self.model = model
        self.preprocessing = preprocessing
        self.extract_layers = [int(i) for i in model.config.extract_layers]

    @classmethod
    def from_config(cls, name: str = "paper", **overrides: Any) -> CLIPSegVLSM:
        """Randomly initialised CLIPSeg of a named configuration."""
        from transformers import CLIPSegForImageSegmentation

        config, prep = named_config(name, **overrides)
        check_text_config(config)
        return cls(CLIPSegForImageSegmentation(config), prep)

    @classmethod
    def from_pretrained(cls, folder: str | Path, **overrides: Any) -> CLIPSegVLSM:
        """Load a hub id (e.g. ``CIDAS/clipseg-rd64-refined``) or a folder from :meth:`save_pretrained`."""
        from transformers import CLIPSegConfig, CLIPSegForImageSegmentation

        prep_over, hf_over = _split_overrides(overrides)
        local = Path(folder).is_dir()
        if local:
            check_weights_file(Path(folder))
        config = CLIPSegConfig.from_pretrained(str(folder), **hf_over)
        check_text_config(config)
        try:
            model, info = CLIPSegForImageSegmentation.from_pretrained(
                str(folder), config=config, dtype=torch.float32, use_safetensors=True if local else None,
                output_loading_info=True,
            )  # fmt: skip
        except (RuntimeError, OSError) as err:  # shape mismatches, unreadable files
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ValueError(f"{folder}: cannot load the CLIPSeg weights ({first})") from err
        missing = info.get("missing_keys") or []
        if missing:
            message = f"{folder}: {len(missing)} weights missing from the checkpoint, left random: {sorted(missing)[:5]}"
            if local:
                raise ValueError(message)
            log.warning(message)
        saved = getattr(config, PREPROCESSING_KEY, None)
        prep = Preprocessing.from_dict(saved) if saved else named_config("paper")[1]
        return cls(model, Preprocessing(**{**prep.to_dict(), **prep_over}))

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write the ``transformers`` folder (``config.json`` + ``model.safetensors``) with our preprocessing,
        replacing ``folder`` atomically (only an empty folder or a model folder is replaced)."""

        folder = Path(folder)
        setattr(self.model.config, PREPROCESSING_KEY, self.preprocessing.to_dict())
        with atomic_dir(folder, overwrite=True, markers=(CONFIG_NAME, WEIGHTS_NAME)) as tmp:
            self.model.save_pretrained(str(tmp))
        return folder

    def encoder_modules(self) -> dict[str, nn.Module]:
        """The CLIP image and text encoders (with their projections)."""
        return {"clip": self.model.clip}

    def encode_image(self, pixel_values: torch.Tensor) -> ImageFeatures:
        """Hidden states of the vision encoder after each layer in ``extract_layers`` (text-free)."""
        vision = self.model.clip.vision_model
        hidden = vision.embeddings(pixel_values, interpolate_pos_encoding=True)
        hidden = vision.pre_layrnorm(hidden)
        wanted = set(self.extract_layers)
        features: dict[int, torch.Tensor] = {}
        for index, layer in enumerate(vision.encoder.layers[: max(wanted) + 1]):
            hidden = layer(hidden, None)
            if index in wanted:
                features[index] = hidden
        maps = tuple(features[i] for i in self.extract_layers)
        return ImageFeatures(maps, (int(pixel_values.shape[-2]), int(pixel_values.shape[-1])))

    def text_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Projected end-of-text feature ``(B, projection_dim)`` (the decoder's condition)."""
        out = self.model.clip.get_text_features(input_ids=input_ids, attention_mask=attention_mask)
        return out.pooler_output

    def decode(
        self, features: ImageFeatures, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> torch.Tensor:
        """Segmentation logits ``(B, 1, H, W)`` at the encoded size, conditioned on the prompts."""
        self.check_batch(features, input_ids)
        condition = self.text_features(input_ids, attention_mask)
        logits = self.model.decoder(list(features.maps), condition).logits
        logits = logits.reshape(features.batch_size, 1, *logits.shape[-2:])
        if logits.shape[-2:] != features.size:
            logits = F.interpolate(logits, size=features.size, mode="bilinear", align_corners=False)
        return logits
