"""The YAML presets shipped with the package (paper and demo settings), found with ``importlib.resources``.

``train/`` (shared training defaults), ``experiment/`` (one file per model and strategy, ``base:``
includes), ``sweeps/`` (the paper's Table 1 grid) and ``sdm/`` (the semantic diffusion model).
:func:`find_config` turns what a user typed into a file: an existing YAML path is used as it is;
otherwise a packaged name (``experiment/cris_real.yaml``, also written ``configs/experiment/...``
as in a source checkout, with or without ``.yaml``).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

PREFIX = "configs/"


def config_root() -> Path:
    """The folder of the packaged YAML presets (a real folder: the package is installed unzipped)."""
    root = resources.files(__name__)
    if not isinstance(root, Path):  # pragma: no cover - zipped installs are not supported
        raise RuntimeError(f"synthboost.configs: packaged configs are not a folder ({root})")
    return root


def packaged_configs(folder: str = "") -> list[str]:
    """Names of the packaged YAML files below ``folder`` (``"experiment/cris_real.yaml"``, ...)."""
    root = config_root()
    return sorted(p.relative_to(root).as_posix() for p in (root / folder).rglob("*.yaml"))


def find_config(ref: str | os.PathLike, folder: str = "") -> Path:
    """The YAML file ``ref`` names: an existing path, else a packaged config.

    Args:
        ref: a path, or a packaged name relative to the package configs (``"experiment/cris_real"``,
            ``"configs/experiment/cris_real.yaml"``), or relative to ``folder`` (``"tiny"`` in ``sdm``).
        folder: the packaged sub-folder to try as well (``"sdm"``).

    Raises:
        FileNotFoundError: neither a file nor a packaged config; the message lists the packaged ones.
    """
    path = Path(ref)
    if path.is_file():
        return path
    name = path.as_posix().removeprefix(PREFIX)
    root = config_root()
    for rel in (name, f"{folder}/{name}" if folder else None):
        for candidate in (root / rel, root / f"{rel}.yaml") if rel else ():
            if candidate.is_file():
                return candidate
    known = ", ".join(packaged_configs(folder))
    raise FileNotFoundError(f"{ref}: config file not found (not a file, nor a packaged config: {known})")
