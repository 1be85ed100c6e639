"""Building blocks of the semantic diffusion UNet.

Written for synthboost after the module structure of openai/guided-diffusion (MIT) and the Semantic
Diffusion Model (Wang et al. 2022, WeilunWang/semantic-diffusion-model): attribute names
(``in_layers``, ``emb_layers``, ``out_layers``, ``skip_connection``, ``in_norm``/``out_norm``,
``mlp_shared``/``mlp_gamma``/``mlp_beta``, ``qkv``, ``proj_out``) match those checkpoints so their
state dicts load with strict key checking.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint


def timestep_embedding(timesteps: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal timestep embedding ``[cos | sin]`` of shape ``(N, dim)`` (guided-diffusion order)."""
    half = dim // 2
    freqs = torch.exp(
        -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=timesteps.device) / half
    )
    args = timesteps.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb


def zero_module(module: nn.Module) -> nn.Module:
    """Zero all parameters of ``module`` in place and return it."""
    for p in module.parameters():
        p.detach().zero_()
    return module


class GroupNorm32(nn.GroupNorm):
    """GroupNorm computed in float32 (stable under fp16/bf16 autocast)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.float()).type(x.dtype)


class SPADEGroupNorm(nn.Module):
    """Spatially-adaptive normalisation: affine-free GroupNorm, then γ/β from the resized mask."""

    def __init__(self, channels: int, label_channels: int, hidden: int = 128, groups: int = 32):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels, affine=False)
        self.mlp_shared = nn.Sequential(nn.Conv2d(label_channels, hidden, 3, padding=1), nn.ReLU())
        self.mlp_gamma = nn.Conv2d(hidden, channels, 3, padding=1)
        self.mlp_beta = nn.Conv2d(hidden, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, segmap: torch.Tensor) -> torch.Tensor:
        x = self.norm(x.float()).type(x.dtype)
        segmap = F.interpolate(segmap.type(x.dtype), size=x.shape[2:], mode="nearest")
        actv = self.mlp_shared(segmap)
        return x * (1 + self.mlp_gamma(actv)) + self.mlp_beta(actv)


class Upsample(nn.Module):
    """Nearest-neighbour ×2 upsampling, optionally followed by a 3×3 convolution."""

    def __init__(self, channels: int, use_conv: bool, out_channels: int | None = None):
        super().__init__()
        self.use_conv = use_conv
        if use_conv:
            self.conv = nn.Conv2d(channels, out_channels or channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.conv(x) if self.use_conv else x


class Downsample(nn.Module):
    """×2 downsampling by a strided 3×3 convolution or average pooling."""

    def __init__(self, channels: int, use_conv: bool, out_channels: int | None = None):
        super().__init__()
        if use_conv:
            self.op = nn.Conv2d(channels, out_channels or channels, 3, stride=2, padding=1)
        else:
            self.op = nn.AvgPool2d(kernel_size=2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


def _resample(channels: int, up: bool, down: bool) -> tuple[nn.Module, nn.Module]:
    if up:
        return Upsample(channels, False), Upsample(channels, False)
    if down:
        return Downsample(channels, False), Downsample(channels, False)
    return nn.Identity(), nn.Identity()


class _ResBlockBase(nn.Module):
    """Shared parts of the plain and the mask-conditioned residual block."""

    def _init_common(self, channels, emb_channels, out_channels, dropout, scale_shift, up, down, ckpt):
        self.out_channels = out_channels or channels
        self.use_scale_shift_norm = scale_shift
        self.use_checkpoint = ckpt
        self.updown = up or down
        self.h_upd, self.x_upd = _resample(channels, up, down)
        self.emb_layers = nn.Sequential(
            nn.SiLU(), nn.Linear(emb_channels, 2 * self.out_channels if scale_shift else self.out_channels)
        )
        if self.out_channels == channels:
            self.skip_connection: nn.Module = nn.Identity()
        else:
            self.skip_connection = nn.Conv2d(channels, self.out_channels, 1)
        return nn.Sequential(
            nn.SiLU(),
            nn.Dropout(p=dropout),
            zero_module(nn.Conv2d(self.out_channels, self.out_channels, 3, padding=1)),
        )

    def _in(self, x: torch.Tensor, h: torch.Tensor, in_rest: nn.Module, in_conv: nn.Module):
        h = in_rest(h)
        if self.updown:
            h, x = self.h_upd(h), self.x_upd(x)
        return x, in_conv(h)

    def _emb(self, emb: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.emb_layers(emb).type(h.dtype)[..., None, None]


class ResBlock(_ResBlockBase):
    """Residual block with timestep scale-shift (encoder; never sees the mask)."""

    def __init__(self, channels, emb_channels, dropout=0.0, out_channels=None, use_scale_shift_norm=True,
                 up=False, down=False, use_checkpoint=False, groups=32):  # fmt: skip
        super().__init__()
        out_layers = self._init_common(
            channels, emb_channels, out_channels, dropout, use_scale_shift_norm, up, down, use_checkpoint
        )
        self.in_layers = nn.Sequential(
            GroupNorm32(groups, channels), nn.SiLU(), nn.Conv2d(channels, self.out_channels, 3, padding=1)
        )
        self.out_layers = nn.Sequential(GroupNorm32(groups, self.out_channels), *out_layers)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        if self.use_checkpoint and self.training and torch.is_grad_enabled():
            return checkpoint(self._forward, x, emb, use_reentrant=False)
        return self._forward(x, emb)

    def _forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        x, h = self._in(x, x, self.in_layers[:-1], self.in_layers[-1])
        emb_out = self._emb(emb, h)
        if self.use_scale_shift_norm:
            scale, shift = emb_out.chunk(2, dim=1)
            h = self.out_layers[0](h) * (1 + scale) + shift
            h = self.out_layers[1:](h)
        else:
            h = self.out_layers(h + emb_out)
        return self.skip_connection(x) + h


class SDMResBlock(_ResBlockBase):
    """Residual block whose two normalisations are SPADE layers driven by the one-hot mask."""

    def __init__(self, channels, emb_channels, dropout=0.0, label_channels=5, out_channels=None,
                 use_scale_shift_norm=True, up=False, down=False, use_checkpoint=False, groups=32,
                 spade_hidden=128):  # fmt: skip
        super().__init__()
        self.out_layers = self._init_common(
            channels, emb_channels, out_channels, dropout, use_scale_shift_norm, up, down, use_checkpoint
        )
        self.in_norm = SPADEGroupNorm(channels, label_channels, spade_hidden, groups)
        self.in_layers = nn.Sequential(nn.SiLU(), nn.Conv2d(channels, self.out_channels, 3, padding=1))
        self.out_norm = SPADEGroupNorm(self.out_channels, label_channels, spade_hidden, groups)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        if self.use_checkpoint and self.training and torch.is_grad_enabled():
            return checkpoint(self._forward, x, cond, emb, use_reentrant=False)
        return self._forward(x, cond, emb)

    def _forward(self, x: torch.Tensor, cond: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        x, h = self._in(x, self.in_norm(x, cond), self.in_layers[:-1], self.in_layers[-1])
        emb_out = self._emb(emb, h)
        if self.use_scale_shift_norm:
            scale, shift = emb_out.chunk(2, dim=1)
            h = self.out_norm(h, cond) * (1 + scale) + shift
        else:
            h = self.out_norm(h + emb_out, cond)
        return self.skip_connection(x) + self.out_layers(h)


def qkv_attention(qkv: torch.Tensor, n_heads: int, legacy: bool) -> torch.Tensor:
    """Multi-head attention over ``(N, 3·H·C, T)``; ``legacy`` splits heads before q/k/v."""
    bs, width, length = qkv.shape
    ch = width // (3 * n_heads)
    if legacy:
        q, k, v = qkv.reshape(bs * n_heads, 3 * ch, length).split(ch, dim=1)
    else:
        q, k, v = (t.reshape(bs * n_heads, ch, length) for t in qkv.chunk(3, dim=1))
    scale = 1 / math.sqrt(math.sqrt(ch))
    weight = torch.einsum("bct,bcs->bts", q * scale, k * scale)
    weight = torch.softmax(weight.float(), dim=-1).type(weight.dtype)
    return torch.einsum("bts,bcs->bct", weight, v).reshape(bs, -1, length)


class AttentionBlock(nn.Module):
    """Spatial self-attention with a residual connection and a zero-initialised projection."""

    def __init__(self, channels: int, num_heads: int = 1, num_head_channels: int = -1,
                 use_new_attention_order: bool = True, groups: int = 32):  # fmt: skip
        super().__init__()
        if num_head_channels != -1 and channels % num_head_channels:
            raise ValueError(f"attention: {channels} channels not divisible by {num_head_channels} per head")
        self.num_heads = num_heads if num_head_channels == -1 else channels // num_head_channels
        self.legacy = not use_new_attention_order
        self.norm = GroupNorm32(groups, channels)
        self.qkv = nn.Conv1d(channels, channels * 3, 1)
        self.proj_out = zero_module(nn.Conv1d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, *spatial = x.shape
        x = x.reshape(b, c, -1)
        h = qkv_attention(self.qkv(self.norm(x)), self.num_heads, self.legacy)
        return (x + self.proj_out(h)).reshape(b, c, *spatial)


class TimestepEmbedSequential(nn.Sequential):
    """Sequential container passing ``(cond, emb)`` to the children that take them."""

    def forward(self, x: torch.Tensor, cond: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        for layer in self:
            if isinstance(layer, SDMResBlock):
                x = layer(x, cond, emb)
            elif isinstance(layer, ResBlock):
                x = layer(x, emb)
            else:
                x = layer(x)
        return x
