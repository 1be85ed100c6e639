"""Evaluate stage: predictions, single-image segmentation, metrics and the per-image CSV.

The package is callable as its stage function: ``synthboost.evaluate(pred_folder, dataset_root,
out_csv=None)`` is :func:`synthboost.evaluate.per_image.evaluate` (a ``pandas.DataFrame`` of
per-image metrics). ``predict`` (:mod:`synthboost.evaluate.predict`) writes the prediction folder and
:class:`~synthboost.evaluate.segmenter.Segmenter` segments single images.
"""

from __future__ import annotations

from synthboost.utils import callable_package

callable_package(__name__, "per_image", "evaluate")
