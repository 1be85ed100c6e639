"""Evaluation stage: predictions, single-image segmentation, metrics and the per-image CSV.

``evaluate(pred_folder, dataset_root, out_csv=None)`` (:mod:`synthboost.evaluation.per_image`) returns
a ``pandas.DataFrame`` of per-image metrics; ``predict`` (:mod:`synthboost.evaluation.predict`) writes
the prediction folder and :class:`~synthboost.evaluation.segmenter.Segmenter` segments single images.
"""
