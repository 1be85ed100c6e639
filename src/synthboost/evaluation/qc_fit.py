"""The calibrated QC rule: signals → a score in [0, 1] and a threshold, fitted on validation only.

A rule is a logistic regression of failure (image-structure Dice < :data:`FAILURE_DICE`) on the
standardised signals of :data:`STILL_SIGNALS` and the structure (:data:`STRUCTURE_PRIOR`; ``loop``
rules leave the test-time augmentation out: loops are checked without it to keep their cost low). The score is ``1 - P(failure)`` (higher
= more trustworthy); the threshold is the score that maximises Youden's J (sensitivity +
specificity - 1) on the validation image-structures. ``qc.json`` in the run folder holds both
rules, the plausible shape ranges learned from the training labels and what they were fitted on
(format in ``docs/qc.md``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from synthboost.utils.files import read_json, write_json_atomic

QC_JSON = "qc.json"
QC_VERSION = 1
#: An image-structure "fails" below this Dice (×100, as the metrics CSV writes it).
FAILURE_DICE = 80.0
#: Structure indicators: each structure's own failure rate on validation (MYO fails more often than the LV).
STRUCTURE_PRIOR: tuple[str, ...] = ("is_myo", "is_la")
#: The image-evidence signals (:func:`~synthboost.evaluation.qc.heterogeneity`, :func:`~synthboost.evaluation.qc.border_weakness`).
EVIDENCE_SIGNALS: tuple[str, ...] = ("heterogeneity", "weak_border")
#: Signals of a still image, in the order of a rule's coefficients.
STILL_SIGNALS: tuple[str, ...] = (
    "prompt_dis", "tta_dis", "uncertainty", "fragment", "shape_violation", *EVIDENCE_SIGNALS, *STRUCTURE_PRIOR,
)  # fmt: skip
#: The signals each standing alone (reported, benchmarked), without the structure indicators.
RAW_SIGNALS: tuple[str, ...] = tuple(s for s in STILL_SIGNALS if s not in STRUCTURE_PRIOR)
#: Signals of a loop frame (no test-time augmentation).
LOOP_SIGNALS: tuple[str, ...] = (
    "prompt_dis", "uncertainty", "fragment", "shape_violation", *EVIDENCE_SIGNALS, *STRUCTURE_PRIOR,
)  # fmt: skip
#: L2 penalty of the logistic regression (on standardised signals).
L2 = 1.0
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
class QCRule:
    """A fitted logistic rule over named signals.

    Attributes:
        signals: signal names, in the order of ``coef``.
        mean, std: standardisation of each signal (validation).
        coef, intercept: logistic regression of failure on the standardised signals.
        threshold: scores below it are flagged as failures.
        typical: per signal, the :data:`REASON_QUANTILE` of the validation successes (reasons).
    """

    signals: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float
    typical: dict[str, float]

    def score(self, values: Mapping[str, float]) -> float:
        """Trust score in [0, 1] (``1 - P(failure)``) of one image-structure's signals."""
        x = (np.array([values[s] for s in self.signals]) - self.mean) / self.std
        return float(1.0 - _sigmoid(float(x @ np.asarray(self.coef)) + self.intercept))

    def reasons(self, values: Mapping[str, float]) -> list[str]:
        """The signals above what validation successes typically show, e.g. ``prompt_dis 0.41``."""
        signals = (s for s in self.signals if s not in STRUCTURE_PRIOR)
        return [f"{s} {values[s]:.2f}" for s in signals if values[s] > self.typical[s]]


def _sigmoid(z: float | np.ndarray) -> Any:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def fit_logistic(
    x: np.ndarray, y: np.ndarray, l2: float = L2, iterations: int = 50
) -> tuple[np.ndarray, float]:
    """L2-penalised logistic regression by Newton's method (intercept not penalised).

    Args:
        x: ``(n, d)`` features. y: ``(n,)`` 0/1 targets.

    Returns:
        ``(coef (d,), intercept)``.
    """
    n, d = x.shape
    a = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    penalty = np.diag([l2] * d + [0.0])
    for _ in range(iterations):
        p = _sigmoid(a @ w)
        grad = a.T @ (p - y) + penalty @ w
        hess = a.T @ (a * (p * (1 - p))[:, None]) + penalty + 1e-9 * np.eye(d + 1)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:d], float(w[d])


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


def fit_rule(rows: Sequence[Mapping[str, float]], dice: Sequence[float], signals: Sequence[str]) -> QCRule:
    """Fit a :class:`QCRule` on validation image-structures (their signals and Dice ×100).

    Raises:
        ValueError: no rows, or no failure or no success among them (nothing to tell apart).
    """
    if not rows:
        raise ValueError("QC fit: no validation image-structures")
    x = np.array([[r[s] for s in signals] for r in rows], dtype=np.float64)
    failed = np.asarray(dice, np.float64) < FAILURE_DICE
    if failed.all() or not failed.any():
        raise ValueError(
            f"QC fit: {int(failed.sum())} of {len(failed)} validation image-structures fail (Dice < "
            f"{FAILURE_DICE:g}); a rule needs both failures and successes"
        )
    mean, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std > 1e-9, std, 1.0)
    coef, intercept = fit_logistic((x - mean) / std, failed.astype(np.float64))
    scores = 1.0 - _sigmoid(((x - mean) / std) @ coef + intercept)
    typical = {s: float(np.quantile(x[~failed, i], REASON_QUANTILE)) for i, s in enumerate(signals)}
    return QCRule(tuple(signals), tuple(mean), tuple(std), tuple(coef), intercept,
                  youden_threshold(scores, failed), typical)  # fmt: skip


def rule_to_json(rule: QCRule) -> dict[str, Any]:
    """The rule as a JSON object."""
    return dataclasses.asdict(rule)


def rule_from_json(doc: Mapping[str, Any], path: Path) -> QCRule:
    """A rule from :func:`rule_to_json`'s object; errors name ``path``."""
    try:
        rule = QCRule(**{**doc, **{k: tuple(doc[k]) for k in ("signals", "mean", "std", "coef")}})
    except (TypeError, KeyError) as err:
        raise ValueError(f"{path}: malformed QC rule ({err})") from err
    if not all(len(getattr(rule, k)) == len(rule.signals) for k in ("mean", "std", "coef")):
        raise ValueError(f"{path}: QC rule lengths differ from its {len(rule.signals)} signals")
    return rule


@dataclasses.dataclass(frozen=True)
class QCModel:
    """What ``qc.json`` holds: rules per kind (``still``, ``loop``), shape ranges and provenance."""

    rules: dict[str, QCRule]
    ranges: dict[str, list[float]]
    info: dict[str, Any]


def write_qc(path: str | Path, qc: QCModel) -> Path:
    """Write ``qc.json`` atomically; return its path."""
    doc = {"version": QC_VERSION, **qc.info, "ranges": qc.ranges,
           "rules": {k: rule_to_json(r) for k, r in qc.rules.items()}}  # fmt: skip
    write_json_atomic(path, doc)
    return Path(path)


def read_qc(path: str | Path) -> QCModel:
    """Read and validate ``qc.json``; errors name the file and the problem."""
    path = Path(path)
    doc = read_json(path, expect=dict)
    if doc.get("version") != QC_VERSION:
        raise ValueError(f"{path}: QC version {doc.get('version')!r}, this synthboost reads {QC_VERSION}")
    for key in ("rules", "ranges"):
        if not isinstance(doc.get(key), dict):
            raise ValueError(f"{path}: missing or malformed {key!r}")
    rules = {k: rule_from_json(r, path) for k, r in doc["rules"].items()}
    missing = [k for k in RULE_KINDS if k not in rules]
    if missing:
        raise ValueError(f"{path}: no QC rule for {missing}")
    for lo_hi in doc["ranges"].values():
        if len(lo_hi) != 2 or not all(math.isfinite(v) for v in lo_hi):
            raise ValueError(f"{path}: a shape range is not two finite numbers: {lo_hi}")
    info = {k: v for k, v in doc.items() if k not in ("rules", "ranges", "version")}
    return QCModel(rules, doc["ranges"], info)


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
