"""Loops of label maps drawn from the phantom's 3-D heart model, with their exact volumes.

Each frame's chamber interpolates the ED and ES chambers of one patient (``s`` = 0 at ED, 1 at ES),
so the true LV volume of every frame is known from the model.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from synthboost.data.phantom import heart_model as hm


def patient(seed: int = 0) -> hm.Patient:
    return hm.sample_patient(np.random.default_rng(seed))


def chamber_at(anatomy: hm.Anatomy, s: float) -> hm.Chamber:
    """The chamber a fraction ``s`` of the way from ED (0) to ES (1), every field linear."""
    ed, es = dataclasses.asdict(anatomy.ed), dataclasses.asdict(anatomy.es)
    return hm.Chamber(**{k: (1 - s) * ed[k] + s * es[k] for k in ed})


def frame_patient(p: hm.Patient, s: float) -> hm.Patient:
    c = chamber_at(p.anatomy, s)
    return dataclasses.replace(p, anatomy=dataclasses.replace(p.anatomy, ed=c, es=c))


def loop_labels(p: hm.Patient, view: str, fractions, scale: float = 0.5) -> tuple[np.ndarray, tuple, list]:
    """Label maps (T, H, W) of ``view`` at the ED→ES ``fractions``, the spacing and the true volumes (mL)."""
    acq = p.views[view]
    acq = acq.resized(round(acq.rows * scale), round(acq.cols * scale))
    labels, volumes = [], []
    for s in fractions:
        fp = frame_patient(p, float(s))
        labels.append(hm.rasterize_labels(fp, view, "ED", acq))
        volumes.append(hm.lv_volume_ml(fp.anatomy, "ED"))
    return np.stack(labels), acq.spacing, volumes


def cycle_fractions(n_frames: int, n_cycles: float = 1.0, start: float = 0.0) -> np.ndarray:
    """ED→ES fractions of a loop of ``n_cycles`` cosine beats (0 = ED, 1 = ES), starting at phase ``start``."""
    t = start + np.arange(n_frames) / n_frames * n_cycles
    return (1 - np.cos(2 * np.pi * t)) / 2


def half_cycle_fractions(n_frames: int) -> np.ndarray:
    """A CAMUS half-sequence: exactly ED on the first frame and ES on the last, cosine in between."""
    return (1 - np.cos(np.pi * np.linspace(0.0, 1.0, n_frames))) / 2
