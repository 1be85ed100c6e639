"""Files of one analysed loop (layout and keys in docs/formats.md, "Cine analysis").

``<out>/<stem>/`` holds ``labels.nii.gz`` (the label maps as one sequence in the input's frame
geometry), ``frames.csv``, ``summary.json``, ``volume.png`` (the LV curve with ED/ES marked) and
``sector.png`` (the imaging sector the model saw, 255 inside) and ``overlay.mp4`` (or ``.gif``): the
frames with the LV, myocardium and LA contours and the sector's outline.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from synthboost.data.imageio.medical import write_medical, write_png
from synthboost.logs import get_logger
from synthboost.utils.environment import ENVIRONMENT_KEY, environment_versions
from synthboost.utils.files import atomic_path, write_json_atomic

log = get_logger("cine.outputs")

#: Overlay colours of LV, myocardium and LA (RGB).
COLORS: dict[int, tuple[int, int, int]] = {1: (255, 64, 32), 2: (64, 220, 64), 3: (64, 128, 255)}
#: Colour of the imaging sector's outline on the overlay video (RGB).
SECTOR_COLOR = (255, 220, 0)
VIDEO_FORMATS = ("mp4", "gif", "none")
FRAME_COLUMNS = (
    "frame",
    "time_s",
    "lv_area",
    "myo_area",
    "la_area",
    "lv_volume_ml",
    "la_volume_ml",
    "lv_border_mm",
    "is_ED",
    "is_ES",
    "qc_score",
    "qc_fail",
    "qc_reasons",
)


def frame_rows(analysis: Any) -> list[dict[str, Any]]:
    """One ``frames.csv`` row per frame (areas in the unit of ``summary["area_unit"]``)."""
    m, times = analysis.measures, analysis.loop.frame_times_s
    ed, es = set(analysis.phases.ed), set(analysis.phases.es)
    rows = []
    for t in range(analysis.labels.shape[0]):
        rows.append({
            "frame": t, "time_s": float(times[t]) if times is not None else math.nan,
            "lv_area": m["lv_area"][t], "myo_area": m["myo_area"][t], "la_area": m["la_area"][t],
            "lv_volume_ml": m["lv_volume"][t], "la_volume_ml": m["la_volume"][t], "lv_border_mm": m["lv_border"][t],
            "is_ED": int(t in ed), "is_ES": int(t in es),
            **(_qc_cells(analysis.qc[t]) if analysis.qc is not None else {"qc_score": math.nan, "qc_fail": "",
                                                                           "qc_reasons": "QC off"}),
        })  # fmt: skip
    return rows


def _qc_cells(frame: dict[str, Any]) -> dict[str, Any]:
    return {
        "qc_score": float(frame["qc_score"]),
        "qc_fail": int(frame["qc_fail"]),
        "qc_reasons": frame["qc_reasons"],
    }


def write_frames_csv(path: Path, analysis: Any) -> None:
    """``frames.csv`` (NaN written as an empty cell)."""
    import csv

    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=FRAME_COLUMNS)
        writer.writeheader()
        for row in frame_rows(analysis):
            writer.writerow({k: "" if isinstance(v, float) and math.isnan(v) else
                             (f"{v:.4f}" if isinstance(v, float) else v) for k, v in row.items()})  # fmt: skip


def sector_outline(sector: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool: the one-pixel inner border of a sector mask (and of the frame where it touches it)."""
    from scipy import ndimage

    return sector & ~ndimage.binary_erosion(sector, border_value=0)


def overlay_frame(frame: np.ndarray, labels: np.ndarray, outline: np.ndarray | None = None) -> np.ndarray:
    """(H, W, 3) uint8: one gray frame with each structure lightly tinted and its contour drawn, and the
    imaging sector's outline (``outline``, ``(H, W)`` bool from :func:`sector_outline`) in
    :data:`SECTOR_COLOR` when given."""
    from scipy import ndimage

    rgb = np.repeat(np.asarray(frame, np.float32)[..., None], 3, axis=-1)
    if outline is not None:
        rgb[outline] = np.asarray(SECTOR_COLOR, np.float32)
    width = max(1, round(max(labels.shape) / 300))
    for value, color in COLORS.items():
        mask = labels == value
        tint = np.asarray(color, np.float32)
        rgb[mask] = 0.8 * rgb[mask] + 0.2 * tint
        eroded = ndimage.binary_erosion(mask, structure=np.ones((3, 3), bool), iterations=width)
        rgb[mask & ~eroded] = tint
    return rgb.astype(np.uint8)


def iter_overlay(
    frames: np.ndarray, labels: np.ndarray, sector: np.ndarray | None = None
) -> Iterator[np.ndarray]:
    """:func:`overlay_frame` of each frame, one at a time (what :func:`write_video` streams), with the
    outline of ``sector`` (``(H, W)`` bool) when given."""
    outline = None if sector is None else sector_outline(np.asarray(sector, bool))
    for frame, lab in zip(frames, labels, strict=True):
        yield overlay_frame(frame, lab, outline)


def overlay_frames(frames: np.ndarray, labels: np.ndarray, sector: np.ndarray | None = None) -> np.ndarray:
    """(T, H, W, 3) uint8: :func:`overlay_frame` of every frame (a small loop; stream a large one)."""
    return np.stack(list(iter_overlay(frames, labels, sector)))


def write_video(path: Path, rgb: Iterable[np.ndarray], fps: float) -> None:
    """Write (H, W, 3) uint8 frames (an array or any iterable, consumed one at a time) as H.264 MP4
    (yuv420p, even size) or GIF, by ``path``'s suffix, via PyAV.

    Raises:
        ValueError: another suffix, no frame, or frames under 2×2 pixels.
    """
    import av

    fmt = path.suffix.lstrip(".").lower()
    if fmt not in ("mp4", "gif"):
        raise ValueError(f"{path}: overlay video must be .mp4 or .gif")
    frames = iter(rgb)
    first = next(frames, None)
    if first is None or first.shape[0] < 2 or first.shape[1] < 2:
        raise ValueError(f"{path}: an overlay video needs frames of at least 2x2 pixels")
    h, w = first.shape[0] // 2 * 2, first.shape[1] // 2 * 2
    rate = max(1, round(fps))
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format=fmt) as container:
            # zerolatency: no look-ahead queue of frames inside x264 (40 frames of a 2048² loop: 250 MB)
            options = {"tune": "zerolatency"} if fmt == "mp4" else {}
            stream = container.add_stream("libx264" if fmt == "mp4" else "gif", rate=rate, options=options)
            stream.width, stream.height = w, h
            stream.pix_fmt = "yuv420p" if fmt == "mp4" else "rgb8"
            for frame in itertools.chain([first], frames):
                picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[:h, :w]), format="rgb24")
                for packet in stream.encode(picture):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)


def plot_curve(path: Path, analysis: Any) -> None:
    """PNG of the LV volume (or area) over time with ED (▲) and ES (▼) marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s, m = analysis.summary, analysis.measures
    volume = s["curve"] in ("lv_volume", "lv_volume_px")
    y = m[s["curve"]] if volume else m["lv_area"]
    times = analysis.loop.frame_times_s
    x = np.asarray(times) if times is not None else np.arange(len(y))
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(x, y, "-o", ms=3, color="0.3")
    for frames, marker, color, name in (
        (analysis.phases.ed, "^", "tab:red", "ED"),
        (analysis.phases.es, "v", "tab:blue", "ES"),
    ):
        ax.plot(x[list(frames)], y[list(frames)], marker, color=color, ms=9, ls="none", label=name)
    ax.set_xlabel("time (s)" if times is not None else "frame")
    unit = "mL" if s["curve"] == "lv_volume" else "pixel units, uncalibrated"
    ax.set_ylabel(f"LV volume ({unit})" if volume else f"LV area ({s['area_unit']})")
    ef = f", EF {s['ef_percent']:.1f} %" if s.get("ef_percent") is not None else ""
    ax.set_title(f"{analysis.stem} ({s['view']}{ef})", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def write_loop(analysis: Any, folder: str | Path, video: str = "mp4") -> dict[str, Path]:
    """Write every output of one loop into ``folder``; return the paths by name."""
    if video not in VIDEO_FORMATS:
        raise ValueError(f"video must be one of {VIDEO_FORMATS}, got {video!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"labels": folder / "labels.nii.gz", "frames": folder / "frames.csv",
             "summary": folder / "summary.json", "plot": folder / "volume.png", "sector": folder / "sector.png"}  # fmt: skip
    write_medical(paths["labels"], analysis.labels, analysis.loop.spacing_mm or (1.0, 1.0))
    write_png(paths["sector"], np.where(analysis.loop.region.mask, 255, 0).astype(np.uint8))
    write_frames_csv(paths["frames"], analysis)
    plot_curve(paths["plot"], analysis)
    if video != "none":
        paths["video"] = folder / f"overlay.{video}"
        fps = analysis.summary.get("frame_rate_hz") or 10.0
        rgb = iter_overlay(analysis.loop.frames, analysis.labels, analysis.loop.region.mask)
        write_video(paths["video"], rgb, fps)
    files = {k: p.name for k, p in paths.items()}
    environment = environment_versions(analysis.summary.get("device"))
    write_json_atomic(paths["summary"], {**analysis.summary, "files": files, ENVIRONMENT_KEY: environment})
    return paths
