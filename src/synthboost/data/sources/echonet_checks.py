"""Checks of EchoNet-Dynamic's ``FileList.csv`` rows and LV tracings, as a careful reader makes them.

Every problem found is a message naming the file, the line (or video and frame) and what is wrong;
:func:`synthboost.data.sources.echonet.list_videos` logs them as warnings and keeps them in
``dataset.json`` (``extra.warnings``), or leaves the video out with the message as its reason when
nothing sensible can be prepared from it (an empty LV mask). Plausible ranges:

- EF within [0, 100] %; ESV not larger than EDV (both as listed);
- ``NumberOfFrames`` a whole number in [1, :data:`MAX_FRAMES`] (EchoNet-Dynamic's longest videos
  have about a thousand frames); otherwise it is not used and the video's own frame count counts;
- tracing coordinates within :data:`MAX_COORDINATE_FACTOR` frame sizes of the frame (farther ones,
  e.g. 1e300, are a broken file, not a tracing), and a tracing that covers no pixel of the frame
  (it lies outside it) gives no mask.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

#: Largest plausible ``NumberOfFrames``.
MAX_FRAMES = 10_000
#: Tracing vertices farther than this many frame sizes from the frame are not a tracing.
MAX_COORDINATE_FACTOR = 10
#: Frame size assumed when ``FileList.csv`` gives none (EchoNet-Dynamic's videos are 112×112).
DEFAULT_FRAME_SIZE = (112, 112)


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def frame_count(path: Path, line: int, row: dict[str, str]) -> tuple[int | None, str | None]:
    """``NumberOfFrames`` of a row when plausible, else ``(None, warning)`` (``(None, None)`` when absent)."""
    raw = row.get("NumberOfFrames")
    if raw in (None, ""):
        return None, None
    value = _float(raw)
    if value is None or not math.isfinite(value) or not value.is_integer() or not 1 <= value <= MAX_FRAMES:
        return None, (f"{path}: line {line}: NumberOfFrames {raw!r} is not a frame count in [1, {MAX_FRAMES}]; "
                      "the video's own frame count is used")  # fmt: skip
    return int(value), None


def frame_size(row: dict[str, str]) -> tuple[int, int]:
    """``(FrameHeight, FrameWidth)`` of a row when plausible, else :data:`DEFAULT_FRAME_SIZE`."""
    size = [_float(row.get(k)) for k in ("FrameHeight", "FrameWidth")]
    if all(v is not None and math.isfinite(v) and v.is_integer() and 1 <= v <= 4096 for v in size):
        return int(size[0]), int(size[1])  # type: ignore[arg-type]
    return DEFAULT_FRAME_SIZE


def value_warnings(path: Path, line: int, ef: float, esv: float, edv: float) -> list[str]:
    """Implausible volumes or EF of one ``FileList.csv`` row."""
    out = []
    if not 0.0 <= ef <= 100.0:
        out.append(f"{path}: line {line}: EF {ef:g} % is outside [0, 100]")
    if esv > edv:
        out.append(f"{path}: line {line}: ESV {esv:g} mL is larger than EDV {edv:g} mL")
    if min(esv, edv) < 0:
        out.append(f"{path}: line {line}: negative volume (ESV {esv:g}, EDV {edv:g} mL)")
    return out


def tracing_problem(chords: np.ndarray, size: tuple[int, int]) -> str | None:
    """Why one frame's tracing (``(n, 4)`` X1 Y1 X2 Y2) cannot be drawn on a frame of ``size``; None if it can."""
    limit = MAX_COORDINATE_FACTOR * max(size)
    xy = np.asarray(chords, np.float64)
    if np.abs(xy).max() > limit:
        return f"coordinates up to {np.abs(xy).max():.3g} px, far outside the {size[1]}×{size[0]} frame"
    return None


def outside_fraction(vertices: np.ndarray, size: tuple[int, int]) -> float:
    """Fraction of the (x, y) vertices, rounded to whole pixels, that lie outside a frame of ``size``."""
    v = np.rint(vertices)
    out = (v[:, 0] < 0) | (v[:, 0] > size[1] - 1) | (v[:, 1] < 0) | (v[:, 1] > size[0] - 1)
    return float(out.mean())
