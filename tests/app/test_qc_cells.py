"""The app's QC cells: a traffic light per structure from the run's qc.json, raw signals without one."""

from __future__ import annotations

import numpy as np

from synthboost.app.analysis import qc_cells
from synthboost.evaluation.qc_fit import Linear, QCModel, QCRule, write_qc


class Toy:
    """Answers the image's brightness at every prompt (no prompt or flip changes it)."""

    def prompt_batch_probabilities(self, image, prompts):
        return np.stack([image / 255.0 for _ in prompts]).astype(np.float32)


def _rule(threshold: float) -> QCRule:
    signals = ("prompt_dis", "tta_dis", "fragment", "shape_violation")
    zeros = (0.0,) * len(signals)
    flat = Linear(zeros, (1.0,) * len(signals), zeros, 0.731)  # the same expected Dice for every item
    return QCRule(signals, {"all": flat}, threshold, dict.fromkeys(signals, 1.0))


def test_cells_show_a_light_per_structure(tmp_path):
    image = np.full((32, 32), 20, np.uint8)
    image[8:24, 8:24] = 220
    raw = qc_cells(Toy(), image, {"view": "2CH", "phase": "ED"}, 0.5, None)
    assert raw["lv"] == "raw: prompt_dis 0.00, tta_dis 0.00 (no qc.json)"
    ranges = {f: [0.0, 1.0] for f in ("lv_area", "lv_elongation", "lv_enclosure", "myo_area", "myo_lv_ratio",
                                      "la_area", "la_lv_ratio", "la_gap")}  # fmt: skip
    for threshold, light in ((0.5, "🟢"), (0.9, "🔴")):
        path = write_qc(
            tmp_path / f"{threshold}.json",
            QCModel({"still": _rule(threshold), "loop": _rule(threshold)}, ranges, {}),
        )
        cells = qc_cells(Toy(), image, {"view": "2CH", "phase": "ED", "age": 0}, 0.5, str(path))
        assert cells["lv"].startswith(f"{light} 0.73")
