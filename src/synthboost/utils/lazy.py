"""Lazy names of a package: ``import synthboost`` stays light (no torch) while ``from synthboost import X`` works."""

from __future__ import annotations

import importlib
from typing import Any


def lazy_exports(package: str, exports: dict[str, str]) -> Any:
    """A module ``__getattr__`` importing ``name`` from ``package.<exports[name]>`` on first use.

    Keeps ``import package`` light (no torch) while ``from package import name`` still works.
    """

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{exports[name]}"), name)

    return __getattr__
