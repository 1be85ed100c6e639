"""NaN and infinity in NIfTI files, counted from the file itself.

SimpleITK's NIfTI reader turns NaN pixels into 0 without a word (measured with SimpleITK 2.5: an
all-NaN float32 frame reads as all zeros), so a NIfTI frame that is all NaN, or holds one NaN pixel,
would be prepared as a black frame or with a silent hole. The MetaImage path refuses them; this
module reads the NIfTI-1/-2 header and streams the voxel data in blocks (bounded memory) to count the
non-finite values of float and complex data, so NIfTI files are refused the same way.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path
from typing import IO

import numpy as np

#: NIfTI datatype code → numpy dtype of the float and complex types (integers cannot hold NaN).
FLOAT_CODES = {16: "f4", 64: "f8", 32: "c8", 1792: "c16"}
BLOCK_BYTES = 8 * 2**20


def _open(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else path.open("rb")


def _header(fh: IO[bytes], path: Path) -> tuple[str, int, int, int]:
    """``(byte order, datatype, voxel count, vox_offset)`` of a NIfTI-1 or NIfTI-2 header."""
    head = fh.read(540)
    for order in ("<", ">"):
        if len(head) >= 348 and struct.unpack(order + "i", head[:4])[0] == 348:
            dims = struct.unpack(order + "8h", head[40:56])
            datatype = struct.unpack(order + "h", head[70:72])[0]
            offset = max(int(struct.unpack(order + "f", head[108:112])[0]), 352)
            break
        if len(head) >= 540 and struct.unpack(order + "i", head[:4])[0] == 540:
            datatype = struct.unpack(order + "h", head[12:14])[0]
            dims = struct.unpack(order + "8q", head[16:80])
            offset = max(struct.unpack(order + "q", head[168:176])[0], 544)
            break
    else:
        raise ValueError(f"{path}: not a NIfTI-1 or NIfTI-2 header (sizeof_hdr is neither 348 nor 540)")
    ndim = dims[0]
    if not 1 <= ndim <= 7 or any(d < 0 for d in dims[1 : ndim + 1]):
        raise ValueError(f"{path}: NIfTI dim {list(dims)} is not a valid size")
    return order, datatype, math.prod(dims[1 : ndim + 1]), offset


def nifti_nonfinite(path: str | Path) -> int:
    """How many values of a NIfTI file's float or complex voxel data are NaN or infinite (0 for integer
    data); ``ValueError`` naming the file when the header or the data cannot be read."""
    path = Path(path)
    try:
        with _open(path) as fh:
            order, datatype, count, offset = _header(fh, path)
            if datatype not in FLOAT_CODES:
                return 0
            dtype = np.dtype(order + FLOAT_CODES[datatype])
            fh.seek(offset)
            bad, left = 0, count
            per_block = max(1, BLOCK_BYTES // dtype.itemsize)
            while left > 0:
                data = fh.read(min(left, per_block) * dtype.itemsize)
                if not data:
                    break
                values = np.frombuffer(data[: len(data) // dtype.itemsize * dtype.itemsize], dtype)
                bad += int(values.size - np.count_nonzero(np.isfinite(values)))
                left -= values.size
    except (OSError, EOFError, struct.error, zlib.error) as err:
        raise ValueError(f"{path}: cannot read the NIfTI data ({err})") from err
    return bad
