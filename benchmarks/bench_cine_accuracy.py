"""ED/ES and EF of ``analyze`` on phantom half-sequences of the test split, with the demo's best model.

    python benchmarks/bench_cine_accuracy.py DEMO_OUT [--test-patients 10] [--scale 1.0]

The model is the demo's run of highest *validation* Dice among those validated on the demo's real
dataset (:func:`synthboost.train.selection.select_best_run`; the test split chooses nothing). The
loops are CAMUS-2023-style ED→ES half-sequences (``synthboost phantom --sequences``) of testing
patients drawn with the demo's seed: testing patient *k* is the demo's testing patient *k*
(``SeedSequence([seed, testing, k])``), and numbers beyond the demo's are more unseen patients of the
same generator. Every loop is analysed twice: with the model, and with its ground-truth label maps
in place of predictions (the method alone). Both are scored by ``synthboost evaluate`` against the
phantom's exact values (cfg ``ED``/``ES`` frames and ``LVef`` = the 3-D model's EF).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def _phantom(tmp: Path, seed: int, n_test: int, scale: float) -> list[Path]:
    """Half-sequence folders of ``n_test`` testing patients (plus the one training patient the generator needs)."""
    from synthboost.data.phantom import generate_phantom

    root = generate_phantom(tmp / "ph", n_patients=n_test + 1, n_test=n_test, seed=seed, image_scale=scale,
                            sequences=True, workers=2)  # fmt: skip
    names = (root / "database_split" / "subgroup_testing.txt").read_text().split()
    return [root / "database_nifti" / name for name in names]


def _report(label: str, df) -> None:
    from synthboost.evaluate.sequence import sequence_summary

    s = sequence_summary(df)
    print(f"{label}: {s['n_loops']} loops, ED and ES within ±1 frame: {s['ed_es_within_1_percent']:.0f} %; "
          f"|EF error| single-plane mean {s['ef_mae_single_plane']:.2f} (max "
          f"{df[df['view'] != 'biplane']['ef_error'].abs().max():.2f}), biplane mean {s['ef_mae_biplane']:.2f} "
          f"(max {df[df['view'] == 'biplane']['ef_error'].abs().max():.2f}) points; per-frame Dice "
          f"{s['dice_mean']:.1f}; temporal jitter ratio {s['tc_ratio_mean']:.2f}")  # fmt: skip


def main() -> None:
    from synthboost.cine import SegmentOptions, analyze
    from synthboost.evaluate.sequence import evaluate_sequences
    from synthboost.train.selection import select_best_run
    from synthboost.utils import read_json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo", type=Path, help="a finished `synthboost demo` output folder")
    parser.add_argument("--test-patients", type=int, default=10)
    parser.add_argument("--scale", type=float, default=1.0, help="phantom image_scale (1 = native size)")
    parser.add_argument("--smooth", type=float, default=1.0, help="temporal σ (frames); 0 = off")
    parser.add_argument("--phase-prompt", default="both")
    parser.add_argument("--keep", type=Path, default=None, help="keep the analysis folders here")
    args = parser.parse_args()

    settings = read_json(args.demo / "demo.json")
    best = select_best_run(sorted((args.demo / "runs").iterdir()), dataset=args.demo / "camus")
    print(f"demo preset {settings}; best run on validation: {best.run.name} (val Dice {best.val_dice:.3f})")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        folders = _phantom(Path(tmp), settings["seed"], args.test_patients, args.scale)
        truth = folders[0].parent.parent
        options = SegmentOptions(smooth_sigma=args.smooth, phase_prompt=args.phase_prompt)
        start = time.perf_counter()
        analyze(folders, best.run, out=work / "pred", options=options, video="none")
        seconds = time.perf_counter() - start
        analyze(folders, ground_truth=True, out=work / "gt", video="none")
        pred, gt = (evaluate_sequences(work / name, truth) for name in ("pred", "gt"))
    n_frames = int(pred[pred["view"] != "biplane"]["n_frames"].sum())
    print(f"{len(folders)} testing patients at image_scale {args.scale}, smoothing σ {args.smooth}, "
          f"phase prompt {args.phase_prompt}; {n_frames} frames analysed in {seconds:.0f} s")  # fmt: skip
    _report(f"model {best.run.name}", pred)
    _report("ground-truth masks (method alone)", gt)
    cols = ["loop", "n_frames", "ed_frame", "es_frame", "ed_true", "es_true", "ef", "ef_true", "dice_mean"]
    print(pred[cols].round(2).to_string(index=False))


if __name__ == "__main__":
    main()
