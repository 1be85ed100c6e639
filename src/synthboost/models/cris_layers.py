"""CRIS neck, vision-language decoder and text-to-pixel projector (pure PyTorch).

Follows Wang et al., *CRIS: CLIP-Driven Referring Image Segmentation* (CVPR 2022) and the module
and parameter names of the official implementation (github.com/DerrickWang005/CRIS.pytorch,
MIT licence) so that its checkpoints load unchanged: ``neck.*`` (text-gated FPN with CoordConv),
``decoder.*`` (transformer decoder over visual tokens attending to words), ``proj.*`` (dynamic
3×3 convolution whose weights come from the sentence feature).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def conv_layer(in_dim: int, out_dim: int, kernel_size: int = 1, padding: int = 0) -> nn.Sequential:
    """Conv (no bias) → BatchNorm → ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_dim, out_dim, kernel_size, 1, padding, bias=False),
        nn.BatchNorm2d(out_dim),
        nn.ReLU(True),
    )


def linear_layer(in_dim: int, out_dim: int) -> nn.Sequential:
    """Linear (no bias) → BatchNorm1d → ReLU."""
    return nn.Sequential(nn.Linear(in_dim, out_dim, bias=False), nn.BatchNorm1d(out_dim), nn.ReLU(True))


def add_coords(x: torch.Tensor) -> torch.Tensor:
    """Append normalised x and y coordinate channels in [-1, 1]."""
    b, _, h, w = x.shape
    ys = torch.linspace(-1, 1, h, device=x.device, dtype=x.dtype)
    xs = torch.linspace(-1, 1, w, device=x.device, dtype=x.dtype)
    y, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.cat([x, xx.expand(b, 1, h, w), y.expand(b, 1, h, w)], dim=1)


class CoordConv(nn.Module):
    """Conv layer over the input with two coordinate channels appended."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, padding: int = 1) -> None:
        super().__init__()
        self.conv1 = conv_layer(in_channels + 2, out_channels, kernel_size, padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv1(add_coords(x))


def _resize(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


class FPN(nn.Module):
    """Multi-modal FPN: C5 gated by the sentence feature, fused with C4 and C3 at stride 16."""

    def __init__(self, in_channels: tuple[int, int, int], out_channels: tuple[int, int, int]) -> None:
        super().__init__()
        (i3, i4, i5), (o3, o4, o5) = in_channels, out_channels
        self.txt_proj = linear_layer(i5, o5)
        self.f1_v_proj = conv_layer(i5, o5, 1, 0)
        self.norm_layer = nn.Sequential(nn.BatchNorm2d(o5), nn.ReLU(True))
        self.f2_v_proj = conv_layer(i4, o4, 3, 1)
        self.f2_cat = conv_layer(o5 + o4, o4, 1, 0)
        self.f3_v_proj = conv_layer(i3, o3, 3, 1)
        self.f3_cat = conv_layer(o3 + o4, o4, 1, 0)
        self.f4_proj5 = conv_layer(o5, o4, 3, 1)
        self.f4_proj4 = conv_layer(o4, o4, 3, 1)
        self.f4_proj3 = conv_layer(o4, o4, 3, 1)
        self.aggr = conv_layer(3 * o4, o4, 1, 0)
        self.coordconv = nn.Sequential(CoordConv(o4, o4, 3, 1), conv_layer(o4, o4, 3, 1))

    def forward(
        self, feats: tuple[torch.Tensor, torch.Tensor, torch.Tensor], state: torch.Tensor
    ) -> torch.Tensor:
        v3, v4, v5 = feats
        gate = self.txt_proj(state)[:, :, None, None]
        f5 = self.norm_layer(self.f1_v_proj(v5) * gate)
        f4 = self.f2_v_proj(v4)
        f4 = self.f2_cat(torch.cat([f4, _resize(f5, f4)], dim=1))
        f3 = F.avg_pool2d(self.f3_v_proj(v3), 2, 2)
        f3 = self.f3_cat(torch.cat([f3, f4], dim=1))
        fq5 = _resize(self.f4_proj5(f5), f4)
        fq = self.aggr(torch.cat([self.f4_proj3(f3), self.f4_proj4(f4), fq5], dim=1))
        return self.coordconv(fq)


def sine_pos_1d(d_model: int, length: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """1-D sine/cosine positional encoding ``(length, d_model)``."""
    if d_model % 2:
        raise ValueError(f"cris: 1-D sine positional encoding needs an even width, got {d_model}")
    pos = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    div = torch.exp(
        torch.arange(0, d_model, 2, device=device, dtype=torch.float32) * -(math.log(1e4) / d_model)
    )
    pe = torch.zeros(length, d_model, device=device)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
    return pe.to(dtype)


def sine_pos_2d(
    d_model: int, height: int, width: int, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """2-D encoding ``(H*W, d_model)``: first half encodes the column, second half the row."""
    if d_model % 4:
        raise ValueError(f"cris: 2-D sine positional encoding needs a width divisible by 4, got {d_model}")
    half = d_model // 2
    col = sine_pos_1d(half, width, device, torch.float32)  # (W, half)
    row = sine_pos_1d(half, height, device, torch.float32)  # (H, half)
    pe = torch.cat([col[None].expand(height, -1, -1), row[:, None].expand(-1, width, -1)], dim=-1)
    return pe.reshape(height * width, d_model).to(dtype)


class TransformerDecoderLayer(nn.Module):
    """Pre-norm self-attention over visual tokens, cross-attention to words, FFN."""

    def __init__(self, d_model: int = 512, nhead: int = 8, dim_feedforward: int = 2048, dropout: float = 0.1):
        super().__init__()
        self.self_attn_norm = nn.LayerNorm(d_model)
        self.cross_attn_norm = nn.LayerNorm(d_model)
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        self.multihead_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        self.ffn = nn.Sequential(
            nn.Linear(d_model, dim_feedforward),
            nn.ReLU(True),
            nn.Dropout(dropout),
            nn.LayerNorm(dim_feedforward),
            nn.Linear(dim_feedforward, d_model),
        )
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)

    def forward(self, vis: torch.Tensor, txt: torch.Tensor, vis_pos: torch.Tensor, txt_pos: torch.Tensor,
                pad_mask: torch.Tensor | None) -> torch.Tensor:  # fmt: skip
        y = self.norm1(vis)
        qk = y + vis_pos
        y = self.self_attn(qk, qk, y, need_weights=False)[0]
        vis = vis + self.dropout1(self.self_attn_norm(y))
        y = self.norm2(vis)
        y = self.multihead_attn(
            y + vis_pos, txt + txt_pos, txt, key_padding_mask=pad_mask, need_weights=False
        )[0]
        vis = vis + self.dropout2(self.cross_attn_norm(y))
        return vis + self.dropout3(self.ffn(self.norm3(vis)))


class TransformerDecoder(nn.Module):
    """Stack of :class:`TransformerDecoderLayer` with a final LayerNorm; maps ``(B, C, H, W)`` to itself."""

    def __init__(self, num_layers: int, d_model: int, nhead: int, dim_ffn: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            [TransformerDecoderLayer(d_model, nhead, dim_ffn, dropout) for _ in range(num_layers)]
        )
        self.norm = nn.LayerNorm(d_model)

    def forward(self, vis: torch.Tensor, txt: torch.Tensor, pad_mask: torch.Tensor | None) -> torch.Tensor:
        b, c, h, w = vis.shape
        vis_pos = sine_pos_2d(c, h, w, vis.device, vis.dtype)[None]
        txt_pos = sine_pos_1d(txt.shape[-1], txt.shape[1], txt.device, txt.dtype)[None]
        out = vis.flatten(2).transpose(1, 2)
        for layer in self.layers:
            out = layer(out, txt, vis_pos, txt_pos, pad_mask)
        return self.norm(out).transpose(1, 2).reshape(b, c, h, w)


class Projector(nn.Module):
    """Upsample ×4 and apply a per-sample 3×3 kernel (+ bias) predicted from the sentence feature."""

    def __init__(self, word_dim: int = 1024, in_dim: int = 256, kernel_size: int = 3) -> None:
        super().__init__()
        self.in_dim, self.kernel_size = in_dim, kernel_size
        self.vis = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="bilinear"),
            conv_layer(in_dim * 2, in_dim * 2, 3, padding=1),
            nn.Upsample(scale_factor=2, mode="bilinear"),
            conv_layer(in_dim * 2, in_dim, 3, padding=1),
            nn.Conv2d(in_dim, in_dim, 1),
        )
        self.txt = nn.Linear(word_dim, in_dim * kernel_size * kernel_size + 1)

    def forward(self, x: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        x = self.vis(x)
        b, c, h, w = x.shape
        params = self.txt(state)
        weight = params[:, :-1].reshape(b, c, self.kernel_size, self.kernel_size)
        bias = params[:, -1]
        out = F.conv2d(x.reshape(1, b * c, h, w), weight.to(x.dtype), bias.to(x.dtype),
                       padding=self.kernel_size // 2, groups=b)  # fmt: skip
        return out.transpose(0, 1)
