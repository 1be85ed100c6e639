"""Agreement of clinical indices between two sources: statistics, plots, CSV/JSON and an HTML fragment.

For paired values ``a`` (e.g. from predicted masks) and ``b`` (e.g. the reference): Pearson's
correlation, the bias ``mean(a − b)``, the standard deviation of the differences, the 95 % limits
of agreement ``bias ± 1.96 SD`` (Bland & Altman, Lancet 1986) and the mean absolute error.
Pairs with a missing value on either side are left out (``n`` says how many remain).
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

import numpy as np

from synthboost.clinical.indices import UNITS
from synthboost.logs import get_logger
from synthboost.utils.files import read_json, write_json_atomic, write_text_atomic

log = get_logger("clinical")

#: Compared pairs of sources (first minus second).
COMPARISONS: tuple[tuple[str, str], ...] = (("pred", "ref"), ("gt", "ref"), ("pred", "gt"))
SOURCE_TITLES = {"pred": "predicted masks", "gt": "ground-truth masks", "ref": "reference (Info cfg)"}
COMPARED_INDICES: tuple[str, ...] = ("edv", "esv", "ef")
#: What good looks like on CAMUS (Leclerc et al., IEEE TMI 2019, best encoder-decoders vs reference).
ANCHORS: dict[str, dict[str, str]] = {
    "edv": {"pearson_r": "≈0.95"},
    "esv": {"pearson_r": "≈0.95"},
    "ef": {"pearson_r": "0.80–0.83", "mae": "5–6 %"},
}
ANCHOR_SOURCE = "CAMUS, Leclerc et al., IEEE TMI 2019 (automatic vs. reference)"
SUMMARY_JSON = "clinical_summary.json"
PATIENTS_CSV = "clinical_patients.csv"


def agreement(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Agreement statistics of paired values (NaN pairs dropped); NaN where undefined."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    out = dict.fromkeys(("pearson_r", "bias", "sd", "loa_low", "loa_high", "mae"), math.nan)
    out["n"] = int(len(a))
    if len(a) == 0:
        return out
    diff = a - b
    out["bias"] = float(diff.mean())
    out["mae"] = float(np.abs(diff).mean())
    if len(a) >= 2:
        out["sd"] = float(diff.std(ddof=1))
        out["loa_low"], out["loa_high"] = out["bias"] - 1.96 * out["sd"], out["bias"] + 1.96 * out["sd"]
    if len(a) >= 3 and a.std() > 0 and b.std() > 0:
        out["pearson_r"] = float(np.corrcoef(a, b)[0, 1])
    return out


#: How each method-of-discs convention is named in summaries (see synthboost.clinical.simpson).
METHOD_TITLES = {
    "ase": "ASE/EACVI 2015 biplane (discs at mid-slices, L per phase)",
    "camus": "CAMUS organisers' EF script (isotropic grid, walked diameters at i/20, one disc height, whole mL)",
}


def summarize(table: Any, method: str = "ase") -> dict[str, Any]:
    """``{"<a>_vs_<b>": {index: agreement}}`` for :data:`COMPARISONS`, plus the anchors and the method."""
    comparisons = {}
    for a, b in COMPARISONS:
        stats = {}
        for idx in COMPARED_INDICES:
            ca, cb = f"{a}_{idx}", f"{b}_{idx}"
            if ca in table.columns and cb in table.columns:
                stats[idx] = agreement(table[ca].to_numpy(float), table[cb].to_numpy(float))
        comparisons[f"{a}_vs_{b}"] = stats
    return {"n_patients": int(len(table)), "method": method, "comparisons": comparisons, "anchors": ANCHORS,
            "anchor_source": ANCHOR_SOURCE, "units": UNITS}  # fmt: skip


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _pairs(table: Any, a: str, b: str, idx: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = table[f"{b}_{idx}"].to_numpy(float), table[f"{a}_{idx}"].to_numpy(float)
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def plot_comparison(table: Any, a: str, b: str, out_dir: Path) -> dict[str, Path]:
    """Scatter (``a`` against ``b`` with the identity line) and Bland–Altman PNGs, one panel per index."""
    plt = _plt()
    paths = {}
    for kind in ("scatter", "bland_altman"):
        fig, axes = plt.subplots(1, len(COMPARED_INDICES), figsize=(4.0 * len(COMPARED_INDICES), 3.4))
        for ax, idx in zip(axes, COMPARED_INDICES, strict=True):
            x, y = _pairs(table, a, b, idx)
            unit = UNITS[idx]
            if kind == "scatter":
                lim = [min(x.min(initial=0), y.min(initial=0)), max(x.max(initial=1), y.max(initial=1))]
                ax.plot(lim, lim, color="grey", lw=0.8)
                ax.scatter(x, y, s=14)
                ax.set_xlabel(f"{idx.upper()} {SOURCE_TITLES[b]} ({unit})")
                ax.set_ylabel(f"{idx.upper()} {SOURCE_TITLES[a]} ({unit})")
            else:
                s = agreement(y, x)
                ax.scatter((x + y) / 2, y - x, s=14)
                for v, style in ((s["bias"], "-"), (s["loa_low"], "--"), (s["loa_high"], "--")):
                    if math.isfinite(v):
                        ax.axhline(v, color="grey", ls=style, lw=0.8)
                ax.set_xlabel(f"mean {idx.upper()} ({unit})")
                ax.set_ylabel(f"{a} − {b} ({unit})")
            ax.set_title(idx.upper())
        fig.tight_layout()
        paths[kind] = out_dir / f"{kind}_{a}_vs_{b}.png"
        fig.savefig(paths[kind], dpi=90)
        plt.close(fig)
    return paths


def _fmt(v: Any) -> str:
    return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.3g}"


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_clinical(
    table: Any, out_dir: str | Path, plots: bool = True, method: str = "ase"
) -> dict[str, Path]:
    """Write the per-patient CSV, the JSON summary and (``plots``) the PNGs of every comparison with data."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out_dir / PATIENTS_CSV, "summary": out_dir / SUMMARY_JSON}
    write_text_atomic(paths["csv"], table.to_csv(index=False, float_format="%.4g"))
    figures = []
    for a, b in COMPARISONS if plots else ():
        if any(len(_pairs(table, a, b, idx)[0]) for idx in COMPARED_INDICES):
            for kind, path in plot_comparison(table, a, b, out_dir).items():
                paths[f"{kind}_{a}_vs_{b}"] = path
                figures.append(path.name)
    # The summary lists this run's figures, so older PNGs left in the folder are never shown.
    write_json_atomic(paths["summary"], _json_safe({**summarize(table, method), "figures": figures}))
    return paths


def _rows(summary: dict[str, Any]) -> list[str]:
    rows = []
    for comp, stats in summary["comparisons"].items():
        for idx, s in stats.items():
            anchor = summary.get("anchors", {}).get(idx, {})
            cells = [comp.replace("_", " "), f"{idx.upper()} ({summary['units'][idx]})", str(s["n"]),
                     _fmt(s["pearson_r"]), anchor.get("pearson_r", ""), _fmt(s["bias"]),
                     f"{_fmt(s['loa_low'])} … {_fmt(s['loa_high'])}", _fmt(s["mae"]), anchor.get("mae", "")]  # fmt: skip
            rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    return rows


def clinical_html(out_dir: str | Path, title: str = "Clinical indices") -> str:
    """An HTML fragment (``<section>``) of a :func:`write_clinical` folder, figures inline as base64 PNG."""
    out_dir = Path(out_dir)
    summary = read_json(out_dir / SUMMARY_JSON)
    head = ["comparison", "index", "n", "Pearson r", "CAMUS r", "bias", "95 % LoA", "MAE", "CAMUS MAE"]
    parts = [
        f"<section><h2>{html.escape(title)}</h2>",
        f"<p>{summary['n_patients']} patients. LV volumes by Simpson's biplane method of discs "
        f"({html.escape(METHOD_TITLES.get(summary.get('method', 'ase'), summary.get('method', 'ase')))}), "
        f"EF = (EDV − ESV)/EDV. Anchors: {html.escape(summary['anchor_source'])}.</p>",
        "<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>",
        *_rows(summary),
        "</table>",
    ]
    for png in (out_dir / name for name in summary.get("figures", [])):
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        alt = html.escape(png.stem.replace("_", " "))
        parts.append(
            f'<figure><img alt="{alt}" src="data:image/png;base64,{data}"><figcaption>{alt}</figcaption></figure>'
        )
    parts.append("</section>")
    return "\n".join(parts)


def format_summary(summary: dict[str, Any]) -> str:
    """Plain-text table of a summary, anchors beside our numbers (for the CLI)."""
    method = summary.get("method", "ase")
    lines = [
        f"method of discs: {method} = {METHOD_TITLES.get(method, method)}",
        f"{'comparison':<13}{'index':<7}{'n':>4}{'r':>8}{'(CAMUS)':>11}{'bias':>9}{'LoA':>20}{'MAE':>8}{'(CAMUS)':>10}",
    ]
    for comp, stats in summary["comparisons"].items():
        for idx, s in stats.items():
            anchor = summary["anchors"].get(idx, {})
            loa = f"{_fmt(s['loa_low'])}..{_fmt(s['loa_high'])}"
            lines.append(f"{comp:<13}{idx:<7}{s['n']:>4}{_fmt(s['pearson_r']):>8}{anchor.get('pearson_r', ''):>11}"
                         f"{_fmt(s['bias']):>9}{loa:>20}{_fmt(s['mae']):>8}{anchor.get('mae', ''):>10}")  # fmt: skip
    lines.append(f"anchors: {summary['anchor_source']}")
    return "\n".join(lines)
