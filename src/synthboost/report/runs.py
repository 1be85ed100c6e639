"""What each run cost and what it was chosen on: optimiser steps, wall time, trainable and total
parameters, validation Dice.

Reads run folders written by ``synthboost train`` (``result.json``, docs/formats.md "Run
folder") and names each run as the results folder does (:func:`run_descriptor`), so a table
that compares strategies can show the compute behind each of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from synthboost.report.results import EQUAL_STEPS, TRAIN_STRATEGIES, strategy_sort_key
from synthboost.training import runfolder

RUN_TABLE_COLUMNS: tuple[str, ...] = (
    "run", "strategy", "model", "encoders", "prompt", "seed", "validated_on", "val_dice", "epochs",
    "optimizer_steps", "steps_with_pt", "train_s", "wall_s", "trainable_params", "total_params",
)  # fmt: skip


def encoders_label(result: Mapping[str, Any]) -> str:
    """``trained``, ``frozen``, or the adapter (``lora-r8``) whose base encoders stay frozen."""
    adapter = result.get("adapter") or "none"
    if adapter != "none":
        return str(adapter)
    return "frozen" if result.get("freeze_encoders") else "trained"


def run_descriptor(result: Mapping[str, Any]) -> dict[str, Any]:
    """``strategy, model, encoders, prompt, seed`` of a run as the results folder names them.

    A ``real`` run trained with ``trainer.match_steps_of`` is the equal-compute baseline
    (:data:`~synthboost.report.results.EQUAL_STEPS`); ``ptft`` reads ``synth-pt-real-ft``.
    """
    strategy = str(result.get("strategy"))
    strategy = EQUAL_STEPS if strategy == "real" and result.get("match_steps_of") else strategy
    return {
        "strategy": TRAIN_STRATEGIES.get(strategy, strategy),
        "model": result.get("model"),
        "encoders": encoders_label(result),
        "prompt": result.get("prompt"),
        "seed": result.get("seed"),
    }


def runs_table(runs: Mapping[str, str | Path]) -> Any:
    """One row per finished run: :data:`RUN_TABLE_COLUMNS` (val Dice ×100, seconds, parameter counts;
    runs written before the parameter counts were recorded leave them empty)."""
    import pandas as pd

    rows = []
    for name, folder in runs.items():
        result = runfolder.read_result(folder)
        dice = result.get("best_val_dice")
        rows.append({
            "run": name, **run_descriptor(result),
            "validated_on": "synthetic" if result.get("strategy") == "synthetic" else "real",
            "val_dice": 100 * dice if isinstance(dice, (int, float)) else None,
            "epochs": result.get("epochs"), "optimizer_steps": result.get("optimizer_steps"),
            "steps_with_pt": _chain_steps(folder),
            "train_s": result.get("seconds"), "wall_s": result.get("wall_s"),
            "trainable_params": result.get("trainable_params"), "total_params": result.get("total_params"),
        })  # fmt: skip
    df = pd.DataFrame(rows, columns=list(RUN_TABLE_COLUMNS))
    ints = ("optimizer_steps", "steps_with_pt", "trainable_params", "total_params")
    df = df.astype(dict.fromkeys(ints, "Int64"))  # integers, <NA> if not recorded
    order = df["strategy"].map(strategy_sort_key)
    return df.assign(_o=order).sort_values(["model", "prompt", "seed", "_o"]).drop(columns="_o")


def _chain_steps(folder: str | Path) -> int | None:
    """Steps of the run and of the runs it was initialised from (PT + FT); None if not recorded."""
    try:
        return runfolder.chain_steps(folder)
    except (FileNotFoundError, ValueError):
        return None


def steps_by_run(table: Any, column: str = "steps_with_pt") -> dict[tuple, int]:
    """``(strategy, model, encoders, prompt, seed) -> steps`` from :func:`runs_table` (recorded ones).

    ``steps_with_pt`` (default) counts a fine-tuning run's pre-training too; ``optimizer_steps``
    only the run's own steps.
    """
    keys = ["strategy", "model", "encoders", "prompt", "seed"]
    return {
        tuple(r[k] for k in keys): int(r[column]) for r in table.to_dict("records") if not _missing(r[column])
    }


def _missing(value: Any) -> bool:
    import pandas as pd

    return bool(pd.isna(value))
