"""One loop from frames to indices: segment every frame, measure, find ED/ES, summarise.

:func:`segment_loop` turns a loop's frames into label maps (the imaging region cropped, every
frame through the model, probabilities smoothed over time, conflicts and islands resolved, the
result mapped back into the original frames). :func:`measure_labels` does the rest on any
label loop — the model's, or the ground truth's to check the method alone.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np

from synthboost.cine.labels import DEFAULT_MIN_FRACTION, DEFAULT_SIGMA, remove_islands, smooth_probabilities
from synthboost.cine.measures import cycle_indices, mean_indices, measure_loop
from synthboost.cine.phases import Phases, curve_filter_sigma, find_phases, heart_rate
from synthboost.cine.segment import loop_probabilities
from synthboost.clinical.simpson import N_DISCS
from synthboost.data.imageio.medical import bilinear_resize
from synthboost.evaluation.segmenter import label_map

UNCALIBRATED_MESSAGE = (
    "uncalibrated input (no pixel size in the file): areas are in pixels; EF and GLS come from volumes and "
    "lengths in pixel units (pixel aspect {aspect:.4g}); EDV, ESV and LA volume in mL are omitted"
)
UNKNOWN_ASPECT_MESSAGE = (
    "uncalibrated input with an unknown pixel aspect ratio ({why}): areas are in pixels; EF, GLS and volumes "
    "are withheld (a volume ratio needs the pixels' shape)"
)


@dataclasses.dataclass(frozen=True)
class SegmentOptions:
    """How the frames become label maps and ED/ES are found (defaults: :mod:`synthboost.cine.labels`, :mod:`~synthboost.cine.phases`)."""

    smooth_sigma: float = (
        DEFAULT_SIGMA  # temporal Gaussian σ in frames over the probabilities; 0 turns it off
    )
    curve_sigma: float | None = (
        None  # Gaussian σ (frames) over the LV curve to locate ED/ES; None: find_phases' default
    )
    min_island: float = DEFAULT_MIN_FRACTION
    phase_prompt: str = "both"
    batch_size: int = 8
    shared: bool = True
    threshold: float | None = None  # default: the run's


@dataclasses.dataclass
class LoopAnalysis:
    """Everything :func:`measure_labels` found in one loop (``summary`` is what ``summary.json`` holds)."""

    loop: Any  # the EchoLoop read
    view: str
    labels: np.ndarray  # (T, H, W) uint8 in the input's frames
    measures: dict[str, np.ndarray]
    phases: Phases
    summary: dict[str, Any]
    qc: list[dict[str, Any]] | None = None  # per frame: qc_score, qc_fail, qc_reasons (synthboost.cine.qc)

    @property
    def stem(self) -> str:
        """The input's file name without its suffix (the output sub-folder's name)."""
        return loop_stem(Path(self.loop.source))


def loop_stem(path: Path) -> str:
    """``patient0001_2CH_half_sequence`` for ``…/patient0001_2CH_half_sequence.nii.gz``."""
    name = path.name
    return name[: -len(".nii.gz")] if name.lower().endswith(".nii.gz") else path.stem


#: Frames whose imaging-region crops are made at once on the way to the model (bounds the copies).
CHUNK_FRAMES = 32


def loop_probability_maps(
    loop: Any, segmenter: Any, prompt_sets: list[list[str]], options: SegmentOptions
) -> np.ndarray:
    """Unsmoothed structure probabilities ``(T, K, S, S)`` of every frame's imaging-region crop.

    The masked crops are made :data:`CHUNK_FRAMES` frames at a time: only the model-size probabilities
    of the whole loop are held, never a second full-size copy of its frames.
    """

    region, frames = loop.region, loop.frames
    step, out = max(CHUNK_FRAMES, options.batch_size), None
    for start in range(0, len(frames), step):
        crops = region.crop(region.apply(frames[start : start + step]))
        probs = loop_probabilities(segmenter, crops, prompt_sets, options.batch_size, options.shared)
        if out is None:
            out = np.empty((len(frames), *probs.shape[1:]), np.float32)
        out[start : start + len(probs)] = probs
    return out


def labels_from_probabilities(
    loop: Any, probs: np.ndarray, threshold: float, options: SegmentOptions, inplace: bool = False
) -> np.ndarray:
    """Label maps ``(T, H, W)`` uint8 in the loop's frames from :func:`loop_probability_maps`' output.

    Probabilities are smoothed over time, resized to the crop, labelled by the highest one above
    ``threshold`` and cleaned of small islands (:mod:`synthboost.cine.labels`), one frame at a time
    into the one output array (0 outside the imaging region). ``inplace``: smooth ``probs`` in place
    (the caller no longer needs them).
    """

    region = loop.region
    r0, c0, r1, c1 = region.bbox
    inside = region.mask[r0:r1, c0:c1]
    probs = smooth_probabilities(probs, options.smooth_sigma, inplace=inplace)
    out = np.zeros((len(probs), *region.shape), np.uint8)
    for t, frame in enumerate(probs):
        labels = label_map(np.stack([bilinear_resize(p, (r1 - r0, c1 - c0)) for p in frame]), threshold)
        out[t, r0:r1, c0:c1] = np.where(inside, remove_islands(labels, options.min_island), 0)
    return out


def segment_loop(
    loop: Any, segmenter: Any, prompt_sets: list[list[str]], options: SegmentOptions
) -> np.ndarray:
    """Label maps ``(T, H, W)`` uint8 of every frame of ``loop``, in the loop's own frame geometry."""
    probs = loop_probability_maps(loop, segmenter, prompt_sets, options)
    threshold = segmenter.threshold if options.threshold is None else options.threshold
    return labels_from_probabilities(loop, probs, threshold, options, inplace=True)


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def is_half_sequence(path: Path) -> bool:
    """A CAMUS-style ED→ES half-sequence, by its file name (``…_half_sequence.<ext>``)."""
    return loop_stem(Path(path)).lower().endswith("_half_sequence")


def _phases(curve: np.ndarray, half_cycle: bool, sigma: float | None) -> tuple[Phases, str | None]:
    """ED/ES of the curve, or no phase and the reason (a loop without a usable LV curve)."""
    try:
        return find_phases(curve, half_cycle=half_cycle, sigma=sigma), None
    except ValueError as err:
        return Phases((), (), ()), f"no ED/ES found: {err}"


def _fac(lv_area: np.ndarray, cycles: tuple[tuple[int, int], ...]) -> float | None:
    """Fractional area change (%) of the LV, mean over cycles (dimensionless: fine uncalibrated)."""
    values = [100.0 * (lv_area[ed] - lv_area[es]) / lv_area[ed] for ed, es in cycles if lv_area[ed] > 0]
    return _finite(float(np.mean(values))) if values else None


def _pixel_unit_measures(labels: np.ndarray, aspect: float) -> dict[str, np.ndarray]:
    """:func:`measure_loop` of an uncalibrated loop of known pixel aspect: areas in pixels, and volumes
    and border lengths in pixel units (a column pixel = 1) under ``lv_volume_px`` / ``lv_border_px``
    (the mL and mm entries stay NaN)."""
    m = measure_loop(labels, (aspect, 1.0))
    plain = measure_loop(labels, None)
    return {**plain, "lv_volume_px": m["lv_volume"], "lv_border_px": m["lv_border"]}


def _uncalibrated_note(loop: Any) -> str:
    aspect = loop.calibration.aspect
    if aspect is not None:
        return UNCALIBRATED_MESSAGE.format(aspect=aspect)
    return UNKNOWN_ASPECT_MESSAGE.format(
        why="; ".join(loop.calibration.warnings) or "the file does not say it"
    )


def _ratio_indices(m: dict[str, np.ndarray], cycles: tuple[tuple[int, int], ...]) -> list[dict[str, Any]]:
    """Per-cycle EF and GLS of pixel-unit volumes and lengths; the mL volumes are left out (None)."""
    pixel = {**m, "lv_volume": m["lv_volume_px"], "lv_border": m["lv_border_px"]}
    return [{**c, "edv_ml": None, "esv_ml": None} for c in cycle_indices(pixel, cycles)]


def measure_labels(
    loop: Any,
    labels: np.ndarray,
    view: str,
    info: dict[str, Any] | None = None,
    curve_sigma: float | None = None,
) -> LoopAnalysis:
    """Per-frame areas and volumes, ED/ES, cycles, EF, LA max and heart rate of a loop of label maps.

    A loop named ``…_half_sequence`` is one ED→ES half-cycle (ED = maximum, ES = minimum of the curve,
    :func:`~synthboost.cine.phases.find_phases`); others are split into cycles by the curve's turning
    points. The phases are located on the curve smoothed with ``curve_sigma``; volumes are read
    unsmoothed. A loop whose LV curve gives no ED/ES (no LV found, or a flat curve) is kept with empty
    phases, no indices and the reason in ``summary["message"]``.

    Args:
        loop: the loop (``spacing_mm``, ``frame_times_s``, ``calibration``, ``source``).
        labels: its ``(T, H, W)`` label maps.
        view: ``2CH`` or ``4CH``.
        info: extra keys for the summary (model, prompts, smoothing, …).
        curve_sigma: Gaussian σ (frames) of the curve filter that locates ED/ES (0: the raw curve; ``None``:
            :func:`~synthboost.cine.phases.find_phases`' default, 3 for a half-sequence, 0 otherwise).

    Raises:
        ValueError: fewer than 2 frames.
    """
    labels = np.asarray(labels, dtype=np.uint8)
    if labels.shape[0] < 2:
        raise ValueError(
            f"{loop.source}: a loop needs at least 2 frames to find ED and ES, got {labels.shape[0]}"
        )
    spacing, aspect = loop.spacing_mm, loop.calibration.aspect
    pixel_units = spacing is None and aspect is not None
    m = _pixel_unit_measures(labels, aspect) if pixel_units else measure_loop(labels, spacing)
    volume = m["lv_volume_px"] if pixel_units else m["lv_volume"]
    by_volume = (spacing is not None or pixel_units) and bool(np.isfinite(volume).any())
    half = is_half_sequence(Path(loop.source))
    phases, problem = _phases(volume if by_volume else m["lv_area"], half, curve_sigma)
    if spacing is not None:
        cycles = cycle_indices(m, phases.cycles)
    else:
        cycles = _ratio_indices(m, phases.cycles) if pixel_units else []
    means = mean_indices([{k: math.nan if v is None else v for k, v in c.items()} for c in cycles])
    notes = [n for n in (problem, None if spacing is not None else _uncalibrated_note(loop)) if n]
    summary = {
        "source": str(loop.source),
        "view": view,
        "n_frames": int(labels.shape[0]),
        "calibration": loop.calibration.as_dict(),
        "calibrated": spacing is not None,
        "spacing_mm": list(spacing) if spacing is not None else None,
        "sector": {
            "source": loop.region.source,
            "bbox": list(loop.region.bbox),
            "pixels": int(loop.region.mask.sum()),
            "mask_file": "sector.png",
        },  # fmt: skip
        "frame_rate_hz": _finite(loop.frame_rate) if loop.frame_times_s is not None else None,
        "curve": ("lv_volume" if spacing is not None else "lv_volume_px") if by_volume else "lv_area",
        "half_cycle": half,
        "curve_smoothing_sigma_frames": curve_filter_sigma(half, curve_sigma),
        "method": f"single-plane method of discs ({N_DISCS} discs); LA: single-plane area-length",
        "ed_frames": list(phases.ed),
        "es_frames": list(phases.es),
        "cycles": [{k: _finite(v) if isinstance(v, float) else v for k, v in c.items()} for c in cycles]
        or [{"ed_frame": ed, "es_frame": es} for ed, es in phases.cycles],
        "frames_used": sorted({f for c in phases.cycles for f in c}),
        **{k: _finite(v) for k, v in means.items()},
        "fac_percent": _fac(m["lv_area"], phases.cycles),
        "la_max_ml": _finite(float(np.nanmax(m["la_volume"]))) if np.isfinite(m["la_volume"]).any() else None,
        "heart_rate_bpm": _finite(heart_rate(phases, loop.frame_times_s)),
        "area_unit": "mm2" if spacing is not None else "px",
        "message": "; ".join(notes) or None,
        **(info or {}),
    }
    return LoopAnalysis(loop, view, labels, m, phases, summary)
