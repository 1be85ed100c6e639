"""Quality-control signals of a segmentation: pure functions on masks and probabilities.

Each signal stands alone and is documented in ``docs/qc.md``:

- **prompt-ensemble disagreement** (:func:`prompt_disagreement`): one structure asked for with
  several prompts (levels / phrasings); ``1 -`` the mean pairwise Dice of their masks. A model that
  answers every prompt the same gives 0.
- **test-time-augmentation disagreement** (:func:`tta_disagreement`): the image flipped and its
  intensities changed, the answer un-flipped; ``1 -`` the mean Dice with the plain answer.
- **pixel uncertainty** (:func:`uncertainty`): ``1 -`` the soft Dice of the probabilities with their
  own thresholded mask; 0 when every pixel is answered with certainty (0 or 1).
- **image evidence** (:func:`heterogeneity`, :func:`border_weakness`): does the image support the mask?
  The intensity spread inside the mask relative to the whole image's, and how weakly the intensity
  changes across the mask's border (the classic region-uniformity and boundary-contrast measures of
  unsupervised segmentation evaluation). Both are unchanged by a gain and an offset of the image.
- **appearance misfit** (:func:`inside_misfit`, :func:`outside_misfit`): do the mask's pixels, and the
  ring just outside it, have the intensities that the training labels give this structure and its
  surroundings? Mean log-likelihood ratios against intensity histograms learned from the training
  images and labels (:func:`fit_appearance`); 0 where the intensities say nothing either way.
- **anatomical plausibility**: connected components (:func:`fragmentation`), shape features of the
  label map (:func:`shape_features`: areas, ratios, elongation, LV enclosure by the myocardium
  except at the base, LA–LV gap) checked against ranges learned from training labels
  (:func:`fit_ranges`, :func:`range_violations`).
- **temporal consistency** of a loop (:func:`neighbour_dice`, :func:`curve_jumps`,
  :func:`temporal_outliers`): a frame unlike both of its neighbours, or an area jump, is flagged.

Masks are boolean ``(rows, cols)`` arrays; label maps use the CAMUS values (1 LV, 2 MYO, 3 LA).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import ndimage

#: Quantiles of the training labels' features that bound the plausible range.
RANGE_QUANTILES = (0.01, 0.99)
#: Each learned range is widened by this fraction of its width on both sides.
RANGE_MARGIN = 0.1
#: A violation counts at most this many range widths (one absurd feature must not drown the others).
VIOLATION_CAP = 3.0
#: A range is at least this fraction of its larger end wide (a feature constant in training, e.g. a 1-pixel gap).
MIN_RELATIVE_WIDTH = 0.1
#: Shape features of each structure (:func:`shape_features`), checked by :func:`range_violations`.
STRUCTURE_FEATURES: dict[str, tuple[str, ...]] = {
    "lv": ("lv_area", "lv_elongation", "lv_enclosure"),
    "myo": ("myo_area", "myo_lv_ratio"),
    "la": ("la_area", "la_lv_ratio", "la_gap"),
}
#: Ring pixels of the LV within this many pixels of the myocardium or the LA count as enclosed (a predicted
#: wall rarely touches the cavity: thresholds leave a one- or two-pixel seam that training labels never have).
ENCLOSURE_TOLERANCE = 2
#: Image evidence compares the bands of this many pixels just inside and just outside the mask's border.
BORDER_BAND = 2
#: Image evidence needs at least this many mask pixels (fewer: no evidence, the signal is 1).
MIN_EVIDENCE_PIXELS = 3
#: Appearance: intensities are smoothed (Gaussian, this sigma in pixels) …
APPEARANCE_SMOOTH = 1.0
#: … divided by their 99th percentile (gain-free), clipped to [0, 1] and binned into this many bins.
APPEARANCE_BINS = 16
#: Appearance classes: background (label 0), then the structures by their CAMUS label.
APPEARANCE_CLASSES: dict[int, str] = {0: "background", 1: "lv", 2: "myo", 3: "la"}
#: An appearance misfit without evidence (a mask of fewer than MIN_EVIDENCE_PIXELS pixels, or no ring).
MISFIT_EMPTY = 5.0
#: A frame is a temporal outlier when its signal exceeds median + this many MADs of its loop …
TEMPORAL_MADS = 5.0
#: … and this absolute floor (1 - Dice for :func:`neighbour_dice`, relative change for :func:`curve_jumps`).
TEMPORAL_FLOOR = 0.1


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice of two boolean masks; two empty masks agree perfectly (1.0)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total


def mask_disagreement(masks: Sequence[np.ndarray]) -> float:
    """``1 -`` the mean pairwise Dice of two or more masks (0: identical masks).

    Raises:
        ValueError: fewer than two masks.
    """
    if len(masks) < 2:
        raise ValueError(f"disagreement needs at least 2 masks, got {len(masks)}")
    pairs = itertools.combinations(range(len(masks)), 2)
    return 1.0 - float(np.mean([dice(masks[i], masks[j]) for i, j in pairs]))


def prompt_disagreement(probabilities: np.ndarray, threshold: float) -> float:
    """Disagreement of ``(K, rows, cols)`` probabilities of one structure from ``K >= 2`` prompts."""
    return mask_disagreement(list(np.asarray(probabilities) > threshold))


def tta_disagreement(reference: np.ndarray, augmented: Sequence[np.ndarray], threshold: float) -> float:
    """``1 -`` the mean Dice between the plain answer and each augmented one (augmentation undone).

    Args:
        reference: probabilities ``(rows, cols)`` of the plain image.
        augmented: probabilities of the augmented images, already mapped back to the plain geometry.
        threshold: decision threshold.
    """
    if not len(augmented):
        raise ValueError("tta_disagreement: no augmented answer")
    ref = np.asarray(reference) > threshold
    return 1.0 - float(np.mean([dice(ref, np.asarray(a) > threshold) for a in augmented]))


def uncertainty(probability: np.ndarray, threshold: float) -> float:
    """``1 -`` the soft Dice of ``probability`` with its own mask ``probability > threshold``.

    0 when every pixel is 0 or 1 (a certain answer); grows with the probability mass that hesitates
    around the mask's border. An empty mask with no probability mass is certain (0); an empty mask
    under some probability mass is fully uncertain (1).
    """
    p = np.asarray(probability, np.float64)
    mask = p > threshold
    total = float(p.sum()) + float(mask.sum())
    if total <= 1e-9:
        return 0.0
    return float(1.0 - 2.0 * float(p[mask].sum()) / total)


def heterogeneity(image: np.ndarray, mask: np.ndarray) -> float:
    """Standard deviation of the image inside ``mask`` over that of the whole image (0: a uniform region).

    ``image`` and ``mask`` share a grid (the model's input size). A mask of fewer than
    :data:`MIN_EVIDENCE_PIXELS` pixels has no evidence (1.0); a uniform image gives 0.0.
    """
    image, mask = np.asarray(image, np.float64), np.asarray(mask, bool)
    if image.shape != mask.shape:
        raise ValueError(f"heterogeneity: image {image.shape} and mask {mask.shape} differ in shape")
    if int(mask.sum()) < MIN_EVIDENCE_PIXELS:
        return 1.0
    spread = float(image.std())
    return float(image[mask].std()) / spread if spread > 0 else 0.0


def border_weakness(image: np.ndarray, mask: np.ndarray, band: int = BORDER_BAND) -> float:
    """``1 / (1 + c)``, ``c`` the contrast across the mask's border: the difference of the mean intensities
    of the ``band``-pixel bands just inside and just outside, over the intensity spread of the mask and
    its outer band. Near 0 for a sharp border the image draws; 1 where the image shows no border.

    A mask of fewer than :data:`MIN_EVIDENCE_PIXELS` pixels, without an inner or outer band (it fills
    the image) or over a uniform image has no evidence: 1.0.
    """
    image, mask = np.asarray(image, np.float64), np.asarray(mask, bool)
    if image.shape != mask.shape:
        raise ValueError(f"border_weakness: image {image.shape} and mask {mask.shape} differ in shape")
    if int(mask.sum()) < MIN_EVIDENCE_PIXELS:
        return 1.0
    outer = ndimage.binary_dilation(mask, iterations=band) & ~mask
    inner = mask & ~ndimage.binary_erosion(mask, iterations=band, border_value=1)
    spread = float(image[mask | outer].std()) if outer.any() else 0.0
    if not inner.any() or spread <= 0:
        return 1.0
    contrast = abs(float(image[inner].mean()) - float(image[outer].mean())) / spread
    return float(1.0 / (1.0 + contrast))


def augment(image: np.ndarray, gamma: float = 0.8, gain: float = 1.1) -> np.ndarray:
    """The test-time augmentation: horizontal flip, gamma ``gamma`` and contrast gain ``gain`` (uint8)."""
    x = np.asarray(image, np.float32)[:, ::-1] / 255.0
    x = np.clip(((x**gamma) - 0.5) * gain + 0.5, 0.0, 1.0)
    return np.round(x * 255.0).astype(np.uint8)


def unaugment(probability: np.ndarray) -> np.ndarray:
    """Map an answer on :func:`augment`'s image back to the plain image (undo the flip)."""
    return np.ascontiguousarray(np.asarray(probability)[..., ::-1])


def n_components(mask: np.ndarray) -> int:
    """Number of 8-connected components of a mask."""
    return int(ndimage.label(np.asarray(mask, bool), structure=np.ones((3, 3)))[1])


def fragmentation(mask: np.ndarray) -> float:
    """Fraction of the mask outside its largest 8-connected component (0: one piece; 1: empty mask)."""
    mask = np.asarray(mask, bool)
    total = int(mask.sum())
    if total == 0:
        return 1.0
    labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
    if n == 1:
        return 0.0
    largest = int(np.bincount(labels.ravel())[1:].max())
    return 1.0 - largest / total


def elongation(mask: np.ndarray) -> float:
    """Long over short axis of the mask's second moments (1 for a disc; NaN below 3 pixels)."""
    rows, cols = np.nonzero(mask)
    if rows.size < 3:
        return math.nan
    cov = np.cov(np.stack([rows, cols]).astype(np.float64))
    small, large = np.linalg.eigvalsh(cov)
    return float(math.sqrt(large / small)) if small > 1e-9 else math.inf


def enclosure(
    inner: np.ndarray, wall: np.ndarray, base: np.ndarray, tolerance: int = ENCLOSURE_TOLERANCE
) -> float:
    """Fraction of the one-pixel ring around ``inner`` within ``tolerance`` pixels of ``wall`` or ``base`` (NaN if empty).

    For the LV: ``wall`` the myocardium, ``base`` the LA, so the opening at the base does not count.
    """
    inner = np.asarray(inner, bool)
    if not inner.any():
        return math.nan
    ring = ndimage.binary_dilation(inner, structure=np.ones((3, 3))) & ~inner
    if not ring.any():
        return math.nan
    near = np.asarray(wall, bool) | np.asarray(base, bool)
    if tolerance > 0 and near.any():
        near = ndimage.binary_dilation(near, structure=np.ones((3, 3)), iterations=tolerance)
    return float(np.count_nonzero(ring & near) / ring.sum())


def gap(a: np.ndarray, b: np.ndarray) -> float:
    """Shortest distance (pixels) from a pixel of ``a`` to one of ``b``, over the image side (NaN if one is empty)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    if not a.any() or not b.any():
        return math.nan
    return float(ndimage.distance_transform_edt(~b)[a].min() / max(a.shape))


def shape_features(labels: np.ndarray) -> dict[str, float]:
    """Scale-free shape features of a CAMUS label map (areas as fractions of the image).

    ``lv_enclosure`` is :func:`enclosure` of the LV by the myocardium with the LA as the base;
    ``la_gap`` is :func:`gap` between LA and LV; ratios are NaN without an LV.
    """
    labels = np.asarray(labels)
    lv, myo, la = labels == 1, labels == 2, labels == 3
    size = float(labels.size)
    lv_n = float(lv.sum())
    return {
        "lv_area": lv_n / size,
        "lv_elongation": elongation(lv),
        "lv_enclosure": enclosure(lv, myo, la),
        "myo_area": float(myo.sum()) / size,
        "myo_lv_ratio": float(myo.sum()) / lv_n if lv_n else math.nan,
        "la_area": float(la.sum()) / size,
        "la_lv_ratio": float(la.sum()) / lv_n if lv_n else math.nan,
        "la_gap": gap(la, lv),
    }


def appearance_bins(image: np.ndarray) -> np.ndarray:
    """Per-pixel intensity bin (0 … :data:`APPEARANCE_BINS` - 1) of an image on the grid the model saw.

    Smoothed by :data:`APPEARANCE_SMOOTH` pixels (speckle), divided by its 99th percentile and clipped
    to [0, 1]: the same bins under any gain. A blank image is all bin 0.
    """
    smooth = ndimage.gaussian_filter(np.asarray(image, np.float64), APPEARANCE_SMOOTH)
    top = float(np.percentile(smooth, 99))
    scaled = np.clip(smooth / top, 0.0, 1.0) if top > 0 else np.zeros_like(smooth)
    return np.minimum((scaled * APPEARANCE_BINS).astype(np.int64), APPEARANCE_BINS - 1)


def _histogram(bins: np.ndarray) -> list[float]:
    """Laplace-smoothed (+1 per bin) distribution of bin indices: every bin has a probability > 0."""
    counts = np.bincount(np.asarray(bins, np.int64).ravel(), minlength=APPEARANCE_BINS) + 1.0
    return [float(c) for c in counts / counts.sum()]


def ring(mask: np.ndarray, width: int = BORDER_BAND) -> np.ndarray:
    """The ``width``-pixel band just outside ``mask``."""
    mask = np.asarray(mask, bool)
    return ndimage.binary_dilation(mask, iterations=width) & ~mask


def fit_appearance(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> dict[str, dict[str, list[float]]]:
    """Intensity histograms from training ``(image, label map)`` pairs on one grid (views pooled).

    ``class``: the bins of each class's pixels (:data:`APPEARANCE_CLASSES`); ``ring``: of the
    :data:`BORDER_BAND`-pixel ring outside each structure; ``all``: of every pixel. Each is a
    Laplace-smoothed distribution over :data:`APPEARANCE_BINS` bins.

    Raises:
        ValueError: no pairs, or an image and its labels of different shapes.
    """
    if not pairs:
        raise ValueError("fit_appearance: no training images")
    binned = []
    for image, labels in pairs:
        if np.shape(image) != np.shape(labels):
            raise ValueError(f"fit_appearance: image {np.shape(image)} and labels {np.shape(labels)} differ")
        binned.append((appearance_bins(image), np.asarray(labels)))
    return {
        "class": {
            name: _histogram(np.concatenate([b[lab == k] for b, lab in binned]))
            for k, name in APPEARANCE_CLASSES.items()
        },
        "ring": {
            name: _histogram(np.concatenate([b[ring(lab == k)] for b, lab in binned]))
            for k, name in APPEARANCE_CLASSES.items()
            if k
        },
        "all": _histogram(np.concatenate([b.ravel() for b, _ in binned])),
    }


def inside_misfit(bins: np.ndarray, mask: np.ndarray, appearance: Mapping, structure: str) -> float:
    """How unlike ``structure`` the mask's pixels look: minus the mean log-ratio of their intensity's
    probability under the structure's histogram to its probability under the likeliest other class.

    Negative when the pixels look like the structure, positive when another class explains them
    better (a cavity mask over bright muscle). ``bins``: :func:`appearance_bins` of the image.
    """
    mask = np.asarray(mask, bool)
    if int(mask.sum()) < MIN_EVIDENCE_PIXELS:
        return MISFIT_EMPTY
    hist = {k: np.asarray(v) for k, v in appearance["class"].items()}
    own = hist[structure][bins[mask]]
    other = np.max([h[bins[mask]] for k, h in hist.items() if k != structure], axis=0)
    return float(-np.mean(np.log(own / other)))


def outside_misfit(bins: np.ndarray, mask: np.ndarray, appearance: Mapping, structure: str) -> float:
    """How unlike ``structure``'s surroundings the :data:`BORDER_BAND`-pixel ring outside the mask looks:
    minus the mean log-ratio of the ring's intensity probabilities under the structure's ring histogram
    to those under the whole images' histogram.

    A cavity mask that stops short of its wall has more cavity than muscle in its ring: positive.
    Without a ring (fewer than :data:`MIN_EVIDENCE_PIXELS` mask pixels, or a mask filling the image):
    :data:`MISFIT_EMPTY`.
    """
    mask = np.asarray(mask, bool)
    band = ring(mask)
    if int(mask.sum()) < MIN_EVIDENCE_PIXELS or not band.any():
        return MISFIT_EMPTY
    around = np.asarray(appearance["ring"][structure])[bins[band]]
    anywhere = np.asarray(appearance["all"])[bins[band]]
    return float(-np.mean(np.log(around / anywhere)))


def fit_ranges(rows: Sequence[Mapping[str, float]]) -> dict[str, list[float]]:
    """Plausible range ``[lo, hi]`` of every feature from training label maps' :func:`shape_features`.

    The range spans the :data:`RANGE_QUANTILES` of the finite values, widened by :data:`RANGE_MARGIN`.

    Raises:
        ValueError: no rows, or a feature without a finite value.
    """
    if not rows:
        raise ValueError("fit_ranges: no training label maps")
    out = {}
    for name in rows[0]:
        values = np.array([r[name] for r in rows], dtype=np.float64)
        values = values[np.isfinite(values)]
        if values.size == 0:
            raise ValueError(f"fit_ranges: feature {name!r} has no finite value in the training labels")
        lo, hi = np.quantile(values, RANGE_QUANTILES)
        margin = RANGE_MARGIN * (hi - lo)
        out[name] = [float(lo - margin), float(hi + margin)]
    return out


def range_violations(
    features: Mapping[str, float], ranges: Mapping[str, Sequence[float]]
) -> dict[str, float]:
    """How far each feature lies outside its range, in range widths (0 inside; 1 for NaN: not measurable).

    The width is at least :data:`MIN_RELATIVE_WIDTH` of the range's larger end; a violation is capped at
    :data:`VIOLATION_CAP`.
    """
    out = {}
    for name, (lo, hi) in ranges.items():
        value = features.get(name, math.nan)
        if not math.isfinite(value):
            out[name] = 1.0
            continue
        width = max(hi - lo, MIN_RELATIVE_WIDTH * max(abs(lo), abs(hi)), 1e-9)
        out[name] = float(min(max(lo - value, value - hi, 0.0) / width, VIOLATION_CAP))
    return out


def neighbour_dice(masks: np.ndarray) -> np.ndarray:
    """Per frame of ``(T, rows, cols)`` masks, the Dice with its more similar neighbour frame.

    A frame unlike both neighbours (one corrupted frame) scores low; its neighbours keep a similar
    frame on their other side. Needs ``T >= 2``.
    """
    masks = np.asarray(masks, bool)
    if masks.shape[0] < 2:
        raise ValueError(f"neighbour_dice: needs at least 2 frames, got {masks.shape[0]}")
    step = np.array([dice(masks[t], masks[t + 1]) for t in range(masks.shape[0] - 1)])
    before = np.concatenate([[-np.inf], step])
    after = np.concatenate([step, [-np.inf]])
    return np.maximum(before, after)


def curve_jumps(curve: np.ndarray) -> np.ndarray:
    """Per frame, the distance of ``curve`` from the median of itself and its two neighbours, over the
    curve's median (0 on a smooth curve; large at a one-frame spike)."""
    curve = np.asarray(curve, np.float64)
    padded = np.concatenate([curve[:1], curve, curve[-1:]])
    local = np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)
    scale = float(np.median(np.abs(curve)))
    return np.abs(curve - local) / (scale if scale > 0 else 1.0)


def robust_outliers(values: np.ndarray, floor: float = TEMPORAL_FLOOR) -> np.ndarray:
    """Frames whose value exceeds the loop's median + :data:`TEMPORAL_MADS` MADs and ``floor``."""
    values = np.asarray(values, np.float64)
    med = float(np.median(values))
    mad = float(np.median(np.abs(values - med)))
    return (values > med + TEMPORAL_MADS * mad) & (values > floor)


def temporal_outliers(labels: np.ndarray) -> dict[str, np.ndarray]:
    """Temporal-consistency flags of a loop of ``(T, rows, cols)`` label maps, per structure.

    Returns:
        ``{"lv": bool (T,), "myo": ..., "la": ..., "lv_jump": bool (T,)}``: a structure's frame is
        flagged when ``1 -`` :func:`neighbour_dice` is an outlier (:func:`robust_outliers`);
        ``lv_jump`` flags a jump of the LV area curve (:func:`curve_jumps`).
    """
    labels = np.asarray(labels)
    out = {}
    for value, name in ((1, "lv"), (2, "myo"), (3, "la")):
        out[name] = robust_outliers(1.0 - neighbour_dice(labels == value))
    out["lv_jump"] = robust_outliers(curve_jumps((labels == 1).reshape(len(labels), -1).sum(axis=1)))
    return out
