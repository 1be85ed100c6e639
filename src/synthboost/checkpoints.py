"""The one way synthboost reads PyTorch checkpoint files: no pickle runs unless the user trusts the file.

Every ``torch.load`` of the package goes through :func:`load_checkpoint`, which loads with
``weights_only=True`` (tensors and primitive containers only). A file that needs arbitrary
unpickling — or a TorchScript archive, whose loading runs the archive's code — is refused with
:class:`UntrustedCheckpointError`, a one-line message naming the file and the ``--trust-pickle``
flag, the only way in. :class:`SafeCheckpointIO` applies the same rule to Lightning's own resume
(``Trainer.fit(ckpt_path=...)``).
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

TRUST_FLAG = "--trust-pickle"


class UntrustedCheckpointError(ValueError):
    """A checkpoint that can only be loaded by running pickled code, which the user did not allow."""


def is_torchscript(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a TorchScript archive (a zip holding a ``code/`` folder)."""
    path = Path(path)
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.split("/", 1)[-1].startswith("code/") for name in archive.namelist())


def _refuse(path: Path, why: str) -> UntrustedCheckpointError:
    return UntrustedCheckpointError(
        f"{path}: refused to load: {why}, which can run arbitrary code; "
        f"pass {TRUST_FLAG} only if you trust where this file comes from"
    )


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu", trust_pickle: bool = False) -> Any:
    """``torch.load`` a checkpoint with ``weights_only=True`` unless ``trust_pickle``.

    Args:
        path: a ``torch.save`` file (state dict, Lightning ``.ckpt``, ...).
        map_location: as for ``torch.load``.
        trust_pickle: allow arbitrary unpickling (only for files from a trusted source).

    Raises:
        FileNotFoundError: no such file.
        UntrustedCheckpointError: the file needs pickle (or is TorchScript) and ``trust_pickle`` is off.
        ValueError: the file is empty, truncated or not a PyTorch checkpoint.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    if is_torchscript(path):
        if not trust_pickle:
            raise _refuse(path, "it is a TorchScript archive (loading runs its code)")
        return torch.jit.load(str(path), map_location=map_location)
    try:
        return torch.load(path, map_location=map_location, weights_only=not trust_pickle)
    except pickle.UnpicklingError as err:
        if trust_pickle:
            raise ValueError(f"{path}: not a readable PyTorch checkpoint ({_first_line(err)})") from err
        raise _refuse(path, f"it needs pickle ({_unpickler_reason(err)})") from err
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, KeyError, AttributeError) as err:
        raise ValueError(
            f"{path}: not a readable PyTorch checkpoint (empty, truncated or another format: {_first_line(err)})"
        ) from err


def load_state_dict(path: str | os.PathLike, trust_pickle: bool = False) -> dict[str, Any]:
    """A flat state dict from a checkpoint (bare, ``{"state_dict": ...}`` or TorchScript when trusted)."""
    from collections.abc import Mapping

    state = load_checkpoint(path, trust_pickle=trust_pickle)
    if hasattr(state, "state_dict") and callable(state.state_dict):  # a trusted TorchScript module
        state = state.state_dict()
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise ValueError(f"{path}: expected a state dict (name → tensor), got {type(state).__name__}")
    return dict(state)


def load_safetensors(path: str | os.PathLike) -> dict[str, Any]:
    """Tensors of a ``.safetensors`` file; an empty, cut or foreign file is a ``ValueError`` naming it."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: weights file not found")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as err:
        raise ValueError(
            f"{path}: not a valid safetensors file (empty, truncated or another format: {_first_line(err)})"
        ) from err


def safetensors_keys(path: str | os.PathLike) -> list[str]:
    """Tensor names of a ``.safetensors`` file, read from its header (checks the header and file size)."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            return list(f.keys())
    except (SafetensorError, OSError) as err:
        raise ValueError(
            f"{path}: not a valid safetensors file (empty, truncated or another format: {_first_line(err)})"
        ) from err


def _unpickler_reason(err: BaseException) -> str:
    """The line of torch's long ``weights_only`` message that says what was refused."""
    for line in str(err).splitlines():
        if "WeightsUnpickler error:" in line:
            return line.split("WeightsUnpickler error:", 1)[1].split(". Please use", 1)[0].strip()
    return _first_line(err)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__


def safe_checkpoint_io(trust_pickle: bool = False) -> Any:
    """A Lightning ``CheckpointIO`` whose loads go through :func:`load_checkpoint` (saving unchanged)."""
    from lightning.pytorch.plugins.io import TorchCheckpointIO

    class SafeCheckpointIO(TorchCheckpointIO):
        def load_checkpoint(
            self, path: Any, map_location: Any = "cpu", weights_only: bool | None = None
        ) -> Any:
            return load_checkpoint(path, map_location, trust_pickle=trust_pickle)

    return SafeCheckpointIO()
