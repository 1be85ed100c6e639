"""Echo videos (AVI, MP4, ...) through PyAV: grayscale frames and the container's frame times.

EchoNet-Dynamic ships its loops as AVI files (112×112, MJPEG/XVID); scanner exports are often MP4,
and DICOM's MPEG-2 / MPEG-4 AVC / HEVC transfer syntaxes hold such a stream (:func:`decode_video`).
Frames are converted to 8-bit grayscale by FFmpeg's ``gray`` conversion (luma). Frame times are
the presentation times of the decoded frames relative to the first, or ``index / average rate``
when the stream gives no timestamps. A stream that decodes to fewer frames than its header says (a
corrupt frame FFmpeg skipped) is an error naming both counts: frame numbers would shift silently.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np


def read_video(
    path: Path, guard: Callable[[int], None] | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(frames (T, H, W) uint8, frame times (T,) s or None)`` of the first video stream of ``path``.

    Args:
        path: the video file.
        guard: called with the number of frames decoded so far after each frame; raises to stop
            (:func:`synthboost.data.imageio.budget.frame_guard`).

    Raises:
        ValueError: the container cannot be opened or decoded, has no video stream, no frames, or fewer
            frames than its header says.
    """
    return decode_video(str(path), path, guard)


def decode_video(
    source: str | BinaryIO, path: Path, guard: Callable[[int], None] | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`read_video` of a file name or a file-like object (its format probed); errors name ``path``."""
    import av

    try:
        container = av.open(source)
    except Exception as err:  # noqa: BLE001 - FFmpeg/PyAV raise many types for a broken container
        raise ValueError(f"{path}: not a readable video ({err})") from None
    with container:
        if not container.streams.video:
            raise ValueError(f"{path}: the file holds no video stream")
        stream = container.streams.video[0]
        frames, pts = [], []
        decoded = container.decode(stream)
        while True:
            try:
                frame = next(decoded, None)
                if frame is None:
                    break
                frames.append(frame.to_ndarray(format="gray"))
            except Exception as err:  # noqa: BLE001 - FFmpeg/PyAV raise many types for broken data
                raise ValueError(f"{path}: video data broken after {len(frames)} frames ({err})") from None
            pts.append(frame.time)
            if guard is not None:
                guard(len(frames))  # raises when over the frame or time budget
        rate, expected = stream.average_rate, stream.frames
    if not frames:
        raise ValueError(f"{path}: the video holds no frames")
    if expected and len(frames) < expected:
        raise ValueError(
            f"{path}: the video header says {expected} frames but only {len(frames)} could be decoded "
            f"({expected - len(frames)} corrupt or missing)"
        )
    if all(t is not None for t in pts):
        times = np.asarray(pts, np.float64) - float(pts[0])
    elif rate:
        times = np.arange(len(frames)) / float(rate)
    else:
        times = None
    return np.stack(frames).astype(np.uint8, copy=False), times
