"""The report's QC section: how the fitted QC rule splits a run's test image-structures (docs/qc.md)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from synthboost.data.format import STRUCTURE_TITLES
from synthboost.evaluation.qc_fit import EF_CHECK_KEY, FAILURE_DICE, describe_ef_check, read_qc

#: Least trusted image-structures listed with their reasons.
N_LEAST_TRUSTED = 5


def _mean(values: Any) -> str:
    return f"{values.mean():.1f}" if len(values) else "–"


def qc_html(
    metrics_csv: str | Path, qc_json: str | Path | None = None, title: str = "Quality control"
) -> str:
    """An HTML fragment (``<section>``) of a metrics CSV with QC columns (``evaluate`` of a QC'd prediction).

    Per structure: items, flagged, failures (Dice < 80), mean Dice of the kept and the flagged ones;
    then the least trusted items with their reasons. ``qc_json`` adds where the rule was fitted.
    """
    import pandas as pd

    df = pd.read_csv(metrics_csv, keep_default_na=False, na_values=[""])
    if "qc_score" not in df.columns:
        raise ValueError(f"{metrics_csv}: no QC columns (predict without --no-qc, then evaluate)")
    if df["qc_score"].isna().all():
        return (f"<section><h2>{html.escape(title)}</h2><p>No calibrated QC rule for this run (no qc.json): "
                "raw signals only, in the metrics CSV.</p></section>")  # fmt: skip
    flagged = df["qc_fail"].astype(bool)
    head = [
        "structure",
        "items",
        "flagged",
        f"failures (Dice < {FAILURE_DICE:g})",
        "mean Dice kept",
        "mean Dice flagged",
    ]
    rows = []
    for key, title_ in STRUCTURE_TITLES.items():
        sub = df["structure"] == key
        cells = [title_, int(sub.sum()), int((sub & flagged).sum()), int((sub & (df["dice"] < FAILURE_DICE)).sum()),
                 _mean(df.loc[sub & ~flagged, "dice"]), _mean(df.loc[sub & flagged, "dice"])]  # fmt: skip
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    source = ""
    if qc_json is not None:
        qc = read_qc(qc_json)
        rule = qc.rules["still"]
        source = (f" Rule fitted on the validation split ({qc.info.get('n_val_items')} image-structures, "
                  f"{qc.info.get('n_val_failures')} failures); flagged when the score is below {rule.threshold:.3f}.")  # fmt: skip
        if qc.info.get(EF_CHECK_KEY):
            source += f" {describe_ef_check(qc.info[EF_CHECK_KEY])}."
    worst = df.sort_values("qc_score").head(N_LEAST_TRUSTED)
    listed = "".join(
        f"<tr><td>{html.escape(str(r['name']))}</td><td>{html.escape(str(r['structure']))}</td>"
        f"<td>{r['qc_score']:.2f}</td><td>{r['dice']:.1f}</td><td>{html.escape(str(r['qc_reasons']))}</td></tr>"
        for _, r in worst.iterrows()
    )
    return "\n".join([
        f"<section><h2>{html.escape(title)}</h2>",
        f"<p>{int(flagged.sum())} of {len(df)} test image-structures flagged by QC (score in [0, 1], higher = more "
        f"trusted; signals and rule in docs/qc.md).{html.escape(source)} Mean Dice: kept "
        f"{_mean(df.loc[~flagged, 'dice'])}, flagged {_mean(df.loc[flagged, 'dice'])}, all {_mean(df['dice'])}.</p>",
        "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>", *rows, "</table>",
        f"<h3>The {N_LEAST_TRUSTED} least trusted</h3>",
        "<table><tr><th>image</th><th>structure</th><th>score</th><th>Dice</th><th>reasons</th></tr>",
        listed, "</table></section>",
    ])  # fmt: skip
