"""Lightning callbacks of a run: per-epoch metrics table with wall time, epochs in the progress view."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import lightning as L

from synthboost import progress
from synthboost.training.runfolder import read_metrics, write_metrics


def _value(metrics: dict, key: str) -> float | None:
    v = metrics.get(key)
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) else v


class EpochRecorder(L.Callback):
    """Append one row per finished epoch to ``<run>/metrics.csv`` (rank zero only).

    On resume, rows of epochs that are run again are dropped and the elapsed time and the step
    count continue from the last kept row, so ``elapsed_s`` and ``step`` (optimiser steps of this
    run) count across interruptions. An epoch cut short by ``max_steps`` before its validation
    gets empty validation cells (not the previous epoch's values).
    """

    def __init__(self, run: str | Path) -> None:
        self.run = Path(run)
        self.rows: list[dict] = []
        self._start = 0.0
        self._step0 = 0
        self._validated = -1  # the epoch whose validation ran last

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.rows = [r for r in read_metrics(self.run) if r["epoch"] < trainer.current_epoch]

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.perf_counter()
        self._step0 = trainer.global_step

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._validated = trainer.current_epoch

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        m = trainer.callback_metrics
        val = {k: _value(m, k) if self._validated == trainer.current_epoch else None
               for k in ("val_loss", "val_dice", "val_iou")}  # fmt: skip
        seconds = time.perf_counter() - self._start
        elapsed = (self.rows[-1]["elapsed_s"] if self.rows else 0.0) + seconds
        steps = (int(self.rows[-1].get("step") or 0) if self.rows else 0) + trainer.global_step - self._step0
        self.rows.append({
            "epoch": trainer.current_epoch,
            "step": steps,
            "train_loss": _value(m, "train_loss"),
            **val,
            "lr": trainer.optimizers[0].param_groups[0]["lr"] if trainer.optimizers else None,
            "epoch_time_s": seconds,
            "elapsed_s": elapsed,
        })  # fmt: skip
        write_metrics(self.run, self.rows)


class EpochProgress(L.Callback):
    """Count epochs as a task of the open progress view (the demo's), where Lightning's bar is off."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.task: Any = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        view = progress.current()
        if view is not None and trainer.is_global_zero:
            total = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else None
            self.task = view.add_task(
                f"train {self.name} (epochs)", total=total, completed=trainer.current_epoch
            )

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        view = progress.current()
        if view is not None and self.task is not None:
            view.advance(self.task)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._close()

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        self._close()

    def _close(self) -> None:
        view = progress.current()
        if view is not None and self.task is not None:
            view.remove_task(self.task)
        self.task = None
