"""Temporal smoothing, conflict resolution and island removal on arrays with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from synthboost.cine.labels import remove_islands, smooth_probabilities


def test_islands_smaller_than_the_fraction_go_to_background():
    labels = np.zeros((20, 20), np.uint8)
    labels[2:12, 2:12] = 1  # 100 px
    labels[15:18, 15:18] = 1  # 9 px island
    labels[15:19, 2:7] = 3  # a lone LA (its largest component) stays
    out = remove_islands(labels, 0.2)
    assert (out == 1).sum() == 100 and (out == 3).sum() == 20
    assert remove_islands(labels, 0.0).tolist() == labels.tolist()
    with pytest.raises(ValueError):
        remove_islands(labels, 1.5)


def test_smoothing_removes_flicker_and_keeps_the_extremum_in_place():
    t = np.arange(41)
    signal = 0.5 + 0.4 * np.cos(2 * np.pi * t / 40)  # maximum at frames 0 and 40, minimum at 20
    flicker = np.where(t % 2 == 0, 0.05, -0.05)
    probs = (signal + flicker)[:, None, None].astype(np.float32)
    out = smooth_probabilities(probs, 1.0)[:, 0, 0]
    assert np.abs(out - signal)[3:-3].max() < 0.01  # the ±0.05 flicker is gone, the beat is kept
    assert int(np.argmin(out)) == 20
    np.testing.assert_array_equal(smooth_probabilities(probs, 0.0), probs)
    with pytest.raises(ValueError, match="sigma"):
        smooth_probabilities(probs, -1)
