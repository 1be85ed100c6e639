"""Loop quality control: per-frame flags, the verdict and its reasons, and ``analyze`` with QC on and off."""

from __future__ import annotations

import csv
import json
from types import SimpleNamespace

import numpy as np

from synthboost.cine import SegmentOptions, analyze
from synthboost.cine.phases import Phases
from synthboost.cine.qc import VERDICTS, judge_frames, loop_verdict
from synthboost.evaluation.qc_fit import NO_RULE_MESSAGE


def _disc(r: float, shift: int = 0) -> np.ndarray:
    rows, cols = np.ogrid[:48, :48]
    return ((rows - 24) ** 2 + (cols - 24 - shift) ** 2 <= r**2).astype(np.uint8)


def _signals(n: int) -> list[dict]:
    one = {"prompt_dis": 0.0, "fragment": 0.0, "n_components": 1, "shape_violation": 0.0}
    return [{s: dict(one) for s in ("lv", "myo", "la")} for _ in range(n)]


def _analysis(curve: np.ndarray, ed: tuple, es: tuple) -> SimpleNamespace:
    return SimpleNamespace(phases=Phases(ed, es, tuple(zip(ed, es, strict=False))),
                           measures={"lv_area": curve}, summary={"curve": "lv_area"})  # fmt: skip


def test_one_corrupted_frame_fails_and_the_verdict_says_why():
    n = 12
    radii = 8 + 4 * np.cos(np.linspace(0, np.pi, n))  # ED at 0, ES at 11
    loop = np.stack([_disc(r) for r in radii])
    frames = judge_frames(_signals(n), loop, None)
    assert not any(f["qc_fail"] for f in frames)
    curve = loop.reshape(n, -1).sum(axis=1).astype(float)
    ok = loop_verdict(_analysis(curve, (0,), (11,)), frames, calibrated=True)
    assert ok["verdict"] == "ok" and ok["reasons"] == []
    bad = loop.copy()
    bad[5] = _disc(radii[5], shift=14)
    frames = judge_frames(_signals(n), bad, None)
    assert [t for t, f in enumerate(frames) if f["qc_fail"]] == [5]
    assert "LV unlike both neighbour frames" in frames[5]["qc_reasons"]
    v = loop_verdict(_analysis(curve, (0,), (11,)), frames, calibrated=False)
    assert v["verdict"] == "ok" and v["reasons"][0] == "1 of 12 frames failed"  # 1/12 is under 10 %
    assert NO_RULE_MESSAGE in v["reasons"][-1]
    v = loop_verdict(_analysis(curve, (0,), (5,)), frames, calibrated=True)  # the failed frame is ES
    assert v["verdict"] == "review" and "ED/ES frame 5 failed QC" in v["reasons"]
    many = [dict(f, qc_fail=t < 4) for t, f in enumerate(frames)]
    v = loop_verdict(_analysis(curve, (0,), (11,)), many, calibrated=True)
    assert v["verdict"] == "unreliable" and v["reasons"][0] == "4 of 12 frames failed"


def test_a_flat_curve_and_a_loop_without_phases():
    frames = judge_frames(_signals(6), np.stack([_disc(8)] * 6), None)
    flat = np.full(6, 100.0)
    flat[3] = 95.0
    v = loop_verdict(_analysis(flat, (0,), (3,)), frames, calibrated=True)
    assert v["verdict"] == "review" and v["reasons"] == [
        "ED/ES on a flat plateau (the LV curve swings 5 % of its maximum)"
    ]
    v = loop_verdict(_analysis(flat, (), ()), frames, calibrated=True)
    assert v["verdict"] == "unreliable" and "no ED/ES found" in v["reasons"]
    assert set(VERDICTS) == {"ok", "review", "unreliable"}


def test_analyze_with_qc_keeps_the_labels_and_adds_frame_columns(cine_phantom, tiny_model, tmp_path):
    dcm = cine_phantom / "dicom" / "patient0001_4CH.dcm"
    opts = SegmentOptions(batch_size=4)
    on = analyze([dcm], model=tiny_model, out=tmp_path / "on", options=opts, device="cpu", video="none")
    off = analyze([dcm], model=tiny_model, options=opts, device="cpu", qc=False)
    np.testing.assert_array_equal(on["loops"][0].labels, off["loops"][0].labels)  # QC changes nothing
    assert "qc" not in off["loops"][0].summary
    summary = json.loads((tmp_path / "on" / "patient0001_4CH" / "summary.json").read_text())
    assert summary["qc"]["verdict"] in VERDICTS and summary["qc"]["calibrated"] is False
    rows = list(csv.DictReader((tmp_path / "on" / "patient0001_4CH" / "frames.csv").open()))
    assert len(rows) == len(on["loops"][0].labels) and rows[0]["qc_score"] == ""  # no qc.json: no score
    assert {r["qc_fail"] for r in rows} <= {"0", "1"}
    assert f"<tr><th>QC</th><td><b>{summary['qc']['verdict']}</b>" in on["report"].read_text()


def test_frame_signals_judge_each_frame_on_the_image_the_model_saw():
    from scipy import ndimage

    from synthboost.cine.qc import frame_signals

    disc = _disc(10).astype(bool)
    crops = np.stack([np.where(disc, 200, 40), np.full((48, 48), 90)]).astype(np.uint8)  # drawn, blank
    primary = np.zeros((2, 3, 24, 24), np.float32)  # answers on a coarser grid than the frames
    primary[:, :] = ndimage.binary_erosion(disc[::2, ::2])  # the disc, a pixel inside its resampled edge
    frames = frame_signals(primary, primary[:, None], 0.5, None, crops)
    drawn, blank = frames[0]["lv"], frames[1]["lv"]
    assert drawn["prompt_dis"] == 0.0 and drawn["heterogeneity"] < 0.1 and drawn["weak_border"] < 0.5
    assert blank["heterogeneity"] == 0.0 and blank["weak_border"] == 1.0  # the same mask, no image support
    assert np.isnan(drawn["inside_misfit"]) and np.isnan(drawn["outside_misfit"])  # no learned appearance


def test_frame_misfits_use_the_runs_appearance_on_the_frame_the_model_saw():
    from scipy import ndimage

    from synthboost.cine.qc import frame_signals
    from synthboost.evaluation import qc

    cavity = _disc(12).astype(bool)
    wall = ndimage.binary_dilation(cavity, iterations=5) & ~cavity
    frame = np.where(cavity, 20, np.where(wall, 220, 90)).astype(np.uint8)
    labels = np.where(cavity, 1, np.where(wall, 2, 0)).astype(np.uint8)
    appearance = qc.fit_appearance([(frame, labels)])
    primary = np.zeros((2, 3, 48, 48), np.float32)
    primary[0, 0] = cavity  # the cavity, then the same mask moved onto its wall
    primary[1, 0] = np.roll(cavity, 12, axis=1)
    frames = frame_signals(
        primary, primary[:, None], 0.5, None, np.stack([frame, frame]), appearance=appearance
    )
    right, shifted = frames[0]["lv"], frames[1]["lv"]
    assert right["inside_misfit"] == qc.inside_misfit(qc.appearance_bins(frame), cavity, appearance, "lv")
    assert right["inside_misfit"] < 0 < shifted["inside_misfit"]
    assert right["outside_misfit"] < 0 < shifted["outside_misfit"]
