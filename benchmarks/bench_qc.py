"""Does QC find the failed segmentations? Fitted on validation, measured on test, with the demo's best run.

    python benchmarks/bench_qc.py DEMO_OUT [--run NAME] [--boot 1000] [--repeats 3] [--loops 10]

The run is the demo's run of highest *validation* Dice (:func:`synthboost.training.selection.select_best_run`)
unless ``--run`` names one. Its QC rules are fitted on the validation split of ``DEMO_OUT/camus``
(shape ranges on train; :func:`synthboost.evaluation.qc_pass.fit_qc`, written to a temporary file: the
run folder is not touched), then every test image-structure gets its signals and score. Failure =
Dice < 80 on the reference grid (what ``evaluate`` writes). Printed, for each signal alone (higher =
less trusted) and the combined score:

- AUROC for detecting failures;
- Spearman correlation between trust (the score, or minus the signal) and Dice;
- risk-coverage: mean Dice of the 80 % most trusted image-structures vs all of them (the gain);

each with a 95 % bootstrap CI over test *patients* (``--boot`` resamples), then the fitted
threshold's sensitivity and specificity on test. Cost, side by side on the same inputs (median of
``--repeats``): a still through ``Segmenter.segment_all`` vs the QC pass (prompt ensemble + one
augmented image, :func:`~synthboost.evaluation.qc_pass.image_qc`), and the demo's DICOM cine through
``analyze`` with ``qc=False`` vs ``qc=True`` (no files written).

The model's EF check on the validation patients (:mod:`synthboost.clinical.ef_check`) is added to the
fitted ``qc.json`` and printed. ``--loops N`` also analyses the ED→ES half-sequences of ``N`` phantom
test patients (as ``bench_cine_accuracy.py`` draws them: the demo's seed and scale) with QC, and gives
the AUROC of the loop verdict and of the mean frame score for an EF error above 10 points (against the
phantom's exact EF), and the verdict's sensitivity and specificity as a detector of such loops.

Measure on a demo nobody looked at while designing QC (seeds 0–9 have been seen; next: ``synthboost demo --seed 10 --out demo_s10``)
(docs/qc.md, "Evidence", says which figures are development figures and which are untouched).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from synthboost.evaluation.qc_fit import RAW_SIGNALS

COVERAGE = 0.8
#: Signals shown within one structure (where the structure prior cannot help).
WITHIN = (
    "prompt_dis",
    "tta_dis",
    "uncertainty",
    "heterogeneity",
    "weak_border",
    "inside_misfit",
    "outside_misfit",
)


def auroc(risk: np.ndarray, failed: np.ndarray) -> float:
    """Probability that a failure is ranked riskier than a success (ties count half); NaN without both."""
    from scipy.stats import rankdata

    n_fail, n_ok = int(failed.sum()), int((~failed).sum())
    if n_fail == 0 or n_ok == 0:
        return float("nan")
    ranks = rankdata(risk)
    return float((ranks[failed].sum() - n_fail * (n_fail + 1) / 2) / (n_fail * n_ok))


def spearman(trust: np.ndarray, dice: np.ndarray) -> float:
    """Spearman correlation of trust and Dice (NaN when one is constant)."""
    from scipy.stats import spearmanr

    if np.ptp(trust) == 0 or np.ptp(dice) == 0:
        return float("nan")
    return float(spearmanr(trust, dice).statistic)


def coverage_gain(trust: np.ndarray, dice: np.ndarray, coverage: float = COVERAGE) -> float:
    """Mean Dice of the ``coverage`` most trusted minus the mean Dice of all (points)."""
    keep = max(1, int(round(coverage * len(trust))))
    order = np.argsort(-trust, kind="stable")
    return float(dice[order[:keep]].mean() - dice.mean())


def metrics(trust: np.ndarray, dice: np.ndarray) -> dict[str, float]:
    """AUROC (failure = Dice < 80), Spearman(trust, Dice), risk-coverage gain at 80 %."""
    failed = dice < 80.0
    return {
        "auroc": auroc(-trust, failed),
        "spearman": spearman(trust, dice),
        "gain80": coverage_gain(trust, dice),
    }


def bootstrap(trust: np.ndarray, dice: np.ndarray, patients: np.ndarray, n: int, seed: int = 0) -> dict:
    """95 % percentile CIs of :func:`metrics`, resampling patients with replacement."""
    rng = np.random.default_rng(seed)
    ids = np.unique(patients)
    index = {p: np.flatnonzero(patients == p) for p in ids}
    draws: dict[str, list[float]] = {k: [] for k in ("auroc", "spearman", "gain80")}
    for _ in range(n):
        rows = np.concatenate([index[p] for p in rng.choice(ids, len(ids), replace=True)])
        for k, v in metrics(trust[rows], dice[rows]).items():
            if np.isfinite(v):
                draws[k].append(v)
    return {k: tuple(np.percentile(v, [2.5, 97.5])) if v else (np.nan, np.nan) for k, v in draws.items()}


def _fmt(value: float, ci: tuple[float, float], digits: int = 2) -> str:
    return f"{value:+.{digits}f} [{ci[0]:+.{digits}f}, {ci[1]:+.{digits}f}]"


def _structure_rates(qc_json: Path) -> dict[str, float]:
    """Trust from the structure alone: 1 - each structure's failure rate on val (the baseline to beat)."""
    import json

    rates = json.loads(qc_json.read_text())["val_failure_rate"]
    return {s: 1.0 - v for s, v in rates.items()}


def _test_rows(run: Path, dataset: Path, qc_json: Path) -> tuple[list[dict], object]:
    from synthboost.data.processed import read_info, read_meta
    from synthboost.evaluation.qc_fit import read_qc
    from synthboost.evaluation.qc_pass import grid_dice, split_qc
    from synthboost.evaluation.segmenter import Segmenter
    from synthboost.training.runfolder import resolve_model

    model = read_qc(qc_json)
    segmenter = Segmenter.from_pretrained(run, device="cpu")
    level = resolve_model(run)[1]["prompt"] or "p1"
    rows = split_qc(segmenter, dataset, "test", level, model, with_probabilities=True)
    model.info["structure_only"] = _structure_rates(qc_json)
    grid = read_info(dataset).image_size
    patient = {(r["group"], r["name"]): r["patient"] for r in read_meta(dataset)}
    for r in rows:
        r["dice"] = grid_dice(r, dataset, segmenter.threshold, grid)
        r["patient"] = patient[(r["group"], r["name"])]
    return rows, model


def _report(rows: list[dict], model, boot: int) -> None:
    dice = np.array([r["dice"] for r in rows])
    patients = np.array([r["patient"] for r in rows])
    failed = dice < 80.0
    print(f"test: {len(rows)} image-structures of {len(set(patients))} patients, {int(failed.sum())} failures "
          f"(Dice < 80), mean Dice {dice.mean():.2f}")  # fmt: skip
    print(
        f"{'signal':<18} {'AUROC [95% CI]':<26} {'Spearman(trust, Dice)':<26} Dice gain, 80 % most trusted (points)"
    )
    candidates = {s: -np.array([r[s] for r in rows]) for s in RAW_SIGNALS}
    candidates["structure only"] = np.array([model.info["structure_only"][r["structure"]] for r in rows])
    candidates["combined score"] = np.array([r["qc_score"] for r in rows])
    for name, trust in candidates.items():
        m, ci = metrics(trust, dice), bootstrap(trust, dice, patients, boot)
        print(f"{name:<18} {_fmt(m['auroc'], ci['auroc']):<26} {_fmt(m['spearman'], ci['spearman']):<26} "
              f"{_fmt(m['gain80'], ci['gain80'])}")  # fmt: skip
    print(f"oracle (trust = Dice): the largest possible 80 % gain is {coverage_gain(dice, dice):+.2f} points")
    structures = np.array([r["structure"] for r in rows])
    print("within one structure (the structure prior cannot help there): AUROC [95% CI over patients]")
    for s in ("lv", "myo", "la"):
        keep = structures == s
        cells = []
        for name in (*WITHIN, "combined score"):
            trust = candidates[name][keep]
            m, ci = metrics(trust, dice[keep]), bootstrap(trust, dice[keep], patients[keep], boot)
            cells.append(f"{name} {_fmt(m['auroc'], ci['auroc'])}")
        print(f"  {s:<4} {int(keep.sum())} items, {int(failed[keep].sum())} failures: " + "; ".join(cells))
    flagged = np.array([bool(r["qc_fail"]) for r in rows])
    rule = model.rules["still"]
    sens = flagged[failed].mean() if failed.any() else float("nan")
    spec = (~flagged[~failed]).mean() if (~failed).any() else float("nan")
    print(f"fitted threshold {rule.threshold:.3f} (val): flags {int(flagged.sum())} of {len(rows)} on test; "
          f"sensitivity {sens:.2f}, specificity {spec:.2f}")  # fmt: skip
    by = {s: np.mean([r["dice"] for r in rows if r["structure"] == s]) for s in ("lv", "myo", "la")}
    print("test mean Dice by structure: " + ", ".join(f"{k} {v:.1f}" for k, v in by.items()))


def _paired_times(fns: list, repeats: int) -> list[float]:
    """Median seconds of each function, run in turn (shared cores drift: keep the runs close in time)."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, out in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def _cost(run: Path, dataset: Path, demo: Path, model, repeats: int) -> None:
    import json

    from synthboost.cine.analysis import analyze_loop, view_of
    from synthboost.data.format import LABELS, image_path
    from synthboost.data.imageio.echo import read_echo
    from synthboost.data.imageio.medical import read_png
    from synthboost.evaluation.qc_pass import attribute_qc
    from synthboost.evaluation.segmenter import Segmenter, label_map
    from synthboost.prompts.select import prompt_from_attributes
    from synthboost.training.runfolder import resolve_model

    segmenter = Segmenter.from_pretrained(run, device="cpu")
    entries = json.loads((dataset / "anns" / "test.json").read_text())
    images = sorted({(e["group"], Path(e["img_name"]).stem, e["view"], e["phase"]) for e in entries})[:8]
    grays = [(read_png(image_path(dataset, g, n)), v, p) for g, n, v, p in images]
    prompts = [[prompt_from_attributes(s, v, p) for s in LABELS.values()] for _, v, p in grays]
    plain, batched, qc = _paired_times(
        [
            lambda: [segmenter.segment_all(x, view=v, phase=p) for x, v, p in grays],
            lambda: [
                label_map(segmenter.prompt_batch_probabilities(g[0], ps), segmenter.threshold)
                for g, ps in zip(grays, prompts, strict=True)
            ],  # fmt: skip
            lambda: [attribute_qc(segmenter, x, {"view": v, "phase": p}, model) for x, v, p in grays],
        ],
        repeats,
    )
    per = 1000 / len(grays)
    print(f"cost, still ({len(grays)} test images, CPU, median of {repeats}): segment_all {per * plain:.1f} ms per image, "
          f"QC pass (incl. its own segmentation) {per * qc:.1f} ms: {qc / plain:.2f}x (target <= 3x); against a "
          f"segmentation that also decodes its 3 prompts in one batch ({per * batched:.1f} ms): {qc / batched:.2f}x")  # fmt: skip
    path = next(iter(sorted((demo / "cine_raw" / "dicom").glob("*.dcm"))), None)
    if path is None:
        print("cost, loop: no DICOM cine in the demo folder")
        return
    loop, view = read_echo(path), view_of(path, None)
    info = {"model": str(run), "prompt_level": resolve_model(run)[1]["prompt"] or "p1"}
    off, on = _paired_times(
        [
            lambda: analyze_loop(loop, view, segmenter, info, qc=False),
            lambda: analyze_loop(loop, view, segmenter, info, qc=model or True),
        ],
        repeats,
    )
    print(f"cost, loop ({path.name}, {loop.n_frames} frames, analyze_loop, median of {repeats}): without QC "
          f"{off:.2f} s, with QC {on:.2f} s: {on / off:.2f}x (target <= 1.5x)")  # fmt: skip


def _loops(run: Path, demo: Path, qc_json: Path, n_patients: int, boot: int) -> None:
    """EF error > 10 points on phantom ED→ES half-sequences of ``n_patients`` test patients (2 loops each)."""
    from bench_cine_accuracy import _test_loops  # the cine benchmark's loops: the demo's seed, test patients

    from synthboost.cine import analyze
    from synthboost.evaluation.qc_fit import read_qc
    from synthboost.evaluation.sequence import evaluate_sequences
    from synthboost.utils.files import read_json

    seed = read_json(demo / "demo.json")["seed"]
    recipe = demo / "phantom_raw" / "phantom.json"
    scale = float(read_json(recipe).get("image_scale", 1.0)) if recipe.is_file() else 1.0
    with tempfile.TemporaryDirectory() as tmp:
        folders = _test_loops(Path(tmp), seed, n_patients, scale)
        analyze(folders, run, out=Path(tmp) / "pred", video="none", qc=read_qc(qc_json), device="cpu")
        df = evaluate_sequences(Path(tmp) / "pred", Path(tmp) / "ph")
        df = df[df["view"] != "biplane"].copy()
        verdicts, scores = [], []
        for loop in df["loop"]:
            summary = read_json(Path(tmp) / "pred" / loop / "summary.json")
            verdicts.append(summary["qc"]["verdict"])
            frames = _read_frames(Path(tmp) / "pred" / loop / "frames.csv")
            scores.append(float(np.mean([f["qc_score"] for f in frames])) if frames else float("nan"))
    err = df["ef_error"].abs().to_numpy()
    bad = err > 10
    order = {"ok": 0, "review": 1, "unreliable": 2}
    risk = {"verdict (ok < review < unreliable)": np.array([order[v] for v in verdicts], float),
            "1 - mean frame score": 1.0 - np.array(scores)}  # fmt: skip
    print(
        f"loops: {len(df)} ED→ES half-sequences of {n_patients} test patients (image scale {scale}); "
        f"{int(bad.sum())} with |EF error| > 10 points; verdicts "
        + ", ".join(f"{k} {verdicts.count(k)}" for k in order)
    )
    patients = df["loop"].str.split("_").str[0].to_numpy()
    for name, r in risk.items():
        value = auroc(r, bad)
        draws = []
        rng = np.random.default_rng(0)
        ids = np.unique(patients)
        for _ in range(boot):
            rows = np.concatenate([np.flatnonzero(patients == p) for p in rng.choice(ids, len(ids))])
            v = auroc(r[rows], bad[rows])
            if np.isfinite(v):
                draws.append(v)
        ci = tuple(np.percentile(draws, [2.5, 97.5])) if draws else (np.nan, np.nan)
        print(f"  AUROC for |EF error| > 10 of {name}: {_fmt(value, ci)}")
    flagged = np.array([v != "ok" for v in verdicts])
    sens = flagged[bad].mean() if bad.any() else float("nan")
    spec = (~flagged[~bad]).mean() if (~bad).any() else float("nan")
    print(f"  verdict review/unreliable as a detector of |EF error| > 10: sensitivity {sens:.2f}, specificity {spec:.2f} "
          f"(mean signed EF error {df['ef_error'].mean():+.1f} points)")  # fmt: skip
    for v in order:
        sub = np.array(verdicts) == v
        if sub.any():
            print(f"  {v}: {int(sub.sum())} loops, mean |EF error| {err[sub].mean():.1f} points")


def _read_frames(path: Path) -> list[dict]:
    import csv

    with path.open(newline="", encoding="utf-8") as f:
        return [{"qc_score": float(r["qc_score"])} for r in csv.DictReader(f) if r["qc_score"]]


def main() -> None:
    from synthboost.clinical.ef_check import add_ef_check
    from synthboost.evaluation.qc_fit import describe_ef_check
    from synthboost.evaluation.qc_pass import fit_qc
    from synthboost.training.selection import select_best_run
    from synthboost.utils.files import read_json

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("demo", type=Path, help="a demo's output folder (synthboost demo --out ...)")
    parser.add_argument("--run", default=None, help="a run of DEMO/runs (default: best validation Dice)")
    parser.add_argument("--boot", type=int, default=1000, help="bootstrap resamples of patients")
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats")
    parser.add_argument(
        "--loops", type=int, default=0, help="test patients whose ED→ES loops check EF error > 10"
    )
    args = parser.parse_args()
    dataset = args.demo / "camus"
    if args.run:
        run = args.demo / "runs" / args.run
    else:
        run = select_best_run(sorted((args.demo / "runs").iterdir()), dataset=dataset).run
    print(f"demo {args.demo} preset {read_json(args.demo / 'demo.json')}; run {run.name}")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        qc_json = fit_qc(run, dataset, Path(tmp) / "qc.json", device="cpu")
        print(f"QC fitted on val in {time.perf_counter() - start:.1f} s: {read_json(qc_json)['n_val_items']} "
              f"image-structures, {read_json(qc_json)['n_val_failures']} failures")  # fmt: skip
        print(describe_ef_check(add_ef_check(qc_json, run, dataset, device="cpu")))
        rows, model = _test_rows(run, dataset, qc_json)
        _report(rows, model, args.boot)
        _cost(run, dataset, args.demo, model, args.repeats)
        if args.loops:
            _loops(run, args.demo, qc_json, args.loops, args.boot)


if __name__ == "__main__":
    main()
