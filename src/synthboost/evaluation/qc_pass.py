"""The QC pass: a model's answers to the prompt ensemble and the augmented image, turned into signals,
scores and flags per image-structure; and ``fit_qc``, which fits ``qc.json`` on the validation split.

One image costs two image encodings: the plain image, decoded for every prompt of the ensemble
(:func:`ensemble_prompts`, three structures), and the augmented image (:func:`~synthboost.evaluation.qc.augment`),
decoded for the three primary prompts. The primary prompt (the run's level, phrasing 0) gives the
mask that is judged, the same one ``predict`` writes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from synthboost.data.format import LABELS, anns_path, image_path, mask_path, native_label_path
from synthboost.data.imageio.medical import nearest_resize, read_png, resize
from synthboost.data.processed import read_info, read_meta
from synthboost.evaluation import qc
from synthboost.evaluation.metrics import compute_dice
from synthboost.evaluation.postprocess import to_masks
from synthboost.evaluation.predictions import load_mask
from synthboost.evaluation.qc_fit import (
    LOOP_SIGNALS,
    NO_RULE_MESSAGE,
    QC_JSON,
    RAW_SIGNALS,
    STILL_SIGNALS,
    QCModel,
    fit_rule,
    load_qc,
    qc_path_of,
    write_qc,
)
from synthboost.evaluation.qc_table import write_qc_csv
from synthboost.evaluation.segmenter import Segmenter, as_grayscale, label_map
from synthboost.logs import get_logger
from synthboost.progress import track
from synthboost.prompts.select import prompts_from_attributes
from synthboost.training.runfolder import resolve_model
from synthboost.utils.files import read_json

log = get_logger("evaluate.qc")


def ensemble_prompts(prompts: Mapping[str, Any], level: str) -> list[str]:
    """The prompt ensemble of one structure from its task-entry prompts (``{"p0": "", "p1": [a, b], ...}``).

    The run's level in both phrasings (phrasing 0 first: the primary prompt), then phrasing 0 of the
    levels just below and above it, duplicates dropped.
    """
    if level not in prompts:
        raise ValueError(f"prompt level {level!r} not among the entry's prompts {sorted(prompts)}")
    k = int(level[1:])

    def at(lvl: str, phrasing: int) -> str | None:
        value = prompts.get(lvl)
        if value is None:
            return None
        return value if isinstance(value, str) else value[min(phrasing, len(value) - 1)]

    candidates = [at(level, 0), at(level, 1), at(f"p{k - 1}", 0) if k > 1 else None, at(f"p{k + 1}", 0)]
    out: list[str] = []
    for p in candidates:
        if p is not None and p not in out:
            out.append(p)
    return out


def image_probabilities(
    segmenter: Any, gray: np.ndarray, prompt_lists: Sequence[Sequence[str]], tta: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """Answers of one image at the model's input size.

    Args:
        segmenter: a :class:`~synthboost.evaluation.segmenter.Segmenter` (its ``prompt_batch_probabilities``:
            one encoding per image, all prompts decoded in one batch).
        gray: ``(rows, cols)`` uint8 image.
        prompt_lists: per structure (LV, MYO, LA) its ensemble, the primary prompt first (same length ``K``).
        tta: also answer the augmented image for the primary prompts.

    Returns:
        ``(probs (3, K, S, S), tta_probs (3, S, S) or None)``, the augmentation undone.
    """
    k = len(prompt_lists[0])
    if any(len(p) != k for p in prompt_lists):
        raise ValueError("image_probabilities: every structure needs the same number of prompts")
    flat = [p for group in prompt_lists for p in group]
    probs = segmenter.prompt_batch_probabilities(gray, flat)
    probs = probs.reshape(len(prompt_lists), k, *probs.shape[-2:])
    if not tta:
        return probs, None
    aug = segmenter.prompt_batch_probabilities(qc.augment(gray), [g[0] for g in prompt_lists])
    return probs, qc.unaugment(aug)


def _pad(prompt_lists: list[list[str]]) -> list[list[str]]:
    """Equal-length ensembles (a shorter one repeats its primary prompt; a repeat adds no disagreement)."""
    k = max(len(p) for p in prompt_lists)
    return [p + [p[0]] * (k - len(p)) for p in prompt_lists]


def on_grid(image: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """``image`` (uint8) resized bilinearly to the answers' grid ``shape``, as the model saw it."""
    return resize(np.asarray(image, np.uint8), (int(shape[-2]), int(shape[-1])))


def evidence_signals(
    image: np.ndarray,
    mask: np.ndarray,
    structure: str,
    appearance: Mapping[str, Any] | None,
    bins: np.ndarray | None = None,
) -> dict[str, float]:
    """The image-evidence signals of one ``structure``'s mask on its image (same grid): ``heterogeneity``,
    ``weak_border``, ``inside_misfit`` and ``outside_misfit`` (NaN without the learned ``appearance``).

    ``bins``: :func:`~synthboost.evaluation.qc.appearance_bins` of ``image`` when already computed.
    """
    out = {"heterogeneity": qc.heterogeneity(image, mask), "weak_border": qc.border_weakness(image, mask)}
    if appearance is None:
        return {**out, "inside_misfit": math.nan, "outside_misfit": math.nan}
    bins = qc.appearance_bins(image) if bins is None else bins
    return {**out, "inside_misfit": qc.inside_misfit(bins, mask, appearance, structure),
            "outside_misfit": qc.outside_misfit(bins, mask, appearance, structure)}  # fmt: skip


def structure_signals(
    probs: np.ndarray,
    tta_probs: np.ndarray | None,
    threshold: float,
    ranges: Mapping[str, Sequence[float]] | None,
    image: np.ndarray,
    appearance: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, float]]:
    """Raw signals per structure (``lv``, ``myo``, ``la``) from :func:`image_probabilities`' answers.

    ``image``: the image that was segmented (any size; compared on the answers' grid).
    ``shape_violation`` sums the structure's :func:`~synthboost.evaluation.qc.range_violations` (NaN
    without learned ranges); the appearance misfits are NaN without the learned ``appearance``;
    ``tta_dis`` is NaN without augmented answers.
    """
    grid = on_grid(image, probs.shape)
    bins = qc.appearance_bins(grid) if appearance is not None else None
    labels = label_map(probs[:, 0], threshold)
    violations = qc.range_violations(qc.shape_features(labels), ranges) if ranges else None
    out = {}
    for i, structure in enumerate(LABELS.values()):
        mask = probs[i, 0] > threshold
        tta = math.nan if tta_probs is None else qc.tta_disagreement(probs[i, 0], [tta_probs[i]], threshold)
        shape = (
            math.nan if violations is None else sum(violations[f] for f in qc.STRUCTURE_FEATURES[structure])
        )
        out[structure] = {
            "prompt_dis": qc.prompt_disagreement(probs[i], threshold) if probs.shape[1] > 1 else 0.0,
            "tta_dis": tta,
            "uncertainty": qc.uncertainty(probs[i, 0], threshold),
            "fragment": qc.fragmentation(mask),
            "n_components": qc.n_components(mask),
            "shape_violation": float(shape),
            **evidence_signals(grid, mask, structure, appearance, bins),
            **structure_prior(structure),
        }
    return out


def structure_prior(structure: str) -> dict[str, float]:
    """The structure indicators of :data:`~synthboost.evaluation.qc_fit.STRUCTURE_PRIOR` (LV: all 0)."""
    return {f"is_{s}": float(structure == s) for s in ("myo", "la")}


def judge(
    signals: Mapping[str, float], model: QCModel | None, structure: str, kind: str = "still"
) -> dict[str, Any]:
    """Score, flag and reasons of one image-structure (``structure``: ``lv``, ``myo``, ``la``; ``kind``:
    ``still`` or ``loop`` rule).

    Without a QC model the score is NaN, nothing is flagged and the reason says no threshold exists;
    facts that need no calibration (several components, an empty mask) are still named.
    """
    facts = []
    if signals["n_components"] == 0:
        facts.append("empty mask")
    elif signals["n_components"] > 1:
        facts.append(f"{int(signals['n_components'])} components")
    if model is None:
        return {"qc_score": math.nan, "qc_fail": None, "qc_reasons": "; ".join([*facts, NO_RULE_MESSAGE])}
    rule = model.rules[kind]
    score = rule.score(signals, structure)
    reasons = [*facts, *rule.reasons(signals)]
    return {"qc_score": score, "qc_fail": bool(score < rule.threshold), "qc_reasons": "; ".join(reasons)}


def image_qc(
    segmenter: Any,
    gray: np.ndarray,
    prompt_lists: list[list[str]],
    model: QCModel | None,
    tta: bool = True,
    threshold: float | None = None,
) -> dict[str, dict[str, Any]]:
    """QC of one image: per structure its raw signals, score, flag and reasons (the ``still`` rule)."""
    threshold = segmenter.threshold if threshold is None else threshold
    probs, tta_probs = image_probabilities(segmenter, gray, _pad(prompt_lists), tta)
    signals = structure_signals(
        probs,
        tta_probs,
        threshold,
        model.ranges if model else None,
        gray,
        model.appearance if model else None,
    )
    return {s: {**v, **judge(v, model, s)} for s, v in signals.items()}


def _images_of(dataset: Path, split: str) -> dict[tuple[str, str], dict[str, dict]]:
    """Task entries of a split grouped by image: ``{(group, name): {structure: entry}}``."""

    images: dict[tuple[str, str], dict[str, dict]] = {}
    for entry in read_json(anns_path(dataset, split), expect=list):
        key = (entry["group"], Path(entry["img_name"]).stem)
        images.setdefault(key, {})[entry["structure"]] = entry
    return images


def split_qc(
    segmenter: Any,
    dataset: str | Path,
    split: str,
    level: str,
    model: QCModel | None,
    tta: bool = True,
    threshold: float | None = None,
    with_probabilities: bool = False,
    ranges: Mapping[str, Sequence[float]] | None = None,
    appearance: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """QC rows (``group, name, label, structure`` + :data:`QC_COLUMNS`) of every image-structure of a split.

    Structures an image has no task entry for are left out. With ``with_probabilities`` each row also
    carries ``probability``: the primary answer at the model's input size. ``ranges`` and
    ``appearance`` (default: the QC model's) are the plausible shape ranges and intensity histograms.
    """
    dataset = Path(dataset)
    threshold = segmenter.threshold if threshold is None else threshold
    ranges = ranges if ranges is not None else (model.ranges if model else None)
    appearance = appearance if appearance is not None else (model.appearance if model else None)
    rows = []
    for (group, name), entries in track(sorted(_images_of(dataset, split).items()), f"qc {split}"):
        lists = [
            ensemble_prompts(entries[s]["prompts"], level) if s in entries else [""] for s in LABELS.values()
        ]
        gray = read_png(image_path(dataset, group, name))
        probs, tta_probs = image_probabilities(segmenter, gray, _pad(lists), tta)
        signals = structure_signals(probs, tta_probs, threshold, ranges, gray, appearance)
        for i, (label, structure) in enumerate(LABELS.items()):
            if structure not in entries:
                continue
            row = {"group": group, "name": name, "label": label, "structure": structure,
                   **signals[structure], **judge(signals[structure], model, structure)}  # fmt: skip
            if with_probabilities:
                row["probability"] = probs[i, 0]
            rows.append(row)
    return rows


def _split_labels(dataset: Path, size: int, split: str) -> list[dict[str, str]]:
    """The ``split`` rows of ``meta.csv``; a clear error when there are none."""
    rows = [r for r in read_meta(dataset) if r["split"] == split]
    if not rows:
        raise ValueError(f"{dataset / 'meta.csv'}: no {split} image to learn the plausible shapes from")
    return rows


def _label_map(dataset: Path, row: Mapping[str, Any], size: int) -> np.ndarray:
    """A row's native label map resized to ``size`` (nearest)."""
    return nearest_resize(read_png(native_label_path(dataset, row["group"], row["name"])), (size, size))


def learn_ranges(dataset: str | Path, size: int, split: str = "train") -> dict[str, list[float]]:
    """Plausible shape ranges from the ``split`` label maps (native labels resized to ``size``, nearest)."""
    dataset = Path(dataset)
    return qc.fit_ranges(
        [qc.shape_features(_label_map(dataset, r, size)) for r in _split_labels(dataset, size, split)]
    )


def learn_appearance(dataset: str | Path, size: int, split: str = "train") -> dict[str, Any]:
    """Intensity histograms (:func:`~synthboost.evaluation.qc.fit_appearance`) of the ``split`` images and
    label maps, both on the ``size`` grid the model sees (images bilinear, labels nearest)."""
    dataset = Path(dataset)
    pairs = [
        (
            on_grid(read_png(image_path(dataset, r["group"], r["name"])), (size, size)),
            _label_map(dataset, r, size),
        )
        for r in _split_labels(dataset, size, split)
    ]
    return qc.fit_appearance(pairs)


def grid_dice(row: Mapping[str, Any], dataset: Path, threshold: float, grid: int) -> float:
    """Dice ×100 of a row's primary answer on the reference grid (as ``evaluate`` scores it)."""

    pred, _ = to_masks(row["probability"], (grid, grid), threshold, grid=grid)
    gt = load_mask(mask_path(dataset, row["group"], row["label"], row["name"]))
    return 100.0 * compute_dice(pred, gt)


def _failure_rates(rows: Sequence[Mapping[str, Any]], dice: Sequence[float]) -> dict[str, float]:
    """Share of failed validation image-structures per structure (``qc.json``'s ``val_failure_rate``)."""
    out = {}
    for structure in LABELS.values():
        values = [d for r, d in zip(rows, dice, strict=True) if r["structure"] == structure]
        if values:
            out[structure] = float(np.mean([d < 80.0 for d in values]))
    return out


def fit_qc(
    run: str | Path, dataset: str | Path, out: str | Path | None = None, device: str | None = None
) -> Path:
    """Fit the QC rules of ``run`` on the ``val`` split of ``dataset``; write ``qc.json`` (default ``RUN/qc.json``).

    Shape ranges and intensity histograms come from the ``train`` images and labels; the rules (``still`` with all signals, ``loop``
    without test-time augmentation) from the val image-structures, failure = Dice < 80.
    """

    dataset = Path(dataset)
    _, settings = resolve_model(run)
    level = settings["prompt"] or "p1"
    segmenter = Segmenter.from_pretrained(run, device=device)
    size = segmenter.preprocessing.image_size
    ranges, appearance = learn_ranges(dataset, size), learn_appearance(dataset, size)
    rows = split_qc(
        segmenter, dataset, "val", level, None, with_probabilities=True, ranges=ranges, appearance=appearance
    )
    grid = read_info(dataset).image_size
    dice = [grid_dice(r, dataset, segmenter.threshold, grid) for r in rows]
    rules = {"still": fit_rule(rows, dice, STILL_SIGNALS), "loop": fit_rule(rows, dice, LOOP_SIGNALS)}
    n_fail = int(sum(d < 80.0 for d in dice))
    info = {"run": str(run), "dataset": str(dataset), "fitted_on": "val", "ranges_from": "train",
            "prompt_level": level, "threshold": float(segmenter.threshold),
            "n_val_items": len(rows), "n_val_failures": n_fail, "failure": "Dice < 80",
            "val_failure_rate": _failure_rates(rows, dice)}  # fmt: skip
    path = Path(out) if out is not None else Path(run) / QC_JSON
    write_qc(path, QCModel(rules, ranges, info, appearance))
    log.info("QC fitted on %d val image-structures (%d failures) -> %s", len(rows), n_fail, path)
    return path


def qc_mode(model: str | Path) -> str:
    """``calibrated`` when the model's run has a ``qc.json``, else ``raw``."""
    return "calibrated" if qc_path_of(model) is not None else "raw"


def write_split_qc(
    path: Path,
    model: Any,
    device: Any,
    run: str | Path,
    dataset: Path,
    split: str,
    level: str,
    threshold: float,
) -> None:
    """``predict``'s hook: the QC rows of a split (the run's ``qc.json`` when it has one) as ``qc.csv``."""

    segmenter = Segmenter(model, str(device), threshold)
    write_qc_csv(path, split_qc(segmenter, dataset, split, level, load_qc(run)))


def attribute_qc(
    segmenter: Any,
    image: Any,
    attributes: Mapping[str, Any],
    model: QCModel | None,
    threshold: float | None = None,
) -> dict[str, dict[str, Any]]:
    """QC of one image whose prompts come from attributes (``view``, ``phase``, ``sex``, ``age``, ``quality``,
    ``shape``; :func:`~synthboost.prompts.select.prompts_from_attributes`), per structure."""

    lists = []
    for structure in LABELS.values():
        level, prompts = prompts_from_attributes(structure, **attributes)
        lists.append(ensemble_prompts(prompts, level))
    return image_qc(segmenter, as_grayscale(image), lists, model, threshold=threshold)


def describe(result: Mapping[str, Any], model: QCModel | None) -> str:
    """One line for a person: ``QC score 0.83 (expected Dice 83) >= 0.80: ok`` or the raw signals, then the reasons."""
    raw = ", ".join(f"{k} {result[k]:.2f}" for k in RAW_SIGNALS if not math.isnan(result[k]))
    if model is None:
        return f"QC (raw signals: {raw}): {result['qc_reasons']}"
    threshold = model.rules["still"].threshold
    verdict = "FLAGGED, review" if result["qc_fail"] else "ok"
    reasons = f" ({result['qc_reasons']})" if result["qc_reasons"] else ""
    sign = "<" if result["qc_fail"] else ">="
    expected = (
        f" (expected Dice {100 * result['qc_score']:.0f})" if model.rules["still"].target == "dice" else ""
    )
    return (f"QC score {result['qc_score']:.2f}{expected} {sign} {threshold:.2f}: {verdict}{reasons}; "
            f"signals: {raw}")  # fmt: skip
