"""The paper's figures and a few more, drawn headless (matplotlib Agg), saved as PNG and PDF.

Every ``fig_*`` function returns a ``matplotlib.figure.Figure`` (or ``None`` when its inputs
are absent, e.g. no frozen-encoder runs for Figure 3); :func:`save_figure` writes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from synthboost.data.format import image_path, mask_path
from synthboost.data.imageio.medical import read_png
from synthboost.evaluation.predictions import grid_relpath, load_mask
from synthboost.logs import get_logger
from synthboost.report.results import prompt_sort_key, strategy_sort_key

log = get_logger("report.plots")


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _panels(n: int, width: float = 4.5, height: float = 3.4) -> tuple[Any, list[Any]]:
    fig, axes = _plt().subplots(1, n, figsize=(width * n, height), squeeze=False, constrained_layout=True)
    return fig, list(axes[0])


def distinct_colors(n: int) -> list[Any]:
    """``n`` distinguishable colours: tab10 up to 10, tab20 up to 20, evenly spaced turbo beyond."""
    plt = _plt()
    if n <= 10:
        return list(plt.get_cmap("tab10").colors[:n])
    if n <= 20:
        return list(plt.get_cmap("tab20").colors[:n])
    return [plt.get_cmap("turbo")(x) for x in np.linspace(0.02, 0.98, n)]


def _legend_outside(ax: Any, **kwargs: Any) -> None:
    """Legend to the right of the axes, never over the data."""
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, **kwargs)


def save_figure(fig: Any, out_dir: str | Path, stem: str) -> dict[str, Path]:
    """Write ``<stem>.png`` (150 dpi) and ``<stem>.pdf``; close the figure."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {ext: out_dir / f"{stem}.{ext}" for ext in ("png", "pdf")}
    fig.savefig(paths["png"], dpi=150)
    fig.savefig(paths["pdf"])
    _plt().close(fig)
    return paths


def _grouped_bars(ax: Any, table: Any, ylabel: str) -> None:
    """Bars of a (x index × series columns) frame."""
    n = max(1, len(table.columns))
    x = np.arange(len(table.index))
    for i, (col, color) in enumerate(zip(table.columns, distinct_colors(n), strict=False)):
        ax.bar(
            x + (i - (n - 1) / 2) * 0.8 / n, table[col].to_numpy(float), 0.8 / n, label=str(col), color=color
        )
    ax.set_xticks(x, [str(v).upper() for v in table.index])
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel(ylabel)
    _legend_outside(ax)


def fig_prompt_difference(summary: Any, base: str = "real", encoders: str = "trained") -> Any:
    """Figure 2: mean Dice of each strategy minus ``base``, per prompt, one panel per model."""
    s = summary[summary["encoders"] == encoders] if "encoders" in summary.columns else summary
    models = sorted(s["model"].unique())
    if s.empty or base not in set(s["strategy"]) or set(s["strategy"]) == {base}:
        return None  # nothing to compare with: no empty panel
    fig, axes = _panels(len(models))
    for ax, model in zip(axes, models, strict=True):
        wide = s[s["model"] == model].pivot(index="prompt", columns="strategy", values="mean")
        if base not in wide.columns:
            continue
        diff = wide.sub(wide[base], axis=0).drop(columns=[base])
        diff = diff.loc[sorted(diff.index, key=prompt_sort_key), sorted(diff.columns, key=strategy_sort_key)]
        _grouped_bars(ax, diff, f"Δ mean Dice vs {base}")
        ax.set_title(model)
    return fig


def fig_trained_minus_frozen(summary: Any) -> Any:
    """Figure 3: mean Dice with trained encoders minus frozen, per prompt and strategy."""
    if "encoders" not in summary.columns or not {"trained", "frozen"} <= set(summary["encoders"]):
        return None
    keys = ["strategy", "model", "prompt"]
    wide = summary.pivot_table(index=keys, columns="encoders", values="mean").dropna(
        subset=["trained", "frozen"]
    )
    if wide.empty:
        return None
    wide = (wide["trained"] - wide["frozen"]).rename("diff").reset_index()
    models = sorted(wide["model"].unique())
    fig, axes = _panels(len(models))
    for ax, model in zip(axes, models, strict=True):
        t = wide[wide["model"] == model].pivot(index="prompt", columns="strategy", values="diff")
        t = t.loc[sorted(t.index, key=prompt_sort_key), sorted(t.columns, key=strategy_sort_key)]
        _grouped_bars(ax, t, "Δ mean Dice (trained − frozen)")
        ax.set_title(model)
    return fig


def fig_prompt_boxplots(df: Any, value: str = "dice", encoders: str = "trained") -> Any:
    """Per-prompt box plots of ``value``, one panel per model, one box per strategy."""
    d = df[df["encoders"] == encoders] if "encoders" in df.columns else df
    if d.empty:
        return None
    models = sorted(d["model"].unique())
    strategies = sorted(d["strategy"].unique(), key=strategy_sort_key)
    prompts = sorted(d["prompt"].unique(), key=prompt_sort_key)
    fig, axes = _panels(len(models), width=6)
    colors = distinct_colors(len(strategies))
    n = len(strategies)
    for ax, model in zip(axes, models, strict=True):
        for i, strategy in enumerate(strategies):
            sub = d[(d["model"] == model) & (d["strategy"] == strategy)]
            data = [sub.loc[sub["prompt"] == p, value].dropna().to_numpy() for p in prompts]
            pos = np.arange(len(prompts)) + (i - (n - 1) / 2) * 0.8 / n
            keep = [j for j, v in enumerate(data) if v.size]
            if not keep:
                continue
            bp = ax.boxplot([data[j] for j in keep], positions=pos[keep], widths=0.7 / n, patch_artist=True,
                            showfliers=False)  # fmt: skip
            for box in bp["boxes"]:
                box.set_facecolor(colors[i % len(colors)])
            ax.plot([], [], color=colors[i % len(colors)], linewidth=6, label=strategy)
        ax.set_xticks(np.arange(len(prompts)), [p.upper() for p in prompts])
        ax.set_ylabel(value)
        ax.set_title(model)
        _legend_outside(ax)
    return fig


def fig_structure_bars(df: Any, value: str = "dice", encoders: str = "trained") -> Any:
    """Mean ± std of ``value`` per structure and strategy (prompts P1+ pooled), one panel per model."""
    d = df[df["prompt"] != "p0"]
    d = d[d["encoders"] == encoders] if "encoders" in d.columns else d
    if d.empty or "structure" not in d.columns:
        return None
    models = sorted(d["model"].unique())
    fig, axes = _panels(len(models))
    for ax, model in zip(axes, models, strict=True):
        g = d[d["model"] == model].groupby(["structure", "strategy"])[value]
        mean, std = g.mean().unstack(), g.std().unstack()
        cols = sorted(mean.columns, key=strategy_sort_key)
        n = len(cols)
        x = np.arange(len(mean.index))
        for i, (col, color) in enumerate(zip(cols, distinct_colors(n), strict=True)):
            ax.bar(x + (i - (n - 1) / 2) * 0.8 / n, mean[col], 0.8 / n, yerr=std[col], capsize=2, label=col,
                   color=color)  # fmt: skip
        ax.set_xticks(x, [str(s) for s in mean.index])
        ax.set_ylabel(f"mean {value} (± sd)")
        ax.set_title(model)
        _legend_outside(ax)
    return fig


def read_log(path: str | Path) -> Any:
    """A run log with ``epoch`` and ``val_dice`` columns (Lightning CSVLogger's metrics.csv works)."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: run log not found")
    log_df = pd.read_csv(path)
    if not {"epoch", "val_dice"} <= set(log_df.columns):
        raise ValueError(f"{path}: a run log needs the columns epoch and val_dice")
    return log_df.dropna(subset=["val_dice"]).groupby("epoch", as_index=False)["val_dice"].last()


def fig_convergence(logs: Mapping[str, str | Path], synthetic: set[str] = frozenset()) -> Any:
    """Validation Dice per epoch for each labelled run log, one distinct colour per run.

    Runs named in ``synthetic`` were validated on synthetic images: drawn dashed and labelled.
    """
    if not logs:
        return None
    ncol = 1 if len(logs) <= 12 else 2
    fig, (ax,) = _panels(1, width=6.0 + 3.2 * ncol, height=4.2)  # room for the legend beside the axes
    for (label, path), color in zip(logs.items(), distinct_colors(len(logs)), strict=True):
        curve = read_log(path)
        dashed = label in synthetic
        name = f"{label} (val: synthetic)" if dashed else label
        ax.plot(curve["epoch"], curve["val_dice"], marker=".", color=color, label=name,
                linestyle="--" if dashed else "-")  # fmt: skip
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation Dice")
    _legend_outside(ax, ncol=ncol)
    return fig


def pick_cases(df: Any, value: str = "dice") -> dict[str, Any]:
    """Rows of the best, median and worst ``value``."""
    order = df.sort_values(value, kind="stable").reset_index(drop=True)
    if order.empty:
        raise ValueError("pick_cases: no rows")
    return {"worst": order.iloc[0], "median": order.iloc[len(order) // 2], "best": order.iloc[-1]}


def fig_overlays(metrics: Any, dataset_root: str | Path, pred_folder: str | Path) -> Any:
    """Grid of test images with ground-truth (green) and predicted (red) contours.

    One row per structure (or one row), columns worst / median / best Dice. ``metrics`` is the
    frame :func:`~synthboost.evaluation.per_image.evaluate` returned (columns group, name, label, dice).
    """
    from matplotlib.lines import Line2D

    groups = [g for _, g in metrics.groupby("label")] if "label" in metrics.columns else [metrics]
    fig, axes = _plt().subplots(len(groups), 3, figsize=(3 * 3.2, 3.3 * len(groups)), squeeze=False,
                                constrained_layout=True)  # fmt: skip
    for row_axes, rows in zip(axes, groups, strict=True):
        for ax, (title, row) in zip(row_axes, pick_cases(rows).items(), strict=True):
            group, name, label = row["group"], row["name"], int(row["label"])
            img = read_png(image_path(dataset_root, group, name))
            gt = load_mask(mask_path(dataset_root, group, label, name))
            pred = load_mask(Path(pred_folder) / grid_relpath(group, label, name))
            # pixel centres at integer mask coordinates, where contour() draws
            ax.imshow(img, cmap="gray", extent=(-0.5, gt.shape[1] - 0.5, gt.shape[0] - 0.5, -0.5))
            for mask, color in ((gt, "lime"), (pred, "red")):
                if mask.any() and not mask.all():
                    ax.contour(mask, levels=[0.5], colors=color, linewidths=1)
            ax.set_title(f"{title}: {name} {row.get('structure', label)}\nDice {row['dice']:.1f}", fontsize=8)
            ax.axis("off")
    handles = [
        Line2D([], [], color="lime", label="ground truth"),
        Line2D([], [], color="red", label="prediction"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, fontsize=8)
    return fig
