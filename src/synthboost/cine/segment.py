"""Every frame of a loop through a VLSM: the three structure prompts, frames batched.

**Prompts.** A loop is segmented at its run's prompt level (``run.json``; P1 when a bare model
folder is given) with the reference wording (phrasing 0), for the LV, the myocardium and the LA
(:func:`loop_prompts`). A frame's phase is what the analysis is looking for, so when the level
names the phase the structure probabilities are the mean of the ``ED`` and the ``ES`` prompt
(``phase_prompt="both"``, the default) or come from one of them (``"ED"`` / ``"ES"``).
Attributes the level needs but the caller did not give (sex, age, quality) are left out of the
sentence, with a warning.

**Shared image encoding.** CLIPSeg's and CRIS's image encoders do not depend on the text, so with
``shared=True`` each batch of frames is encoded once (``VLSM.encode_image``) and decoded for every
prompt (``VLSM.decode``); ``shared=False`` runs the full model once per prompt (what three calls of
a single-prompt segmenter cost; the benchmark compares both).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from synthboost.data.format import LABELS
from synthboost.logs import get_logger
from synthboost.prompts.templates import LEVEL_ORDER, build_prompts

log = get_logger("cine.segment")

PHASE_PROMPTS = ("both", "ED", "ES")


def loop_prompts(
    level: str,
    view: str,
    phase_prompt: str = "both",
    attributes: dict[str, Any] | None = None,
    phrasing: int = 0,
) -> list[list[str]]:
    """Prompt sets to average: one list of (LV, MYO, LA) prompts per phase used.

    Args:
        level: prompt level ``p0`` … ``p7``.
        view: ``2CH`` or ``4CH``.
        phase_prompt: ``both`` (mean of the ED and ES prompts), ``ED`` or ``ES``.
        attributes: optional ``sex``, ``age``, ``quality`` of the patient.
        phrasing: 0 (``of the heart``, the reference wording) or 1 (QC's second phrasing).
    """

    if phase_prompt not in PHASE_PROMPTS:
        raise ValueError(f"phase_prompt must be one of {PHASE_PROMPTS}, got {phase_prompt!r}")
    attrs = {k: v for k, v in (attributes or {}).items() if k in ("sex", "age", "quality") and v is not None}
    order = LEVEL_ORDER["camus"]
    k = int(level.lstrip("pP")) if level.lstrip("pP").isdigit() else -1
    if not 0 <= k <= len(order):
        raise ValueError(f"unknown prompt level {level!r} (expected p0..p{len(order)})")
    missing = [a for a in order[:k] if a in ("sex", "age", "quality") and a not in attrs]
    if missing:
        log.warning("prompt level %s uses %s, not given: left out of the prompts", level, ", ".join(missing))
    phases = ("ED", "ES") if phase_prompt == "both" else (phase_prompt,)
    if "phase" not in order[:k]:
        phases = phases[:1]  # the level does not name the phase: one prompt set
    sets = []
    for phase in phases:
        prompts = [build_prompts(s, view, phase, attrs.get("sex"), attrs.get("age"), attrs.get("quality"), None)
                   for s in LABELS.values()]  # fmt: skip
        sets.append([p[f"p{k}"] if k == 0 else p[f"p{k}"][phrasing] for p in prompts])
    return sets


def loop_probabilities(
    segmenter: Any,
    frames: np.ndarray,
    prompt_sets: Sequence[Sequence[str]],
    batch_size: int = 8,
    shared: bool = True,
) -> np.ndarray:
    """Structure probabilities ``(T, K, S, S)`` float32 at the model's input size: the mean over the prompt sets.

    Args:
        segmenter: a :class:`~synthboost.evaluation.segmenter.Segmenter`.
        frames: (T, H, W) uint8 frames.
        prompt_sets: one or more lists of ``K`` prompts (:func:`loop_prompts`).
        batch_size: frames per forward pass.
        shared: one image encoding per batch for every prompt.
    """
    k = len(prompt_sets[0])
    prompts = [p for group in prompt_sets for p in group]
    probs = segmenter.frame_probabilities(np.asarray(frames), prompts, batch_size, shared)
    return probs.reshape(len(probs), len(prompt_sets), k, *probs.shape[-2:]).mean(axis=1)
