"""What the app computes, as plain functions over arrays: it calls the segment and clinical stages.

No maths lives here: masks come from the :class:`~synthboost.evaluation.segmenter.Segmenter`, label maps from
its ``segment_all``, areas from :func:`synthboost.evaluation.segmenter.area`,
EDV/ESV/EF from :func:`synthboost.clinical.indices.indices_from_labels` (Simpson's biplane).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from synthboost.data.format import LABELS, PHASES, STRUCTURE_TITLES, VIEWS

#: Attributes a prompt can be built from (besides the structure).
PROMPT_ATTRIBUTES = ("view", "phase", "sex", "age", "quality")


def finite(value: Any, what: str, *, low: float | None = None, high: float | None = None) -> float:
    """``value`` as a finite float within ``[low, high]``; ``ValueError`` naming ``what`` otherwise."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    if (low is not None and x < low) or (high is not None and x > high):
        raise ValueError(f"{what} must be in [{low}, {high}], got {x}")
    return x


#: What a number field holds when the user gave nothing (Gradio shows an empty number as 0).
EMPTY = (None, "", 0)


def spacing_from_fields(row_mm: Any, col_mm: Any) -> tuple[float, float] | None:
    """Pixel spacing typed by the user: ``None`` when both are empty (or 0), else two positive finite mm."""
    if row_mm in EMPTY and col_mm in EMPTY:
        return None
    row = finite(row_mm, "pixel spacing (row, mm)", low=1e-6, high=100.0)
    col = finite(col_mm, "pixel spacing (column, mm)", low=1e-6, high=100.0)
    return row, col


def clean_attributes(raw: dict[str, Any]) -> dict[str, Any]:
    """Prompt attributes with empty values (age 0 included) as ``None`` and ``age`` as a finite ``int``."""
    attrs = {k: (raw.get(k) if raw.get(k) not in EMPTY else None) for k in PROMPT_ATTRIBUTES}
    if attrs["age"] is not None:
        attrs["age"] = int(finite(attrs["age"], "age", low=0, high=130))
    return attrs


def build_prompt(structure: str | None, attrs: dict[str, Any]) -> str:
    """The P0–P7 prompt the pickers describe (see :func:`~synthboost.prompts.select.prompt_from_attributes`)."""
    from synthboost.prompts.select import prompt_from_attributes

    if not structure:
        raise ValueError("choose a structure (LV cavity, myocardium or LA cavity) or type a prompt")
    return prompt_from_attributes(structure, **clean_attributes(attrs))


def segment(segmenter: Any, image: np.ndarray, prompt: str, threshold: float) -> np.ndarray:
    """Boolean mask of ``prompt`` on ``image`` (:class:`~synthboost.evaluation.segmenter.Segmenter`)."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("the prompt is empty: choose a structure or type a prompt")
    threshold = finite(threshold, "threshold", low=0.0, high=0.999)
    return segmenter(image, prompt.strip(), threshold=threshold).mask


def label_map(segmenter: Any, image: np.ndarray, attrs: dict[str, Any], threshold: float) -> np.ndarray:
    """Label map (0 background, 1 LV, 2 myocardium, 3 LA) of ``image``, prompted with ``attrs``.

    :meth:`~synthboost.evaluation.segmenter.Segmenter.segment_all`: one image encoding for the three
    structures, overlaps to the most probable one.
    """
    threshold = finite(threshold, "threshold", low=0.0, high=0.999)
    return segmenter.segment_all(image, threshold=threshold, **clean_attributes(attrs))


def areas(
    labels: np.ndarray, spacing: tuple[float, float] | None, qc: dict[str, str] | None = None
) -> list[list[Any]]:
    """Rows ``[structure title, area, unit]`` of a label map (mm² with a spacing, else pixels), then the
    structure's QC cell when ``qc`` (:func:`qc_cells`) is given."""
    from synthboost.evaluation.segmenter import area

    rows = []
    for k, key in LABELS.items():
        value, unit = area(labels == k, spacing)
        rows.append([STRUCTURE_TITLES[key], round(value, 1), unit, *([qc[key]] if qc is not None else [])])
    return rows


def qc_cells(
    segmenter: Any, image: np.ndarray, attrs: dict[str, Any], threshold: float, qc_json: str | None
) -> dict[str, str]:
    """Per structure a traffic light and the reasons: ``🟢 0.91``, ``🔴 0.12 (prompt_dis 0.40)``, or the raw
    signals without a fitted rule (:func:`synthboost.evaluation.qc_pass.attribute_qc`)."""
    from synthboost.evaluation.qc_fit import read_qc
    from synthboost.evaluation.qc_pass import attribute_qc

    threshold = finite(threshold, "threshold", low=0.0, high=0.999)
    model = read_qc(qc_json) if qc_json else None
    results = attribute_qc(segmenter, image, clean_attributes(attrs), model, threshold)
    cells = {}
    for key, r in results.items():
        if model is None:
            cells[key] = f"raw: prompt_dis {r['prompt_dis']:.2f}, tta_dis {r['tta_dis']:.2f} (no qc.json)"
            continue
        light = TRAFFIC_LIGHTS["unreliable" if r["qc_fail"] else "ok"]
        cells[key] = f"{light} {r['qc_score']:.2f}" + (f" ({r['qc_reasons']})" if r["qc_reasons"] else "")
    return cells


def four_view_indices(
    labels: dict[tuple[str, str], np.ndarray], spacings: dict[tuple[str, str], tuple[float, float]]
) -> dict[str, float | None]:
    """EDV, ESV (mL), EF (%) and LA volume at ES of four label maps (2CH/4CH × ED/ES).

    Values that cannot be computed (no LV found, ...) are ``None``, never NaN.
    """
    from synthboost.clinical.indices import indices_from_labels

    missing = [f"{v} {p}" for v in VIEWS for p in PHASES if (v, p) not in labels]
    if missing:
        raise ValueError(f"four views are needed, missing {', '.join(missing)}")
    frames = {
        key: {
            "patient": "upload",
            "group": "app",
            "name": f"{key[0]}_{key[1]}",
            "view": key[0],
            "phase": key[1],
            "spacing_row_mm": spacings[key][0],
            "spacing_col_mm": spacings[key][1],
            "labels": labels[key],
        }  # fmt: skip
        for key in labels
    }
    values = indices_from_labels(frames, lambda row: row["labels"])
    return {k: (round(v, 1) if v is not None and math.isfinite(v) else None) for k, v in values.items()}


def model_info(model: str | Path) -> dict[str, Any]:
    """What the header shows: name, strategy, prompt level, validation Dice and threshold of a model
    (and ``qc_json``: its fitted QC rule, or ``None``).

    They come from the run folder's ``result.json`` / ``run.json`` (for ``RUN`` or ``RUN/model``);
    a bare model folder or a hub id has its name and the default threshold only. Reads only those
    files (no model library is imported, so the page can be served before the model is loaded).
    """
    from synthboost.training.runfolder import DEFAULT_THRESHOLD
    from synthboost.utils.files import read_json

    p = Path(str(model))
    run = next(
        (r for r in (p, p.parent) if (r / "run.json").is_file() or (r / "result.json").is_file()), None
    )
    result = read_json(run / "result.json") if run and (run / "result.json").is_file() else {}
    settings = read_json(run / "run.json") if run and (run / "run.json").is_file() else {}
    name = run.name if run else (p.parent.name if p.name == "model" else p.name) if p.is_dir() else str(model)
    dice = result.get("best_val_dice")
    threshold = (settings.get("loss") or {}).get("threshold") if isinstance(settings, dict) else None
    return {
        "name": name,
        "architecture": result.get("model"),
        "strategy": result.get("strategy"),
        "prompt": result.get("prompt") or (settings.get("prompt") if isinstance(settings, dict) else None),
        "val_dice": dice if isinstance(dice, float) and math.isfinite(dice) else None,
        "threshold": threshold if isinstance(threshold, int | float) else DEFAULT_THRESHOLD,
        "qc_json": _qc_json(model),
    }


def _qc_json(model: str | Path) -> str | None:
    """The run's fitted QC rule (``qc.json``), or ``None`` (the app then shows raw QC)."""
    from synthboost.evaluation.qc_fit import qc_path_of

    path = qc_path_of(model)
    return str(path) if path is not None else None


#: Traffic light of a loop verdict (synthboost.cine.qc).
TRAFFIC_LIGHTS = {"ok": "🟢", "review": "🟡", "unreliable": "🔴"}


def qc_text(summary: dict[str, Any]) -> str:
    """``🟡 QC: review (ED/ES on a flat plateau ...)`` for a loop's ``summary["qc"]`` ('' without QC)."""
    qc = summary.get("qc")
    if not qc:
        return ""
    reasons = f" ({'; '.join(qc['reasons'])})" if qc["reasons"] else ""
    return f"{TRAFFIC_LIGHTS[qc['verdict']]} QC: {qc['verdict']}{reasons}"


def choose_model(path: str | Path, dataset: str | Path | None = None) -> tuple[str, str | None]:
    """The model to serve: ``path`` itself, or the run of best *validation* Dice in a folder of runs.

    A folder holding finished runs (a sweep, or a demo's ``runs/``; also ``FOLDER/runs``) is
    resolved by :func:`synthboost.training.selection.select_best_run`, on ``dataset`` (the processed
    dataset the runs were validated on) when given. Test data never chooses.

    Returns:
        ``(model path, note saying what was chosen and why, or None)``.

    Raises:
        ValueError: runs validated on different datasets and no ``dataset`` given, or none qualifies.
    """
    from synthboost.training.runfolder import is_done
    from synthboost.training.selection import select_best_run

    p = Path(path)
    if not p.is_dir() or (p / "config.json").is_file() or (p / "model" / "config.json").is_file():
        return str(path), None
    folder = p / "runs" if (p / "runs").is_dir() else p
    runs = sorted(d for d in folder.iterdir() if d.is_dir() and is_done(d))
    if not runs:
        return str(path), None
    try:
        chosen = select_best_run(runs, dataset)
    except ValueError as err:
        raise ValueError(f"{folder}: {err} (give --dataset, the validation set to choose on)") from None
    note = (f"chose {chosen.run.name}: best validation Dice {chosen.val_dice:.4f} of {len(runs)} runs "
            f"(validated on {chosen.dataset}; test data chose nothing)")  # fmt: skip
    return str(chosen.run), note
