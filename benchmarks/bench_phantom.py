"""Time the phantom generator and the speckle renderer.

Run: ``.venv/bin/python benchmarks/bench_phantom.py [--patients 500] [--workers 2]``. Prints
frames/s of ``generate_phantom`` (4 frames per patient at native size, ~500–700 × 400–600 px,
MetaImage writes included) and ms per 256×256 ``render_bmode`` call.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from synthboost.data.phantom import heart_model as hm
from synthboost.data.phantom.speckle import render_bmode
from synthboost.data.phantom.writer import generate_phantom


def bench_phantom(patients: int, workers: int) -> float:
    """Seconds to write ``patients`` phantom patients."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        generate_phantom(Path(tmp) / "phantom", n_patients=patients, workers=workers)
        return time.perf_counter() - start


def bench_speckle(n: int = 50) -> float:
    """Median ms of one 256×256 speckle rendering."""
    patient = hm.sample_patient(np.random.default_rng(0))
    acq = patient.views["4CH"].resized(256, 256)
    sector = hm.sector_mask(acq)
    labels, extra = hm.rasterize_view(patient, "4CH", "ED", acq, sector)
    rng = np.random.default_rng(0)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        render_bmode(labels, sector, rng, "medium", extra)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"speckle 256x256: {bench_speckle():.1f} ms/image")
    seconds = bench_phantom(args.patients, args.workers)
    frames = 4 * args.patients
    print(
        f"phantom: {args.patients} patients, {frames} frames in {seconds:.1f} s with {args.workers} workers"
    )
    print(f"phantom: {frames / seconds:.1f} frames/s")


if __name__ == "__main__":
    main()
