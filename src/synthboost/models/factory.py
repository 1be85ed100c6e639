"""Build any VLSM by name, and load any saved VLSM folder by its ``config.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synthboost.logs import get_logger
from synthboost.models.adapters import (
    base_reference,
    check_adapter_folder,
    has_adapters,
    is_adapter_folder,
    load_adapter,
)
from synthboost.models.base import CONFIG_NAME, VLSM
from synthboost.models.clipseg import CLIPSegVLSM
from synthboost.models.cris import CRISModel, named_config
from synthboost.models.cris_checkpoint import load_weights
from synthboost.models.hub import hub_file
from synthboost.utils.files import read_json

log = get_logger("models")

MODEL_NAMES = ("clipseg", "cris")
#: Suffixes of checkpoint files: such a ``pretrained`` is a local path, never a hub id.
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".safetensors", ".tar")
#: Where a run folder of ``synthboost train`` keeps its ``save_pretrained`` model folder.
RUN_MODEL_DIR = "model"


def check_local_pretrained(pretrained: str | Path) -> None:
    """Fail clearly when ``pretrained`` names a local file or folder that does not exist.

    A hub id has the form ``owner/name`` (no file suffix, not absolute or relative); anything
    else that is missing would otherwise be looked up on the hub and fail with a network error.
    """
    text, path = str(pretrained), Path(pretrained)
    if path.exists():
        return
    looks_local = (
        path.suffix in CHECKPOINT_SUFFIXES or text.startswith((".", "/", "~")) or text.count("/") != 1
    )
    if looks_local:
        raise FileNotFoundError(
            f"{pretrained}: pretrained weights not found (a model folder, a checkpoint file or an "
            "owner/name hub id; see docs/models.md; without the paper's weights, train the demo-sized "
            "configs/experiment/demo_tiny_clipseg.yaml or demo_tiny_cris.yaml)"
        )


def _model_class(model_type: str) -> type[VLSM]:
    if model_type == "clipseg":
        return CLIPSegVLSM
    if model_type == "cris":
        return CRISModel
    raise ValueError(f"unknown model {model_type!r} (choose from {', '.join(MODEL_NAMES)})")


def _build_cris(
    pretrained: str | Path | None, config: str, overrides: dict[str, Any], trust_pickle: bool = False
) -> VLSM:

    if pretrained is not None and not Path(pretrained).is_file():
        return CRISModel.from_pretrained(pretrained, **overrides)
    model = CRISModel(named_config(config, **overrides))
    if pretrained is not None:
        load_weights(model, pretrained, trust_pickle)
    return model


def build_model(
    name: str,
    pretrained: str | Path | None = None,
    config: str = "paper",
    freeze_encoders: bool = False,
    trust_pickle: bool = False,
    **overrides: Any,
) -> VLSM:
    """Build a VLSM.

    Args:
        name: ``"clipseg"`` or ``"cris"``.
        pretrained: ``None`` (random init of ``config``); a ``save_pretrained`` folder or hub id
            (its own config is used, ``config`` is ignored); for CRIS also an OpenAI CLIP
            ``RN50.pt`` (backbone only) or an official CRIS checkpoint file.
        config: named configuration, ``"paper"`` or ``"tiny"``.
        freeze_encoders: freeze image and text encoders (no gradients, normalisation in eval mode).
        trust_pickle: allow a CRIS/CLIP checkpoint file that needs pickle or is TorchScript
            (OpenAI's ``RN50.pt``); see :mod:`synthboost.checkpoints`.
        **overrides: configuration fields (e.g. ``image_size``, ``dropout``, ``reduce_dim``).

    Returns:
        The model, in train mode.
    """
    cls = _model_class(name)
    if pretrained is not None:
        check_local_pretrained(pretrained)
    if name == "cris":
        model = _build_cris(pretrained, config, overrides, trust_pickle)
    elif pretrained is None:
        model = cls.from_config(config, **overrides)  # type: ignore[attr-defined]
    else:
        model = cls.from_pretrained(pretrained, **overrides)
    if freeze_encoders:
        model.freeze_encoders()
    model.train()
    model.log_parameters()
    return model


def is_model_folder(path: str | Path) -> bool:
    """Whether ``path`` is a local model folder: ``config.json`` or an adapter folder's ``adapter_config.json``."""

    return (Path(path) / CONFIG_NAME).is_file() or is_adapter_folder(path)


def resolve_model_folder(path: str | Path) -> str:
    """The model folder of a run folder (``RUN/model``), a model folder or a hub id.

    Raises:
        FileNotFoundError: a local folder without ``config.json`` or ``adapter_config.json`` (nor
            in ``model/``), or a missing local path (anything but an ``owner/name`` hub id).
    """
    p = Path(path)
    if is_model_folder(p / RUN_MODEL_DIR):
        return str(p / RUN_MODEL_DIR)
    if is_model_folder(p):
        return str(p)
    if p.is_dir():
        raise FileNotFoundError(
            f"{p}: no {CONFIG_NAME} (nor adapter_config.json) here nor in {p / RUN_MODEL_DIR} (expected a "
            "model folder written by save_pretrained, an adapter folder or a run folder of `synthboost train`)"
        )
    check_local_pretrained(path)
    return str(path)


def read_model_config(folder_or_hub_id: str | Path) -> dict[str, Any]:
    """The ``config.json`` of a local folder or a hub id (from the cache when offline).

    For an adapter folder (:mod:`synthboost.models.adapters`) it is its base model's.
    """

    path = Path(folder_or_hub_id)
    if is_adapter_folder(path):
        return read_model_config(base_reference(path))
    if path.is_dir():
        return read_json(path / CONFIG_NAME, expect=dict)
    if path.exists() or str(folder_or_hub_id).count("/") != 1:
        raise FileNotFoundError(f"{folder_or_hub_id}: not a model folder or hub id")

    return read_json(hub_file(str(folder_or_hub_id), CONFIG_NAME), expect=dict)


def load_pretrained(
    folder_or_hub_id: str | Path, freeze_encoders: bool = False, merge: bool = False, **overrides: Any
) -> VLSM:
    """Load a saved VLSM, its type read from ``config.json`` (``model_type``).

    Args:
        folder_or_hub_id: a model folder (``save_pretrained``), an adapter folder
            (``adapter_config.json`` + ``adapter_model.safetensors``: its base model with the
            adapters on top), a run folder of ``synthboost train`` (its ``model/``) or a hub id.
        freeze_encoders: freeze image and text encoders (adapters keep training).
        merge: fold adapters into the base for fast inference (no effect without adapters).
        **overrides: configuration fields.
    """

    folder_or_hub_id = resolve_model_folder(folder_or_hub_id)
    if is_adapter_folder(folder_or_hub_id):
        ref = check_adapter_folder(folder_or_hub_id)
        model = load_adapter(folder_or_hub_id, load_pretrained(ref, **overrides), merge=merge)
        return model.freeze_encoders() if freeze_encoders and not has_adapters(model) else model
    model_type = read_model_config(folder_or_hub_id).get("model_type")
    if model_type not in MODEL_NAMES:
        raise ValueError(f"{folder_or_hub_id}/{CONFIG_NAME}: unknown model_type {model_type!r}")
    return build_model(model_type, folder_or_hub_id, freeze_encoders=freeze_encoders, **overrides)
