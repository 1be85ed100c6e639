"""Read what a browser uploads through the one reader (:func:`synthboost.data.imageio.echo.read_echo`),
within a decoded-size budget checked from the header (:mod:`synthboost.data.imageio.budget`).

What the app adds: a MetaImage ``.mhd`` uploaded with its ``.raw`` is put side by side to be read,
and error messages name the uploaded file by its own name, never the server's cache path.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from synthboost.data.imageio.budget import DecodeBudget, ImageTooLarge
from synthboost.data.imageio.echo import read_echo
from synthboost.data.imageio.suffixes import MHD_DATA_SUFFIXES


def read_upload(
    files: str | Path | list[str | Path], budget: DecodeBudget, workdir: str | Path | None = None
) -> Any:
    """One uploaded image or loop as an :class:`~synthboost.data.imageio.echo.EchoLoop` (uint8 frames, spacing).

    Args:
        files: the uploaded file, or a MetaImage ``.mhd`` with its ``.raw`` data file.
        budget: refused before decoding when over it.
        workdir: where a ``.mhd``/``.raw`` pair is put side by side to be read.

    Raises:
        ValueError: not an image, or not one this app reads (message names the file).
        ImageTooLarge: over the budget.
    """
    paths = [Path(f) for f in ([files] if isinstance(files, str | Path) else files)]
    if not paths:
        raise ValueError("upload an image or pick a phantom case")
    header = _pair_header(paths)
    if header is None:
        return _read_one(paths[0], budget)
    tmp = Path(tempfile.mkdtemp(prefix="mhd-", dir=workdir))
    try:
        for p in paths:
            shutil.copyfile(p, tmp / p.name)
        return _read_one(tmp / header.name, budget)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _pair_header(paths: list[Path]) -> Path | None:
    """The ``.mhd`` of a header + data pair; ``None`` for a single file."""
    if len(paths) == 1:
        return None
    names = sorted(p.name.lower() for p in paths)
    mhd = [p for p in paths if p.name.lower().endswith(".mhd")]
    data = [p for p in paths if p.name.lower().endswith(MHD_DATA_SUFFIXES)]
    if len(paths) != 2 or len(mhd) != 1 or len(data) != 1:
        raise ValueError(f"upload one image, or a MetaImage .mhd with its .raw (got {', '.join(names)})")
    return mhd[0]


def _read_one(path: Path, budget: DecodeBudget) -> Any:
    from PIL import Image

    if path.name.lower().endswith(MHD_DATA_SUFFIXES):
        raise ValueError(f"{path.name}: a MetaImage data file needs its .mhd header (upload both)")
    try:
        return read_echo(path, budget)
    except ImageTooLarge as err:
        raise ImageTooLarge(str(err).replace(str(path), path.name)) from None
    except Image.DecompressionBombError as err:
        raise ImageTooLarge(f"{path.name}: {err}") from None
    except (ValueError, FileNotFoundError) as err:
        raise ValueError(str(err).replace(str(path), path.name)) from None
