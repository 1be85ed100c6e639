"""Checks of ``--export-space`` before anything is copied: nothing from outside the exported folder.

A symbolic link in a run folder (``model/``, ``model/model.safetensors``, ``model/README.md``,
``result.json``, ``run.json``) whose target lies outside it would put someone else's file into the
Space the user then publishes; such a link is refused with its path named. Links that stay inside
the folder are fine.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Files of a run folder that the export reads beside its model folder.
RUN_FILES = ("result.json", "run.json")


def exported_root(folder: Path) -> Path:
    """The folder being exported: the run folder of ``RUN/model``, else the model folder itself."""
    folder = Path(folder)
    is_run = folder.name == "model" and any((folder.parent / f).is_file() for f in RUN_FILES)
    return folder.parent if is_run else folder


def check_no_links_out(folder: Path) -> Path:
    """Refuse (``ValueError`` naming the link and its target) a symbolic link that the export of the model
    folder ``folder`` would follow out of the exported folder (:func:`exported_root`), or a broken one;
    return that root."""
    folder = Path(folder)
    root = exported_root(folder)
    real_root = Path(os.path.realpath(root))
    paths = [folder, *sorted(folder.rglob("*"))] if root != folder else sorted(folder.rglob("*"))
    paths += [root / name for name in RUN_FILES] if root != folder else []
    for path in paths:
        if not path.is_symlink():
            continue
        target = Path(os.path.realpath(path))
        if not path.exists():
            raise ValueError(
                f"{path}: a broken symbolic link in the exported folder {root}; refusing to export"
            )
        if target != real_root and real_root not in target.parents:
            raise ValueError(
                f"{path}: a symbolic link to {target}, outside the exported folder {root}; refusing to copy "
                "it into the Space (copy the file into the folder, or remove the link)"
            )
    return root
