"""The quick demo end to end: every stage runs, the report holds every section, reruns reuse stages."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthboost.demo import STRATEGIES, DemoConfig, plan_runs, run_demo
from synthboost.training import runfolder


@pytest.fixture(scope="module")
def demo(quick_demo: tuple[Path, dict]) -> tuple[Path, dict]:
    return quick_demo  # one quick demo per session (tests/conftest.py), shared with the README test


def test_plan_has_equal_compute_baselines_and_seeded_headline() -> None:
    cfg = DemoConfig.preset(quick=False)
    runs = plan_runs(cfg)
    assert (
        len(runs)
        == len(cfg.models) * len(cfg.levels) * len(STRATEGIES) + (cfg.seeds - 1) * len(STRATEGIES) + 1
    )  # the LoRA run
    lora = [r for r in runs if r.lora]
    assert [(r.strategy, r.model, r.level, r.seed, r.name) for r in lora] == [
        ("ptft", "cris", "p2", 42, "ptft_cris_p2_lora8_s42")
    ]
    headline = {r.seed for r in runs if (r.model, r.level) == cfg.headline}
    assert len(headline) == cfg.seeds == 3
    for run in runs:  # each run comes after the runs it depends on
        before = runs[: runs.index(run)]
        if run.strategy == "ptft":
            assert run.sibling("synthetic") in before
        if run.strategy == "real-equal-steps":
            assert run.sibling("ptft") in before


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
    assert len(runs) == len(plan_runs(cfg))
    assert all((out / "runs" / r / "DONE").is_file() for r in runs)
    summary = res["summary"]
    assert set(summary["strategy"]) == {"real", "real-equal-steps", "synthetic", "synth-pt-real-ft"}
    assert set(summary["model"]) == {"clipseg", "cris"}
    n = 3 * 4 * cfg.test_patients  # 3 structures x 4 frames per test patient, first seed only
    assert summary["n"].tolist() == [n] * 9  # 2 models x 4 strategies + the LoRA CRIS run
    assert ((summary["mean"] >= 0) & (summary["mean"] <= 100)).all()
    # paper order (as the report), not alphabetical
    order = ["synthetic", "real", "real-equal-steps", "synth-pt-real-ft"]
    assert summary["strategy"].tolist() == order * 2 + ["synth-pt-real-ft"]
    assert summary["model"].tolist() == ["clipseg"] * 4 + ["cris"] * 5
    assert summary["encoders"].tolist()[-2:] == ["trained", "lora-r8"]
    # disk: finished runs keep their best weights as safetensors, not the Lightning checkpoints
    assert all((out / "runs" / r / "model").is_dir() for r in runs)
    assert not any((out / "runs" / r / "checkpoints").exists() for r in runs)
    # each run is a few MB (tiny text encoders 16 wide; the 49,408-token embedding dominates) and the
    # phantom's MetaImage data are zlib-compressed at half size: the default demo stays under 150 MB
    sizes = {r: sum(f.stat().st_size for f in (out / "runs" / r).rglob("*") if f.is_file()) for r in runs}
    assert max(sizes.values()) < 5.5e6, sizes
    raw = list((out / "phantom_raw").rglob("*.*raw"))
    assert raw and all(f.suffix == ".zraw" for f in raw)
    stages = [stage for stage, _, _ in res["timings"]]
    assert stages[:5] == ["phantom", "prepare", "synth perturb", "synth render", "prepare sdm"]
    assert {"train", "predict", "evaluate", "clinical", "report"} <= set(stages)
    assert dict((s, n) for s, n, _ in res["timings"])["train"] == len(runs)


def test_equal_compute_baseline_trains_pt_plus_ft_steps(demo: tuple[Path, dict]) -> None:
    out, res = demo
    for seed in (42, 43):
        steps = {s: runfolder.read_result(out / "runs" / f"{s}_cris_p2_s{seed}")["optimizer_steps"]
                 for s in STRATEGIES}  # fmt: skip
        assert steps["real-equal-steps"] == steps["synthetic"] + steps["ptft"] > steps["real"] > 0
    claims = res["claims"]
    assert set(claims["baseline"]) == {"real", "real-equal-steps"}
    eq = claims[claims["baseline"] == "real-equal-steps"]
    assert (eq["steps_boosted"] == eq["steps_baseline"]).all()
    assert (claims["n_patients"] == DemoConfig.preset(quick=True).test_patients).all()
    assert len(res["claims_across_seeds"]) == 2 and (res["claims_across_seeds"]["n_seeds"] == 2).all()


def test_lora_run_beside_the_full_fine_tune(demo: tuple[Path, dict]) -> None:
    out, res = demo
    lora = runfolder.read_result(out / "runs" / "ptft_cris_p2_lora8_s42")
    full = runfolder.read_result(out / "runs" / "ptft_cris_p2_s42")
    assert lora["adapter"] == "lora-r8" and full["adapter"] == "none"
    assert lora["total_params"] > full["total_params"] == full["trainable_params"] > lora["trainable_params"]
    assert lora["optimizer_steps"] == full["optimizer_steps"]  # same recipe, same data: equal steps
    assert (out / "runs" / "ptft_cris_p2_lora8_s42" / "model" / "adapter_config.json").is_file()
    assert (out / "results" / "ptft" / "cris" / "lora-r8" / "p2" / "seed_42" / "metrics.csv").is_file()
    table = res["lora"]
    assert sorted(table["encoders"]) == ["lora-r8", "trained"]
    assert table.set_index("encoders").loc["lora-r8", "trainable_params"] == lora["trainable_params"]
    html = res["report"].read_text()
    assert "lora-r8" in html and "trainable_params" in html


def test_report_has_tables_figures_and_clinical_section(demo: tuple[Path, dict]) -> None:
    _, res = demo
    html = res["report"].read_text()
    for needle in (
        "Table 1",
        "Best run",
        f"validation Dice {100 * res['selection'].val_dice:.2f}",
        "Claimed boosts",
        "equal compute",
        "patient-level",
        "image-level (images of one patient are correlated)",
        "Paired tests",
        "Runs: compute and validation",
        "Figure 2",
        "Worst, median and best",
        "Clinical indices",
        "not comparable with the paper",
    ):
        assert needle in html, needle
    assert html.count("data:image/png;base64,") >= 5
    assert (res["clinical"] / "clinical_summary.json").is_file()


def test_demo_analyses_a_test_patients_dicom_cine(demo: tuple[Path, dict]) -> None:
    import json

    out, res = demo
    html = res["report"].read_text()
    assert "Cine analysis of a test patient" in html and "data:video/mp4;base64," in html
    (summary_path,) = res["cine"].glob("*/summary.json")
    s = json.loads(summary_path.read_text())
    assert s["source"].endswith("_4CH.dcm") and s["calibration"]["source"] == "us_regions"
    assert s["model"] == str(res["selection"].run)
    assert (summary_path.parent / "overlay.mp4").stat().st_size > 0
    testing = (out / "cine_raw" / "database_split" / "subgroup_testing.txt").read_text().split()
    assert Path(s["source"]).name == f"{testing[0]}_4CH.dcm"


def test_demo_validates_on_its_split_file(demo: tuple[Path, dict]) -> None:
    import csv
    import json

    out, _ = demo
    split = json.loads((out / "split.json").read_text())
    assert len(split["val"]) == DemoConfig.preset(quick=True).val_patients == 2
    with (out / "camus" / "meta.csv").open() as f:
        val = sorted({r["patient"] for r in csv.DictReader(f) if r["split"] == "val"})
    assert val == sorted(split["val"])


def test_best_run_is_chosen_on_validation_among_real_validated_runs(demo: tuple[Path, dict]) -> None:
    out, res = demo
    best = res["best"]
    assert best.strategy != "synthetic"  # validated on synthetic images: not comparable
    real = [p for p in (out / "runs").iterdir() if not p.name.startswith("synthetic")]
    top = max(runfolder.read_result(p)["best_val_dice"] for p in real)
    assert res["selection"].val_dice == top and res["selection"].run.name == best.name


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


def test_cli_demo_prints_a_short_log_with_timing_and_caveat(demo: tuple[Path, dict]) -> None:
    from typer.testing import CliRunner

    from synthboost.cli import app

    out, _ = demo
    res = CliRunner().invoke(app, ["demo", "--quick", "--out", str(out)])  # finished stages reused
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    # the summary (about 57 lines) and a few capped warnings of the tiny models
    assert len(lines) <= 64, res.output
    assert "Time per stage:" in res.output and "Caveat: Demo numbers come from tiny" in res.output
    assert "GPU available" not in res.output and "Tip:" not in res.output
    info = [line for line in lines if line.startswith(("INFO ", "WARNING "))]
    assert len(info) == len(set(info)), "each log line once"


def test_another_seed_is_an_untouched_repeat_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from typer.testing import CliRunner

    import synthboost.demo as demo_module
    from synthboost.cli import app

    base = plan_runs(DemoConfig.preset(quick=False))
    other = plan_runs(dataclasses.replace(DemoConfig.preset(quick=False), seed=1))
    assert {r.seed for r in base} == {42, 43, 44} and {r.seed for r in other} == {43, 44, 45}
    seen = {}

    def fake_run_demo(out, quick=False, keep_checkpoints=False, seed=0):
        seen.update(out=out, seed=seed)
        raise SystemExit(0)  # the plumbing only: no demo is run

    monkeypatch.setattr(demo_module, "run_demo", fake_run_demo)
    res = CliRunner().invoke(app, ["demo", "--seed", "1", "--out", "elsewhere"])
    assert res.exit_code == 0 and seen == {"out": "elsewhere", "seed": 1}
    lines: list[str] = []
    empty = {"timings": [], "summary": [], "lora": [], "claims": [], "seed": 1}
    with pytest.raises((KeyError, AttributeError, TypeError)):  # stops after the preset line
        demo_module.print_results(empty, False, lines.append)
    assert any("demo preset default, seed 1" in line for line in lines)


def test_default_demo_validates_on_eight_patients_and_trains_on_thirty_two(tmp_path: Path) -> None:
    from synthboost.data.phantom.writer import generate_phantom
    from synthboost.data.sources.camus import list_frames
    from synthboost.demo import write_split_file

    cfg = DemoConfig.preset(quick=False)
    assert (cfg.patients - cfg.test_patients - cfg.val_patients, cfg.val_patients) == (32, 8)
    raw = generate_phantom(tmp_path / "raw", n_patients=13, n_test=3, image_scale=0.1)
    assert (
        write_split_file(raw, tmp_path / "none.json", None) is None and not (tmp_path / "none.json").exists()
    )
    split = write_split_file(raw, tmp_path / "split.json", 4)
    _, frames = list_frames(raw, split)
    patients = {s: sorted({f.patient for f in frames if f.split == s}) for s in ("train", "val", "test")}
    assert patients["val"] == [f"patient{i:04d}" for i in range(1, 5)]
    assert len(patients["train"]) == 6 and len(patients["test"]) == 3  # nothing dropped
    assert not set(patients["val"]) & set(patients["train"])
    for bad in (0, 10):
        with pytest.raises(ValueError, match="val_patients must be in \\[1, 9\\]"):
            write_split_file(raw, tmp_path / "bad.json", bad)
