"""Peak memory (RSS) of ``analyze`` on a large RLE DICOM cine: 2048² × 120 frames by default (480 MiB decoded).

    python benchmarks/bench_analyze_memory.py [--size 2048] [--frames 120] [--model clipseg:tiny] [--video mp4]

Issue 23 measured 9.4 GB for this loop (every intermediate of every frame held at once: the float
overlay video alone was 6 GiB). The loop is a synthetic sector (a fan of 4×4-pixel speckle blocks
with a cavity that contracts and relaxes), written as RLE Lossless with each 4-pixel run encoded
as one PackBits replicate run, so the file is about half the decoded size. The model has random
weights of the named config (memory does not depend on them). ``analyze`` runs in a fresh Python
process; its peak RSS (``ru_maxrss``) is printed beside the RSS of the same process after its
imports and model load, so the figure is the analysis' own cost plus a known floor. Peaks are the
kernel's ``VmHWM`` of that process (Linux): ``ru_maxrss`` would carry over the parent's RSS at fork.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: The child process: imports, model load (its RSS is the floor), then ``analyze`` (the peak).
CHILD = """
import json, re, sys, time
from pathlib import Path
from synthboost.cine.analysis import analyze
from synthboost.evaluation.segmenter import Segmenter

def hwm_kib():  # this process' own peak RSS (ru_maxrss would include the parent's at fork)
    return int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1))

dcm, model, out, video = sys.argv[1:5]
Segmenter.from_pretrained(model, device="cpu")
floor = hwm_kib()
start = time.perf_counter()
result = analyze([dcm], model=model, view="2CH", out=out, video=video, device="cpu")
seconds = time.perf_counter() - start
loop = result["loops"][0].loop
print(json.dumps({"floor_kib": floor, "peak_kib": hwm_kib(), "seconds": seconds,
                  "frames": loop.n_frames, "shape": list(loop.frames.shape[1:])}))
"""


def _frame(size: int, k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """One frame: a fan of 4×4 speckle blocks with a dark cavity whose radius follows a cosine cycle."""
    small = size // 4
    yy, xx = np.mgrid[0:small, 0:small].astype(np.float32)
    cy, cx = 0.05 * small, small / 2
    r, angle = np.hypot(yy - cy, xx - cx), np.arctan2(xx - cx, yy - cy)
    fan = (r < 0.9 * small) & (np.abs(angle) < np.pi / 4)
    radius = small * (0.14 + 0.04 * np.cos(2 * np.pi * k / max(n, 1)))
    cavity = np.hypot(yy - 0.45 * small, xx - cx) < radius
    img = np.where(fan & ~cavity, rng.integers(60, 230, (small, small)), 0).astype(np.uint8)
    return np.repeat(np.repeat(img, 4, axis=0), 4, axis=1)


def rle_frame(frame: np.ndarray) -> bytes:
    """DICOM RLE Lossless of one 8-bit frame whose pixels come in runs of 4 along a row (one segment)."""
    runs = frame.reshape(-1, 4)[:, 0]
    segment = np.empty((len(runs), 2), np.uint8)
    segment[:, 0], segment[:, 1] = 253, runs  # PackBits header -3: the next byte repeated 4 times
    data = segment.tobytes()
    header = np.zeros(16, "<u4")
    header[0], header[1] = 1, 64
    return header.tobytes() + data + (b"\0" if len(data) % 2 else b"")


def write_rle_cine(path: Path, size: int, n_frames: int, seed: int = 0) -> Path:
    """A ``size``² × ``n_frames`` RLE Lossless MONOCHROME2 cine with a calibrated tissue region, 30 Hz."""
    import pydicom
    from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
    from pydicom.encaps import encapsulate
    from pydicom.uid import RLELossless, UltrasoundMultiFrameImageStorage, generate_uid

    rng = np.random.default_rng(seed)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = (
        UltrasoundMultiFrameImageStorage,
        generate_uid(),
    )
    meta.TransferSyntaxUID = RLELossless
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.SamplesPerPixel, ds.PhotometricInterpretation = "US", 1, "MONOCHROME2"
    ds.Rows = ds.Columns = size
    ds.NumberOfFrames = n_frames
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.FrameTime = "33.3333"
    ds.FrameIncrementPointer = pydicom.tag.Tag("FrameTime")
    region = Dataset()
    region.RegionSpatialFormat, region.RegionDataType = 1, 1
    region.RegionLocationMinX0 = region.RegionLocationMinY0 = 0
    region.RegionLocationMaxX1 = region.RegionLocationMaxY1 = size - 1
    region.PhysicalUnitsXDirection = region.PhysicalUnitsYDirection = 3
    region.PhysicalDeltaX = region.PhysicalDeltaY = 15.0 / size  # a 15 cm deep image
    ds.SequenceOfUltrasoundRegions = [region]
    ds.PixelData = encapsulate([rle_frame(_frame(size, k, n_frames, rng)) for k in range(n_frames)])
    ds["PixelData"].is_undefined_length = True
    ds.save_as(path, enforce_file_format=True)
    return path


def main() -> None:
    from synthboost.models import build_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--model", default="clipseg:tiny", help="architecture:config (random weights)")
    parser.add_argument("--video", default="mp4", choices=("mp4", "gif", "none"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        dcm = write_rle_cine(tmp / "big_2CH.dcm", args.size, args.frames)
        arch, config = args.model.split(":")
        build_model(arch, config=config).save_pretrained(tmp / "model")
        written, file_mib = time.perf_counter() - start, dcm.stat().st_size / 2**20
        run = subprocess.run([sys.executable, "-c", CHILD, str(dcm), str(tmp / "model"), str(tmp / "out"),
                              args.video], capture_output=True, text=True)  # fmt: skip
        if run.returncode != 0:
            sys.exit(f"analyze failed:\n{run.stderr}")
        r = json.loads(run.stdout.strip().splitlines()[-1])
    decoded = args.size**2 * args.frames / 2**20
    print(f"loop {args.size}x{args.size} x {r['frames']} frames RLE ({decoded:.0f} MiB decoded, file "
          f"{file_mib:.0f} MiB, written in {written:.0f} s); "
          f"model {args.model} (random weights), video {args.video}")  # fmt: skip
    print(f"peak RSS of analyze: {r['peak_kib'] / 2**20:.2f} GiB "
          f"(floor after imports + model load {r['floor_kib'] / 2**20:.2f} GiB); analyze took {r['seconds']:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
