"""Echo videos (AVI, MP4, ...) through PyAV: grayscale frames and the container's frame times.

EchoNet-Dynamic ships its loops as AVI files (112×112, MJPEG/XVID); scanner exports are often MP4,
and DICOM's MPEG-2 / MPEG-4 AVC / HEVC transfer syntaxes hold such a stream (:func:`decode_video`).
Frames are converted to 8-bit grayscale by FFmpeg's ``gray`` conversion (luma). Frame times are
the presentation times of the decoded frames relative to the first, or ``index / average rate``
when the stream gives no timestamps.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np


def read_video(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """``(frames (T, H, W) uint8, frame times (T,) s or None)`` of the first video stream of ``path``.

    Raises:
        ValueError: the container cannot be opened or decoded, has no video stream, or no frames.
    """
    return decode_video(str(path), path)


def decode_video(source: str | BinaryIO, path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`read_video` of a file name or a file-like object (its format probed); errors name ``path``."""
    import av

    try:
        container = av.open(source)
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a readable video ({err})") from err
    with container:
        if not container.streams.video:
            raise ValueError(f"{path}: the file holds no video stream")
        stream = container.streams.video[0]
        frames, pts = [], []
        try:
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="gray"))
                pts.append(frame.time)
        except av.error.FFmpegError as err:
            raise ValueError(f"{path}: video data broken after {len(frames)} frames ({err})") from err
        rate = stream.average_rate
    if not frames:
        raise ValueError(f"{path}: the video holds no frames")
    if all(t is not None for t in pts):
        times = np.asarray(pts, np.float64) - float(pts[0])
    elif rate:
        times = np.arange(len(frames)) / float(rate)
    else:
        times = None
    return np.stack(frames).astype(np.uint8, copy=False), times
