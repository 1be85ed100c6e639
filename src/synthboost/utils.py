"""Small shared helpers: logging, atomic file and folder writes, seeding."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LOGGER_NAME = "synthboost"


def get_logger(name: str | None = None) -> logging.Logger:
    """Return the package logger (or a child of it)."""
    return logging.getLogger(LOGGER_NAME if name is None else f"{LOGGER_NAME}.{name}")


@contextlib.contextmanager
def atomic_dir(final: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``final``; rename it to ``final`` only on success.

    Nothing is left half-written: on any exception the temporary folder is removed and
    ``final`` is untouched. With ``overwrite`` an existing ``final`` is replaced.
    """
    final = Path(final)
    if final.exists() and not overwrite:
        raise FileExistsError(f"{final}: already exists (use overwrite/--force to replace it)")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(final)


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary file path beside ``final``; ``os.replace`` it onto ``final`` on success."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | os.PathLike, obj: Any, indent: int | None = 1) -> None:
    """Write ``obj`` as JSON to ``path`` atomically."""
    write_text_atomic(path, json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file, raising a ``ValueError`` that names the file when it is malformed."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: invalid JSON ({err})") from err


def lazy_exports(package: str, exports: dict[str, str]) -> Any:
    """A module ``__getattr__`` importing ``name`` from ``package.<exports[name]>`` on first use.

    Keeps ``import package`` light (no torch) while ``from package import name`` still works.
    ``exports[name] == "."`` names the sub-package ``package.name`` itself.
    """
    import importlib

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if exports[name] == ".":
            return importlib.import_module(f"{package}.{name}")
        return getattr(importlib.import_module(f"{package}.{exports[name]}"), name)

    return __getattr__


def callable_package(package: str, module: str, function: str) -> None:
    """Make the package ``package`` callable as ``package.module.function`` (imported on first call).

    Python binds an imported sub-package on its parent, so ``from synthboost import train`` returns
    the ``synthboost.train`` package whenever anything imported it; making the package callable
    gives the same object, the stage function, either way.
    """
    import importlib
    import sys
    import types

    def target() -> Any:
        return getattr(importlib.import_module(f"{package}.{module}"), function)

    class CallablePackage(types.ModuleType):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return target()(*args, **kwargs)

    sys.modules[package].__class__ = CallablePackage


def read_yaml_mapping(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML file whose top level is a mapping; errors name the file."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: invalid YAML ({err})") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data


def torch_device(name: Any = None) -> Any:
    """``name`` (``"cuda"``, ``"cpu"``, a ``torch.device``) or, for ``None``/``"auto"``, CUDA when
    available, else CPU."""
    import torch

    if name is None or name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def inference_autocast(device: Any) -> Any:
    """The mixed precision of inference: fp16 autocast on CUDA (as training's ``16-mixed``), none
    elsewhere (float32 on CPU). One rule for ``predict`` and the app, so they give the same masks."""
    import torch

    return torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda")


def seed_everything(seed: int) -> None:
    """Seed python, numpy and (if imported) torch."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover
        pass
