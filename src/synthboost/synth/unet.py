"""Semantic diffusion UNet (SDM, Wang et al. 2022) as used by Echo from noise (Stojanovski et al. 2023).

Written for synthboost; the layout follows openai/guided-diffusion (MIT) so that checkpoints of that
family (``ema_0.9999_NNNNNN.pt``, ``modelNNNNNN.pt``) load with strict key checking. The encoder
(``input_blocks``) sees only the noisy image; the ``middle_block`` and the decoder
(``output_blocks``) are conditioned on the one-hot mask through SPADE normalisation.

Named configurations: ``UNetConfig()`` is the Echo-from-noise model (256², width 256, 652,198,918
parameters); ``configs/sdm/tiny.yaml`` is a 32² model that trains on a CPU in seconds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from synthboost.checkpoints import load_state_dict
from synthboost.logs import get_logger
from synthboost.synth.nn_blocks import (
    AttentionBlock,
    Downsample,
    GroupNorm32,
    ResBlock,
    SDMResBlock,
    TimestepEmbedSequential,
    Upsample,
    timestep_embedding,
    zero_module,
)

log = get_logger("synth.unet")


@dataclasses.dataclass(frozen=True)
class UNetConfig:
    """Hyper-parameters of :class:`SDMUNet` (defaults: Echo from noise, 256²)."""

    image_size: int = 256
    in_channels: int = 1
    model_channels: int = 256
    out_channels: int = 2  # 2 × in_channels: ε and the learned-range variance interpolation
    num_res_blocks: int = 2
    attention_resolutions: tuple[int, ...] = (32, 16, 8)  # feature-map sides with self-attention
    channel_mult: tuple[int, ...] = (1, 1, 2, 2, 4, 4)
    num_classes: int = 5
    dropout: float = 0.0
    num_heads: int = 1
    num_head_channels: int = 64
    use_scale_shift_norm: bool = True
    resblock_updown: bool = True
    use_new_attention_order: bool = True
    conv_resample: bool = True
    norm_groups: int = 32
    spade_hidden: int = 128
    use_checkpoint: bool = False

    def __post_init__(self) -> None:
        if self.image_size % (2 ** (len(self.channel_mult) - 1)):
            raise ValueError(f"unet config: image_size {self.image_size} not divisible by the downsampling")
        if self.out_channels not in (self.in_channels, 2 * self.in_channels):
            raise ValueError("unet config: out_channels must be in_channels or 2·in_channels (learned σ)")
        object.__setattr__(self, "attention_resolutions", tuple(self.attention_resolutions))
        object.__setattr__(self, "channel_mult", tuple(self.channel_mult))

    @property
    def learn_sigma(self) -> bool:
        """Whether the model predicts the variance interpolation besides ε."""
        return self.out_channels == 2 * self.in_channels

    @property
    def attention_ds(self) -> tuple[int, ...]:
        """Downsampling rates at which attention is used (guided-diffusion's ``attention_resolutions``)."""
        return tuple(self.image_size // r for r in self.attention_resolutions)


class SDMUNet(nn.Module):
    """The SDM denoiser: ``forward(x, timesteps, y) -> (N, out_channels, H, W)`` with ``y`` one-hot."""

    def __init__(self, config: UNetConfig):
        super().__init__()
        self.config = c = config
        emb_dim = c.model_channels * 4
        self.time_embed = nn.Sequential(
            nn.Linear(c.model_channels, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim)
        )
        common = dict(dropout=c.dropout, use_scale_shift_norm=c.use_scale_shift_norm,
                      use_checkpoint=c.use_checkpoint, groups=c.norm_groups)  # fmt: skip
        sdm = dict(common, label_channels=c.num_classes, spade_hidden=c.spade_hidden)
        ch = input_ch = int(c.channel_mult[0] * c.model_channels)
        self.input_blocks = nn.ModuleList(
            [TimestepEmbedSequential(nn.Conv2d(c.in_channels, ch, 3, padding=1))]
        )
        chans, ds = [ch], 1
        for level, mult in enumerate(c.channel_mult):
            for _ in range(c.num_res_blocks):
                out = int(mult * c.model_channels)
                layers: list[nn.Module] = [ResBlock(ch, emb_dim, out_channels=out, **common)]
                ch = out
                if ds in c.attention_ds:
                    layers.append(self._attention(ch))
                self.input_blocks.append(TimestepEmbedSequential(*layers))
                chans.append(ch)
            if level != len(c.channel_mult) - 1:
                down = (ResBlock(ch, emb_dim, out_channels=ch, down=True, **common) if c.resblock_updown
                        else Downsample(ch, c.conv_resample, ch))  # fmt: skip
                self.input_blocks.append(TimestepEmbedSequential(down))
                chans.append(ch)
                ds *= 2
        self.middle_block = TimestepEmbedSequential(
            SDMResBlock(ch, emb_dim, **sdm), self._attention(ch), SDMResBlock(ch, emb_dim, **sdm)
        )
        self.output_blocks = nn.ModuleList()
        for level, mult in list(enumerate(c.channel_mult))[::-1]:
            for i in range(c.num_res_blocks + 1):
                out = int(mult * c.model_channels)
                layers = [SDMResBlock(ch + chans.pop(), emb_dim, out_channels=out, **sdm)]
                ch = out
                if ds in c.attention_ds:
                    layers.append(self._attention(ch))
                if level and i == c.num_res_blocks:
                    up = (SDMResBlock(ch, emb_dim, out_channels=ch, up=True, **sdm) if c.resblock_updown
                          else Upsample(ch, c.conv_resample, ch))  # fmt: skip
                    layers.append(up)
                    ds //= 2
                self.output_blocks.append(TimestepEmbedSequential(*layers))
        self.out = nn.Sequential(
            GroupNorm32(c.norm_groups, ch),
            nn.SiLU(),
            zero_module(nn.Conv2d(input_ch, c.out_channels, 3, padding=1)),
        )

    def _attention(self, ch: int) -> AttentionBlock:
        c = self.config
        return AttentionBlock(ch, c.num_heads, c.num_head_channels, c.use_new_attention_order, c.norm_groups)

    def encode(self, x: torch.Tensor, timesteps: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Run the mask-free encoder; return the skip activations and the timestep embedding."""
        emb = self.time_embed(timestep_embedding(timesteps, self.config.model_channels).to(x.dtype))
        hs, h = [], x
        for module in self.input_blocks:
            h = module(h, None, emb)
            hs.append(h)
        return hs, emb

    def forward(self, x: torch.Tensor, timesteps: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Predict ``(ε, v)`` for the noisy images ``x`` at ``timesteps`` given the one-hot masks ``y``."""
        if y.shape != (x.shape[0], self.config.num_classes, *x.shape[2:]):
            raise ValueError(f"SDMUNet: mask shape {tuple(y.shape)} does not match images {tuple(x.shape)}")
        hs, emb = self.encode(x, timesteps)
        h = self.middle_block(hs[-1], y, emb)
        for module in self.output_blocks:
            h = module(torch.cat([h, hs.pop()], dim=1), y, emb)
        return self.out(h)


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (works on the meta device)."""
    return sum(p.numel() for p in model.parameters())


def check_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str = "checkpoint"):
    """Raise a readable ``ValueError`` if keys or shapes of ``state_dict`` do not match ``model``."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    shapes = [
        f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(v.shape)}"
        for k, v in own.items()
        if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    problems = []
    for title, items in (
        ("missing keys", missing),
        ("unexpected keys", unexpected),
        ("shape mismatches", shapes),
    ):
        if items:
            shown = "\n    ".join(items[:10]) + (
                f"\n    ... and {len(items) - 10} more" if len(items) > 10 else ""
            )
            problems.append(f"  {len(items)} {title}:\n    {shown}")
    if problems:
        raise ValueError(f"{source}: does not fit the SDM UNet config\n" + "\n".join(problems))


def load_weights(model: nn.Module, path: str | Path, trust_pickle: bool = False) -> nn.Module:
    """Load a guided-diffusion/SDM style checkpoint (a bare state dict ``.pt``) with strict key checks.

    Loaded with ``weights_only`` unless ``trust_pickle`` (see :mod:`synthboost.checkpoints`).
    """

    state = {k.removeprefix("module."): v for k, v in load_state_dict(path, trust_pickle).items()}
    check_state_dict(model, state, str(path))
    model.load_state_dict(state, strict=True)
    log.debug("loaded %d tensors from %s", len(state), path)
    return model
