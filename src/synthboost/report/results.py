"""Collect per-image metrics CSVs into one long table (one row per run × image × structure).

Two layouts are accepted (documented in ``docs/formats.md``, section "Results folder"):

- ours: ``<root>/<strategy>/<model>/<encoders>/p<k>/[seed_<s>/]metrics.csv``;
- the reference's: ``<root>/[metrics/]<strategy_folder>/<model_folder>/p<k>/metrics.csv``, whose
  folder names are mapped by :data:`REFERENCE_STRATEGIES` and :data:`REFERENCE_MODELS`
  (encoders ``trained``: the released files are the paper's Table 1).

Rows of different runs pair by ``key``, the last two components of ``filename``
(``mask_<k>/<file>``), as in the reference.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from synthboost.data.format import LABELS
from synthboost.logs import get_logger

log = get_logger("report.results")

METRICS_FILE = "metrics.csv"
RUN_COLUMNS: tuple[str, ...] = ("strategy", "model", "encoders", "prompt", "seed")
#: Reference strategy folders -> our strategy names.
REFERENCE_STRATEGIES: dict[str, str] = {
    "camus_metrics_reduce_lr": "real",
    "sdm_camus_metrics_reduce_lr": "synthetic",
    "pt_on_sdm_camus_ft_on_camus_metrics_reduce_lr": "synth-pt-real-ft",
}
#: Reference model folders -> model names of the paper's tables.
REFERENCE_MODELS: dict[str, str] = {"cris": "CRIS", "clip_seg_bs_128": "CLIPSeg", "clip_seg": "CLIPSeg-bs32"}
#: Strategy names of the train stage (run folders, ``synthboost train``) -> names in tables.
TRAIN_STRATEGIES: dict[str, str] = {"zero_shot": "zeroshot", "ptft": "synth-pt-real-ft"}
#: Real-only baseline trained for the optimiser steps of synthetic PT + real FT (equal compute).
EQUAL_STEPS = "real-equal-steps"
#: Order of strategies in tables and figures (others follow alphabetically).
STRATEGY_ORDER: tuple[str, ...] = ("zeroshot", "synthetic", "real", EQUAL_STEPS, "synth-pt-real-ft", "joint")
#: What each strategy's baseline means, for captions.
STRATEGY_NOTES: dict[str, str] = {
    "real": "real data only, as many epochs as the fine-tuning (the paper's baseline: equal epochs, not equal compute)",
    EQUAL_STEPS: "real data only, as many optimiser steps as synthetic pre-training + real fine-tuning (equal compute)",
    "synthetic": "synthetic data only (validated on synthetic images)",
    "synth-pt-real-ft": "pre-trained on synthetic data, fine-tuned on real data",
}
_PROMPT_RE = re.compile(r"^p(\d+)$")
_SEED_RE = re.compile(r"^seed_?(\d+)$")
_PATIENT_RE = re.compile(r"(patient\d+)")
_MASK_RE = re.compile(r"mask_(\d+)")


def run_from_parts(parts: tuple[str, ...], path: Path) -> dict[str, Any]:
    """Run descriptors from a metrics file's folder names (relative to the results root)."""
    seed = 0
    if parts and _SEED_RE.match(parts[-1]):
        seed = int(_SEED_RE.match(parts[-1]).group(1))
        parts = parts[:-1]
    if not parts or not _PROMPT_RE.match(parts[-1]):
        raise ValueError(f"{path}: expected .../p<k>/[seed_<s>/]metrics.csv (see docs/formats.md)")
    if len(parts) == 3:  # reference layout
        strategy, model = (
            REFERENCE_STRATEGIES.get(parts[0], parts[0]),
            REFERENCE_MODELS.get(parts[1], parts[1]),
        )
        return {"strategy": strategy, "model": model, "encoders": "trained", "prompt": parts[2], "seed": seed}
    if len(parts) == 4:
        return {
            "strategy": TRAIN_STRATEGIES.get(parts[0], parts[0]),
            "model": parts[1],
            "encoders": parts[2],
            "prompt": parts[3],
            "seed": seed,
        }
    raise ValueError(
        f"{path}: cannot read strategy/model/encoders/p<k> from its folders (see docs/formats.md)"
    )


def add_keys(df: Any, path: str | Path = "metrics.csv") -> Any:
    """Add ``key``, ``label``, ``structure`` and ``patient`` columns derived from ``filename``."""
    if "filename" not in df.columns or "dice" not in df.columns:
        raise ValueError(f"{path}: a metrics CSV needs at least the columns filename and dice")
    parts = df["filename"].astype(str).str.replace("\\", "/", regex=False).str.split("/")
    df = df.copy()
    df["key"] = parts.str[-2:].str.join("/")
    if df["key"].duplicated().any():
        raise ValueError(f"{path}: duplicate mask_<k>/<file> keys; one run per metrics file")
    if "label" not in df.columns:
        df["label"] = df["key"].str.extract(_MASK_RE, expand=False).astype(float).astype("Int64")
    if "structure" not in df.columns:
        df["structure"] = df["label"].map(LABELS)
    if "patient" not in df.columns:
        df["patient"] = df["key"].str.extract(_PATIENT_RE, expand=False)
    for col, pat in (("view", r"_(2CH|4CH)_"), ("phase", r"_(ED|ES)(?:_|\.|$)")):
        if col not in df.columns:
            df[col] = df["key"].str.extract(pat, expand=False)
    return df


def read_metrics(path: str | Path, run: Mapping[str, Any] | None = None) -> Any:
    """One metrics CSV (ours or the reference's) with keys and, optionally, run columns."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: metrics file not found")
    df = add_keys(pd.read_csv(path), path)
    for k, v in (run or {}).items():
        df[k] = v
    return df


def find_metrics(root: str | Path) -> list[tuple[Path, dict[str, Any]]]:
    """All metrics files below ``root`` with their run descriptors."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: results folder not found")
    base = root / "metrics" if (root / "metrics").is_dir() and not (root / METRICS_FILE).exists() else root
    found = []
    for path in sorted(base.rglob(METRICS_FILE)):
        parts = path.relative_to(base).parent.parts
        found.append((path, run_from_parts(parts, path)))
    if not found:
        raise ValueError(f"{root}: no */p<k>/metrics.csv files found (see docs/formats.md, 'Results folder')")
    return found


def load_results(root: str | Path) -> Any:
    """Every run below ``root`` as one long ``DataFrame`` (run columns + metric columns + key)."""
    import pandas as pd

    frames = [read_metrics(path, run) for path, run in find_metrics(root)]
    df = pd.concat(frames, ignore_index=True)
    log.info("loaded %d runs, %d rows from %s", len(frames), len(df), root)
    return df


def strategy_sort_key(name: str) -> tuple[int, str]:
    """Sort strategies in the paper's order, unknown ones after, alphabetically."""
    return (STRATEGY_ORDER.index(name) if name in STRATEGY_ORDER else len(STRATEGY_ORDER), name)


def prompt_sort_key(name: str) -> tuple[int, str]:
    """Sort ``p0 … p10`` numerically."""
    m = _PROMPT_RE.match(name)
    return (int(m.group(1)) if m else 999, name)


def paper_sort_key(col: Any) -> Any:
    """A ``DataFrame.sort_values`` key: strategies in the paper's order, prompts numerically,
    encoders trained, frozen, then adapters (``lora-r8``)."""
    if col.name == "encoders":
        return col.map(lambda e: ({"trained": 0, "frozen": 1}.get(e, 2), e))
    if col.name == "strategy":
        return col.map(strategy_sort_key)
    if col.name == "prompt":
        return col.map(prompt_sort_key)
    return col


def select_run(df: Any, **where: Any) -> Any:
    """Rows of one run (all given run columns equal); raise when none or several seeds match."""
    mask = None
    for k, v in where.items():
        cond = df[k] == v
        mask = cond if mask is None else mask & cond
    out = df[mask] if mask is not None else df
    if out.empty:
        raise ValueError(f"no results for {where}")
    if out["key"].duplicated().any():
        raise ValueError(f"{where} matches several runs; add seed=... or other run columns")
    return out
