"""CAMUS challenge format: endo / epi / LA scores on shapes with known distances, and the CLI table."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from synthboost.evaluation.challenge import camus_segmentation_summary, frame_scores, structure_mask

SPACING = (0.5, 0.25)  # rows 0.5 mm, columns 0.25 mm


def labels(shift: int = 0) -> np.ndarray:
    """LV 20×20 at rows 10-29 (+shift), a 3-pixel myocardium ring around it, an LA 10×20 below."""
    lab = np.zeros((60, 50), np.uint8)
    lab[7 + shift : 33 + shift, 7:33] = 2
    lab[10 + shift : 30 + shift, 10:30] = 1
    lab[40 + shift : 50 + shift, 10:30] = 3
    return lab


def by_label(lab: np.ndarray) -> dict[int, np.ndarray]:
    return {k: lab == k for k in (1, 2, 3)}


def brute_mad(a: np.ndarray, b: np.ndarray, spacing: tuple[float, float]) -> float:
    """Mean of the two directed mean boundary distances, by all pairwise distances."""

    def edge(m: np.ndarray) -> np.ndarray:
        p = np.pad(m, 1)
        inner = p[1:-1, 1:-1] & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
        return np.argwhere(m & ~inner) * np.asarray(spacing)

    ea, eb = edge(a), edge(b)
    d = np.linalg.norm(ea[:, None, :] - eb[None, :, :], axis=2)
    return float((d.min(axis=1).mean() + d.min(axis=0).mean()) / 2)


def test_epi_is_cavity_and_myocardium_filled():
    lab = labels()
    lab[15, 15] = 0  # a hole in the cavity
    epi = structure_mask(by_label(lab), "epi")
    assert epi.sum() == 26 * 26 and epi[15, 15]
    assert not structure_mask(by_label(lab), "endo")[15, 15]


def test_a_two_row_shift_gives_the_hand_derived_scores():
    s = frame_scores(by_label(labels(2)), by_label(labels()), SPACING)
    # 20×20 shifted 2 rows: overlap 18×20 → Dice 2·360/800; 26×26 epi: 24/26; LA 10×20: 8/10
    assert s["endo"]["dice"] == pytest.approx(90.0)
    assert s["epi"]["dice"] == pytest.approx(100 * 24 / 26)
    assert s["la"]["dice"] == pytest.approx(80.0)
    for structure in ("endo", "epi", "la"):  # the farthest boundary pixel is 2 rows = 1.0 mm away
        assert s[structure]["hd_mm"] == pytest.approx(1.0)
        p, g = (structure_mask(by_label(x), structure) for x in (labels(2), labels()))
        assert s[structure]["mad_mm"] == pytest.approx(brute_mad(p, g, SPACING))
        assert 0 < s[structure]["mad_mm"] < 1.0
    same = frame_scores(by_label(labels()), by_label(labels()), SPACING)
    assert all(v == {"dice": 100.0, "hd_mm": 0.0, "mad_mm": 0.0} for v in same.values())


def test_summary_averages_views_then_patients():
    import pandas as pd

    rows = []
    for patient, base in (("p1", 80.0), ("p2", 90.0)):
        for view, delta in (("2CH", -2.0), ("4CH", 2.0)):
            rows.append({"group": "test", "patient": patient, "view": view, "phase": "ED", "structure": "endo",
                         "dice": base + delta, "hd_mm": 1.0, "mad_mm": 0.5})  # fmt: skip
    summary = camus_segmentation_summary(pd.DataFrame(rows))
    r = summary.loc[("endo", "ED")]
    assert r["dice_mean"] == pytest.approx(85.0) and r["dice_sd"] == pytest.approx(np.std([80, 90], ddof=1))
    assert r["n"] == 2


def test_cli_camus_format_on_the_phantom(tmp_path):
    phantom = pytest.importorskip("synthboost.data.phantom.writer")
    from synthboost.cli import app
    from synthboost.data.imageio.medical import read_png
    from synthboost.data.processed import read_meta
    from synthboost.data.sources.camus import prepare_camus
    from synthboost.evaluation.predictions import PredictionWriter

    phantom.generate_phantom(tmp_path / "raw", n_patients=3, seed=3, image_scale=0.5)
    ds = prepare_camus(tmp_path / "raw", tmp_path / "ds", image_size=64)
    info = {"run": "gt_copy", "dataset": "phantom", "split": "all", "prompt_level": "p1", "threshold": 0.5,
            "model": "none"}  # fmt: skip
    with PredictionWriter(tmp_path / "preds", info) as writer:
        for row in read_meta(ds):
            lab = read_png(ds / "labels_native" / row["group"] / f"{row['name']}.png")
            for k in (1, 2, 3):
                writer.add(row["group"], row["name"], k, lab == k, lab == k)
    out = tmp_path / "camus.csv"
    res = CliRunner().invoke(
        app, ["evaluate", str(tmp_path / "preds"), str(ds), "--format", "camus", "-o", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert "run gt_copy · prompt p1" in res.output and "HD and MAD in mm" in res.output
    assert "endo ED" in res.output and "epi ES" in res.output and "la ED" in res.output
    assert "100.00 ±  0.00" in res.output and "EF %" in res.output
    import pandas as pd

    frames = pd.read_csv(out)
    assert len(frames) == 3 * 4 * 3 and (frames["dice"] == 100).all() and (frames["hd_mm"] == 0).all()
    bad = CliRunner().invoke(app, ["evaluate", str(tmp_path / "preds"), str(ds), "--format", "kaggle"])
    assert isinstance(bad.exception, ValueError) and "--format 'kaggle'" in str(bad.exception)
