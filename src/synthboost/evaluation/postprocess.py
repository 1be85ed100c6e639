"""From a model's probability map to the two binary masks that are scored.

- the reference grid: threshold at model size, then nearest-neighbour resize to
  ``grid × grid`` (512, as the paper scored its predictions against 512×512 masks);
- native resolution: bilinear resize of the probabilities to the original image size,
  then threshold (smooth contours for distances in mm and volumes).
"""

from __future__ import annotations

import numpy as np

from synthboost.data.imageio.medical import bilinear_resize, nearest_resize

__all__ = ["bilinear_resize", "nearest_resize", "to_masks"]


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
