"""Quality-control signals and the calibrated rule, on inputs whose answer is known by hand."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from synthboost.evaluation import qc
from synthboost.evaluation.qc_fit import (
    NO_RULE_MESSAGE,
    QCModel,
    fit_rule,
    load_qc,
    read_qc,
    write_qc,
    youden_threshold,
)
from synthboost.evaluation.qc_pass import ensemble_prompts, image_qc, judge


def disc(shape: tuple[int, int], center: tuple[float, float], radius: float) -> np.ndarray:
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    return (rows - center[0]) ** 2 + (cols - center[1]) ** 2 <= radius**2


def heart(shape: tuple[int, int] = (64, 64), lv_radius: float = 10.0) -> np.ndarray:
    """An LV disc inside a myocardium ring, an LA disc touching it below."""
    labels = np.zeros(shape, np.uint8)
    centre = (26, 32)
    labels[disc(shape, centre, lv_radius + 3)] = 2
    labels[disc(shape, (centre[0] + lv_radius + 9, 32), 6)] = 3
    labels[disc(shape, centre, lv_radius)] = 1
    return labels


class ToySegmenter:
    """A 'model' whose answer is the image's brightness at every prompt (prompt-insensitive)."""

    threshold = 0.5

    def __init__(self, answer=None) -> None:
        self.answer = answer or (lambda frame, prompt: frame / 255.0)
        self.calls: list[int] = []

    def prompt_batch_probabilities(self, image, prompts):
        self.calls.append(len(prompts))
        return np.stack([self.answer(image, p) for p in prompts]).astype(np.float32)


def test_a_mask_split_in_two_components_is_flagged():
    one = disc((40, 40), (20, 10), 5)
    two = one | disc((40, 40), (20, 32), 3)
    assert qc.n_components(one) == 1 and qc.fragmentation(one) == 0.0
    assert qc.n_components(two) == 2
    small, large = int(disc((40, 40), (20, 32), 3).sum()), int(one.sum())
    assert qc.fragmentation(two) == pytest.approx(small / (small + large))
    assert qc.fragmentation(np.zeros((5, 5), bool)) == 1.0
    signals = {"n_components": 2, "prompt_dis": 0.0, "tta_dis": 0.0, "fragment": 0.1, "shape_violation": 0.0}
    out = judge(signals, None, "lv")
    assert "2 components" in out["qc_reasons"] and NO_RULE_MESSAGE in out["qc_reasons"]
    assert math.isnan(out["qc_score"]) and out["qc_fail"] is None


def test_a_prompt_insensitive_toy_model_gives_zero_disagreement():
    image = np.full((48, 48), 30, np.uint8)
    image[10:30, 14:34] = 200
    toy = ToySegmenter()
    lists = [["a", "b", "c", "d"], ["e", "f", "g", "h"], ["i", "j", "k", "l"]]
    out = image_qc(toy, image, lists, None)
    assert toy.calls == [12, 3]  # one call (one encoding) for the ensemble, one for the augmented image
    for structure in ("lv", "myo", "la"):
        assert out[structure]["prompt_dis"] == 0.0
        # a pixel-wise answer is flip-equivariant and the intensity change keeps 200 above and 30 below 0.5
        assert out[structure]["tta_dis"] == 0.0


def test_prompt_and_augmentation_disagreement_have_known_values():
    image = np.zeros((20, 20), np.uint8)
    left = np.zeros((20, 20), np.float32)
    left[:, :10] = 1.0  # always the left half, whatever the image: the flip is undone to the right half
    halves = {"x": left, "y": left[:, ::-1].copy()}
    toy = ToySegmenter(lambda frame, prompt: halves.get(prompt, left))
    out = image_qc(toy, image, [["x", "y"], ["x", "x"], ["x", "x"]], None)
    assert out["lv"]["prompt_dis"] == 1.0 and out["myo"]["prompt_dis"] == 0.0
    assert out["lv"]["tta_dis"] == 1.0
    masks = [disc((30, 30), (15, 15), 6), disc((30, 30), (15, 15), 6), np.zeros((30, 30), bool)]
    assert qc.mask_disagreement(masks) == pytest.approx(1 - (1 + 0 + 0) / 3)
    with pytest.raises(ValueError, match="at least 2"):
        qc.mask_disagreement(masks[:1])


def test_augmentation_is_undone():
    image = np.tile(np.arange(0, 250, 10, dtype=np.uint8), (3, 1))
    aug = qc.augment(image, gamma=1.0, gain=1.0)
    np.testing.assert_array_equal(aug, image[:, ::-1])
    np.testing.assert_array_equal(qc.unaugment(aug), image)


def test_shape_features_of_a_hand_made_heart():
    labels = heart()
    f = qc.shape_features(labels)
    assert f["lv_enclosure"] == 1.0  # the LV touches only myocardium and LA
    assert f["lv_area"] == pytest.approx((labels == 1).sum() / 64**2)
    assert f["la_gap"] == pytest.approx(3 / 64)  # LV down to row 36, LA from row 39, below the wall
    open_wall = labels.copy()
    open_wall[(labels == 2) & (np.arange(64)[None, :] < 32)] = 0  # the left half of the myocardium gone
    assert 0.3 < qc.shape_features(open_wall)["lv_enclosure"] < 0.7
    apart = labels.copy()
    apart[apart == 3] = 0
    apart[58:62, 30:34] = 3
    assert qc.shape_features(apart)["la_gap"] > 0.1
    rect = np.zeros((60, 60), bool)
    rect[10:50, 20:30] = True
    assert qc.elongation(rect) == pytest.approx(math.sqrt((40**2 - 1) / (10**2 - 1)))
    assert math.isnan(qc.shape_features(np.zeros((8, 8), np.uint8))["lv_enclosure"])


def test_ranges_are_learned_from_training_labels_and_violations_counted():
    rows = [{"a": float(v)} for v in range(101)]
    lo, hi = qc.fit_ranges(rows)["a"]
    assert (lo, hi) == pytest.approx((1.0 - 0.1 * 98, 99.0 + 0.1 * 98))
    ranges = {"a": [0.0, 10.0], "b": [0.0, 10.0]}
    v = qc.range_violations({"a": 15.0, "b": 5.0}, ranges)
    assert v == {"a": 0.5, "b": 0.0}
    assert qc.range_violations({"a": 1000.0, "b": math.nan}, ranges) == {"a": qc.VIOLATION_CAP, "b": 1.0}
    assert qc.range_violations({"a": 1.1}, {"a": [1.0, 1.0]})["a"] == pytest.approx(1.0)  # min width 0.1
    with pytest.raises(ValueError, match="no training label maps"):
        qc.fit_ranges([])


def test_a_sequence_with_one_corrupted_frame_is_flagged_at_that_frame():
    shape, n, bad = (64, 64), 12, 6
    loop = np.stack([heart(shape, 9 + 4 * abs(np.sin(np.pi * t / n))) for t in range(n)])
    flags = qc.temporal_outliers(loop)
    assert not any(f.any() for f in flags.values())
    corrupted = loop.copy()
    corrupted[bad] = np.roll(loop[bad], 20, axis=1)  # the heart shifted sideways in one frame
    flags = qc.temporal_outliers(corrupted)
    assert np.flatnonzero(flags["lv"]).tolist() == [bad]
    assert np.flatnonzero(flags["myo"]).tolist() == [bad]
    shrunk = loop.copy()
    shrunk[bad] = heart(shape, 5)  # the LV area drops to a quarter for one frame
    assert np.flatnonzero(qc.temporal_outliers(shrunk)["lv_jump"]).tolist() == [bad]
    curve = np.array([10.0, 10, 10, 30, 10, 10])
    np.testing.assert_allclose(qc.curve_jumps(curve), [0, 0, 0, 2, 0, 0])


def test_the_rule_predicts_each_structures_dice_and_picks_the_youden_threshold():
    rng = np.random.default_rng(0)
    rows, dice = [], []
    for structure, base in (("lv", 92.0), ("myo", 72.0), ("la", 84.0)):  # own typical Dice, own slope
        for _ in range(20):
            signal = float(rng.uniform(0.0, 1.0))
            rows.append({"structure": structure, "prompt_dis": signal, "noise": float(rng.normal())})
            dice.append(base - 20.0 * signal if structure != "lv" else base - 4.0 * signal)
    rule = fit_rule(rows, dice, ("prompt_dis", "noise"))
    assert set(rule.models) == {"lv", "myo", "la", "all"} and rule.target == "dice"
    assert rule.models["myo"].coef[0] < rule.models["lv"].coef[0] < 0  # disagreement lowers the Dice expected
    assert abs(rule.models["myo"].coef[1]) < 0.1 * abs(rule.models["myo"].coef[0])  # noise is not a signal
    scores = np.array([rule.score(r, r["structure"]) for r in rows])
    assert np.corrcoef(scores, dice)[0, 1] > 0.99 and ((scores >= 0) & (scores <= 1)).all()
    assert rule.score({"prompt_dis": 0.0, "noise": 0.0}, "lv") == pytest.approx(0.92, abs=0.01)
    failed = np.array(dice) < 80
    assert ((scores < rule.threshold) == failed).all()  # separable: the threshold splits them
    assert rule.threshold == youden_threshold(scores, failed)
    assert rule.reasons({"prompt_dis": 0.99, "noise": -5.0}) == ["prompt_dis 0.99"]
    few = fit_rule(rows[:30], dice[:30], ("prompt_dis",))  # 20 LV, 10 MYO ... and no LA: it falls back
    assert "la" not in few.models and few.score({"prompt_dis": 0.5}, "la") == few.models["all"](
        np.array([0.5])
    )
    with pytest.raises(ValueError, match="0 of 2 validation image-structures fail"):
        fit_rule(rows[:2], [90.0, 95.0], ("prompt_dis",))
    assert youden_threshold(np.array([0.1, 0.2, 0.8, 0.9]), np.array([True, True, False, False])) == 0.8


def test_a_version_1_rule_is_still_read_and_scored_as_before(tmp_path):
    old = {"signals": ["prompt_dis", "is_myo", "is_la"], "mean": [0.2, 0.3, 0.3], "std": [0.1, 0.5, 0.5],
           "coef": [2.0, 1.0, 0.5], "intercept": -1.0, "threshold": 0.6, "typical": {"prompt_dis": 0.3}}  # fmt: skip
    path = tmp_path / "qc.json"
    path.write_text(json.dumps({"version": 1, "rules": {"still": old, "loop": old}, "ranges": {}}))
    rule = read_qc(path).rules["still"]
    assert rule.target == "failure" and set(rule.models) == {"all"}
    values = {"prompt_dis": 0.4, "is_myo": 1.0, "is_la": 0.0}
    z = 2.0 * (0.4 - 0.2) / 0.1 + 1.0 * (1.0 - 0.3) / 0.5 + 0.5 * (0.0 - 0.3) / 0.5 - 1.0
    assert rule.score(values, "myo") == pytest.approx(1.0 - 1.0 / (1.0 + math.exp(-z)))


def test_qc_json_round_trip_and_clear_errors(tmp_path):
    rows = [{"structure": "lv", "prompt_dis": float(s)} for s in (0.1, 0.2, 0.8, 0.9)]
    rule = fit_rule(rows, [90, 90, 50, 50], ("prompt_dis",))
    model = QCModel({"still": rule, "loop": rule}, {"lv_area": [0.1, 0.2]}, {"fitted_on": "val"})
    path = write_qc(tmp_path / "run" / "qc.json", model)
    back = read_qc(path)
    assert back.rules["still"] == rule and back.ranges == model.ranges and back.info == {"fitted_on": "val"}
    assert load_qc(tmp_path / "run") == back and load_qc(tmp_path / "run" / "model") == back
    assert load_qc(tmp_path / "elsewhere") is None
    for broken in ('{"version": 1, "rules": {"still": {"signals": ["a"]}}, "ranges": {}}',
                   '{"version": 2, "rules": {"still": {"signals": ["a"], "models": {}}}, "ranges": {}}'):  # fmt: skip
        path.write_text(broken)
        with pytest.raises(ValueError, match=r"qc.json: malformed QC rule"):
            read_qc(path)
    path.write_text('{"version": 1, "rules": {}, "ranges": {}}')
    with pytest.raises(ValueError, match=r"qc.json: no QC rule for \['still', 'loop'\]"):
        read_qc(path)
    path.write_text('{"version": 7}')
    with pytest.raises(ValueError, match="qc.json: QC version 7"):
        read_qc(path)


def test_ensemble_prompts_take_both_phrasings_and_the_neighbour_levels():
    prompts = {"p0": "", "p1": ["a1", "b1"], "p2": ["a2", "b2"], "p3": ["a3", "b3"]}
    assert ensemble_prompts(prompts, "p2") == ["a2", "b2", "a1", "a3"]
    assert ensemble_prompts(prompts, "p1") == ["a1", "b1", "a2"]
    assert ensemble_prompts(prompts, "p3") == ["a3", "b3", "a2"]
    with pytest.raises(ValueError, match="'p9'"):
        ensemble_prompts(prompts, "p9")


def test_batched_prompts_equal_separate_decodes(segmenter):
    image = np.random.default_rng(0).integers(0, 255, (50, 40), dtype=np.uint8)
    prompts = ["Left ventricular cavity of the heart.", "Myocardium of the heart.", "Left atrium cavity."]
    batched = segmenter.prompt_batch_probabilities(image, prompts)
    np.testing.assert_allclose(batched, segmenter.frame_probabilities(image[None], prompts)[0], atol=1e-5)
    assert np.abs(batched[0] - batched[1]).max() > 1e-4  # the prompts reach the model


def test_uncertainty_is_zero_for_a_certain_answer_and_known_for_a_hesitant_one():
    certain = np.zeros((20, 20))
    certain[5:15, 5:15] = 1.0
    assert qc.uncertainty(certain, 0.5) == 0.0
    assert qc.uncertainty(np.zeros((20, 20)), 0.5) == 0.0  # nothing, and sure of it
    hesitant = certain * 0.6  # 100 pixels at 0.6: soft Dice 2·60 / (60 + 100) = 0.75
    assert qc.uncertainty(hesitant, 0.5) == pytest.approx(0.25)
    assert qc.uncertainty(certain * 0.3, 0.5) == 1.0  # mass below the threshold, no mask: fully uncertain
    ring = certain.copy()
    ring[4, 5:15] = ring[15, 5:15] = 0.4  # a hesitant border adds uncertainty
    assert 0 < qc.uncertainty(ring, 0.5) < qc.uncertainty(hesitant, 0.5)


def test_heterogeneity_is_zero_on_a_uniform_region_and_one_on_the_images_own_spread():
    rng = np.random.default_rng(0)
    image = np.full((40, 40), 20.0)
    image[10:30, 10:30] = 180.0
    inside = np.zeros((40, 40), bool)
    inside[12:28, 12:28] = True
    assert qc.heterogeneity(image, inside) == 0.0  # one intensity inside the mask
    whole = np.ones((40, 40), bool)
    assert qc.heterogeneity(image, whole) == pytest.approx(1.0)  # the mask is the image
    noisy = rng.normal(100, 20, (40, 40))
    straddles = np.zeros((40, 40), bool)
    straddles[5:35, 20:25] = True  # half in the bright square, half outside: as spread as a border gets
    assert qc.heterogeneity(image, straddles) > 0.9
    for img in (image, noisy):  # a gain and an offset change nothing
        assert qc.heterogeneity(3.0 * img + 7.0, straddles) == pytest.approx(qc.heterogeneity(img, straddles))
    assert qc.heterogeneity(image, np.zeros((40, 40), bool)) == 1.0  # no mask, no evidence
    assert qc.heterogeneity(np.full((40, 40), 9.0), inside) == 0.0  # a blank image is uniform
    with pytest.raises(ValueError, match="differ in shape"):
        qc.heterogeneity(image, inside[:-1])


def test_border_weakness_has_its_closed_form_on_a_drawn_disc_and_is_one_without_a_border():
    from scipy import ndimage

    mask = disc((64, 64), (32, 32), 12)
    image = np.where(mask, 200.0, 40.0)
    outer = ndimage.binary_dilation(mask, iterations=qc.BORDER_BAND) & ~mask
    p = mask.sum() / (mask.sum() + outer.sum())  # two intensities: spread = 160 sqrt(p (1 - p))
    expected = 1.0 / (1.0 + 1.0 / math.sqrt(p * (1.0 - p)))
    assert qc.border_weakness(image, mask) == pytest.approx(expected)
    assert qc.border_weakness(0.5 * image + 30.0, mask) == pytest.approx(expected)  # gain, offset
    shifted = disc((64, 64), (32, 41), 12)  # the same disc drawn 9 pixels off: a weaker border
    assert expected < qc.border_weakness(image, shifted) < 1.0
    assert qc.border_weakness(np.full((64, 64), 90.0), mask) == 1.0  # a uniform image draws no border
    assert qc.border_weakness(image, np.ones((64, 64), bool)) == 1.0  # no outside band
    assert qc.border_weakness(image, np.zeros((64, 64), bool)) == 1.0


def test_the_qc_pass_reports_the_image_evidence_of_each_mask():
    image = np.full((48, 48), 30, np.uint8)
    image[10:30, 14:34] = 200  # the toy model answers this bright square for every structure
    out = image_qc(ToySegmenter(), image, [["a"], ["b"], ["c"]], None)
    for structure in ("lv", "myo", "la"):
        assert out[structure]["heterogeneity"] == 0.0  # the mask is exactly the uniform square
        assert out[structure]["weak_border"] < 0.4  # and its border is the image's edge
    blank = image_qc(
        ToySegmenter(lambda frame, prompt: np.pad(np.ones((20, 20)), 14)), image * 0, [["a"]] * 3, None
    )
    assert blank["lv"]["weak_border"] == 1.0  # a mask drawn on an empty image has no support


def test_the_printed_line_reads_a_dice_rules_score_as_the_expected_dice():
    from synthboost.evaluation.qc_fit import Linear, QCRule
    from synthboost.evaluation.qc_pass import describe

    signals = ("prompt_dis",)
    result = {"qc_score": 0.734, "qc_fail": True, "qc_reasons": "prompt_dis 0.40", "prompt_dis": 0.4,
              "tta_dis": math.nan, "uncertainty": 0.1, "fragment": 0.0, "shape_violation": 0.0,
              "heterogeneity": 0.3, "weak_border": 0.5, "inside_misfit": math.nan,
              "outside_misfit": -0.25}  # fmt: skip
    flat = {"all": Linear((0.0,), (1.0,), (0.0,), 0.0)}
    for target, expected in (
        ("dice", "QC score 0.73 (expected Dice 73) < 0.80: FLAGGED"),
        ("failure", "QC score 0.73 < 0.80"),
    ):
        rule = QCRule(signals, flat, 0.8, {"prompt_dis": 0.3}, target)
        line = describe(result, QCModel({"still": rule, "loop": rule}, {}, {}))
        assert line.startswith(expected) and "tta_dis" not in line and "weak_border 0.50" in line
        assert "inside_misfit" not in line and "outside_misfit -0.25" in line


def _hand_appearance(bins: int = qc.APPEARANCE_BINS) -> dict:
    """Histograms by hand: bin 3 is mostly LV, bin 12 mostly myocardium; the rest spread evenly."""

    def hist(**peaks: float) -> list[float]:
        rest = (1.0 - sum(peaks.values())) / (bins - len(peaks))
        return [peaks.get(f"b{i}", rest) for i in range(bins)]

    return {
        "class": {"background": hist(b3=0.2, b12=0.1), "lv": hist(b3=0.5, b12=0.02),
                  "myo": hist(b3=0.05, b12=0.6), "la": hist(b3=0.4, b12=0.05)},
        "ring": {"lv": hist(b3=0.1, b12=0.45), "myo": hist(b3=0.3, b12=0.1), "la": hist(b3=0.2, b12=0.2)},
        "all": hist(b3=0.15, b12=0.15),
    }  # fmt: skip


def test_appearance_misfits_are_the_log_likelihood_ratios_worked_out_by_hand():
    appearance = _hand_appearance()
    bins = np.full((20, 20), 3)
    bins[:, 12:] = 12  # left: LV-like intensities, right: muscle-like
    mask = np.zeros((20, 20), bool)
    mask[5:15, 2:8] = True  # inside the LV-like half, its 2-px ring too
    # inside: -log(p_lv / max(p_bg, p_myo, p_la)) = -log(0.5 / 0.4); ring: -log(ring_lv / all) = -log(0.1 / 0.15)
    assert qc.inside_misfit(bins, mask, appearance, "lv") == pytest.approx(-math.log(0.5 / 0.4))
    assert qc.outside_misfit(bins, mask, appearance, "lv") == pytest.approx(-math.log(0.1 / 0.15))
    assert qc.inside_misfit(bins, mask, appearance, "myo") == pytest.approx(-math.log(0.05 / 0.5))
    walled = np.zeros((20, 20), bool)
    walled[5:15, 8:12] = True  # its ring's right part lies in the muscle: a cavity with its wall beside it
    ring = qc.ring(walled)
    n_muscle = int((bins[ring] == 12).sum())
    expected = (
        -(n_muscle * math.log(0.45 / 0.15) + (ring.sum() - n_muscle) * math.log(0.1 / 0.15)) / ring.sum()
    )
    assert qc.outside_misfit(bins, walled, appearance, "lv") == pytest.approx(expected)
    assert qc.outside_misfit(bins, walled, appearance, "lv") < qc.outside_misfit(bins, mask, appearance, "lv")
    assert qc.inside_misfit(bins, np.zeros((20, 20), bool), appearance, "lv") == qc.MISFIT_EMPTY
    assert qc.outside_misfit(bins, np.ones((20, 20), bool), appearance, "lv") == qc.MISFIT_EMPTY  # no ring


def test_appearance_bins_ignore_the_gain_and_a_blank_image_is_bin_zero():
    rng = np.random.default_rng(3)
    image = rng.uniform(0, 100, (32, 32))
    assert np.array_equal(qc.appearance_bins(image), qc.appearance_bins(2.5 * image))
    assert qc.appearance_bins(image).max() == qc.APPEARANCE_BINS - 1 and qc.appearance_bins(image).min() >= 0
    assert not qc.appearance_bins(np.zeros((8, 8))).any()


def test_learned_appearance_prefers_the_true_masks_to_shifted_or_short_ones():
    from scipy import ndimage

    rng = np.random.default_rng(0)
    labels = heart()
    tone = np.array([60.0, 15.0, 200.0, 25.0])  # background tissue, dark cavities, bright muscle

    def image(lab):
        return np.clip(tone[lab] + rng.normal(0, 8, lab.shape), 0, 255)

    pairs = [(image(labels), labels) for _ in range(4)]
    appearance = qc.fit_appearance(pairs)
    for hists in (appearance["class"], appearance["ring"], {"all": appearance["all"]}):
        for h in hists.values():
            assert len(h) == qc.APPEARANCE_BINS and min(h) > 0 and sum(h) == pytest.approx(1.0)
    img = image(labels)
    bins = qc.appearance_bins(img)
    lv, myo = labels == 1, labels == 2
    on_muscle = np.roll(lv, 12, axis=1)  # the cavity mask moved onto the wall and the tissue
    short = ndimage.binary_erosion(lv, iterations=4)  # stops 4 px short of its wall
    assert (
        qc.inside_misfit(bins, lv, appearance, "lv") < 0 < qc.inside_misfit(bins, on_muscle, appearance, "lv")
    )
    assert qc.inside_misfit(bins, myo, appearance, "myo") < 0 < qc.inside_misfit(bins, lv, appearance, "myo")
    assert (
        qc.outside_misfit(bins, lv, appearance, "lv") < 0 < qc.outside_misfit(bins, short, appearance, "lv")
    )
    with pytest.raises(ValueError, match="differ"):
        qc.fit_appearance([(img, labels[:-1])])
    with pytest.raises(ValueError, match="no training images"):
        qc.fit_appearance([])


def test_qc_json_keeps_the_appearance_and_a_version_2_file_is_read_without_it(tmp_path):
    rows = [
        {"structure": "lv", "prompt_dis": float(s), "outside_misfit": float(s)} for s in (0.1, 0.2, 0.8, 0.9)
    ]
    rule = fit_rule(rows, [90, 90, 50, 50], ("prompt_dis", "outside_misfit"))
    model = QCModel({"still": rule, "loop": rule}, {}, {"fitted_on": "val"}, _hand_appearance())
    path = write_qc(tmp_path / "qc.json", model)
    assert read_qc(path) == model and json.loads(path.read_text())["version"] == 3
    doc = json.loads(path.read_text())
    old = fit_rule(rows, [90, 90, 50, 50], ("prompt_dis",))
    v2 = {
        "version": 2,
        "ranges": {},
        "rules": {"still": dataclasses.asdict(old), "loop": dataclasses.asdict(old)},
    }
    path.write_text(json.dumps(v2))
    assert read_qc(path).appearance is None and read_qc(path).rules["still"] == old
    no_hist = {k: v for k, v in doc.items() if k != "appearance"}
    path.write_text(json.dumps(no_hist))
    with pytest.raises(
        ValueError, match=r"qc.json: its rules use \['outside_misfit'\] but it holds no 'appearance'"
    ):
        read_qc(path)
    for broken, message in (({**doc["appearance"], "ring": {"lv": [1.0]}}, "lacks histograms for \\['la', 'myo'\\]"),
                            ({**doc["appearance"], "all": [0.5, 0.5]}, "not 16 positive probabilities"),
                            ({"class": {}}, "malformed 'appearance'")):  # fmt: skip
        path.write_text(json.dumps({**doc, "appearance": broken}))
        with pytest.raises(ValueError, match=message):
            read_qc(path)


def test_the_qc_pass_computes_the_misfits_only_with_learned_appearance():
    image = np.full((48, 48), 30, np.uint8)
    image[10:30, 14:34] = 200
    raw = image_qc(ToySegmenter(), image, [["a"], ["b"], ["c"]], None)
    assert math.isnan(raw["lv"]["inside_misfit"]) and math.isnan(raw["lv"]["outside_misfit"])
    rule = fit_rule([{"structure": "lv", "prompt_dis": v} for v in (0.1, 0.9)], [90, 50], ("prompt_dis",))
    model = QCModel({"still": rule, "loop": rule}, {}, {}, _hand_appearance())
    out = image_qc(ToySegmenter(), image, [["a"], ["b"], ["c"]], model)
    bins = qc.appearance_bins(image.astype(float))
    mask = image > 127
    assert out["myo"]["inside_misfit"] == pytest.approx(qc.inside_misfit(bins, mask, model.appearance, "myo"))
    assert out["la"]["outside_misfit"] == pytest.approx(qc.outside_misfit(bins, mask, model.appearance, "la"))
