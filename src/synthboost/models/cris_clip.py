"""CLIP image and text encoders as CRIS uses them (pure PyTorch, no ``clip`` package).

Architecture of OpenAI CLIP (Radford et al., 2021; github.com/openai/CLIP, MIT licence) with the
changes of CRIS (Wang et al., CVPR 2022; github.com/DerrickWang005/CRIS.pytorch, MIT licence):
the ResNet returns C3/C4/C5 and its attention pool is dense (positional embedding resized to the
feature map, no class token) with a residual ``connect`` branch; the text encoder returns every
token's feature and the projected end-of-text feature. Written from the papers and the parameter
names of the official files, so that ``RN50.pt`` and CRIS checkpoints load as they are.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class Bottleneck(nn.Module):
    """ResNet bottleneck with anti-aliased stride (avgpool before the 1×1 expansion)."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.avgpool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride > 1 or inplanes != out:
            self.downsample = nn.Sequential()
            self.downsample.add_module("-1", nn.AvgPool2d(stride))
            self.downsample.add_module("0", nn.Conv2d(inplanes, out, 1, bias=False))
            self.downsample.add_module("1", nn.BatchNorm2d(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.avgpool(self.relu(self.bn2(self.conv2(y))))
        return self.relu(self.bn3(self.conv3(y)) + identity)


class DenseAttentionPool(nn.Module):
    """CLIP's QKV attention pool applied to every position, plus a 1×1 ``connect`` residual."""

    def __init__(self, spacial_dim: int, embed_dim: int, num_heads: int, output_dim: int) -> None:
        super().__init__()
        self.spacial_dim = spacial_dim
        self.num_heads = num_heads
        self.positional_embedding = nn.Parameter(torch.randn(spacial_dim**2 + 1, embed_dim) / embed_dim**0.5)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.c_proj = nn.Linear(embed_dim, output_dim)
        self.connect = nn.Sequential(
            nn.Conv2d(embed_dim, output_dim, 1, bias=False), nn.BatchNorm2d(output_dim)
        )

    def resized_pos_embed(self, height: int, width: int) -> torch.Tensor:
        """Spatial positional embedding (class token dropped), bicubically resized to ``(H*W, C)``."""
        n = self.spacial_dim
        grid = self.positional_embedding[1:].reshape(1, n, n, -1).permute(0, 3, 1, 2)
        if (height, width) != (n, n):
            grid = F.interpolate(grid, size=(height, width), mode="bicubic", align_corners=False)
        return grid.flatten(2).transpose(1, 2)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        residual = self.connect(x)
        tokens = x.flatten(2).transpose(1, 2) + self.resized_pos_embed(h, w).to(x.dtype)

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(b, h * w, self.num_heads, -1).transpose(1, 2)

        q, k, v = heads(self.q_proj(tokens)), heads(self.k_proj(tokens)), heads(self.v_proj(tokens))
        attended = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, h * w, c)
        out = self.c_proj(attended).transpose(1, 2).reshape(b, -1, h, w)
        return F.relu(out + residual)


class ModifiedResNet(nn.Module):
    """CLIP's ResNet: 3-conv stem, anti-aliased strides; returns (C3 /8, C4 /16, C5 /32)."""

    def __init__(
        self, layers: tuple[int, ...], output_dim: int, heads: int, input_resolution: int, width: int
    ):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width // 2, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width // 2)
        self.conv2 = nn.Conv2d(width // 2, width // 2, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width // 2)
        self.conv3 = nn.Conv2d(width // 2, width, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.avgpool = nn.AvgPool2d(2)
        self.relu = nn.ReLU(inplace=True)
        self._inplanes = width
        self.layer1 = self._make_layer(width, layers[0])
        self.layer2 = self._make_layer(width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(width * 8, layers[3], stride=2)
        self.attnpool = DenseAttentionPool(input_resolution // 32, width * 32, heads, output_dim)

    def _make_layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        layers = [Bottleneck(self._inplanes, planes, stride)]
        self._inplanes = planes * Bottleneck.expansion
        layers += [Bottleneck(self._inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        for conv, bn in ((self.conv1, self.bn1), (self.conv2, self.bn2), (self.conv3, self.bn3)):
            x = self.relu(bn(conv(x)))
        x = self.layer1(self.avgpool(x))
        c3 = self.layer2(x)
        c4 = self.layer3(c3)
        c5 = self.attnpool(self.layer4(c4))
        return c3, c4, c5


class QuickGELU(nn.Module):
    """``x * sigmoid(1.702 x)``, CLIP's activation."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    """Pre-norm transformer block of CLIP's text encoder (batch-first)."""

    def __init__(self, d_model: int, n_head: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(d_model, n_head, batch_first=True)
        self.ln_1 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(d_model, d_model * 4))
        self.mlp.add_module("gelu", QuickGELU())
        self.mlp.add_module("c_proj", nn.Linear(d_model * 4, d_model))
        self.ln_2 = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor) -> torch.Tensor:
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False, attn_mask=attn_mask)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    """A stack of :class:`ResidualAttentionBlock` (``resblocks.N`` as in CLIP)."""

    def __init__(self, width: int, layers: int, heads: int) -> None:
        super().__init__()
        self.width = width
        self.resblocks = nn.ModuleList([ResidualAttentionBlock(width, heads) for _ in range(layers)])

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor) -> torch.Tensor:
        for block in self.resblocks:
            x = block(x, attn_mask)
        return x


class CLIPBackbone(nn.Module):
    """CLIP RN image encoder + text encoder with CLIP's own parameter names.

    Args:
        embed_dim: joint embedding width (1024 for RN50): C5 channels and the sentence feature.
        image_resolution: CLIP's pre-training resolution (224), which sizes the attention-pool
            positional embedding; other input sizes are handled by resizing it.
        vision_layers: bottleneck blocks per stage ((3, 4, 6, 3) for RN50).
        vision_width: stem width (64 for RN50).
        context_length, vocab_size, transformer_width, transformer_heads, transformer_layers: text encoder.
        eos_token_id: end-of-text id whose (first) position gives the sentence feature.
    """

    def __init__(self, embed_dim: int, image_resolution: int, vision_layers: tuple[int, ...], vision_width: int,
                 context_length: int, vocab_size: int, transformer_width: int, transformer_heads: int,
                 transformer_layers: int, eos_token_id: int) -> None:  # fmt: skip
        super().__init__()
        self.eos_token_id = eos_token_id
        heads = vision_width * 32 // 64
        self.visual = ModifiedResNet(vision_layers, embed_dim, heads, image_resolution, vision_width)
        self.transformer = Transformer(transformer_width, transformer_layers, transformer_heads)
        self.token_embedding = nn.Embedding(vocab_size, transformer_width)
        self.positional_embedding = nn.Parameter(torch.empty(context_length, transformer_width))
        self.ln_final = nn.LayerNorm(transformer_width)
        self.text_projection = nn.Parameter(torch.empty(transformer_width, embed_dim))
        self.logit_scale = nn.Parameter(torch.ones([]) * math.log(1 / 0.07))
        self._init_text()

    def _init_text(self) -> None:
        width = self.transformer.width
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        nn.init.normal_(self.text_projection, std=width**-0.5)
        for block in self.transformer.resblocks:
            nn.init.normal_(block.attn.in_proj_weight, std=width**-0.5)
            nn.init.normal_(block.mlp.c_fc.weight, std=(2 * width) ** -0.5)

    def encode_image(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """C3, C4, C5 feature maps."""
        return self.visual(image)

    def encode_text(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-token features ``(B, L, width)`` and the projected end-of-text feature ``(B, embed_dim)``."""
        length = input_ids.shape[1]
        if length > self.positional_embedding.shape[0]:
            raise ValueError(f"cris: {length} tokens > context length {self.positional_embedding.shape[0]}")
        x = self.token_embedding(input_ids) + self.positional_embedding[:length]
        causal = torch.ones(length, length, dtype=torch.bool, device=x.device).triu(1)
        x = self.ln_final(self.transformer(x, causal))
        eot = (input_ids == self.eos_token_id).int().argmax(dim=-1)
        state = x[torch.arange(x.shape[0], device=x.device), eot] @ self.text_projection.to(x.dtype)
        return x, state
