"""Segmentation loss and metrics: weighted soft Dice + BCE-with-logits, in float32.

Presets (``loss.preset``):

- ``default`` (ours): Dice + 0.2 · BCE, threshold 0.5 for both models;
- ``reference`` (what the authors' released numbers were trained with): pure soft Dice — the
  reference code's cross-entropy term was identically zero — and threshold 0.35 for CRIS
  (0.5 for CLIPSeg); random phrasing at training, as our default.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from synthboost.training.runfolder import DEFAULT_THRESHOLD

PRESETS: dict[str, dict[str, float]] = {
    "default": {"dice_weight": 1.0, "bce_weight": 0.2},
    "reference": {"dice_weight": 1.0, "bce_weight": 0.0},
}
#: (preset, model) → decision threshold on the probabilities.
THRESHOLDS: dict[tuple[str, str], float] = {("reference", "cris"): 0.35}
EPS = 1.0


@dataclasses.dataclass(frozen=True)
class ResolvedLoss:
    """Loss weights and threshold with the preset applied."""

    preset: str
    dice_weight: float
    bce_weight: float
    threshold: float


def resolve_loss(preset: str, model: str, dice_weight=None, bce_weight=None, threshold=None) -> ResolvedLoss:
    """Fill the ``None`` values of a loss config from its preset."""
    if preset not in PRESETS:
        raise ValueError(f"loss preset {preset!r} is not one of {sorted(PRESETS)}")
    p = PRESETS[preset]
    return ResolvedLoss(
        preset=preset,
        dice_weight=p["dice_weight"] if dice_weight is None else float(dice_weight),
        bce_weight=p["bce_weight"] if bce_weight is None else float(bce_weight),
        threshold=THRESHOLDS.get((preset, model), DEFAULT_THRESHOLD)
        if threshold is None
        else float(threshold),
    )


def soft_dice_loss(prob: torch.Tensor, target: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """``1 - (2|P·T| + eps) / (|P| + |T| + eps)`` per sample, averaged over the batch."""
    dims = tuple(range(1, prob.ndim))
    inter = (prob * target).sum(dims)
    denom = prob.sum(dims) + target.sum(dims)
    return (1.0 - (2.0 * inter + eps) / (denom + eps)).mean()


def segmentation_loss(
    logits: torch.Tensor, target: torch.Tensor, dice_weight: float, bce_weight: float
) -> torch.Tensor:
    """``dice_weight · soft Dice(sigmoid(logits), target) + bce_weight · BCE(logits, target)`` in float32."""
    logits, target = logits.float(), target.float()
    loss = logits.new_zeros(())
    if dice_weight:
        loss = loss + dice_weight * soft_dice_loss(torch.sigmoid(logits), target)
    if bce_weight:
        loss = loss + bce_weight * F.binary_cross_entropy_with_logits(logits, target)
    return loss


def dice_iou(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample hard Dice and IoU of boolean masks ``(B, ...)``; both empty counts as 1."""
    pred, target = pred.flatten(1).bool(), target.flatten(1).bool()
    inter = (pred & target).sum(1).double()
    total = pred.sum(1).double() + target.sum(1).double()
    union = total - inter
    empty = total == 0
    dice = torch.where(empty, torch.ones_like(inter), 2 * inter / total.clamp_min(1))
    iou = torch.where(empty, torch.ones_like(inter), inter / union.clamp_min(1))
    return dice.float(), iou.float()
