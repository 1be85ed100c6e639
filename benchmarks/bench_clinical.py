"""Accuracy and speed of Simpson's biplane on the phantom's ground truth against its true 3-D volumes.

    python benchmarks/bench_clinical.py --patients 20 --scale 1.0

Prints the agreement of ground-truth-mask volumes/EF with the phantom's true values (and the
CAMUS anchors beside them) and the time per patient.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    from synthboost.clinical.agreement import format_summary, summarize
    from synthboost.clinical.indices import ground_truth_loader, indices_from_labels, patients_from_meta
    from synthboost.data.phantom.writer import generate_phantom
    from synthboost.data.processed import read_meta
    from synthboost.data.sources.camus import prepare_camus

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=20)
    parser.add_argument("--scale", type=float, default=1.0, help="phantom image_scale")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import pandas as pd

    with tempfile.TemporaryDirectory() as tmp:
        raw = generate_phantom(
            Path(tmp) / "raw", n_patients=args.patients, seed=args.seed, image_scale=args.scale
        )
        ds = prepare_camus(raw, Path(tmp) / "ds", image_size=64)
        load = ground_truth_loader(ds)
        rows, start = [], time.perf_counter()
        for (group, patient), frames in patients_from_meta(read_meta(ds)).items():
            values = indices_from_labels(frames, load)
            ref = frames[("2CH", "ED")]
            rows.append({"patient": f"{group}/{patient}", **{f"gt_{k}": v for k, v in values.items()},
                         "ref_edv": ref["lv_edv"], "ref_esv": ref["lv_esv"], "ref_ef": ref["lv_ef"]})  # fmt: skip
        seconds = time.perf_counter() - start
    table = pd.DataFrame(rows)
    rel = (table[["gt_edv", "gt_esv"]].to_numpy() / table[["ref_edv", "ref_esv"]].to_numpy() - 1) * 100
    summary = summarize(table)
    summary["comparisons"] = {"gt_vs_ref": summary["comparisons"]["gt_vs_ref"]}
    print(format_summary(summary))
    print(f"volume error (%): mean {abs(rel).mean():.2f}, max {abs(rel).max():.2f}")
    print(
        f"{len(table)} patients, {1000 * seconds / len(table):.0f} ms per patient (4 label maps read + 2 volumes + LA)"
    )


if __name__ == "__main__":
    main()
