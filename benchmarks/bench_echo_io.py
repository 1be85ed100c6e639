"""Speed of read_echo on a scanner-like DICOM cine (default 100 frames of 600 rows × 800 columns).

    OMP_NUM_THREADS=2 python benchmarks/bench_echo_io.py --frames 100 --repeats 3

Writes the same cine three ways — RGB uncompressed (as the phantom's --dicom), MONOCHROME2
uncompressed, YBR_FULL_422 JPEG baseline — and prints, side by side in one run, the time of
pydicom's own decode (``dcmread`` + ``pixel_array``) and of ``read_echo`` (decode, grayscale,
calibration, frame times and sector detection), best of ``--repeats``. Target: ≤ 1 s for the
uncompressed RGB cine on 2 cores.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def sector_cine(n: int, shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """``(n, H, W)`` uint8 speckle in an apical fan."""
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    x, y = cols - (shape[1] - 1) / 2, rows + 2.0
    sector = (np.abs(x) <= y * np.tan(np.radians(38))) & (np.hypot(x, y) <= shape[0] - 2)
    rng = np.random.default_rng(seed)
    return (rng.integers(20, 230, (n, *shape), dtype=np.uint8) * sector).astype(np.uint8)


def write_variants(folder: Path, n_frames: int) -> dict[str, Path]:
    import io

    import pydicom
    from PIL import Image
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGBaseline8Bit

    from synthboost.data.phantom.dicom import MARGINS, write_cine_dicom

    top, left, right, bottom = MARGINS
    frames = sector_cine(n_frames, (600 - top - bottom, 800 - left - right))
    rgb = folder / "rgb.dcm"
    write_cine_dicom(rgb, frames, (0.3, 0.3), 50.0, "patient0001", "4CH")
    ds = pydicom.dcmread(rgb)
    canvas = ds.pixel_array
    mono = folder / "mono.dcm"
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    del ds.PlanarConfiguration
    ds.PixelData = np.ascontiguousarray(canvas[..., 1]).tobytes()
    ds.save_as(mono, enforce_file_format=True)
    jpeg = folder / "jpeg.dcm"
    chunks = []
    for f in canvas:
        buf = io.BytesIO()
        Image.fromarray(f, "RGB").save(buf, format="JPEG", quality=90)
        chunks.append(buf.getvalue())
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "YBR_FULL_422", 0
    ds.PixelData = encapsulate(chunks)
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.save_as(jpeg, enforce_file_format=True)
    return {"RGB uncompressed": rgb, "MONOCHROME2 uncompressed": mono, "YBR_FULL_422 JPEG baseline": jpeg}


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    import pydicom
    from pydicom.pixels import pixel_array

    from synthboost.data.imageio.echo import read_echo

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = write_variants(Path(tmp), args.frames)
        print(f"{args.frames}-frame 600x800 DICOM cine, best of {args.repeats}")
        print(f"{'variant':28s} {'MB':>6s} {'pydicom decode s':>17s} {'read_echo s':>12s} {'ratio':>6s}")
        for name, path in files.items():
            decode = best_of(lambda p=path: pixel_array(pydicom.dcmread(p)), args.repeats)
            full = best_of(lambda p=path: read_echo(p), args.repeats)
            mb = path.stat().st_size / 1e6
            print(f"{name:28s} {mb:6.1f} {decode:17.3f} {full:12.3f} {full / decode:6.2f}")
        loop = read_echo(files["RGB uncompressed"])
        print(
            f"check: {loop.frames.shape}, spacing {loop.spacing_mm} mm, region {loop.region.source} {loop.region.bbox}"
        )


if __name__ == "__main__":
    main()
