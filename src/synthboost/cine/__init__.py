"""Whole-loop analysis: every frame segmented, ED/ES found, volumes and EF over the cycle.

``analyze(inputs, model, view=None, out=None, ...)`` is the stage function behind
``synthboost analyze`` (:mod:`synthboost.cine.analysis`). The pieces: :mod:`~synthboost.cine.segment`
(frames through the model, one image encoding for the three prompts), :mod:`~synthboost.cine.labels`
(temporal smoothing, conflicts, islands), :mod:`~synthboost.cine.measures` (areas and volumes with the
clinical stage's formulas), :mod:`~synthboost.cine.phases` (ED/ES, cycles, heart rate),
:mod:`~synthboost.cine.outputs` and :mod:`~synthboost.cine.report` (the files, docs/formats.md).
"""

from __future__ import annotations

from synthboost.utils.lazy import lazy_exports

__all__ = ["SegmentOptions", "analyze"]
__getattr__ = lazy_exports(__name__, {"analyze": "analysis", "SegmentOptions": "loop"})
