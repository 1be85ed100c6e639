"""ED/ES and EF of ``analyze`` on phantom half-sequences, with the demo's best model.

    python benchmarks/bench_cine_accuracy.py DEMO_OUT [--split test|val] [--test-patients 10]
        [--val-patients 32] [--smooth 1] [--curve-smooth 3] [--sweep] [--scale S]

The model is the demo's run of highest *validation* Dice among those validated on the demo's real
dataset (:func:`synthboost.training.selection.select_best_run`; the test split chooses nothing). The
loops are CAMUS-2023-style ED→ES half-sequences (``synthboost phantom --sequences``) drawn with the
demo's seed:

- ``--split test``: testing patients; testing patient *k* is the demo's testing patient *k*
  (``SeedSequence([seed, testing, k])``), numbers beyond the demo's are more unseen patients.
- ``--split val``: training-split patients that are not test patients, for choosing settings: the
  demo's validation patients (its ``camus/meta.csv``), then training numbers the demo never drew
  (beyond its training count), up to ``--val-patients``.

Every loop is analysed twice: with the model, and with its ground-truth label maps in place of
predictions (the method alone). Both are scored by ``synthboost evaluate`` against the phantom's
exact values (cfg ``ED``/``ES`` frames and ``LVef`` = the 3-D model's EF).

``--sweep`` (meant for ``--split val``) runs the model once per loop and, from those probabilities,
tabulates the probability filter σ against the curve filter σ (:mod:`synthboost.cine.phases`):
the share of loops with ED and ES within ±1 frame, the same with 4 mirrored filling frames
appended (ES an interior minimum), the mean EF error at the found frames and at the true ones.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import numpy as np

SWEEP_SMOOTH = (0.0, 1.0, 1.5, 2.0, 2.5, 3.0)
SWEEP_CURVE = (0.0, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0)
APPENDED = 4  # mirrored filling frames of the interior-ES check


def _test_loops(tmp: Path, seed: int, n_test: int, scale: float) -> list[Path]:
    """Patient folders of ``n_test`` testing patients (plus the one training patient the generator needs)."""
    from synthboost.data.phantom.writer import generate_phantom

    root = generate_phantom(tmp / "ph", n_patients=n_test + 1, n_test=n_test, seed=seed, image_scale=scale,
                            sequences=True, workers=2)  # fmt: skip
    names = (root / "database_split" / "subgroup_testing.txt").read_text().split()
    return [root / "database_nifti" / name for name in names]


def _val_numbers(demo: Path, n_val: int) -> list[int]:
    """Training numbers of the demo's validation patients, then of training patients it never drew."""
    with open(demo / "camus" / "meta.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    train = {int(r["patient"].removeprefix("patient")) for r in rows if r["group"] == "train"}
    val = sorted({int(r["patient"].removeprefix("patient")) for r in rows if r["split"] == "val"})
    fresh = range(max(train) + 1, max(train) + 1 + max(0, n_val - len(val)))
    return (val + list(fresh))[:n_val]


def _val_loops(tmp: Path, demo: Path, seed: int, n_val: int, scale: float) -> list[Path]:
    from synthboost.data.phantom.writer import write_patients

    return write_patients(tmp / "ph", "training", _val_numbers(demo, n_val), seed, scale, sequences=True)


def _report(label: str, df) -> None:
    from synthboost.evaluation.sequence import sequence_summary

    s = sequence_summary(df)
    loops = df[df["view"] != "biplane"]
    print(f"{label}: {s['n_loops']} loops, ED and ES within ±1 frame: {s['ed_es_within_1_percent']:.1f} %; "
          f"|EF error| single-plane mean {s['ef_mae_single_plane']:.2f} (signed mean {loops['ef_error'].mean():+.2f}, "
          f"max {loops['ef_error'].abs().max():.2f}), biplane mean {s['ef_mae_biplane']:.2f} "
          f"(max {df[df['view'] == 'biplane']['ef_error'].abs().max():.2f}) points; per-frame Dice "
          f"{s['dice_mean']:.1f}; temporal jitter ratio {s['tc_ratio_mean']:.2f}")  # fmt: skip


def _loop_cases(folders: list[Path], segmenter, level: str, phase_prompt: str) -> list[dict]:
    """Per loop: the read loop, its unsmoothed probabilities and the cfg's ED, ES (0-based) and EF."""
    from synthboost.cine import SegmentOptions
    from synthboost.cine.analysis import cfg_attributes, view_of
    from synthboost.cine.loop import loop_probability_maps
    from synthboost.cine.segment import loop_prompts
    from synthboost.data.imageio.camus_info import parse_cfg
    from synthboost.data.imageio.echo import read_echo

    cases = []
    for path in sorted(p for f in folders for p in f.glob("*_half_sequence.nii.gz")):
        loop, view = read_echo(path), view_of(path, None)
        prompts = loop_prompts(level, view, phase_prompt, cfg_attributes(path))
        info = parse_cfg(path.parent / f"Info_{view}.cfg")
        cases.append({"loop": loop, "probs": loop_probability_maps(loop, segmenter, prompts, SegmentOptions()),
                      "ed": info.ed - 1, "es": info.es - 1, "ef": info.lv_ef})  # fmt: skip
    return cases


def _sweep_row(volumes: list[np.ndarray], cases: list[dict], curve_sigma: float) -> tuple[float, ...]:
    """Hit rate (%), interior-ES hit rate (%), mean EF error at the found and at the true frames."""
    from synthboost.cine.phases import find_phases

    hits, inner, found, true = [], [], [], []
    for v, c in zip(volumes, cases, strict=True):
        ph = find_phases(v, half_cycle=True, sigma=curve_sigma)
        (ed, es), n = ph.cycles[0], len(v)
        hits.append(abs(ed - c["ed"]) <= 1 and abs(es - c["es"]) <= 1)
        longer = np.concatenate([v, v[-2 : -2 - APPENDED : -1]])  # ES at frame n - 1, then filling
        inner.append(abs(find_phases(longer, half_cycle=True, sigma=curve_sigma).es[0] - (n - 1)) <= 1)
        found.append(100 * (1 - v[es] / v[ed]) - c["ef"])
        true.append(100 * (1 - v[c["es"]] / v[c["ed"]]) - c["ef"])
    return 100 * np.mean(hits), 100 * np.mean(inner), float(np.nanmean(found)), float(np.nanmean(true))


def _sweep(folders: list[Path], best, phase_prompt: str) -> None:
    """The σ table of the module docstring (model run once per loop)."""
    from synthboost.cine import SegmentOptions
    from synthboost.cine.loop import labels_from_probabilities
    from synthboost.cine.measures import measure_loop
    from synthboost.evaluation.segmenter import Segmenter
    from synthboost.training.runfolder import resolve_model

    segmenter = Segmenter.from_pretrained(best.run)
    cases = _loop_cases(folders, segmenter, resolve_model(best.run)[1]["prompt"] or "p1", phase_prompt)
    print(f"sweep over {len(cases)} loops: prob σ, curve σ | ±1 hit % | interior-ES hit % | "
          "mean EF error at found frames | at true frames")  # fmt: skip
    for smooth in SWEEP_SMOOTH:
        options = SegmentOptions(smooth_sigma=smooth)
        volumes = [measure_loop(labels_from_probabilities(c["loop"], c["probs"], segmenter.threshold, options),
                                c["loop"].spacing_mm)["lv_volume"] for c in cases]  # fmt: skip
        for curve in SWEEP_CURVE:
            hit, inner, found, true = _sweep_row(volumes, cases, curve)
            print(f"{smooth:4.1f} {curve:4.1f} | {hit:5.1f} | {inner:5.1f} | {found:+6.2f} | {true:+6.2f}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo", type=Path, help="a finished `synthboost demo` output folder")
    parser.add_argument("--split", choices=("test", "val"), default="test")
    parser.add_argument("--test-patients", type=int, default=10)
    parser.add_argument("--val-patients", type=int, default=32)
    parser.add_argument(
        "--scale",
        type=float,
        default=None,
        help="phantom image_scale (default: the demo phantom's; 1 = native size)",
    )
    parser.add_argument(
        "--smooth", type=float, default=None, help="probability σ (frames); default: analyze's"
    )
    parser.add_argument(
        "--curve-smooth", type=float, default=None, help="curve σ (frames); default: analyze's"
    )
    parser.add_argument("--phase-prompt", default="both")
    parser.add_argument(
        "--sweep", action="store_true", help="tabulate probability σ × curve σ (use --split val)"
    )
    parser.add_argument("--keep", type=Path, default=None, help="keep the analysis folders here")
    return parser


def main() -> None:
    from synthboost.cine import SegmentOptions, analyze
    from synthboost.cine.phases import curve_filter_sigma
    from synthboost.evaluation.sequence import evaluate_sequences
    from synthboost.training.selection import select_best_run
    from synthboost.utils.files import read_json

    args = _parser().parse_args()
    settings = read_json(args.demo / "demo.json")
    best = select_best_run(sorted((args.demo / "runs").iterdir()), dataset=args.demo / "camus")
    print(f"demo preset {settings}; best run on validation: {best.run.name} (val Dice {best.val_dice:.3f})")
    if args.scale is None:  # loops drawn like the demo's own phantom (its recipe in phantom.json)
        recipe = args.demo / "phantom_raw" / "phantom.json"
        args.scale = float(read_json(recipe).get("image_scale", 1.0)) if recipe.is_file() else 1.0
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        if args.split == "test":
            folders = _test_loops(Path(tmp), settings["seed"], args.test_patients, args.scale)
        else:
            folders = _val_loops(Path(tmp), args.demo, settings["seed"], args.val_patients, args.scale)
        print(f"{args.split} split: patients {', '.join(f.name for f in folders)}")
        if args.sweep:
            _sweep(folders, best, args.phase_prompt)
            return
        given = {"smooth_sigma": args.smooth, "curve_sigma": args.curve_smooth}
        options = SegmentOptions(
            phase_prompt=args.phase_prompt, **{k: v for k, v in given.items() if v is not None}
        )
        start = time.perf_counter()
        analyze(folders, best.run, out=work / "pred", options=options, video="none")
        seconds = time.perf_counter() - start
        analyze(folders, ground_truth=True, out=work / "gt", options=options, video="none")
        pred, gt = (evaluate_sequences(work / name, Path(tmp) / "ph") for name in ("pred", "gt"))
    n_frames = int(pred[pred["view"] != "biplane"]["n_frames"].sum())
    print(f"{len(folders)} {args.split} patients at image_scale {args.scale}, probability σ {options.smooth_sigma}, "
          f"curve σ {curve_filter_sigma(True, options.curve_sigma)}, phase prompt {args.phase_prompt}; {n_frames} frames analysed "
          f"in {seconds:.0f} s")  # fmt: skip
    _report(f"model {best.run.name}", pred)
    _report("ground-truth masks (method alone)", gt)
    cols = ["loop", "n_frames", "ed_frame", "es_frame", "ed_true", "es_true", "ef", "ef_true", "dice_mean"]
    print(pred[cols].round(2).to_string(index=False))


if __name__ == "__main__":
    main()
