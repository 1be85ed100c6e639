"""A literal, loop-by-loop reading of the CAMUS EF script's steps, to check the vectorised module against.

Written from the step list in :mod:`synthboost.clinical.camus_ef` (not from its code): every pair
of contour points is tried in the script's order and the walk to the edge is a plain loop. Slow
(cubic in the contour length): for small test shapes and the phantom check in ``benchmarks/``.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image
from skimage.measure import find_contours


def literal_discs(mask: np.ndarray, spacing: tuple[float, float]) -> tuple[list[float], float]:
    """The 20 diameters (mm) and the axis length (mm) of one frame, step by step."""
    fine = min(spacing)
    height = int(round(mask.shape[0] * spacing[0] / fine))
    width = int(round(mask.shape[1] * spacing[1] / fine))
    iso = np.array(Image.fromarray(mask.astype(np.uint8)).resize((width, height), Image.NEAREST))
    c = find_contours(iso.astype(float), 0.5)[0]
    best, bi, bj = 0.0, 0, 0
    for i in range(2, len(c)):
        for j in range(i):
            dy, dx = c[j][0] - c[i][0], c[j][1] - c[i][1]
            if abs(math.degrees(math.atan2(dy, dx))) > 45:
                continue
            chord = math.hypot(dy, dx)
            ok = chord > 0
            for k in range(j + 1, i):
                if not ok:
                    break
                wy, wx = c[k][0] - c[j][0], c[k][1] - c[j][1]
                ok = abs(dy * wx - dx * wy) / chord <= 8  # |u × w| / |u|, u the chord, w to point k
            if ok and chord > best:
                best, bi, bj = chord, i, j
    mid = c[bj + round((bi - bj) / 2)]
    far = [math.hypot(*(p - mid)) for p in c]
    apex = c[int(np.argmax(far))]
    axis = apex - mid
    normal = np.array([-axis[1], axis[0]]) / math.hypot(*axis)
    diameters = []
    for n in range(20):
        point = mid + axis * (n / 20)
        total = 0.0
        for sign in (1, -1):
            t = 8.0
            while True:
                y, x = (int(v) for v in np.rint(point + sign * t * normal))
                if not (0 <= y < iso.shape[0] and 0 <= x < iso.shape[1]) or iso[y, x] == 0:
                    break
                t += 0.5
            total += t
        diameters.append(total * fine)
    return diameters, max(far) * fine


def literal_volumes(masks: dict, spacings: dict) -> tuple[float, float]:
    """Unrounded EDV, ESV (mL) of the four frames ``(view, phase)``."""
    discs = {k: literal_discs(masks[k], spacings[k]) for k in masks}
    h = max(length for _, length in discs.values()) / 20
    out = []
    for phase in ("ED", "ES"):
        d2, d4 = discs[("2CH", phase)][0], discs[("4CH", phase)][0]
        out.append(math.pi / 4 * sum(a * b for a, b in zip(d2, d4, strict=True)) * h / 1000)
    return out[0], out[1]
