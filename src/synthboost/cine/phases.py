"""End-diastole, end-systole, cardiac cycles and heart rate from an LV volume (or area) curve.

**Turning points.** :func:`turning_points` walks the curve once (a zig-zag filter): it follows
the current trend and records the running extremum as a turning point as soon as the curve has
come back from it by at least ``min_swing`` × (max − min of the curve), :data:`MIN_SWING` = 0.3.
Maxima and minima therefore alternate, and wiggles smaller than the swing are ignored. The
last running extremum is a turning point too, so a curve that only falls (a CAMUS half-sequence,
ED → ES) gives one maximum at its start and one minimum at its end.

**ED / ES.** ED = each maximum, ES = each minimum of the LV volume (Lang et al., JASE 2015:
end-diastole is the frame of largest, end-systole of smallest LV dimension). A turning point on
the first or last frame may be a loop cut mid-phase rather than a true extremum; it is kept when
no interior turning point of its kind exists (a half-cycle) or when its value reaches the interior
ones' median within :data:`EDGE_TOLERANCE` × (max − min).

**Known half-cycles.** A loop known to hold exactly one ED→ES half-cycle (a CAMUS
``*_half_sequence`` file) takes ED = the maximum and ES = the minimum over the whole loop: with a
noisy predicted curve that prior is more robust than the turning points.

**Cycles.** A cycle is an ED followed by the next ES (one systole); EDV, ESV and EF are computed
per cycle. A loop with an ES before its first ED and nothing else (ES → ED, a filling half-cycle)
gives that pair as its one cycle.

**Heart rate.** 60 / the mean interval (s) between consecutive EDs and between consecutive ESs
(pooled), when frame times are known and at least two of a kind exist; otherwise unknown.
"""

from __future__ import annotations

import dataclasses

import numpy as np

MIN_SWING = 0.3
EDGE_TOLERANCE = 0.05


@dataclasses.dataclass(frozen=True)
class Phases:
    """ED and ES frames (0-based, ascending) and the cycles pairing them."""

    ed: tuple[int, ...]
    es: tuple[int, ...]
    cycles: tuple[tuple[int, int], ...]  # (ED frame, ES frame) per cycle


def _fill_nan(curve: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaN entries (ends held); raises when nothing is finite."""
    curve = np.asarray(curve, dtype=np.float64)
    ok = np.isfinite(curve)
    if not ok.any():
        raise ValueError("ED/ES: the LV curve has no finite value (no LV found in any frame)")
    if ok.all():
        return curve
    idx = np.arange(len(curve))
    return np.interp(idx, idx[ok], curve[ok])


def turning_points(curve: np.ndarray, min_swing: float = MIN_SWING) -> list[tuple[int, str]]:
    """Alternating ``(frame, "max" | "min")`` turning points of ``curve`` (see the module docstring)."""
    x = _fill_nan(curve)
    swing = min_swing * float(x.max() - x.min())
    if len(x) < 2 or swing <= 0:
        return []
    points: list[tuple[int, str]] = []
    hi = lo = 0
    trend, cand = "", 0
    for i in range(1, len(x)):
        if not trend:
            hi = i if x[i] > x[hi] else hi
            lo = i if x[i] < x[lo] else lo
            if x[hi] - x[lo] >= swing and hi < lo:  # fell first: the running maximum is a turning point
                points.append((hi, "max"))
                trend, cand = "down", lo
            elif x[hi] - x[lo] >= swing:
                points.append((lo, "min"))
                trend, cand = "up", hi
        elif trend == "down":
            if x[i] < x[cand]:
                cand = i
            elif x[i] - x[cand] >= swing:
                points.append((cand, "min"))
                trend, cand = "up", i
        else:
            if x[i] > x[cand]:
                cand = i
            elif x[cand] - x[i] >= swing:
                points.append((cand, "max"))
                trend, cand = "down", i
    if trend:
        points.append((cand, "min" if trend == "down" else "max"))
    return points


def _keep_edges(x: np.ndarray, points: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Drop first/last-frame turning points that fall short of the interior ones of their kind."""
    n, span = len(x), float(x.max() - x.min())
    kept = []
    for frame, kind in points:
        interior = [x[f] for f, k in points if k == kind and 0 < f < n - 1]
        if frame in (0, n - 1) and interior:
            level = float(np.median(interior))
            short = level - x[frame] if kind == "max" else x[frame] - level
            if short > EDGE_TOLERANCE * span:
                continue
        kept.append((frame, kind))
    return kept


def find_phases(curve: np.ndarray, min_swing: float = MIN_SWING, half_cycle: bool = False) -> Phases:
    """ED / ES frames and cycles of an LV volume (or area) curve, one value per frame.

    Args:
        curve: one value per frame (NaN entries are interpolated).
        min_swing: the zig-zag swing, a fraction of the curve's range.
        half_cycle: the loop is known to hold one ED→ES half-cycle (a CAMUS half-sequence): ED =
            the maximum and ES = the minimum over the whole loop, one cycle.

    Raises:
        ValueError: the curve has no finite value, or it is flat (no ED/ES can be told apart).
    """
    x = _fill_nan(curve)
    if half_cycle:
        if x.max() <= x.min():
            raise ValueError(f"ED/ES: the LV curve is flat over {len(x)} frames")
        ed, es = int(np.argmax(x)), int(np.argmin(x))
        return Phases((ed,), (es,), ((ed, es),))
    points = _keep_edges(x, turning_points(x, min_swing))
    ed = tuple(f for f, k in points if k == "max")
    es = tuple(f for f, k in points if k == "min")
    if not ed or not es:
        raise ValueError(f"ED/ES: the LV curve does not vary enough over {len(x)} frames to find both phases")
    cycles = [
        (a, b) for (a, ka), (b, kb) in zip(points, points[1:], strict=False) if ka == "max" and kb == "min"
    ]
    if not cycles:
        cycles = [(b, a) for (a, ka), (b, kb) in zip(points, points[1:], strict=False) if ka == "min"][:1]
    return Phases(ed, es, tuple(cycles))


def heart_rate(phases: Phases, frame_times: np.ndarray | None) -> float | None:
    """Beats per minute from consecutive ED–ED and ES–ES intervals, or ``None`` when unknown."""
    if frame_times is None:
        return None
    t = np.asarray(frame_times, dtype=np.float64)
    intervals = [np.diff(t[list(frames)]) for frames in (phases.ed, phases.es) if len(frames) >= 2]
    if not intervals:
        return None
    period = float(np.mean(np.concatenate(intervals)))
    return 60.0 / period if period > 0 else None
