"""``sampling.json``: the settings a ``synth sample`` output folder was sampled with.

A resumed ``synth sample`` adds images to a folder only when they come from the same sampler:
the same run, checkpoint, sampler, steps, guidance and seed. Different settings are refused
(``--force`` restarts the folder) instead of mixing two samplers' images in one folder.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from synthboost.synth.config import load_config
from synthboost.utils.files import check_replaceable, read_json, write_json_atomic

RECORD_NAME = "sampling.json"


def sampling_settings(run_dir: Path, steps: int | None, sampler: str | None, seed: int) -> dict[str, Any]:
    """What decides the images of a run's sampling (the run config's defaults filled in)."""

    run_dir = Path(run_dir)
    cfg = load_config(run_dir / "config.yaml")
    return {
        "run": str(run_dir.resolve()),
        "weights": find_weights(run_dir).name,
        "sampler": sampler or cfg.sample.sampler,
        "steps": int(steps or cfg.sample.steps),
        "guidance": float(cfg.sample.guidance),
        "seed": int(seed),
    }


def _has_files(folder: Path) -> bool:
    return any(p.is_file() for p in folder.rglob("*"))


def start_output(out: Path, settings: dict[str, Any], force: bool = False) -> None:
    """Make ``out`` ready to receive images sampled with ``settings``.

    A new or empty folder gets ``sampling.json``; a folder sampled with the same settings is resumed;
    other settings are a ``ValueError`` naming them (with ``force``: the folder is emptied first, only
    when it holds ``sampling.json``); a folder of images without a record is refused.
    """
    out = Path(out)
    path = out / RECORD_NAME
    if out.is_dir() and path.is_file():
        recorded = read_json(path, expect=dict)
        changed = {k: (recorded.get(k), v) for k, v in settings.items() if recorded.get(k) != v}
        if not changed:
            return
        if not force:
            what = ", ".join(f"{k} {old!r} → {new!r}" for k, (old, new) in changed.items())
            raise ValueError(
                f"{path}: the images here were sampled with other settings ({what}); resume with the same "
                "settings, choose another output, or use --force to restart the folder"
            )
        check_replaceable(out, markers=(RECORD_NAME,))
        shutil.rmtree(out)
    elif out.is_dir() and _has_files(out):
        if force:
            check_replaceable(out, markers=(RECORD_NAME,))
        raise ValueError(
            f"{out}: holds files but no {RECORD_NAME} (sampled by an older synthboost or not by synth sample): "
            "cannot tell which sampler made them; choose another output or remove it"
        )
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, settings)


_CKPT_RE = re.compile(r"^(ema_[0-9.]+_|model)(\d{6,})\.pt$")


def find_weights(run_dir: Path) -> Path:
    """The newest EMA checkpoint of a run (or the newest model checkpoint when no EMA exists)."""
    found = [(int(m.group(2)), m.group(1) != "model", p) for p in Path(run_dir).glob("*.pt")
             if (m := _CKPT_RE.match(p.name))]  # fmt: skip
    if not found:
        raise FileNotFoundError(f"{run_dir}: no modelNNNNNN.pt or ema_<rate>_NNNNNN.pt checkpoint")
    return max(found)[2]
