"""The paper's Table 1 and both significance tests reproduce from the authors' released metrics.

Reference data: Adhikari et al., Synthetic Boost, ASMUS 2023 (CC-BY 4.0).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthboost.cli import app
from synthboost.report.paper import PAPER_TESTS, reproduce_paper

REFERENCE = Path(
    os.environ.get(
        "SYNTHBOOST_REFERENCE", Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"
    )
)
needs_reference = pytest.mark.skipif(
    not (REFERENCE / "metrics").is_dir(),
    reason=f"reference data not found at {REFERENCE} (set SYNTHBOOST_REFERENCE to the folder with metrics/)",
)


@pytest.fixture(scope="module")
def rep():
    return reproduce_paper(REFERENCE, n_boot=500)


@needs_reference
def test_all_46_table1_cells_reproduce(rep):
    assert len(rep.table) == 46
    bad = rep.table[~rep.table["match"]]
    assert bad.empty, bad.to_string()
    assert (rep.table["n"] == 600).all()


@needs_reference
def test_both_wilcoxon_p_values(rep):
    (name1, *_), (name2, *_) = PAPER_TESTS
    t1, t2 = rep.tests[name1]["image"], rep.tests[name2]["image"]
    assert t1.n == 600 and t1.p_value == pytest.approx(8.8e-73, rel=0.01)
    assert t2.p_value == pytest.approx(8.3e-6, rel=0.01)
    assert t2.mean_diff == pytest.approx(0.36, abs=0.005)
    assert rep.tests[name2]["patient"].n == 50 and rep.tests[name2]["patient"].p_value > t2.p_value
    assert set(rep.structures["structure"]) == {"lv", "myo", "la"}


@needs_reference
def test_cli_exit_code(tmp_path):
    res = CliRunner().invoke(app, ["reproduce-paper", str(REFERENCE)])
    assert res.exit_code == 0, res.output
    assert "46/46 cells reproduce" in res.output
    assert "patient-level, n=50: p = 1.22e-03" in res.output
    assert (
        "image-level (images of one patient are correlated), n=600: p = 8.33e-06  (paper: p = 8.3e-06)"
        in res.output
    )
    # a wrong printed value makes the command fail
    broken = tmp_path / "ref"
    broken.mkdir()
    (broken / "metrics").symlink_to(REFERENCE / "metrics")
    text = (
        (REFERENCE / "paper_tables.csv")
        .read_text()
        .replace("1,trained,real,CRIS,p2,91.03", "1,trained,real,CRIS,p2,91.13")
    )
    (broken / "paper_tables.csv").write_text(text)
    res = CliRunner().invoke(app, ["reproduce-paper", str(broken)])
    assert res.exit_code == 1 and "DIFFERS" in res.output


@needs_reference
def test_hausdorff_beside_the_reference_uses_its_512_pixel_definition(rep):
    import csv
    import statistics

    from synthboost.report.paper import format_reproduction

    path = REFERENCE / "metrics" / "camus_metrics_reduce_lr" / "cris" / "p2" / "metrics.csv"
    px = [float(r["hausdorff_distance"]) / 100 for r in csv.DictReader(path.open())]
    row = rep.hausdorff.set_index(["strategy", "model", "prompt"]).loc[("real", "CRIS", "p2")]
    assert row["n"] == 600 and row["mean"] == pytest.approx(statistics.mean(px))
    assert row["std"] == pytest.approx(statistics.stdev(px))
    text = format_reproduction(rep)
    assert "maximum boundary distance in pixels on the 512×512 grid (mean ± std; not mm)" in text
