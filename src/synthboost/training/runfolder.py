"""The run folder written by ``synthboost train`` (documented in ``docs/formats.md``, "Run folder").

::

    <run>/config.yaml            resolved TrainConfig
    <run>/run.json               provenance: git commit, seed, strategy, loss preset, threshold, ...
    <run>/checkpoints/           best.ckpt (best val Dice) and last.ckpt (Lightning)
    <run>/metrics.csv            one row per epoch: METRIC_COLUMNS (step = optimiser steps so far)
    <run>/logs/csv/version_*/    Lightning CSVLogger files; logs/tb/ TensorBoard events
    <run>/convergence.json       epochs and seconds to reach 99 % of the best val Dice
    <run>/model/                 best model (save_pretrained, or a peft adapter folder) + README.md model card
    <run>/result.json, <run>/DONE   written last; a run with DONE is finished
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from synthboost.logs import get_logger
from synthboost.models.adapters import BASE_FOLDER, is_adapter_folder, read_adapter_config
from synthboost.models.factory import RUN_MODEL_DIR, is_model_folder, resolve_model_folder
from synthboost.utils.files import read_json, read_yaml_mapping, write_json_atomic, write_text_atomic

#: Decision threshold of a run whose loss preset names none (here, torch-free, so the app can read it
#: before loading torch; ``train.losses`` uses the same constant).
DEFAULT_THRESHOLD = 0.5

log = get_logger("training.runfolder")

METRIC_COLUMNS = (
    "epoch",
    "step",
    "train_loss",
    "val_loss",
    "val_dice",
    "val_iou",
    "lr",
    "epoch_time_s",
    "elapsed_s",
)
CONVERGENCE_FRACTION = 0.99


def is_rank_zero() -> bool:
    """True in the main process (before and during Lightning's DDP)."""
    return all(os.environ.get(k, "0") == "0" for k in ("RANK", "LOCAL_RANK", "NODE_RANK"))


def git_commit(start: str | Path | None = None) -> str | None:
    """The current git commit of the source tree, if it is a git checkout."""
    here = Path(start or Path(__file__).parent)
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def read_metrics(run: str | Path) -> list[dict[str, float]]:
    """Rows of ``<run>/metrics.csv`` as numbers (empty cells → ``nan``)."""
    path = Path(run) / "metrics.csv"
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return [
            {k: float(v) if v != "" else float("nan") for k, v in row.items()} for row in csv.DictReader(f)
        ]


def write_metrics(run: str | Path, rows: list[dict[str, Any]]) -> None:
    """Rewrite ``<run>/metrics.csv`` atomically."""
    lines = [",".join(METRIC_COLUMNS)]
    for row in rows:
        lines.append(",".join("" if row.get(c) is None else f"{row[c]:.6g}" for c in METRIC_COLUMNS))
    write_text_atomic(Path(run) / "metrics.csv", "\n".join(lines) + "\n")


def convergence(rows: list[dict[str, float]], fraction: float = CONVERGENCE_FRACTION) -> dict[str, Any]:
    """Epochs and seconds until val Dice first reaches ``fraction`` of its best value."""
    valid = [r for r in rows if r.get("val_dice") == r.get("val_dice")]  # drop nan
    if not valid:
        return {"fraction": fraction, "best_val_dice": None, "epochs": None, "seconds": None}
    best = max(r["val_dice"] for r in valid)
    first = next(r for r in valid if r["val_dice"] >= fraction * best)
    return {
        "fraction": fraction,
        "best_val_dice": best,
        "best_epoch": int(max(valid, key=lambda r: r["val_dice"])["epoch"]),
        "epochs": int(first["epoch"]) + 1,
        "seconds": first.get("elapsed_s"),
        "total_epochs": len(valid),
        "total_seconds": valid[-1].get("elapsed_s"),
    }


def model_card(result: dict[str, Any]) -> str:
    """Short README.md for ``<run>/model``."""
    dice = result.get("best_val_dice")
    lines = [
        f"# synthboost {result.get('model')} — {result.get('strategy')} ({result.get('prompt')})",
        "",
        "Text-prompted echocardiogram segmentation (reproduction of *Synthetic Boost*, Adhikari et al., ASMUS 2023).",
        "",
        "| key | value |",
        "|---|---|",
    ]
    keys = ("model", "strategy", "prompt", "dataset", "freeze_encoders", "adapter", "trainable_params",
            "total_params", "loss_preset", "threshold", "seed", "best_epoch", "epochs", "optimizer_steps",
            "seconds", "wall_s")  # fmt: skip
    lines += [f"| {k} | {result.get(k)} |" for k in keys]
    lines.append(f"| best val Dice | {dice:.4f} |" if isinstance(dice, float) else "| best val Dice | n/a |")
    iou = result.get("best_val_iou")
    lines.append(f"| best val IoU | {iou:.4f} |" if isinstance(iou, float) else "| best val IoU | n/a |")
    lines += [
        "",
        "```python",
        "from synthboost.models import load_pretrained",
        "",
        'model = load_pretrained("<this folder>")',
        "```",
        "",
    ]
    return "\n".join(lines)


def start(run: str | Path, config_yaml: str, info: dict[str, Any]) -> None:
    """Write ``config.yaml`` (the resolved config) and ``run.json`` (provenance) as a run starts."""
    run = Path(run)
    run.mkdir(parents=True, exist_ok=True)
    write_text_atomic(run / "config.yaml", config_yaml)
    write_json_atomic(run / "run.json", info)


def write_convergence(run: str | Path, rows: list[dict[str, float]]) -> dict[str, Any]:
    """Write (and return) ``convergence.json``: :func:`convergence` of the run's metric rows."""
    conv = convergence(rows)
    write_json_atomic(Path(run) / "convergence.json", conv)
    return conv


def is_done(run: str | Path) -> bool:
    """Whether the run finished (``DONE`` marker)."""
    return (Path(run) / "DONE").is_file()


def finish(run: str | Path, result: dict[str, Any]) -> None:
    """Write ``result.json``, the model card and the ``DONE`` marker (last)."""
    run = Path(run)
    write_json_atomic(run / "result.json", result)
    if (run / "model").is_dir():
        write_text_atomic(run / "model" / "README.md", model_card(result))
    write_text_atomic(run / "DONE", "done\n")


def read_result(run: str | Path) -> dict[str, Any]:
    """``<run>/result.json`` of a finished run."""
    return read_json(Path(run) / "result.json", expect=dict)


def chain_steps(run: str | Path) -> int:
    """Optimiser steps of a finished run plus those of the runs it was initialised from (PT + FT).

    Raises:
        FileNotFoundError: ``run`` (or a run of its chain) is not a finished run folder.
        ValueError: a run of the chain predates step counting (no ``optimizer_steps``).
    """
    run = Path(run)
    if not is_done(run):
        raise FileNotFoundError(f"{run}: not a finished run folder (no DONE); train it first")
    steps = read_result(run).get("optimizer_steps")
    if not isinstance(steps, int):
        raise ValueError(f"{run}/result.json: no optimizer_steps (run trained by an older synthboost)")
    strategy = read_yaml_mapping(run / "config.yaml").get("strategy", {})
    init = strategy.get("init_from") if strategy.get("name") == "ptft" else None
    if init and (Path(init) / "result.json").is_file():
        steps += chain_steps(init)
    return steps


def push_to_hub(run: str | Path, repo_id: str, private: bool = True, token: str | None = None) -> str:
    """Upload ``<run>/model`` (weights, config, model card) to the Hugging Face Hub; return the URL."""
    from huggingface_hub import HfApi

    folder = Path(run) / "model"
    if not is_model_folder(folder):
        raise FileNotFoundError(f"{folder}: no saved model (is {run} a finished run?)")
    base = read_adapter_config(folder).base_model_name_or_path if is_adapter_folder(folder) else BASE_FOLDER
    if base != BASE_FOLDER and Path(base).exists():
        raise ValueError(
            f"{folder}: its adapters sit on the local base {base}, which would not be uploaded; push "
            "the base first and point base_model_name_or_path in adapter_config.json at its hub id"
        )
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    info = api.upload_folder(folder_path=str(folder), repo_id=repo_id, commit_message="synthboost run")
    return str(getattr(info, "commit_url", info))


def resolve_model(path: str | os.PathLike) -> tuple[str, dict[str, Any]]:
    """The model of a run folder, a model folder or a hub id, with the run's inference settings.

    Returns:
        ``(model folder or hub id, {"prompt": level | None, "threshold": float})``; the settings
        come from the run's ``run.json``; a bare model folder or a hub id has no prompt level and
        the :data:`DEFAULT_THRESHOLD`, as has a run that recorded none.

    Raises:
        FileNotFoundError: a local folder without ``config.json`` (nor ``model/config.json``), or
            a missing local path (anything but an ``owner/name`` hub id).
    """

    folder = resolve_model_folder(path)
    run_json = Path(path) / "run.json"
    if Path(folder) != Path(path) / RUN_MODEL_DIR or not run_json.is_file():
        return folder, {"prompt": None, "threshold": DEFAULT_THRESHOLD}
    info = read_json(run_json, expect=dict)
    threshold = (info.get("loss") or {}).get("threshold")
    return folder, {
        "prompt": info.get("prompt"),
        "threshold": DEFAULT_THRESHOLD if threshold is None else threshold,
    }


def prune_checkpoints(run: str | os.PathLike) -> bool:
    """Remove ``RUN/checkpoints/`` of a finished run (``DONE``): its best weights are in ``RUN/model/``.

    Returns:
        Whether checkpoints were removed (``False`` for an unfinished run, which may still resume).
    """
    run = Path(run)
    folder = run / "checkpoints"
    if not is_done(run) or not (run / "model").is_dir() or not folder.is_dir():
        return False
    shutil.rmtree(folder)
    return True
