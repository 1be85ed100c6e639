"""Per-structure intensity statistics, generated vs real."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from test_perturb import tiny_dataset  # noqa: F401

from synthboost.synth.score import intensity_stats, score


def write_efn(root, value: int, split: str = "training"):
    """An Echo-from-noise folder: one 2CH ED image with LV = value, MYO = 2·value, LA and background 10."""
    lab = np.zeros((8, 8), np.uint8)
    lab[1:4, 1:4], lab[4:6, :], lab[6:, :] = 1, 2, 3
    img = np.full((8, 8), 10, np.uint8)
    img[lab == 1], img[lab == 2] = value, 2 * value
    stem = "patient0001_2CH_ED_testing" if split == "testing" else f"patient0001_2CH_ED_{split}_0"
    for sub, arr in (("images", img), ("labels", lab)):
        (root / split / sub).mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr).save(root / split / sub / f"{stem}.png")
    return root


def test_stats_known_values(tmp_path):
    stats = intensity_stats(write_efn(tmp_path / "a", 50)).set_index("structure")
    assert stats.loc["lv", "mean"] == 50 and stats.loc["myo", "mean"] == 100 and stats.loc["la", "std"] == 0
    assert stats.loc["background", "pixels"] == 64 - 9 - 16 - 16
    write_efn(tmp_path / "a", 120, split="testing")  # real CAMUS frames beside: not generated
    table = score(tmp_path / "a", write_efn(tmp_path / "b", 60, split="testing")).set_index("structure")
    assert table.loc["lv", "mean_diff"] == -10 and table.loc["myo", "mean_diff"] == -20
    assert table.loc["la", "mean_diff"] == 0


def test_processed_dataset_and_segmenter_hook(tiny_dataset):  # noqa: F811
    perfect = intensity_stats(tiny_dataset, segmenter=lambda img: np.zeros_like(img))
    assert set(perfect["view"]) == {"2CH"} and set(perfect["phase"]) == {"ED", "ES"}
    assert (perfect.loc[perfect.structure != "background", "dice"] == 0).all()


def test_bad_folder(tmp_path):
    with pytest.raises(ValueError, match="neither a processed dataset"):
        intensity_stats(tmp_path)
