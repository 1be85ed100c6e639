"""From a model's probability map to the two binary masks that are scored.

- the reference grid: threshold at model size, then nearest-neighbour resize to
  ``grid × grid`` (512, as the paper scored its predictions against 512×512 masks);
- native resolution: bilinear resize of the probabilities to the original image size,
  then threshold (smooth contours for distances in mm and volumes).
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def nearest_resize(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a 2-D array by pixel-centre sampling."""
    h, w = mask.shape
    rows = np.minimum(((np.arange(shape[0]) + 0.5) * h / shape[0]).astype(int), h - 1)
    cols = np.minimum(((np.arange(shape[1]) + 0.5) * w / shape[1]).astype(int), w - 1)
    return mask[np.ix_(rows, cols)]


def bilinear_resize(prob: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a float map to ``shape`` (rows, cols)."""
    if tuple(prob.shape) == tuple(shape):
        return prob.astype(np.float32)
    img = Image.fromarray(np.ascontiguousarray(prob, dtype=np.float32), mode="F")
    return np.asarray(img.resize((shape[1], shape[0]), Image.Resampling.BILINEAR), dtype=np.float32)


def to_masks(
    prob: np.ndarray, native_shape: tuple[int, int], threshold: float = 0.5, grid: int = 512
) -> tuple[np.ndarray, np.ndarray]:
    """Binary masks on the reference grid and at native resolution.

    Args:
        prob: (h, w) probabilities in [0, 1] at the model's input size.
        native_shape: (rows, cols) of the original image.
        threshold: a pixel is foreground when its probability is strictly above it.
        grid: side of the square reference grid.

    Returns:
        ``(grid_mask, native_mask)``, boolean arrays of shapes ``(grid, grid)`` and
        ``native_shape``.
    """
    prob = np.asarray(prob)
    if prob.ndim != 2:
        raise ValueError(f"to_masks: expected a 2-D probability map, got shape {prob.shape}")
    if len(native_shape) != 2 or min(native_shape) < 1:
        raise ValueError(f"to_masks: native_shape must be (rows, cols) > 0, got {native_shape}")
    if not np.isfinite(prob).all() or prob.min() < 0 or prob.max() > 1:
        raise ValueError("to_masks: probabilities must be finite and in [0, 1] (apply a sigmoid first)")
    grid_mask = nearest_resize(prob > threshold, (grid, grid))
    native_mask = bilinear_resize(prob, tuple(native_shape)) > threshold
    return grid_mask, native_mask
