"""The calibrated QC rule: signals → a score in [0, 1] and a threshold, fitted on validation only.

A rule predicts an image-structure's Dice from its signals: one ridge regression per structure (LV,
MYO, LA: each has its own typical Dice and its own way of failing) on the signals of
:data:`STILL_SIGNALS` (``loop`` rules leave the test-time augmentation out: loops are checked without
it to keep their cost low), standardised on that structure's validation items. The score is the
expected Dice ÷ 100, clipped to [0, 1] (higher = more trustworthy); the threshold is the score that
maximises Youden's J (sensitivity + specificity - 1) for failure (Dice < :data:`FAILURE_DICE`) on the
validation image-structures. ``qc.json`` in the run folder holds both rules, the plausible shape ranges
and the appearance histograms learned from the training images and labels, and what they were fitted
on (format in ``docs/qc.md``). Version-1 (one logistic regression of failure over every structure) and
version-2 files (no appearance histograms) are still read and scored.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from synthboost.evaluation.qc import APPEARANCE_BINS
from synthboost.utils.files import read_json, write_json_atomic

QC_JSON = "qc.json"
QC_VERSION = 3
#: The ``qc.json`` versions this synthboost reads (1: one logistic rule of failure for every structure;
#: 2: no ``appearance`` histograms, rules without the appearance misfits).
READABLE_VERSIONS = (1, 2, 3)
#: An image-structure "fails" below this Dice (×100, as the metrics CSV writes it).
FAILURE_DICE = 80.0
#: Structure indicators, a version-1 rule's signals (a version-2 rule has a model per structure instead).
STRUCTURE_PRIOR: tuple[str, ...] = ("is_myo", "is_la")
#: The structures a rule has its own model for.
STRUCTURES: tuple[str, ...] = ("lv", "myo", "la")
#: The model of every structure together: a structure with too few validation items falls back to it.
POOLED = "all"
#: A structure gets its own model from this many validation items on.
MIN_STRUCTURE_ITEMS = 8
#: The image-evidence signals (:func:`~synthboost.evaluation.qc.heterogeneity`, :func:`~synthboost.evaluation.qc.border_weakness`,
#: :func:`~synthboost.evaluation.qc.inside_misfit`, :func:`~synthboost.evaluation.qc.outside_misfit`).
EVIDENCE_SIGNALS: tuple[str, ...] = ("heterogeneity", "weak_border", "inside_misfit", "outside_misfit")
#: Signals of a still image, in the order of a rule's coefficients.
STILL_SIGNALS: tuple[str, ...] = (
    "prompt_dis", "tta_dis", "uncertainty", "fragment", "shape_violation", *EVIDENCE_SIGNALS,
)  # fmt: skip
#: The signals each standing alone (reported, benchmarked).
RAW_SIGNALS: tuple[str, ...] = STILL_SIGNALS
#: Signals of a loop frame (no test-time augmentation).
LOOP_SIGNALS: tuple[str, ...] = tuple(s for s in STILL_SIGNALS if s != "tta_dis")
#: Ridge penalty of each structure's Dice regression (on standardised signals; the intercept is free).
RIDGE = 5.0
#: A signal is named as a reason when above this quantile of the validation successes.
REASON_QUANTILE = 0.95
#: The rules a ``qc.json`` holds: one for stills, one for loop frames.
RULE_KINDS: tuple[str, ...] = ("still", "loop")
#: An EF off by more than this many points is a failed EF (the failure the loop benchmark counts).
EF_TOLERANCE = 10.0
#: The key of ``qc.json`` holding the model's validation EF check (:mod:`synthboost.clinical.ef_check`).
EF_CHECK_KEY = "ef_check"
NO_RULE_MESSAGE = "no calibrated QC threshold exists for this model (no qc.json): raw signals only"


@dataclasses.dataclass(frozen=True)
class Linear:
    """``intercept + coef · (x - mean) / std``: one structure's model over a rule's signals."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def __call__(self, x: np.ndarray) -> float:
        return float(
            ((x - np.asarray(self.mean)) / np.asarray(self.std)) @ np.asarray(self.coef) + self.intercept
        )


@dataclasses.dataclass(frozen=True)
class QCRule:
    """A fitted rule over named signals.

    Attributes:
        signals: signal names, in the order of each model's coefficients.
        models: per structure (``lv``, ``myo``, ``la``) its :class:`Linear` model, and :data:`POOLED`.
        threshold: scores below it are flagged as failures.
        typical: per signal, the :data:`REASON_QUANTILE` of the validation successes (reasons).
        target: ``dice`` (the score is the expected Dice ÷ 100, clipped to [0, 1]) or ``failure`` (a
            version-1 rule: ``1 - P(failure)`` from one logistic model, :data:`POOLED`).
    """

    signals: tuple[str, ...]
    models: dict[str, Linear]
    threshold: float
    typical: dict[str, float]
    target: str = "dice"

    def score(self, values: Mapping[str, float], structure: str) -> float:
        """Trust score in [0, 1] of one image-structure's signals (``structure``: ``lv``, ``myo`` or ``la``)."""
        model = self.models.get(structure) or self.models.get(POOLED)
        if model is None:
            raise ValueError(
                f"QC rule has no model for structure {structure!r} (models {sorted(self.models)})"
            )
        z = model(np.array([values[s] for s in self.signals], dtype=np.float64))
        return float(1.0 - _sigmoid(z)) if self.target == "failure" else float(min(max(z, 0.0), 1.0))

    def reasons(self, values: Mapping[str, float]) -> list[str]:
        """The signals above what validation successes typically show, e.g. ``prompt_dis 0.41``."""
        signals = (s for s in self.signals if s not in STRUCTURE_PRIOR)
        return [f"{s} {values[s]:.2f}" for s in signals if values[s] > self.typical[s]]


def _sigmoid(z: float | np.ndarray) -> Any:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def fit_ridge(x: np.ndarray, y: np.ndarray, penalty: float = RIDGE) -> Linear:
    """Ridge regression of ``y`` on the standardised columns of ``x`` (intercept not penalised).

    A column constant over the rows gets standard deviation 1 and, penalised, coefficient 0.
    """
    mean, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std > 1e-9, std, 1.0)
    z = (x - mean) / std
    n, d = z.shape
    a = np.hstack([z, np.ones((n, 1))])
    w = np.linalg.solve(a.T @ a + np.diag([penalty] * d + [0.0]), a.T @ y)
    return Linear(tuple(map(float, mean)), tuple(map(float, std)), tuple(map(float, w[:d])), float(w[d]))


def youden_threshold(scores: np.ndarray, failed: np.ndarray) -> float:
    """The score cut (flag below it) that maximises sensitivity + specificity - 1 on failures."""
    cuts = np.unique(np.concatenate([scores, [1.0 + 1e-9]]))
    best, best_j = 0.5, -np.inf
    for cut in cuts:
        flagged = scores < cut
        j = flagged[failed].mean() + (~flagged[~failed]).mean() - 1.0
        if j > best_j:
            best, best_j = float(cut), j
    return best


def fit_rule(rows: Sequence[Mapping[str, Any]], dice: Sequence[float], signals: Sequence[str]) -> QCRule:
    """Fit a :class:`QCRule` on validation image-structures (their ``structure``, signals and Dice ×100).

    Each structure with at least :data:`MIN_STRUCTURE_ITEMS` items gets its own Dice regression; every
    structure together gives the :data:`POOLED` model the others fall back to.

    Raises:
        ValueError: no rows, or no failure or no success among them (nothing to tell apart).
    """
    if not rows:
        raise ValueError("QC fit: no validation image-structures")
    x = np.array([[r[s] for s in signals] for r in rows], dtype=np.float64)
    dice = np.asarray(dice, np.float64)
    failed = dice < FAILURE_DICE
    if failed.all() or not failed.any():
        raise ValueError(
            f"QC fit: {int(failed.sum())} of {len(failed)} validation image-structures fail (Dice < "
            f"{FAILURE_DICE:g}); a rule needs both failures and successes"
        )
    structures = np.array([r["structure"] for r in rows])
    models = {POOLED: fit_ridge(x, dice / 100.0)}
    for structure in STRUCTURES:
        own = structures == structure
        if own.sum() >= MIN_STRUCTURE_ITEMS:
            models[structure] = fit_ridge(x[own], dice[own] / 100.0)
    rule = QCRule(tuple(signals), models, 0.5, {})
    scores = np.array(
        [rule.score(dict(zip(signals, v, strict=True)), s) for v, s in zip(x, structures, strict=True)]
    )
    typical = {s: float(np.quantile(x[~failed, i], REASON_QUANTILE)) for i, s in enumerate(signals)}
    return dataclasses.replace(rule, threshold=youden_threshold(scores, failed), typical=typical)


def rule_to_json(rule: QCRule) -> dict[str, Any]:
    """The rule as a JSON object (as ``qc.json`` versions 2 and 3 hold it)."""
    return dataclasses.asdict(rule)


def rule_from_json(doc: Mapping[str, Any], path: Path, version: int = QC_VERSION) -> QCRule:
    """A rule from :func:`rule_to_json`'s object (or a version-1 rule); errors name ``path``."""
    try:
        if version == 1:  # one logistic model of failure: signals, mean, std, coef, intercept at the top
            pooled = {k: doc[k] for k in ("mean", "std", "coef", "intercept")}
            doc = {"signals": doc["signals"], "models": {POOLED: pooled}, "threshold": doc["threshold"],
                   "typical": doc["typical"], "target": "failure"}  # fmt: skip
        if doc["target"] not in ("dice", "failure"):
            raise ValueError(f"unknown target {doc['target']!r}")
        models = {
            k: Linear(tuple(m["mean"]), tuple(m["std"]), tuple(m["coef"]), float(m["intercept"]))
            for k, m in doc["models"].items()
        }
        rule = QCRule(
            tuple(doc["signals"]), models, float(doc["threshold"]), dict(doc["typical"]), doc["target"]
        )
    except (TypeError, KeyError, AttributeError, ValueError) as err:
        raise ValueError(f"{path}: malformed QC rule ({err})") from err
    for name, m in rule.models.items():
        if not all(len(getattr(m, k)) == len(rule.signals) for k in ("mean", "std", "coef")):
            raise ValueError(
                f"{path}: QC rule model {name!r} lengths differ from its {len(rule.signals)} signals"
            )
    return rule


@dataclasses.dataclass(frozen=True)
class QCModel:
    """What ``qc.json`` holds: rules per kind (``still``, ``loop``), shape ranges, provenance and the
    intensity histograms of the appearance misfits (``None`` in a version-1 or -2 file)."""

    rules: dict[str, QCRule]
    ranges: dict[str, list[float]]
    info: dict[str, Any]
    appearance: dict[str, Any] | None = None


def write_qc(path: str | Path, qc: QCModel) -> Path:
    """Write ``qc.json`` atomically; return its path."""
    doc = {"version": QC_VERSION, **qc.info, "ranges": qc.ranges,
           "rules": {k: rule_to_json(r) for k, r in qc.rules.items()}}  # fmt: skip
    if qc.appearance is not None:
        doc["appearance"] = qc.appearance
    write_json_atomic(path, doc)
    return Path(path)


def read_qc(path: str | Path) -> QCModel:
    """Read and validate ``qc.json``; errors name the file and the problem."""
    path = Path(path)
    doc = read_json(path, expect=dict)
    if doc.get("version") not in READABLE_VERSIONS:
        raise ValueError(
            f"{path}: QC version {doc.get('version')!r}, this synthboost reads versions {list(READABLE_VERSIONS)}"
        )
    for key in ("rules", "ranges"):
        if not isinstance(doc.get(key), dict):
            raise ValueError(f"{path}: missing or malformed {key!r}")
    rules = {k: rule_from_json(r, path, doc["version"]) for k, r in doc["rules"].items()}
    missing = [k for k in RULE_KINDS if k not in rules]
    if missing:
        raise ValueError(f"{path}: no QC rule for {missing}")
    for lo_hi in doc["ranges"].values():
        if len(lo_hi) != 2 or not all(math.isfinite(v) for v in lo_hi):
            raise ValueError(f"{path}: a shape range is not two finite numbers: {lo_hi}")
    appearance = _appearance_from_json(doc.get("appearance"), path)
    needs = sorted({s for r in rules.values() for s in r.signals} & {"inside_misfit", "outside_misfit"})
    if needs and appearance is None:
        raise ValueError(f"{path}: its rules use {needs} but it holds no 'appearance' histograms")
    info = {k: v for k, v in doc.items() if k not in ("rules", "ranges", "version", "appearance")}
    return QCModel(rules, doc["ranges"], info, appearance)


def _appearance_from_json(doc: Any, path: Path) -> dict[str, Any] | None:
    """``qc.json``'s ``appearance`` checked: every histogram a distribution over the same bins."""
    if doc is None:
        return None
    try:
        hists = [doc["all"], *doc["class"].values(), *doc["ring"].values()]
        missing = {"background", *STRUCTURES} - set(doc["class"]) or set(STRUCTURES) - set(doc["ring"])
    except (TypeError, KeyError, AttributeError) as err:
        raise ValueError(f"{path}: malformed 'appearance' ({err!r} missing)") from err
    if missing:
        raise ValueError(f"{path}: 'appearance' lacks histograms for {sorted(missing)}")
    n = APPEARANCE_BINS
    for h in hists:
        values = np.asarray(h, np.float64)
        if values.shape != (n,) or not np.all(values > 0) or abs(values.sum() - 1.0) > 1e-6:
            raise ValueError(
                f"{path}: an 'appearance' histogram is not {n} positive probabilities summing to 1"
            )
    return dict(doc)


def qc_path_of(model: str | Path) -> Path | None:
    """``qc.json`` of a run folder (or of the run holding a ``model/`` folder); ``None`` for a hub id."""
    path = Path(model)
    for folder in (path, path.parent if path.name == "model" else None):
        if folder is not None and (folder / QC_JSON).is_file():
            return folder / QC_JSON
    return None


def load_qc(model: str | Path) -> QCModel | None:
    """The QC model stored with a run, or ``None`` when it has none (a bare model folder, a hub id)."""
    path = qc_path_of(model)
    return read_qc(path) if path is not None else None


def ef_check_reason(info: Mapping[str, Any]) -> str | None:
    """The reason every EF of this model needs review (``qc.json``'s ``ef_check`` failed), else ``None``."""
    check = info.get(EF_CHECK_KEY)
    if not check or check.get("passed") is not False:
        return None
    s = check["single_plane"]
    return (f"this model's EF was off by {s['mae']:.1f} points on average (bias {s['bias']:+.1f}) on "
            f"{check['n_patients']} {check['split']} patients: EF needs review")  # fmt: skip


def describe_ef_check(check: Mapping[str, Any]) -> str:
    """One line: ``EF check on 4 val patients (single-plane): bias -15.2, mean |error| 16.1 points: failed``."""
    s, b = check["single_plane"], check["biplane"]
    if s["n"] == 0:
        return f"EF check on {check['n_patients']} {check['split']} patients: no EF could be measured"
    verdict = (
        "passed"
        if check["passed"]
        else f"failed (> {check['tolerance']:g}): every EF of this model needs review"
    )
    bi = f"; biplane bias {b['bias']:+.1f}, mean |error| {b['mae']:.1f}" if b["n"] else ""
    return (f"EF check on {check['n_patients']} {check['split']} patients: single-plane bias {s['bias']:+.1f}, "
            f"mean |error| {s['mae']:.1f} points{bi}: {verdict}")  # fmt: skip
