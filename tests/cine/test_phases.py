"""ED/ES, cycles and heart rate from volume curves whose answer is known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from synthboost.cine.phases import find_phases, heart_rate, turning_points


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
    assert find_phases(curve).ed == (0, 4)  # the turning points see the bump as a beat
    ph = find_phases(curve, half_cycle=True)
    assert ph.ed == (0,) and ph.es == (7,) and ph.cycles == ((0, 7),)
    with pytest.raises(ValueError, match="flat"):
        find_phases(np.ones(5), half_cycle=True)
