"""``synthboost demo``: the whole chain on the procedural phantom, on a CPU, with no download.

phantom → prepare + prompts → synthetic set (perturbed masks rendered by the speckle renderer)
→ train tiny CLIPSeg and CRIS (synthetic, synth-PT → real-FT, real with the same epochs as the
fine-tuning, real with the optimiser steps of PT + FT; and one synth-PT → real-FT CRIS run that
fine-tunes LoRA adapters on frozen encoders instead of everything) → predict → evaluate → best run chosen on
validation Dice → clinical indices → one phantom DICOM cine of a test patient analysed frame by
frame (ED/ES, EF, overlay video) → HTML report. Every stage writes a folder under ``out``; a
second run reuses the finished ones. The numbers come from tiny randomly initialised models trained for a few
epochs on phantom data: they show the pipeline working, not the paper's results.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from synthboost.cine import analyze
from synthboost.cine.report import cine_html
from synthboost.clinical import run_clinical
from synthboost.clinical.agreement import clinical_html
from synthboost.configs import find_config
from synthboost.data.phantom.writer import generate_phantom
from synthboost.data.sources.camus import prepare_camus
from synthboost.data.sources.sdm import prepare_sdm
from synthboost.demo_qc import qc_best_run
from synthboost.evaluation.per_image import evaluate
from synthboost.evaluation.predict import predict
from synthboost.logs import capped_logs, get_logger, verbose
from synthboost.progress import progress_view
from synthboost.prompts.annotate import write_annotations
from synthboost.report.html import build_report, first_seed
from synthboost.report.qc import qc_html
from synthboost.report.results import EQUAL_STEPS, load_results, paper_sort_key
from synthboost.report.stats import summarize
from synthboost.synth.perturb import perturb_dataset
from synthboost.synth.render import render_folder
from synthboost.training.config import load_config
from synthboost.training.run import train
from synthboost.training.runfolder import prune_checkpoints
from synthboost.training.selection import select_best_run
from synthboost.training.strategies import pretrain_prompt
from synthboost.utils.files import read_json, write_json_atomic

log = get_logger("demo")
#: The headline statement printed under every table of demo numbers.
CAVEAT = (
    "Caveat: tiny randomly initialised models, a few epochs on the phantom: not comparable with the paper."
)

NOTE = (
    "Demo numbers come from tiny randomly initialised models trained for a few epochs on the "
    "procedural phantom; they are not comparable with the paper's results."
)


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """Sizes of the demo; ``quick`` is the variant the test suite runs.

    Every (model, level) gets the paper's three strategies plus the equal-compute baseline;
    the headline comparison (``headline`` model and level) is repeated over ``seeds`` seeds. Its
    first seed also gets a synth-PT → real-FT run with LoRA adapters of rank ``lora_rank`` (from
    the same synthetic run, same recipe; 0 = none) beside the full fine-tune. ``val_patients`` of
    the training patients (the first ones) form the validation split, which chooses the best run and
    calibrates its QC rule and EF check (``None``: CAMUS's rule, one in nine).
    """

    patients: int = 52
    test_patients: int = 12  # more test patients than the phantom's 1 in 10: patient-level tests
    val_patients: int | None = 8  # 32 training patients, as many as CAMUS's 1-in-9 rule leaves of 48
    image_size: int = 128
    per_mask: int = 1
    levels: tuple[str, ...] = ("p2",)
    models: tuple[str, ...] = ("clipseg", "cris")
    epochs: int = 6
    seed: int = 0
    headline: tuple[str, str] = ("cris", "p2")
    seeds: int = 3
    lora_rank: int = 8

    @classmethod
    def preset(cls, quick: bool) -> DemoConfig:
        """The default demo (about 5 minutes on 2 idle cores) or the quick one (about 1 minute)."""
        return cls(patients=12, test_patients=2, val_patients=2, epochs=2, seeds=2) if quick else cls()


#: The demo's phantom images are half the native size (about 290 px; ``prepare`` resizes them to
#: ``image_size`` anyway) and zlib-compressed: 9.6 MB instead of 116 MB on disk (default demo).
PHANTOM_SCALE = 0.5

#: Demo strategies (results-folder names), in dependency order: PT→FT starts from the synthetic
#: run; the equal-compute baseline trains on real data for as many optimiser steps as PT + FT.
STRATEGIES = ("synthetic", "ptft", "real", EQUAL_STEPS)


@dataclasses.dataclass(frozen=True)
class DemoRun:
    """One training run of the demo: results-folder strategy, model, prompt level, training seed,
    LoRA rank (0: every parameter trains)."""

    strategy: str
    model: str
    level: str
    seed: int
    lora: int = 0

    @property
    def name(self) -> str:
        """Folder name ``<strategy>_<model>_<level>[_lora<r>]_s<seed>``."""
        adapter = f"_lora{self.lora}" if self.lora else ""
        return f"{self.strategy}_{self.model}_{self.level}{adapter}_s{self.seed}"

    @property
    def encoders(self) -> str:
        """The results-folder encoders: ``trained`` or ``lora-r<k>``."""
        return f"lora-r{self.lora}" if self.lora else "trained"

    def sibling(self, strategy: str) -> DemoRun:
        """The full (no adapter) run of another strategy for the same model, level and seed."""
        return dataclasses.replace(self, strategy=strategy, lora=0)


def plan_runs(cfg: DemoConfig) -> list[DemoRun]:
    """Every run of the demo, dependencies first."""
    runs = []
    for model in cfg.models:
        for level in cfg.levels:
            repeats = cfg.seeds if (model, level) == cfg.headline else 1
            seeds = [42 + cfg.seed + i for i in range(repeats)]
            runs += [DemoRun(s, model, level, seed) for seed in seeds for s in STRATEGIES]
    if cfg.lora_rank:
        runs.append(DemoRun("ptft", *cfg.headline, 42 + cfg.seed, lora=cfg.lora_rank))
    return runs


def _claim(out: Path, cfg: DemoConfig) -> None:
    """Record the demo's settings in ``out/demo.json``; refuse a folder made with other settings
    (its finished stages would otherwise be reused for the wrong sizes)."""

    marker, wanted = out / "demo.json", json.loads(json.dumps(dataclasses.asdict(cfg)))
    if marker.is_file() and read_json(marker) != wanted:
        raise FileExistsError(f"{out}: holds a demo made with other settings ({marker}); use another --out")
    write_json_atomic(marker, wanted)


def _stage(name: str, done: Path) -> bool:
    """Log a stage header; return True when its output already exists (the stage is skipped)."""
    if done.exists():
        log.info("[%s] reusing %s", name, done)
        return True
    log.info("[%s] running", name)
    return False


class DemoSteps:
    """The demo's overall progress task (stage, run k/N, elapsed, ETA) and its wall time per stage.

    Args:
        view: the open ``rich`` progress view (:func:`synthboost.progress.progress_view`).
        total: number of steps of the demo.
    """

    def __init__(self, view: Any, total: int) -> None:
        self.view = view
        self.task = view.add_task("demo", total=total)
        self.seconds: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    @contextlib.contextmanager
    def step(self, stage: str, detail: str = "") -> Iterator[None]:
        """Time one step of ``stage`` and advance the overall task when it ends."""
        self.view.update(self.task, description=f"demo: {stage} {detail}".rstrip())
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start
            self.counts[stage] = self.counts.get(stage, 0) + 1
            self.view.advance(self.task)

    def timings(self) -> list[tuple[str, int, float]]:
        """``(stage, steps, seconds)`` in the order the stages first ran."""
        return [(stage, self.counts[stage], seconds) for stage, seconds in self.seconds.items()]


#: Steps of the demo outside the runs: five data stages, then selection, clinical, QC, cine and report.
DATA_STAGES = ("phantom", "prepare", "synth perturb", "synth render", "prepare sdm")


def make_data(out: Path, cfg: DemoConfig, steps: DemoSteps) -> dict[str, Path]:
    """Phantom, its processed dataset, and a synthetic dataset made from its perturbed masks."""

    p = {k: out / k for k in ("phantom_raw", "camus", "perturbed", "rendered", "synthetic")}
    # the prompts are written inside prepare's temporary folder: no dataset ever lacks them
    prepare = {"image_size": cfg.image_size, "overwrite": True, "finalize": write_annotations}
    with steps.step("phantom"):
        if not _stage("phantom", p["phantom_raw"]):
            generate_phantom(
                p["phantom_raw"],
                n_patients=cfg.patients,
                seed=cfg.seed,
                workers=2,
                n_test=cfg.test_patients,
                image_scale=PHANTOM_SCALE,
                compress=True,
            )
    with steps.step("prepare"):
        if not _stage("prepare", p["camus"] / "anns"):
            split = write_split_file(p["phantom_raw"], out / "split.json", cfg.val_patients)
            prepare_camus(p["phantom_raw"], p["camus"], split_file=split, **prepare)
    with steps.step("synth perturb"):
        if not _stage("synth perturb", p["perturbed"]):
            perturb_dataset(
                p["camus"], p["perturbed"], per_mask=cfg.per_mask, seed=cfg.seed, size=cfg.image_size
            )
    with steps.step("synth render"):
        if not _stage("synth render", p["rendered"]):
            render_folder(p["perturbed"], p["rendered"], renderer="speckle", seed=cfg.seed)
    with steps.step("prepare sdm"):
        if not _stage("prepare sdm", p["synthetic"] / "anns"):
            prepare_sdm(p["rendered"], p["synthetic"], **prepare)
    return p


def write_split_file(raw: Path, path: Path, val_patients: int | None) -> Path | None:
    """Write ``prepare``'s split file (docs/formats.md): the first ``val_patients`` training patients of
    the 2019-layout phantom ``raw`` validate, the others train, every testing patient tests.

    Returns:
        ``path``, or ``None`` (nothing written) when ``val_patients`` is ``None`` (CAMUS's own rule).

    Raises:
        ValueError: ``val_patients`` leaves no training patient or is below 1.
    """
    if val_patients is None:
        return None
    training = sorted(p.name for p in (raw / "training").iterdir() if p.is_dir())
    testing = sorted(p.name for p in (raw / "testing").iterdir() if p.is_dir())
    if not 1 <= val_patients < len(training):
        raise ValueError(
            f"{raw}: val_patients must be in [1, {len(training) - 1}] for {len(training)} training patients, "
            f"got {val_patients}"
        )
    split = {"train": training[val_patients:], "val": training[:val_patients], "test": testing}
    write_json_atomic(path, split)
    return path


def _overrides(run: DemoRun, runs: dict[DemoRun, Path], data: dict[str, Path], cfg: DemoConfig) -> dict:

    synthetic = run.strategy == "synthetic"
    sets: dict[str, Any] = {
        "name": run.name,
        "data.root": data["synthetic" if synthetic else "camus"],
        "data.prompt": pretrain_prompt(run.level, "sdm") if synthetic else run.level,
        "strategy.name": "real" if run.strategy == EQUAL_STEPS else run.strategy,
        "trainer.max_epochs": cfg.epochs,
        "trainer.min_epochs": 1,
        "trainer.seed": run.seed,
    }
    if run.strategy == "ptft":
        sets["strategy.init_from"] = runs[run.sibling("synthetic")]
    if run.lora:
        sets.update({"model.adapter.method": "lora", "model.adapter.rank": run.lora})
    if run.strategy == EQUAL_STEPS:
        sets["trainer.match_steps_of"] = runs[run.sibling("ptft")]
    return sets


def train_runs(
    out: Path, data: dict[str, Path], cfg: DemoConfig, steps: DemoSteps, keep_checkpoints: bool = False
) -> dict[DemoRun, Path]:
    """Train every run of :func:`plan_runs`; finished runs are skipped by ``train``.

    Once a run is finished (``DONE``) its Lightning checkpoints are removed unless
    ``keep_checkpoints``: later stages read the best weights from ``RUN/model/`` (safetensors).
    """

    runs: dict[DemoRun, Path] = {}
    plan = plan_runs(cfg)
    log.info("[train] %d runs (%s)", len(plan), ", ".join(STRATEGIES))
    for k, run in enumerate(plan, start=1):
        with steps.step("train", f"run {k}/{len(plan)} {run.name}"):
            path = find_config(f"experiment/demo_tiny_{run.model}.yaml")
            folder = out / "runs" / run.name
            log.debug("[train] %s", run.name)
            sets = _overrides(run, runs, data, cfg)
            train(load_config(path, [f"{k}={v}" for k, v in sets.items()]), folder, resume=True)
            if not keep_checkpoints:
                prune_checkpoints(folder)
            runs[run] = folder
    return runs


def evaluate_runs(
    out: Path, camus: Path, runs: dict[DemoRun, Path], steps: DemoSteps
) -> tuple[Path, dict[DemoRun, Path]]:
    """Predict the test split with every run and score it into ``results/`` (docs/formats.md)."""

    results, preds = out / "results", {}
    log.info("[predict, evaluate] the test split with each of the %d runs", len(runs))
    for k, (run, folder) in enumerate(runs.items(), start=1):
        pred = out / "predictions" / run.name
        with steps.step("predict", f"run {k}/{len(runs)} {run.name}"):
            if not pred.exists():
                predict(folder, camus, split="test", out=pred, prompt=run.level, device="auto", qc=False)
        csv = results.joinpath(
            run.strategy, run.model, run.encoders, run.level, f"seed_{run.seed}", "metrics.csv"
        )
        with steps.step("evaluate", f"run {k}/{len(runs)} {run.name}"):
            if not csv.exists():
                evaluate(pred, camus, csv)
        preds[run] = pred
    return results, preds


def run_demo(
    out: str | Path, quick: bool = False, keep_checkpoints: bool = False, seed: int = 0
) -> dict[str, Any]:
    """Run the demo chain under ``out``; return the report path, the summary, the folders and
    ``timings`` (``(stage, steps, seconds)``), under one progress view (stage, run k/N, ETA).

    ``seed`` draws another phantom cohort, split and training seeds (``42 + seed`` onwards): an untouched
    repetition of the whole experiment. The preset's name says it when it is not 0.

    The best run (clinical indices, overlays) is chosen on validation Dice among the runs
    validated on the real phantom (:func:`synthboost.training.selection.select_best_run`), never on test.
    Lightning checkpoints of finished runs are removed unless ``keep_checkpoints``.
    """

    cfg = dataclasses.replace(DemoConfig.preset(quick), seed=seed)
    total = len(DATA_STAGES) + 3 * len(plan_runs(cfg)) + 5
    library = get_logger()
    level = library.level
    quiet = level == 0 and not verbose()  # a level set on the package logger by the caller wins
    if quiet:  # the stages' INFO lines give way to the progress view; repeated warnings are capped
        library.setLevel("WARNING")
        log.setLevel("INFO")
    try:
        with progress_view() as view, capped_logs(3) if quiet else contextlib.nullcontext():
            steps = DemoSteps(view, total)
            res = _run_demo(Path(out), cfg, steps, keep_checkpoints)
    finally:
        library.setLevel(level)
        log.setLevel(0)
    return {**res, "timings": steps.timings(), "seed": seed}


def analyse_cine(out: Path, cfg: DemoConfig, model: Path) -> tuple[Path, list[str]]:
    """One phantom DICOM cine (4CH, ED→ES) of a test patient through ``analyze`` with ``model``.

    The cine's patient is the demo's first testing patient (same seed, split and number, hence the
    same ``SeedSequence``), rendered at the demo's scale; returns the analysis folder and its loop names.
    """

    raw, folder = out / "cine_raw", out / "cine"
    if not _stage("cine phantom", raw):
        generate_phantom(  # only the testing patient analysed (seeded by split and number)
            raw, n_patients=1, n_test=1, seed=cfg.seed, image_scale=PHANTOM_SCALE, dicom=True, sequences=True
        )
    patient = (raw / "database_split" / "subgroup_testing.txt").read_text().split()[0]
    if not _stage("cine analyze", folder / "report.html"):
        analyze(raw / "dicom" / f"{patient}_4CH.dcm", model, out=folder)
    return folder, read_json(folder / "analysis.json")["loops"]


def _run_demo(out: Path, cfg: DemoConfig, steps: DemoSteps, keep_checkpoints: bool) -> dict[str, Any]:

    _claim(out, cfg)
    data = make_data(out, cfg, steps)
    runs = train_runs(out, data, cfg, steps, keep_checkpoints)
    results, preds = evaluate_runs(out, data["camus"], runs, steps)
    with steps.step("select"):
        selection = select_best_run(runs.values(), dataset=data["camus"])
        best = next(run for run, folder in runs.items() if folder == selection.run)
    log.info("[clinical] from the predictions of %s (best validation Dice)", best.name)
    clinical = out / "clinical"
    with steps.step("clinical"):
        run_clinical(preds[best], data["camus"], clinical)
    with steps.step("qc"):
        qc_csv = qc_best_run(out, data["camus"], selection.run, best.level)
    with steps.step("cine"):
        cine = analyse_cine(out, cfg, selection.run)
    log.info("[report] writing %s", out / "report")
    with steps.step("report"):
        report = _report(out, data, runs, results, preds[best], best, clinical, cine, qc_csv)
    summary = summarize(first_seed(load_results(results)))
    summary = summary.sort_values(
        ["model", "strategy", "encoders", "prompt"], key=paper_sort_key, ignore_index=True
    )
    claims = _read_csv(report.parent / "claims.csv")
    seeds = _read_csv(report.parent / "claims_across_seeds.csv")
    return {"report": report, "summary": summary, "claims": claims, "claims_across_seeds": seeds, "best": best,
            "selection": selection, "lora": lora_comparison(_read_csv(report.parent / "runs.csv"), cfg), **data,
            "clinical": clinical, "cine": cine[0]}  # fmt: skip


def lora_comparison(runs: Any, cfg: DemoConfig) -> Any:
    """Rows of the report's run table (``runs.csv``) for the LoRA run and the full fine-tune beside it
    (same strategy, model, level and seed); empty without a LoRA run."""
    if not cfg.lora_rank or runs.empty:
        return runs.iloc[0:0]
    model, level = cfg.headline
    keep = (runs["strategy"] == "synth-pt-real-ft") & (runs["model"] == model) & (runs["prompt"] == level)
    return runs[keep & (runs["seed"] == 42 + cfg.seed)]


def _report(
    out: Path, data: dict[str, Path], runs: dict[DemoRun, Path], results: Path, pred: Path, best: DemoRun,
    clinical: Path, cine: tuple[Path, list[str]], qc_csv: Path | None = None,
) -> Path:  # fmt: skip

    qc = [qc_html(qc_csv, runs[best] / "qc.json", f"Quality control ({best.name})")] if qc_csv else []
    return build_report(
        results,
        out / "report",
        runs={run.name: folder for run, folder in runs.items()},
        dataset=data["camus"],
        overlay=(evaluate(pred, data["camus"]), data["camus"], pred),
        title="synthboost demo (phantom)",
        note=NOTE,
        extra_sections=[
            clinical_html(clinical, title=f"Clinical indices ({best.name}, best validation Dice)"),
            cine_html(*cine, title=f"Cine analysis of a test patient's DICOM loop ({best.name})"),
            *qc,
        ],
    )


def _read_csv(path: Path) -> Any:
    import pandas as pd

    return pd.read_csv(path) if path.is_file() else pd.DataFrame()


def print_results(res: dict[str, Any], quick: bool, echo: Callable[[str], Any]) -> None:
    """Print the demo's tables (timings, Dice, LoRA vs full fine-tune, gains with CIs, best run) with ``echo``.

    Every number says its preset (``quick`` or ``default``); ``res`` is what :func:`run_demo` returns.
    """
    preset = ("quick" if quick else "default") + (f", seed {res['seed']}" if res.get("seed") else "")
    echo("\nTime per stage:")
    total = sum(seconds for _, _, seconds in res["timings"])
    for stage, count, seconds in res["timings"]:
        echo(f"  {stage:<14} {count:>3} x  {seconds:7.1f} s  {100 * seconds / max(total, 1e-9):5.1f} %")
    echo(f"  {'total':<14}        {total:7.1f} s")
    echo(f"\nTest Dice (demo preset {preset}; x100, mean ± sd over images and structures; first seed):")
    for _, row in res["summary"].iterrows():
        echo(
            f"  {row['model']:<8} {row['strategy']:<18} {row['encoders']:<8} {row['prompt']:<3} "
            f"{row['mean']:6.2f} ± {row['std']:5.2f}"
        )
    echo(f"  Caveat: {NOTE}")
    if len(res["lora"]):
        echo("\nSynth-PT → real-FT, full fine-tune vs LoRA (val Dice x100; trainable / total parameters):")
        for _, r in res["lora"].iterrows():
            echo(
                f"  {r['model']:<8} {r['encoders']:<8} {r['prompt']} seed {r['seed']}  val Dice {r['val_dice']:6.2f}"
                f"  params {r['trainable_params']:,} / {r['total_params']:,}  steps {r['optimizer_steps']}"
                f"  wall {r['wall_s']:.0f} s"
            )
    echo("\nSynth-PT → real-FT gains (patient-level 95% CI and Wilcoxon p; steps PT+FT vs baseline):")
    for _, r in res["claims"].iterrows():
        echo(
            f"  {r['model']:<8} {r['prompt']} seed {r['seed']}  vs {r['baseline']:<17} {r['gain']:+6.2f}"
            f" [{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]  p = {r['p_wilcoxon']:.3g}"
            f"  steps {r['steps_boosted']} vs {r['steps_baseline']}"
        )
    for _, r in res["claims_across_seeds"].iterrows():
        echo(
            f"  {r['model']:<8} {r['prompt']} {r['n_seeds']} seeds vs {r['baseline']:<17} {r['gain']:+6.2f}"
            f" [{r['ci_low']:+.2f}, {r['ci_high']:+.2f}] (t 95% CI across seeds)"
        )
    sel = res["selection"]
    echo(
        f"\nBest run (validation Dice, never test): {res['best'].name}, val Dice {100 * sel.val_dice:.2f};"
        f" clinical indices in {res['clinical']}"
    )
    echo(f"Report: {res['report']}")
