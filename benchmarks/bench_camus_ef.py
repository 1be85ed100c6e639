"""``clinical --method camus`` against a literal reading of the CAMUS EF script, and ``ase`` beside it.

    python benchmarks/bench_camus_ef.py DATASET [--csv out.csv]

DATASET is a processed CAMUS-format dataset (``synthboost phantom`` then ``synthboost prepare camus``).
For every patient's ground-truth label maps: EDV/ESV/EF by ``--method camus``
(:mod:`synthboost.clinical.camus_ef`), by the loop-by-loop reading of the script's steps in
``tests/clinical/camus_literal.py``, and by ``ase``; the phantom's true volumes (``Info_*.cfg``)
beside them. Prints the largest differences camus − literal and the per-patient camus − ase.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "clinical"))


def main() -> None:
    import numpy as np
    import pandas as pd
    from camus_literal import literal_volumes

    from synthboost.clinical.indices import (
        ground_truth_loader,
        indices_from_labels,
        patients_from_meta,
        reference_values,
    )
    from synthboost.data.processed import read_meta, spacing_mm

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--csv", type=Path)
    args = parser.parse_args()
    load = ground_truth_loader(args.dataset)
    rows = []
    for (group, patient), frames in patients_from_meta(read_meta(args.dataset)).items():
        t0 = time.perf_counter()
        camus = indices_from_labels(frames, load, "camus")
        t1 = time.perf_counter()
        ase = indices_from_labels(frames, load, "ase")
        masks = {k: load(r) == 1 for k, r in frames.items()}
        edv, esv = literal_volumes(masks, {k: spacing_mm(r) for k, r in frames.items()})
        ref = reference_values(frames)
        rows.append({"group": group, "patient": patient, "camus_edv": camus["edv"], "camus_esv": camus["esv"],
                     "camus_edv_unrounded": camus["edv_unrounded"], "camus_esv_unrounded": camus["esv_unrounded"],
                     "camus_ef": camus["ef"], "literal_edv": edv, "literal_esv": esv,
                     "literal_ef": 100 * (round(edv) - round(esv)) / round(edv),
                     "ase_edv": ase["edv"], "ase_esv": ase["esv"], "ase_ef": ase["ef"],
                     "true_edv": ref["edv"], "true_esv": ref["esv"], "true_ef": ref["ef"],
                     "camus_seconds": t1 - t0})  # fmt: skip
    t = pd.DataFrame(rows)
    if args.csv:
        t.to_csv(args.csv, index=False)
    print(f"{len(t)} patients of {args.dataset}; camus {t['camus_seconds'].median():.2f} s/patient (median)")
    for idx in ("edv", "esv"):
        rel = 100 * (t[f"camus_{idx}_unrounded"] / t[f"literal_{idx}"] - 1)
        print(f"camus vs literal {idx.upper()}: max |rel diff| {rel.abs().max():.3f} %")
    print(f"camus vs literal EF: max |diff| {(t['camus_ef'] - t['literal_ef']).abs().max():.3f} points")
    for idx in ("edv", "esv", "ef"):
        d = t[f"camus_{idx}"] - t[f"ase_{idx}"]
        rel = 100 * d / t[f"ase_{idx}"]
        print(f"camus - ase {idx.upper()}: median {d.median():+.2f} (min {d.min():+.2f}, max {d.max():+.2f})"
              + ("" if idx == "ef" else f"; relative median {rel.median():+.2f} % "
                 f"[{np.percentile(rel, 5):+.2f}, {np.percentile(rel, 95):+.2f}] (5-95 %)"))  # fmt: skip
    for m in ("camus", "ase"):
        for idx in ("edv", "esv", "ef"):
            d = t[f"{m}_{idx}"] - t[f"true_{idx}"]
            print(
                f"{m} - true {idx.upper()}: bias {d.mean():+.2f}, sd {d.std():.2f}, MAE {d.abs().mean():.2f}"
            )


if __name__ == "__main__":
    main()
