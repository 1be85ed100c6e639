"""ED/ES, cycles and heart rate from volume curves whose answer is known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from synthboost.cine.phases import CURVE_SIGMA, find_phases, heart_rate, smooth_curve, turning_points


def test_half_cycle_gives_ed_first_and_es_last():
    curve = 100 - 50 * (1 - np.cos(np.linspace(0, np.pi, 15))) / 2  # ED (100) -> ES (50)
    ph = find_phases(curve)
    assert ph.ed == (0,) and ph.es == (14,) and ph.cycles == ((0, 14),)


def test_three_beats_with_noise_and_a_loop_cut_mid_systole():
    rng = np.random.default_rng(0)
    t = np.arange(75) / 25.0  # 25 frames per beat, 3 beats
    phase = t + 0.2  # the loop starts 20 % into the beat: mid-systole
    curve = 120 - 60 * (1 - np.cos(2 * np.pi * phase)) / 2 + rng.normal(0, 2.0, len(t))
    ph = find_phases(curve)
    true_ed = [round((k - 0.2) * 25) for k in (1, 2, 3)]  # frames 20, 45, 70
    true_es = [round((k + 0.5 - 0.2) * 25) for k in (0, 1, 2)]  # frames 7.5, 32.5, 57.5
    assert len(ph.ed) == 3 and len(ph.es) == 3
    assert max(abs(a - b) for a, b in zip(ph.ed, true_ed, strict=True)) <= 2
    assert max(abs(a - b) for a, b in zip(ph.es, true_es, strict=True)) <= 2
    assert 0 not in ph.ed  # the first frame is mid-systole, not an ED
    assert len(ph.cycles) == 2 and all(ed < es for ed, es in ph.cycles)
    times = np.arange(75) * 0.04  # 25 fps -> one beat per second
    assert heart_rate(ph, times) == pytest.approx(60.0, abs=4.0)
    assert heart_rate(ph, None) is None


def test_small_wiggles_are_not_turning_points():
    curve = np.array([10, 9.8, 10.1, 9, 7, 5, 5.2, 4.9, 5.1, 5.0])
    assert turning_points(curve) == [(2, "max"), (7, "min")]


def test_flat_curve_is_refused():
    with pytest.raises(ValueError, match="does not vary"):
        find_phases(np.full(10, 3.0))
    with pytest.raises(ValueError, match="no finite value"):
        find_phases(np.full(5, np.nan))


def test_filling_half_cycle_pairs_es_then_ed():
    curve = np.linspace(40, 90, 12)
    ph = find_phases(curve)
    assert ph.ed == (11,) and ph.es == (0,) and ph.cycles == ((11, 0),)
    assert heart_rate(ph, np.arange(12) * 0.05) is None  # a half beat has no rate


def test_a_known_half_cycle_takes_the_extremes_of_a_noisy_curve():
    curve = np.array([100.0, 80, 60, 85, 90, 70, 50, 45])  # a predicted ED→ES curve with a bump
    assert find_phases(curve, sigma=0).ed == (0, 4)  # the raw turning points see the bump as a beat
    ph = find_phases(curve, half_cycle=True)
    assert ph.ed == (0,) and ph.es == (7,) and ph.cycles == ((0, 7),)
    with pytest.raises(ValueError, match="flat"):
        find_phases(np.ones(5), half_cycle=True)


def _noisy_half_cycles(n_loops: int, noise: float, filling: int = 0, seed: int = 0):
    """ED→ES cosine half-cycles (12–25 frames, volume 100 → 50) with white noise of ``noise`` × the stroke volume.

    ``filling`` mirrored frames after ES make it an interior minimum. Yields ``(curve, true ES frame)``.
    """
    rng = np.random.default_rng(seed)
    for _ in range(n_loops):
        n = int(rng.integers(12, 26))
        volume = 100 - 50 * (1 - np.cos(np.pi * np.arange(n) / (n - 1))) / 2
        volume = np.concatenate([volume, volume[-2 : -2 - filling : -1]])
        yield volume + rng.normal(0, 50 * noise, len(volume)), n - 1


def test_curve_filter_finds_es_at_the_end_of_a_noisy_plateau():
    """Noise of 4 % of the stroke volume (the phantom's predicted curves: 2 % after, 6 % before probability smoothing)."""
    loops = list(_noisy_half_cycles(60, 0.04))

    def ends(sigma: float) -> list[tuple[int, int, int]]:
        return [(*find_phases(c, half_cycle=True, sigma=sigma).cycles[0], es) for c, es in loops]

    raw, filtered = ends(0.0), ends(CURVE_SIGMA)
    assert np.mean([ed <= 1 and es >= true - 1 for ed, es, true in raw]) <= 0.8
    assert sum(es < true - 1 for _, es, true in raw) >= 3  # the raw curve puts ES early on the plateau
    assert np.mean([ed <= 1 and es >= true - 1 for ed, es, true in filtered]) >= 0.95


def test_curve_filter_keeps_an_interior_es_where_it_is():
    """With filling frames after ES the filter must not drag ES to the loop's end (a too wide σ does)."""

    def rate(sigma: float) -> float:
        loops = list(_noisy_half_cycles(60, 0.04, filling=4, seed=1))
        return np.mean([abs(find_phases(c, half_cycle=True, sigma=sigma).es[0] - es) <= 1 for c, es in loops])

    assert rate(CURVE_SIGMA) >= 0.8
    assert rate(6.0) < 0.5


def test_curve_filter_keeps_the_extremes_of_exact_curves():
    for n in (2, 3, 8, 15, 25):
        curve = 100 - 50 * (1 - np.cos(np.linspace(0, np.pi, n))) / 2
        ph = find_phases(curve, half_cycle=True)
        assert ph.cycles == ((0, n - 1),)
    np.testing.assert_array_equal(smooth_curve([1.0, np.nan, 3.0], 0), [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="sigma"):
        smooth_curve(np.ones(4), -1.0)
