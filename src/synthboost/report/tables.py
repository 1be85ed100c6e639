"""The paper's Table 1/2 layout: strategy × model rows, prompt columns, "mean ± std".

The best mean of each prompt column *within a model* is marked bold (the paper compares
strategies for one model at a time). Exported as Markdown, LaTeX and CSV.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from synthboost.report.results import prompt_sort_key, strategy_sort_key
from synthboost.utils.files import write_text_atomic

ROW_KEYS: tuple[str, str] = ("strategy", "model")


def table_cells(summary: Any, decimals: int = 2) -> Any:
    """Wide table of ``(mean, std, bold)`` cells from a :func:`~synthboost.report.stats.summarize` frame.

    Args:
        summary: rows with ``strategy, model, prompt, mean, std`` (one encoder mode).
        decimals: rounding of mean and std.

    Returns:
        A ``DataFrame`` indexed by (strategy, model) with one column per prompt holding
        ``(mean, std, is_best)`` tuples (``None`` where a run is missing).
    """
    missing = {"strategy", "model", "prompt", "mean", "std"} - set(summary.columns)
    if missing:
        raise ValueError(f"table_cells: summary lacks columns {sorted(missing)}")
    s = summary.copy()
    s["mean"], s["std"] = s["mean"].round(decimals), s["std"].round(decimals)
    s["best"] = s["mean"] == s.groupby(["model", "prompt"])["mean"].transform("max")
    s["cell"] = list(zip(s["mean"], s["std"], s["best"], strict=True))
    if s.duplicated([*ROW_KEYS, "prompt"]).any():
        raise ValueError("table_cells: several rows per (strategy, model, prompt); select one encoder mode")
    wide = s.set_index([*ROW_KEYS, "prompt"])["cell"].unstack("prompt")
    prompts = sorted(wide.columns, key=prompt_sort_key)
    models = sorted(s["model"].unique())
    rows = sorted(wide.index, key=lambda r: (models.index(r[1]), strategy_sort_key(r[0])))
    wide = wide.loc[rows, prompts].astype(object)
    return wide.apply(lambda col: col.map(lambda c: c if isinstance(c, tuple) else None))


def _fmt(cell: Any, decimals: int, bold: tuple[str, str]) -> str:
    if cell is None:
        return "–"
    mean, std, best = cell
    text = f"{mean:.{decimals}f} ± {std:.{decimals}f}"
    return f"{bold[0]}{text}{bold[1]}" if best else text


def to_markdown(cells: Any, decimals: int = 2) -> str:
    """Markdown table with the best cells in ``**bold**``."""
    header = ["Strategy", "Model", *[p.upper() for p in cells.columns]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for (strategy, model), row in cells.iterrows():
        vals = [_fmt(c, decimals, ("**", "**")) for c in row]
        lines.append("| " + " | ".join([strategy, model, *vals]) + " |")
    return "\n".join(lines) + "\n"


def _tex(text: str) -> str:
    return text.replace("_", r"\_").replace("&", r"\&").replace("%", r"\%")


def to_latex(cells: Any, decimals: int = 2, caption: str = "") -> str:
    """LaTeX ``tabular`` (booktabs) with the best cells in ``\\textbf``."""
    cols = "ll" + "c" * len(cells.columns)
    head = " & ".join(["Strategy", "Model", *[p.upper() for p in cells.columns]])
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\begin{{tabular}}{{{cols}}}",
        r"\toprule",
        head + r" \\",
        r"\midrule",
    ]
    for (strategy, model), row in cells.iterrows():
        vals = [_fmt(c, decimals, (r"\textbf{", "}")).replace("±", r"$\pm$").replace("–", "--") for c in row]
        lines.append(" & ".join([_tex(strategy), _tex(model), *vals]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if caption:
        lines.append(rf"\caption{{{_tex(caption)}}}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def to_csv(cells: Any, decimals: int = 2) -> str:
    """CSV with one ``mean ± std`` string per cell (no bold)."""
    out = cells.apply(lambda col: col.map(lambda c: _fmt(c, decimals, ("", ""))))
    out.columns = [p.upper() for p in out.columns]
    return out.reset_index().to_csv(index=False)


def to_html(cells: Any, decimals: int = 2, caption: str = "") -> str:
    """HTML ``<table>`` with the best cells in ``<b>`` and an optional ``<caption>``."""
    head = "".join(
        f"<th>{escape(h)}</th>" for h in ["Strategy", "Model", *[p.upper() for p in cells.columns]]
    )
    body = []
    for (strategy, model), row in cells.iterrows():
        tds = "".join(f"<td>{_fmt(c, decimals, ('<b>', '</b>'))}</td>" for c in row)
        body.append(f"<tr><td>{escape(str(strategy))}</td><td>{escape(str(model))}</td>{tds}</tr>")
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def write_tables(summary: Any, out_dir: str | Path, stem: str, caption: str = "") -> dict[str, Path]:
    """Write ``<stem>.md``, ``<stem>.tex`` and ``<stem>.csv``; return their paths."""
    cells = table_cells(summary)
    out_dir = Path(out_dir)
    paths = {ext: out_dir / f"{stem}.{ext}" for ext in ("md", "tex", "csv")}
    write_text_atomic(paths["md"], to_markdown(cells))
    write_text_atomic(paths["tex"], to_latex(cells, caption=caption))
    write_text_atomic(paths["csv"], to_csv(cells))
    return paths


def frame_to_html(df: Any, columns: Sequence[str] | None = None, float_format: str = "{:.3g}") -> str:
    """A plain HTML table of a small frame (statistics, per-structure summaries)."""
    df = df if columns is None else df[list(columns)]
    return df.to_html(index=False, border=0, float_format=lambda v: float_format.format(v), na_rep="–")
