"""Quality control of a loop: per-frame QC and a loop verdict (``ok`` / ``review`` / ``unreliable``).

The loop is segmented as :func:`~synthboost.cine.loop.segment_loop` does, with one more prompt set
decoded from the same image encodings: the second phrasing of the loop's prompts. Per frame and
structure the signals are the prompt disagreement between the primary answer and that phrasing, the
fragmentation, the shape violations (against the run's learned ranges) of the frame's label map and
the image evidence at the model's input size, scored by the run's ``loop`` rule (``qc.json``); on top, the temporal
checks of :func:`synthboost.evaluation.qc.temporal_outliers` on the final label maps. A frame fails when
its LV (the structure EF is measured on) scores below the rule's threshold or is a temporal outlier.

Verdict (constants below, not fitted): ``unreliable`` when no ED/ES was found or more than
:data:`UNRELIABLE_FRACTION` of the frames failed; ``review`` when an ED or ES frame failed, more than
:data:`REVIEW_FRACTION` of the frames failed, the LV curve swings less than :data:`PLATEAU_SWING`
of its maximum (ED/ES on a flat plateau), or the model's EF failed its validation check
(``qc.json``'s ``ef_check``, :mod:`synthboost.clinical.ef_check`); else ``ok``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from synthboost.cine.loop import LoopAnalysis, SegmentOptions, labels_from_probabilities
from synthboost.cine.segment import loop_prompts
from synthboost.data.format import LABELS
from synthboost.evaluation import qc
from synthboost.evaluation.qc_fit import NO_RULE_MESSAGE, QCModel
from synthboost.evaluation.qc_pass import evidence_signals, on_grid, structure_prior
from synthboost.evaluation.segmenter import label_map

REVIEW_FRACTION = 0.1
UNRELIABLE_FRACTION = 0.3
PLATEAU_SWING = 0.1
VERDICTS = ("ok", "review", "unreliable")
#: The structures a frame is judged on: the LV, which EF is measured on (the others' signals are not computed).
JUDGED: tuple[str, ...] = ("lv",)


def qc_loop_probabilities(
    crops: np.ndarray,
    segmenter: Any,
    prompt_sets: list[list[str]],
    extra_sets: list[list[str]],
    options: SegmentOptions,
) -> tuple[np.ndarray, np.ndarray]:
    """``(primary (T, 3, S, S), extra (T, E, 3, S, S))`` of a loop's cropped frames ``crops``: the mean over
    ``prompt_sets`` and every extra set, from one image encoding per batch of frames."""
    sets = [*prompt_sets, *extra_sets]
    flat = [p for group in sets for p in group]
    probs = segmenter.frame_probabilities(np.asarray(crops), flat, options.batch_size, options.shared)
    probs = probs.reshape(len(probs), len(sets), len(LABELS), *probs.shape[-2:])
    return probs[:, : len(prompt_sets)].mean(axis=1), probs[:, len(prompt_sets) :]


def frame_signals(
    primary: np.ndarray,
    extra: np.ndarray,
    threshold: float,
    ranges: dict[str, list[float]] | None,
    crops: np.ndarray,
    structures: tuple[str, ...] = JUDGED,
    appearance: dict[str, Any] | None = None,
) -> list[dict[str, dict[str, float]]]:
    """Per frame and structure of ``structures``: ``prompt_dis``, ``uncertainty``, ``fragment``,
    ``n_components``, ``shape_violation`` and the image evidence (``heterogeneity``, ``weak_border`` and,
    with the run's ``appearance``, the misfits; ``crops``: the frames the model saw)."""
    out = []
    for t in range(primary.shape[0]):
        labels = label_map(primary[t], threshold)
        grid = on_grid(crops[t], primary.shape)
        bins = qc.appearance_bins(grid) if appearance is not None else None
        violations = qc.range_violations(qc.shape_features(labels), ranges) if ranges else None
        frame = {}
        for i, structure in enumerate(LABELS.values()):
            if structure not in structures:
                continue
            masks = [primary[t, i] > threshold, *(e[i] > threshold for e in extra[t])]
            shape = (
                math.nan
                if violations is None
                else sum(violations[f] for f in qc.STRUCTURE_FEATURES[structure])
            )
            frame[structure] = {"prompt_dis": qc.mask_disagreement(masks),
                                "uncertainty": qc.uncertainty(primary[t, i], threshold),
                                "fragment": qc.fragmentation(masks[0]),
                                "n_components": qc.n_components(masks[0]), "shape_violation": float(shape),
                                **evidence_signals(grid, masks[0], structure, appearance, bins),
                                **structure_prior(structure)}  # fmt: skip
        out.append(frame)
    return out


def judge_frames(
    signals: list[dict[str, dict[str, float]]], labels: np.ndarray, model: QCModel | None
) -> list[dict[str, Any]]:
    """Per frame ``qc_score`` (the LV's, ``loop`` rule; NaN without a QC model), ``qc_fail``, ``qc_reasons``."""
    temporal = qc.temporal_outliers(labels)
    rule = model.rules["loop"] if model is not None else None
    rows = []
    for t, frame in enumerate(signals):
        lv = frame["lv"]
        reasons = [f"LV {int(lv['n_components'])} components"] if lv["n_components"] > 1 else []
        reasons += ["LV empty"] if lv["n_components"] == 0 else []
        reasons += [f"{s.upper()} unlike both neighbour frames" for s in LABELS.values() if temporal[s][t]]
        reasons += ["LV area jump"] if temporal["lv_jump"][t] else []
        score = rule.score(lv, "lv") if rule is not None else math.nan
        if rule is not None:
            reasons += [f"LV {r}" for r in rule.reasons(lv)]
        failed = bool(temporal["lv"][t] or temporal["lv_jump"][t] or lv["n_components"] == 0)
        failed = failed or (rule is not None and score < rule.threshold)
        rows.append({"qc_score": score, "qc_fail": failed, "qc_reasons": "; ".join(reasons)})
    return rows


def loop_verdict(
    analysis: LoopAnalysis, frames: list[dict[str, Any]], calibrated: bool, ef_reason: str | None = None
) -> dict[str, Any]:
    """The loop's verdict, its reasons and counts (``summary["qc"]``); see the module docstring.

    ``ef_reason``: why every EF of this model needs review (its validation EF check failed,
    :func:`synthboost.clinical.ef_check.ef_check_reason`); it makes an ``ok`` loop ``review``.
    """
    n = len(frames)
    failed = [t for t, f in enumerate(frames) if f["qc_fail"]]
    reasons = [f"{len(failed)} of {n} frames failed"] if failed else []
    key_frames = sorted({*analysis.phases.ed, *analysis.phases.es})
    bad_keys = [t for t in key_frames if frames[t]["qc_fail"]]
    reasons += [f"ED/ES frame {t} failed QC" for t in bad_keys]
    curve = analysis.measures["lv_volume" if analysis.summary["curve"] == "lv_volume" else "lv_area"]
    top = float(np.nanmax(curve)) if np.isfinite(curve).any() else 0.0
    swing = (top - float(np.nanmin(curve))) / top if top > 0 else 0.0
    plateau = swing < PLATEAU_SWING
    if plateau:
        reasons.append(f"ED/ES on a flat plateau (the LV curve swings {100 * swing:.0f} % of its maximum)")
    if not key_frames:
        reasons.append("no ED/ES found")
    if not key_frames or len(failed) > UNRELIABLE_FRACTION * n:
        verdict = "unreliable"
    elif bad_keys or plateau or len(failed) > REVIEW_FRACTION * n:
        verdict = "review"
    else:
        verdict = "ok"
    if ef_reason:
        reasons.append(ef_reason)
        verdict = "review" if verdict == "ok" else verdict
    if not calibrated:
        reasons.append(NO_RULE_MESSAGE + " (temporal checks and components only)")
    return {"verdict": verdict, "reasons": reasons, "n_failed_frames": len(failed), "failed_frames": failed,
            "calibrated": calibrated, "lv_curve_swing": swing, "ef_check_failed": bool(ef_reason)}  # fmt: skip


def segment_loop_qc(
    loop: Any,
    segmenter: Any,
    level: str,
    view: str,
    attributes: dict[str, Any],
    options: SegmentOptions,
    model: QCModel | None,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Label maps of a loop (as :func:`~synthboost.cine.loop.segment_loop`) and their per-frame QC rows."""
    prompt_sets = loop_prompts(level, view, options.phase_prompt, attributes)
    extra = (
        loop_prompts(level, view, options.phase_prompt, attributes, phrasing=1)[:1] if level != "p0" else []
    )
    threshold = segmenter.threshold if options.threshold is None else options.threshold
    crops = np.asarray(loop.region.crop(loop.region.apply(loop.frames)))
    primary, extra_probs = qc_loop_probabilities(crops, segmenter, prompt_sets, extra, options)
    labels = labels_from_probabilities(loop, primary, threshold, options)
    if not extra:  # P0 has one wording: no prompt ensemble
        extra_probs = primary[:, None]
    signals = frame_signals(
        primary, extra_probs, threshold, model.ranges if model else None, crops,
        appearance=model.appearance if model else None,
    )  # fmt: skip
    return labels, judge_frames(signals, labels, model)
