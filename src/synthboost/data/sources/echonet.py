"""Reader of EchoNet-Dynamic (Ouyang et al., Nature 2020) in its released layout.

::

    <root>/FileList.csv         FileName, EF, ESV, EDV, FrameHeight, FrameWidth, FPS, NumberOfFrames, Split
    <root>/VolumeTracings.csv   FileName, X1, Y1, X2, Y2, Frame   (one row per traced chord)
    <root>/Videos/<FileName>.avi

Each video is one apical four-chamber loop of one patient. ``VolumeTracings.csv`` traces the LV at
two frames: per frame, the first row is the long axis and the following rows are chords across the
cavity, from the (X1, Y1) wall to the (X2, Y2) wall. Masks and phases follow the official loader
(``echonet/datasets/echo.py`` of EchoNet-Dynamic's code): the cavity is the polygon through the
first ends of the chords, then the second ends in reverse order, its vertices rounded to whole
pixels (halves to even) and filled by ``skimage.draw.polygon`` with its edges inside. ED/ES by
:data:`ED_ES_RULES` (``prepare echonet --ed-es``): ``official`` (default) as the loader, the
last-listed traced frame of a video is the large (diastolic) one and the first-listed the small
one; ``area``: the traced frame with the larger mask is ED. Videos where the two rules disagree are
logged and listed in ``dataset.json`` (``extra.ed_es_disagree``). EF, EDV and ESV come from
``FileList.csv``; its ``Split`` (TRAIN / VAL / TEST) is kept. EchoNet gives no pixel spacing (videos are resampled to 112×112), no sex, age or image quality, and traces
only the LV: the processed dataset's ``labels`` is ``{"1": "lv"}``.

A video traced at more than two frames keeps its first- and last-listed ones, the two the official
loader uses (a warning names the others). A listed video whose tracings cannot give ED and ES — none,
at one frame only, or at a frame beyond its ``NumberOfFrames`` — is left out, with its reason, in the
log and in ``dataset.json`` (``extra.left_out``), as the official loader leaves them out; anything else that is
missing or inconsistent (a missing video, a tracing of an unlisted video, a non-number) is an error
naming the file. Implausible rows (EF outside [0, 100], ESV > EDV, a duplicate FileName, an absurd
NumberOfFrames, a tracing partly outside the frame) are warnings naming the file and line, logged and
kept in ``extra.warnings``; a tracing that gives no mask (outside the frame, absurd coordinates)
leaves its video out (:mod:`synthboost.data.sources.echonet_checks`).
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from synthboost.data.format import DatasetInfo, default_group, frame_name
from synthboost.data.imageio.budget import PREPARE_BUDGET
from synthboost.data.imageio.echo import read_echo
from synthboost.data.sources.echonet_checks import (
    frame_count,
    frame_size,
    outside_fraction,
    tracing_problem,
    value_warnings,
)
from synthboost.data.writer import Record, write_dataset
from synthboost.logs import get_logger

log = get_logger("data.sources.echonet")

FILELIST_COLUMNS = ("FileName", "EF", "ESV", "EDV", "Split")
TRACING_COLUMNS = ("FileName", "X1", "Y1", "X2", "Y2", "Frame")
SPLIT_WORDS = {"TRAIN": "train", "VAL": "val", "TEST": "test"}
VIEW = "4CH"
#: ED/ES rules: the official loader's row order (default) or the larger traced area.
ED_ES_RULES: tuple[str, ...] = ("official", "area")
RULE_TITLES = {
    "official": "official loader: last-listed traced frame is ED (large), first-listed ES",
    "area": "larger traced LV area is ED",
}


@dataclasses.dataclass(frozen=True)
class EchoNetVideo:
    """One row of ``FileList.csv`` with its LV tracings (``frame -> (n, 4) X1 Y1 X2 Y2``)."""

    name: str  # FileName without extension
    split: str
    ef: float
    esv: float
    edv: float
    video: Path
    tracings: dict[int, np.ndarray]  # in the order the frames are first listed in VolumeTracings.csv
    size: tuple[int, int] = (112, 112)  # FrameHeight, FrameWidth of FileList.csv


def _read_csv(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: not found (EchoNet-Dynamic root holds FileList.csv and VolumeTracings.csv)"
        )
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{path}: missing columns {missing}")
        return list(reader)


def _number(path: Path, line: int, row: dict[str, str], key: str) -> float:
    try:
        value = float(row[key])
    except (TypeError, ValueError):
        raise ValueError(f"{path}: line {line}: {key} {row[key]!r} is not a number") from None
    if not np.isfinite(value):
        raise ValueError(f"{path}: line {line}: {key} is not finite")
    return value


def read_tracings(path: Path) -> dict[str, dict[int, np.ndarray]]:
    """``{file stem: {frame: (n, 4) float array of X1, Y1, X2, Y2}}`` in file order."""
    rows: dict[str, dict[int, list[list[float]]]] = {}
    for line, row in enumerate(_read_csv(path, TRACING_COLUMNS), start=2):
        stem = Path(row["FileName"].strip()).stem
        frame = _number(path, line, row, "Frame")
        if not frame.is_integer() or frame < 0:
            raise ValueError(f"{path}: line {line}: Frame {row['Frame']!r} is not a frame index")
        coords = [_number(path, line, row, k) for k in ("X1", "Y1", "X2", "Y2")]
        rows.setdefault(stem, {}).setdefault(int(frame), []).append(coords)
    return {stem: {f: np.asarray(c, np.float64) for f, c in frames.items()} for stem, frames in rows.items()}


def _unusable(tracings: dict[int, np.ndarray] | None, count: int | None, size: tuple[int, int]) -> str | None:
    """Why a video's tracings cannot give ED and ES (None when they can)."""
    if not tracings:
        return "no tracings"
    if len(tracings) < 2:
        return f"tracings at 1 frame {sorted(tracings)} (ED and ES need 2)"
    beyond = [f for f in tracings if count is not None and f >= count]
    if beyond:
        return f"traced frame {beyond[0]} beyond NumberOfFrames {count}"
    problems = ((f, _tracing_unusable(c, size)) for f, c in tracings.items())
    return next((f"tracing at frame {f}: {p}" for f, p in problems if p is not None), None)


def first_and_last(tracings: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """The first- and last-listed traced frames of a video, in that order: those the official loader reads
    (``frames[0]`` the small, systolic one; ``frames[-1]`` the large, diastolic one)."""
    frames = list(tracings)
    return {frames[0]: tracings[frames[0]], frames[-1]: tracings[frames[-1]]}


def _tracing_unusable(chords: np.ndarray, size: tuple[int, int]) -> str | None:
    """Why one frame's tracing gives no mask on a frame of ``size`` (None when it gives one)."""
    if len(chords) < 3:
        return f"{len(chords)} rows (needs the long axis and at least 2 chords)"
    problem = tracing_problem(chords, size)
    if problem is None and not fill_polygon(tracing_polygon(chords), size).any():
        problem = f"the tracing covers no pixel of the {size[1]}×{size[0]} frame (empty mask)"
    return problem


def _tracing_warnings(path: Path, name: str, video: EchoNetVideo) -> list[str]:
    out = []
    for frame, chords in video.tracings.items():
        frac = outside_fraction(tracing_polygon(chords), video.size)
        if frac > 0:
            out.append(f"{path}: {name} frame {frame}: {100 * frac:.0f} % of the tracing's vertices "
                       f"lie outside the {video.size[1]}×{video.size[0]} frame (mask clipped)")  # fmt: skip
    return out


def list_videos(
    root: str | Path, warnings: list[str] | None = None
) -> tuple[list[EchoNetVideo], dict[str, str]]:
    """The usable videos of an EchoNet-Dynamic folder, and ``{name: reason}`` of the listed ones left out.

    Implausible rows are logged as warnings and appended to ``warnings`` when given.
    """
    found: list[str] = []
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: EchoNet-Dynamic folder not found")
    filelist = root / "FileList.csv"
    listing = _read_csv(filelist, FILELIST_COLUMNS)
    tracings = read_tracings(root / "VolumeTracings.csv")
    videos, left_out, first_line = [], {}, {}
    for line, row in enumerate(listing, start=2):
        name = Path((row["FileName"] or "").strip()).stem
        split = SPLIT_WORDS.get((row["Split"] or "").strip().upper())
        if not name or split is None:
            raise ValueError(
                f"{filelist}: line {line}: bad FileName {row['FileName']!r} or Split {row['Split']!r}"
            )
        if name in first_line:
            found.append(f"{filelist}: line {line}: duplicate FileName {name!r} (first on line "
                         f"{first_line[name]}); the first row is used")  # fmt: skip
            continue
        first_line[name] = line
        count, problem = frame_count(filelist, line, row)
        found += [problem] if problem else []
        traced = tracings.get(name)
        if traced and len(traced) > 2:
            traced = first_and_last(traced)
            found.append(f"{root / 'VolumeTracings.csv'}: {name}: tracings at {len(tracings[name])} frames "
                         f"{list(tracings[name])[:8]}: the first- and last-listed {list(traced)} are used, as "
                         "the official loader does")  # fmt: skip
        reason = _unusable(traced, count, frame_size(row))
        if reason is not None:
            left_out[name] = reason
            continue
        video = root / "Videos" / f"{name}.avi"
        if not video.is_file():
            raise FileNotFoundError(f"{video}: video listed in {filelist.name} not found")
        ef, esv, edv = (_number(filelist, line, row, k) for k in ("EF", "ESV", "EDV"))
        found += value_warnings(filelist, line, ef, esv, edv)
        videos.append(EchoNetVideo(name, split, ef, esv, edv, video, traced, frame_size(row)))
        found += _tracing_warnings(root / "VolumeTracings.csv", name, videos[-1])
    for message in found:
        log.warning("%s", message)
    if warnings is not None:
        warnings.extend(found)
    listed = {v.name for v in videos} | set(left_out)
    unknown = sorted(set(tracings) - listed)
    if unknown:
        raise ValueError(
            f"{root / 'VolumeTracings.csv'}: tracings of videos not in FileList.csv: {unknown[:3]}"
        )
    if not videos:
        raise ValueError(f"{root}: no usable traced videos ({len(left_out)} left out)")
    return videos, left_out


def tracing_polygon(chords: np.ndarray) -> np.ndarray:
    """``(m, 2)`` (x, y) vertices of the cavity: the first ends of the chords, then the second ends reversed."""
    if len(chords) < 3:
        raise ValueError(f"a tracing needs the long axis and at least 2 chords, got {len(chords)} rows")
    ends = chords[1:]
    return np.concatenate([ends[:, 0:2], ends[::-1, 2:4]])


def fill_polygon(vertices: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The official loader's mask: the (x, y) vertices rounded to whole pixels, the polygon filled edges included."""
    from skimage.draw import polygon

    mask = np.zeros(shape, bool)
    v = np.rint(np.asarray(vertices, np.float64)).astype(np.int64)
    rr, cc = polygon(v[:, 1], v[:, 0], shape)
    mask[rr, cc] = True
    return mask


def ed_es_masks(
    video: EchoNetVideo, shape: tuple[int, int], rule: str = "official"
) -> dict[str, tuple[int, np.ndarray]]:
    """``{"ED": (frame, mask), "ES": (frame, mask)}`` by ``rule`` (:data:`ED_ES_RULES`, module docstring)."""
    if rule not in ED_ES_RULES:
        raise ValueError(f"ED/ES rule {rule!r}: choose one of {', '.join(ED_ES_RULES)}")
    if len(video.tracings) != 2:
        raise ValueError(f"{video.video}: expected tracings at 2 frames, got {sorted(video.tracings)}")
    masks = {f: fill_polygon(tracing_polygon(c), shape) for f, c in video.tracings.items()}
    if rule == "official":
        (f_es, m_es), (f_ed, m_ed) = masks.items()  # listed order: small (systolic) first, large last
        return {"ED": (f_ed, m_ed), "ES": (f_es, m_es)}
    (f_big, m_big), (f_small, m_small) = sorted(masks.items(), key=lambda kv: -int(kv[1].sum()))
    if m_big.sum() == m_small.sum():
        raise ValueError(f"{video.video}: both traced frames have the same LV area; ED and ES are ambiguous")
    return {"ED": (f_big, m_big), "ES": (f_small, m_small)}


def rules_disagree(video: EchoNetVideo, shape: tuple[int, int]) -> bool:
    """Whether the official (row-order) ED frame is not the one with the larger traced area."""
    first, last = (int(fill_polygon(tracing_polygon(c), shape).sum()) for c in video.tracings.values())
    return last < first


def echonet_records(videos: Iterable[EchoNetVideo], rule: str = "official") -> Iterator:
    """Read each video and yield its ED and ES records (image, LV label map, meta row)."""

    for v in videos:
        loop = read_echo(v.video, PREPARE_BUDGET)
        shape = loop.frames.shape[1:]
        for phase, (frame, mask) in ed_es_masks(v, shape, rule).items():
            if frame >= loop.n_frames:
                raise ValueError(f"{v.video}: traced frame {frame} but the video has {loop.n_frames} frames")
            meta = {
                "name": frame_name(v.name, VIEW, phase),
                "group": default_group(v.split),
                "split": v.split,
                "patient": v.name,
                "view": VIEW,
                "phase": phase,
                "domain": "real",
                "orig_height": shape[0],
                "orig_width": shape[1],
                "lv_edv": v.edv,
                "lv_esv": v.esv,
                "lv_ef": v.ef,
                "frame": frame,
                "phase_position": 0.0 if phase == "ED" else 1.0,
            }
            yield Record(meta, loop.frames[frame], mask.astype(np.uint8))


def prepare_echonet(
    root: str | Path,
    out: str | Path,
    image_size: int = 112,
    overwrite: bool = False,
    finalize: Callable[[Path], Any] | None = None,
    ed_es: str = "official",
) -> Path:
    """Turn an EchoNet-Dynamic folder into a processed dataset (ED and ES frames, LV masks).

    Args:
        root: the release folder (``FileList.csv``, ``VolumeTracings.csv``, ``Videos/``).
        out: processed dataset folder to create.
        image_size: side of the square processed images (the videos are 112×112).
        overwrite: replace an existing ``out``.
        finalize: see :func:`synthboost.data.writer.write_dataset`.
        ed_es: ED/ES rule, ``official`` (row order, the loader's) or ``area`` (:data:`ED_ES_RULES`).
    """

    if ed_es not in ED_ES_RULES:
        raise ValueError(f"--ed-es {ed_es!r}: choose one of {', '.join(ED_ES_RULES)}")
    root = Path(root)
    warnings: list[str] = []
    videos, left_out = list_videos(root, warnings)
    disagree = [v.name for v in videos if rules_disagree(v, v.size)]
    if disagree:
        log.warning("%s: in %d videos the last-listed traced frame (official ED) has the smaller LV area: %s",
                    root, len(disagree), ", ".join(disagree[:10]))  # fmt: skip
    if left_out:
        shown = "; ".join(f"{k}: {v}" for k, v in list(left_out.items())[:5])
        log.warning("%s: %d listed videos left out (%s)", root, len(left_out), shown)
    info = DatasetInfo(
        name=Path(out).name,
        source="echonet",
        image_size=image_size,
        labels={"1": "lv"},
        extra={
            "raw": str(root.resolve()),
            "left_out": left_out,
            "ed_es_rule": RULE_TITLES[ed_es],
            "ed_es_disagree": disagree,
            "warnings": warnings,
        },  # fmt: skip
    )
    log.info("%s: EchoNet-Dynamic, %d traced videos", root, len(videos))
    return write_dataset(
        out, info, echonet_records(videos, ed_es), n=2 * len(videos), overwrite=overwrite, inputs=[root],
        finalize=finalize,
    )  # fmt: skip
