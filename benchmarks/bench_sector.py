"""The imaging sector found on a whole scanner display (no DICOM region to help), against the sector
inside the known tissue rectangle.

    OMP_NUM_THREADS=2 python benchmarks/bench_sector.py --patients 2 --frames 20 --scale 1.0

Writes phantom DICOM cines (``generate_phantom(..., dicom=True)``: the sector on a canvas with burned-in
text on the left and an ECG strip with a moving cursor under it), then per loop compares, on the
luma frames of the whole canvas, the sector detected without the region (what an AVI/MP4 export of
the display gives) — the live-pixel detector (``region_from_frames``) and the temporal maximum alone
(``detect_sector``, the detector before [real-inputs]) — with the reference: the sector detected
inside the DICOM tissue rectangle (which excludes text and ECG by construction). Prints, per loop,
the share of the detected sector outside the reference and the share of the reference inside it,
and the detection time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from synthboost.data.imageio.echo import read_echo
from synthboost.data.imageio.region import detect_sector, region_from_frames
from synthboost.data.phantom.writer import generate_phantom


def scores(mask: np.ndarray | None, reference: np.ndarray) -> tuple[float, float]:
    """``(share of mask outside reference, share of reference inside mask)``."""
    if mask is None or not mask.any():
        return float("nan"), 0.0
    return float((mask & ~reference).sum() / mask.sum()), float((mask & reference).sum() / reference.sum())


def main() -> None:
    """Run the comparison and print one line per loop."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2)
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--scale", type=float, default=1.0, help="phantom image scale (1.0: CAMUS size)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = generate_phantom(Path(tmp) / "ph", n_patients=args.patients, seed=0, image_scale=args.scale,
                                n_frames=args.frames, dicom=True)  # fmt: skip
        print(
            f"{'loop':<20} {'frames':>12} {'new: out/in':>14} {'old: out/in':>14} {'new s':>7} {'old s':>7}"
        )
        for path in sorted((root / "dicom").glob("*.dcm")):
            loop = read_echo(path)
            reference = loop.region.mask
            start = time.perf_counter()
            new = region_from_frames(loop.frames).mask
            t_new = time.perf_counter() - start
            start = time.perf_counter()
            old = detect_sector(loop.frames.max(axis=0))
            t_old = time.perf_counter() - start
            (o1, i1), (o2, i2) = scores(new, reference), scores(old, reference)
            shape = "x".join(map(str, loop.frames.shape))
            print(
                f"{path.stem:<20} {shape:>12} {o1:>6.1%}/{i1:>6.1%} {o2:>6.1%}/{i2:>6.1%} {t_new:>7.2f} {t_old:>7.2f}"
            )


if __name__ == "__main__":
    main()
