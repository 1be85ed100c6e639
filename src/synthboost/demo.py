"""``synthboost demo``: the whole chain on the procedural phantom, on a CPU, with no download.

phantom → prepare + prompts → synthetic set (perturbed masks rendered by the speckle renderer)
→ train tiny CLIPSeg and CRIS (real, synthetic, synth-PT → real-FT) → predict → evaluate →
clinical indices → HTML report. Every stage writes a folder under ``out``; a second run reuses
the finished ones. The numbers come from tiny randomly initialised models trained for a few
epochs on phantom data: they show the pipeline working, not the paper's results.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from synthboost.utils import get_logger

log = get_logger("demo")

NOTE = (
    "Demo numbers come from tiny randomly initialised models trained for a few epochs on the "
    "procedural phantom; they are not comparable with the paper's results."
)


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """Sizes of the demo; ``quick`` is the variant the test suite runs."""

    patients: int = 60
    image_size: int = 128
    per_mask: int = 1
    levels: tuple[str, ...] = ("p2", "p5")
    models: tuple[str, ...] = ("clipseg", "cris")
    epochs: int = 6
    seed: int = 0

    @classmethod
    def preset(cls, quick: bool) -> DemoConfig:
        """The default demo (about 10 minutes on 2 cores) or the quick one (about 2 minutes)."""
        return cls(patients=12, levels=("p2",), epochs=2) if quick else cls()


#: Training strategies of the demo (train-stage names), in dependency order: PT→FT starts from
#: the synthetic run.
STRATEGIES = ("real", "synthetic", "ptft")


def _claim(out: Path, cfg: DemoConfig) -> None:
    """Record the demo's settings in ``out/demo.json``; refuse a folder made with other settings
    (its finished stages would otherwise be reused for the wrong sizes)."""
    from synthboost.utils import read_json, write_json_atomic

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


def make_data(out: Path, cfg: DemoConfig) -> dict[str, Path]:
    """Phantom, its processed dataset, and a synthetic dataset made from its perturbed masks."""
    from synthboost.data.phantom import generate_phantom
    from synthboost.data.prepare import prepare_camus
    from synthboost.data.sdm import prepare_sdm
    from synthboost.prompts.annotate import write_annotations
    from synthboost.synth.perturb import perturb_dataset
    from synthboost.synth.render import render_folder

    p = {k: out / k for k in ("phantom_raw", "camus", "perturbed", "rendered", "synthetic")}
    if not _stage("phantom", p["phantom_raw"]):
        generate_phantom(p["phantom_raw"], n_patients=cfg.patients, seed=cfg.seed, workers=2)
    if not _stage("prepare", p["camus"] / "anns"):
        prepare_camus(p["phantom_raw"], p["camus"], image_size=cfg.image_size, overwrite=True)
        write_annotations(p["camus"])
    if not _stage("synth perturb", p["perturbed"]):
        perturb_dataset(p["camus"], p["perturbed"], per_mask=cfg.per_mask, seed=cfg.seed, size=cfg.image_size)
    if not _stage("synth render", p["rendered"]):
        render_folder(p["perturbed"], p["rendered"], renderer="speckle", seed=cfg.seed)
    if not _stage("prepare sdm", p["synthetic"] / "anns"):
        prepare_sdm(p["rendered"], p["synthetic"], image_size=cfg.image_size, overwrite=True)
        write_annotations(p["synthetic"])
    return p


def run_name(strategy: str, model: str, level: str) -> str:
    """Folder name of one demo run."""
    return f"{strategy}_{model}_{level}"


def train_runs(out: Path, data: dict[str, Path], cfg: DemoConfig) -> dict[tuple[str, str, str], Path]:
    """Train every (strategy, model, level) of the demo; finished runs are skipped by ``train``."""
    from synthboost.configs import find_config
    from synthboost.train.config import load_config
    from synthboost.train.run import train
    from synthboost.train.strategies import pretrain_prompt

    runs: dict[tuple[str, str, str], Path] = {}
    for model in cfg.models:
        path = find_config(f"experiment/demo_tiny_{model}.yaml")
        for level in cfg.levels:
            for strategy in STRATEGIES:
                synthetic = strategy == "synthetic"
                sets = {
                    "name": run_name(strategy, model, level),
                    "data.root": data["synthetic" if synthetic else "camus"],
                    "data.prompt": pretrain_prompt(level, "sdm") if synthetic else level,
                    "strategy.name": strategy,
                    "trainer.max_epochs": cfg.epochs,
                    "trainer.min_epochs": 1,
                    "trainer.seed": 42 + cfg.seed,
                }
                if strategy == "ptft":
                    sets["strategy.init_from"] = runs[("synthetic", model, level)]
                run = out / "runs" / run_name(strategy, model, level)
                log.info("[train] %s", run.name)
                train(load_config(path, [f"{k}={v}" for k, v in sets.items()]), run, resume=True)
                runs[(strategy, model, level)] = run
    return runs


def evaluate_runs(
    out: Path, camus: Path, runs: dict[tuple[str, str, str], Path]
) -> tuple[Path, dict[tuple[str, str, str], Path]]:
    """Predict the test split with every run and score it into ``results/`` (docs/formats.md)."""
    from synthboost.evaluate.per_image import evaluate
    from synthboost.evaluate.predict import predict

    results, preds = out / "results", {}
    for (strategy, model, level), run in runs.items():
        pred = out / "predictions" / run.name
        if not _stage(f"predict {run.name}", pred):
            predict(run, camus, split="test", out=pred, prompt=level, device="auto")
        csv = results / strategy / model / "trained" / level / "metrics.csv"
        if not _stage(f"evaluate {run.name}", csv):
            evaluate(pred, camus, csv)
        preds[(strategy, model, level)] = pred
    return results, preds


def _best(results: Path) -> tuple[tuple[str, str, str], Any]:
    """The (strategy, model, level) of the highest mean test Dice, and the summary table."""
    from synthboost.report.results import TRAIN_STRATEGIES, load_results
    from synthboost.report.stats import summarize

    summary = summarize(load_results(results))
    top = summary.sort_values("mean", ascending=False).iloc[0]
    train_name = {v: k for k, v in TRAIN_STRATEGIES.items()}.get(top["strategy"], top["strategy"])
    return (str(train_name), str(top["model"]), str(top["prompt"])), summary


def run_demo(out: str | Path, quick: bool = False) -> dict[str, Any]:
    """Run the demo chain under ``out``; return the report path, the summary and the folders."""
    from synthboost.clinical import run_clinical
    from synthboost.clinical.agreement import clinical_html
    from synthboost.report.html import build_report

    cfg = DemoConfig.preset(quick)
    out = Path(out)
    _claim(out, cfg)
    data = make_data(out, cfg)
    runs = train_runs(out, data, cfg)
    results, preds = evaluate_runs(out, data["camus"], runs)
    best, summary = _best(results)
    log.info("[clinical] from the predictions of %s", run_name(*best))
    clinical = out / "clinical"
    run_clinical(preds[best], data["camus"], clinical)
    log.info("[report] writing %s", out / "report")
    logs = {run.name: run / "metrics.csv" for run in runs.values()}
    report = build_report(
        results,
        out / "report",
        logs=logs,
        title="synthboost demo (phantom)",
        note=NOTE,
        extra_sections=[clinical_html(clinical, title=f"Clinical indices ({run_name(*best)})")],
    )
    return {"report": report, "summary": summary, "best": best, **data, "clinical": clinical}
