"""The LightningModule that trains any VLSM: loss, metrics, optimiser and scheduler.

Batches come from :mod:`synthboost.training.dataset` (``uint8`` images normalised here, on the
device). Logged per epoch: ``train_loss``, ``val_loss``, ``val_dice``, ``val_iou`` (hard masks at
the run's threshold, averaged over samples).
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

from synthboost.logs import get_logger
from synthboost.models.base import normalize
from synthboost.training.config import OptimConfig
from synthboost.training.losses import ResolvedLoss, dice_iou, segmentation_loss

log = get_logger("training.module")


class SegmentationModule(L.LightningModule):
    """Wrap a VLSM for training.

    Args:
        model: a ``synthboost.models`` VLSM.
        loss: resolved loss weights and threshold.
        optim: optimiser and scheduler settings.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        loss: ResolvedLoss,
        optim: OptimConfig,
    ) -> None:
        super().__init__()
        self.model, self.loss_cfg, self.optim_cfg = model, loss, optim
        prep = model.preprocessing
        self.mean, self.std = tuple(prep.mean), tuple(prep.std)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits ``(B, 1, H, W)`` of a batch from the data module."""
        pixels = normalize(batch["image"], self.mean, self.std)
        return self.model(pixels, batch["input_ids"], batch["attention_mask"])

    def _loss(self, logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return segmentation_loss(logits, mask, self.loss_cfg.dice_weight, self.loss_cfg.bce_weight)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self._loss(self(batch), batch["mask"])
        n = batch["mask"].shape[0]
        self.log(
            "train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=n, sync_dist=True
        )
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        logits = self(batch)
        mask = batch["mask"]
        n = mask.shape[0]
        dice, iou = dice_iou(torch.sigmoid(logits.float()) > self.loss_cfg.threshold, mask > 0.5)
        metrics = {"val_loss": self._loss(logits, mask), "val_dice": dice.mean(), "val_iou": iou.mean()}
        self.log_dict(metrics, on_step=False, on_epoch=True, prog_bar=True, batch_size=n, sync_dist=True)

    def configure_optimizers(self) -> dict[str, Any]:
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            raise ValueError("model has no trainable parameters (everything frozen?)")
        o = self.optim_cfg
        opt = torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode="min", factor=o.plateau_factor, patience=o.plateau_patience
        )
        return {
            "optimizer": opt,
            "lr_scheduler": {"scheduler": sched, "monitor": "val_loss", "interval": "epoch"},
        }
