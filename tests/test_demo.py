"""The quick demo end to end: every stage runs, the report holds every section, reruns reuse stages."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthboost.demo import DemoConfig, run_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("demo")
    return out, run_demo(out, quick=True)


def test_quick_demo_runs_every_stage(demo: tuple[Path, dict]) -> None:
    out, res = demo
    cfg = DemoConfig.preset(quick=True)
    for folder in (
        "phantom_raw",
        "camus",
        "perturbed",
        "rendered",
        "synthetic",
        "runs",
        "predictions",
        "results",
    ):
        assert (out / folder).is_dir(), folder
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert len(runs) == len(cfg.models) * len(cfg.levels) * 3
    assert all((out / "runs" / r / "DONE").is_file() for r in runs)
    summary = res["summary"]
    assert set(summary["strategy"]) == {"real", "synthetic", "synth-pt-real-ft"}
    assert set(summary["model"]) == {"clipseg", "cris"}
    assert summary["n"].tolist() == [3 * 4] * 6  # 3 structures x 4 frames of the one test patient
    assert ((summary["mean"] >= 0) & (summary["mean"] <= 100)).all()


def test_report_has_tables_figures_and_clinical_section(demo: tuple[Path, dict]) -> None:
    _, res = demo
    html = res["report"].read_text()
    for needle in (
        "Table 1",
        "Paired tests",
        "Figure 2",
        "Clinical indices",
        "not comparable with the paper",
    ):
        assert needle in html, needle
    assert html.count("data:image/png;base64,") >= 4
    assert (res["clinical"] / "clinical_summary.json").is_file()


def test_second_run_reuses_finished_stages(demo: tuple[Path, dict], caplog: pytest.LogCaptureFixture) -> None:
    out, _ = demo
    done = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/DONE")}
    preds = {p: p.stat().st_mtime_ns for p in (out / "predictions").glob("*/prediction.json")}
    with caplog.at_level("INFO", logger="synthboost"):
        run_demo(out, quick=True)
    assert {p: p.stat().st_mtime_ns for p in done} == done
    assert {p: p.stat().st_mtime_ns for p in preds} == preds
    assert "[phantom] reusing" in caplog.text and "finished run (DONE)" in caplog.text


def test_a_folder_of_another_demo_variant_is_refused(demo: tuple[Path, dict]) -> None:
    out, _ = demo
    with pytest.raises(FileExistsError, match="holds a demo made with other settings"):
        run_demo(out, quick=False)
