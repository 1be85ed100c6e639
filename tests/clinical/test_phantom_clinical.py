"""Simpson's biplane on the phantom's ground truth recovers the true volumes of its 3-D model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from synthboost.clinical import run_clinical  # noqa: E402
from synthboost.clinical.agreement import clinical_html, format_summary  # noqa: E402
from synthboost.clinical.indices import clinical_table  # noqa: E402
from synthboost.data.imageio.medical import read_png  # noqa: E402
from synthboost.data.phantom import writer as phantom  # noqa: E402
from synthboost.data.processed import read_meta  # noqa: E402
from synthboost.data.sources.camus import prepare_camus  # noqa: E402
from synthboost.evaluation.predictions import PredictionWriter  # noqa: E402

INFO = {
    "run": "test",
    "dataset": "phantom",
    "split": "all",
    "prompt_level": "p1",
    "threshold": 0.5,
    "model": "none",
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("phantom")
    phantom.generate_phantom(tmp / "raw", n_patients=4, seed=3, image_scale=0.5)
    return prepare_camus(tmp / "raw", tmp / "ds", image_size=64)


def write_predictions(dataset: Path, out: Path, grow_lv: int = 0, drop: str | None = None) -> Path:
    """Predictions copied from the ground truth, the LV cavity grown by ``grow_lv`` pixels."""
    from scipy import ndimage

    with PredictionWriter(out, INFO) as writer:
        for row in read_meta(dataset):
            if row["name"] == drop:
                continue
            labels = read_png(dataset / "labels_native" / row["group"] / f"{row['name']}.png")
            for k in (1, 2, 3):
                mask = labels == k
                if k == 1 and grow_lv:
                    mask = ndimage.binary_dilation(mask, iterations=grow_lv)
                writer.add(row["group"], row["name"], k, mask, mask)
    return out


def test_ground_truth_masks_recover_the_true_volumes(dataset, tmp_path):
    table = clinical_table(write_predictions(dataset, tmp_path / "preds"), dataset)
    assert len(table) == 4
    for idx in ("edv", "esv"):
        rel = np.abs(table[f"gt_{idx}"] / table[f"ref_{idx}"] - 1)
        assert rel.max() <= 0.05, rel.tolist()
    assert np.abs(table["gt_ef"] - table["ref_ef"]).max() <= 3.0
    # the reference really varies, so agreement is not an accident of constant values
    assert table["ref_ef"].std() > 3.0
    assert (table["gt_la_es"] > 5).all()
    np.testing.assert_allclose(table["pred_edv"], table["gt_edv"])


def test_run_clinical_writes_outputs_and_measures_bias(dataset, tmp_path):
    preds = write_predictions(dataset, tmp_path / "preds", grow_lv=2)
    result = run_clinical(preds, dataset, tmp_path / "out")
    s = json.loads((tmp_path / "out" / "clinical_summary.json").read_text())
    assert s["n_patients"] == 4
    edv = s["comparisons"]["pred_vs_gt"]["edv"]
    assert edv["n"] == 4 and edv["bias"] > 2.0 and edv["mae"] == pytest.approx(edv["bias"])
    assert s["comparisons"]["gt_vs_ref"]["edv"]["pearson_r"] > 0.95
    for name in ("scatter_pred_vs_ref", "bland_altman_pred_vs_ref", "scatter_gt_vs_ref"):
        assert result["paths"][name].stat().st_size > 1000
    csv = (tmp_path / "out" / "clinical_patients.csv").read_text().splitlines()
    assert csv[0].startswith("group,patient,split,pred_edv") and len(csv) == 5
    fragment = clinical_html(tmp_path / "out")
    assert fragment.startswith("<section>") and fragment.count("data:image/png;base64,") == 6
    assert "0.80–0.83" in fragment and "0.80–0.83" in format_summary(result["summary"])
    run_clinical(preds, dataset, tmp_path / "out", plots=False)  # the old PNGs stay on disk ...
    assert len(list((tmp_path / "out").glob("*.png"))) == 6
    assert "data:image/png" not in clinical_html(tmp_path / "out")  # ... but are not this run's


def test_patient_with_a_missing_frame_is_left_out(dataset, tmp_path):
    first = read_meta(dataset)[0]
    table = clinical_table(write_predictions(dataset, tmp_path / "p", drop=first["name"]), dataset)
    assert len(table) == 3 and first["patient"] not in set(table["patient"])


def test_cli_clinical(dataset, tmp_path):
    from typer.testing import CliRunner

    from synthboost.cli import app

    preds = write_predictions(dataset, tmp_path / "preds")
    res = CliRunner().invoke(
        app, ["clinical", str(preds), str(dataset), "-o", str(tmp_path / "c"), "--no-plots"]
    )
    assert res.exit_code == 0, res.output
    assert "pred_vs_ref" in res.output and (tmp_path / "c" / "clinical_summary.json").is_file()
    assert "method of discs: ase" in res.output


def test_cli_clinical_camus_method(dataset, tmp_path):
    from typer.testing import CliRunner

    from synthboost.cli import app

    preds = write_predictions(dataset, tmp_path / "preds")
    out = tmp_path / "camus"
    res = CliRunner().invoke(app, ["clinical", str(preds), str(dataset), "-o", str(out), "--no-plots",
                                   "--method", "camus"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads((out / "clinical_summary.json").read_text())["method"] == "camus"
    camus = clinical_table(preds, dataset, method="camus")
    ase = clinical_table(preds, dataset)
    assert len(camus) == len(ase)
    for src in ("gt", "pred"):  # the script's whole mL, the unrounded volume beside it
        for idx in ("edv", "esv"):
            assert (camus[f"{src}_{idx}"] == camus[f"{src}_{idx}"].round()).all()
            assert (camus[f"{src}_{idx}"] - camus[f"{src}_{idx}_unrounded"]).abs().max() <= 0.5
    bad = CliRunner().invoke(app, ["clinical", str(preds), str(dataset), "-o", str(out), "--method", "teich"])
    assert bad.exit_code != 0
