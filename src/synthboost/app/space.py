"""``synthboost app --export-space DIR``: a Hugging Face Space (Gradio SDK) serving one model.

Writes ``DIR/app.py`` (builds the same Blocks as ``synthboost app`` and launches it),
``DIR/requirements.txt``, ``DIR/README.md`` with the Spaces metadata header, and writes a local
model (re-saved with LoRA adapters merged, and its model card) into ``DIR/<run name>/model`` with
the run's ``result.json`` and inference settings (``run.json`` reduced to prompt level and
threshold), so the header shows the same name, strategy and validation Dice. A hub id is
referenced, not copied.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from synthboost.app.space_checks import check_no_links_out
from synthboost.utils.files import atomic_dir, read_json, write_json_atomic, write_text_atomic

#: Keys of ``result.json`` copied into the Space (no paths of the machine that trained it).
RESULT_KEYS = (
    "model",
    "strategy",
    "prompt",
    "freeze_encoders",
    "loss_preset",
    "threshold",
    "seed",
    "best_epoch",
    "epochs",
    "best_val_dice",
    "best_val_iou",
)

APP_PY = '''"""Hugging Face Space: {title} (written by `synthboost app --export-space`)."""

import os
import tempfile
from pathlib import Path

from synthboost.app.serve import build

MODEL = {model}

demo = build(MODEL, Path(tempfile.mkdtemp(prefix="synthboost-space-")), phantom_patients=1)

if __name__ == "__main__":
    demo.launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"), max_file_size="20mb",
                ssr_mode=False)
'''

README = """---
title: {title}
emoji: 🫀
colorFrom: red
colorTo: blue
sdk: gradio
sdk_version: {gradio_version}
app_file: app.py
pinned: false
license: mit
short_description: Text-prompted echocardiogram segmentation (research use only)
---

# {title}

Text-prompted segmentation of echocardiograms with a vision-language segmentation model, made
with synthboost (reproduction of *Synthetic Boost*,
Adhikari et al., ASMUS 2023).

| | |
|---|---|
| model | {model} |
| strategy | {strategy} |
| prompt level | {prompt} |
| validation Dice | {dice} |

**For research use only**: not a medical device, not for diagnosis or treatment. Do not upload
identifiable patient data.
"""


def export_space(model: str | Path, out: str | Path, requirement: str = "synthboost[app]") -> Path:
    """Write a Space for ``model`` (run folder, model folder or hub id) into ``out``.

    Raises:
        FileExistsError: ``out`` exists and is not empty.
        FileNotFoundError: a local model without ``config.json``.
        ValueError: a symbolic link in the run folder leads outside it (nothing is written).
    """
    import gradio

    from synthboost.app.analysis import model_info
    from synthboost.models.factory import resolve_model_folder
    from synthboost.training.runfolder import resolve_model

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out}: exists and is not an empty folder")
    local = resolve_model_folder(model)
    if Path(local).is_dir():
        check_no_links_out(Path(local))  # before anything of the run is read or written
    folder, settings = resolve_model(model)
    info = model_info(model)
    with atomic_dir(out, overwrite=True) as tmp:  # only an empty folder is replaced; a failure leaves none
        if Path(folder).is_dir():
            name = re.sub(r"[^\w.-]", "_", info["name"]).lstrip(".") or "model_run"
            _copy_model(Path(folder), tmp / name, settings)
            ref = f"str(Path(__file__).parent / {name!r})"
        else:
            ref = repr(str(model))
        title = f"synthboost {info['name']}"
        write_text_atomic(tmp / "app.py", APP_PY.format(title=title, model=ref))
        write_text_atomic(tmp / "requirements.txt", f"{requirement}\ntorch\n")
        dice = f"{info['val_dice']:.4f}" if info.get("val_dice") is not None else "n/a"
        write_text_atomic(tmp / "README.md", README.format(
            title=title, gradio_version=gradio.__version__, model=info.get("architecture") or info["name"],
            strategy=info.get("strategy") or "n/a", prompt=info.get("prompt") or "n/a", dice=dice,
        ))  # fmt: skip
    return out


def _copy_model(folder: Path, run: Path, settings: dict) -> None:
    """Write the model into ``run/model`` (adapters merged: a plain model folder that needs no base
    elsewhere), its model card, and the run's result and inference settings."""
    from synthboost.models import load_pretrained

    load_pretrained(folder, merge=True).save_pretrained(run / "model")
    if (folder / "README.md").is_file():
        shutil.copyfile(folder / "README.md", run / "model" / "README.md")
    source = folder.parent
    if (source / "result.json").is_file():
        result = read_json(source / "result.json")
        write_json_atomic(run / "result.json", {k: result[k] for k in RESULT_KEYS if k in result})
    write_json_atomic(run / "run.json", {"prompt": settings.get("prompt"),
                                         "loss": {"threshold": settings.get("threshold")}})  # fmt: skip
