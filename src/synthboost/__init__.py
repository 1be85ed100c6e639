"""synthboost: text-prompted echocardiogram segmentation with VLSMs, boosted by synthetic data.

Reproduces and extends *Synthetic Boost* (Adhikari et al., ASMUS 2023, arXiv 2309.12829).

The names most users need, imported lazily (``import synthboost`` stays light)::

    from synthboost import Segmenter, build_model, load_pretrained, train, predict, evaluate

    seg = Segmenter.from_pretrained("demo_out/runs/...")   # a run folder, model folder or hub id
    labels = seg.segment_all("image.png", view="2CH", phase="ED")   # 0 / 1 LV / 2 MYO / 3 LA

``train(config_or_yaml, out)`` trains a run folder, ``predict(run, dataset, split, out)`` writes
predictions and ``evaluate(pred_folder, dataset_root, out_csv)`` scores them.
"""

from synthboost.utils.lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "Segmenter": "evaluation.segmenter",
    "build_model": "models.factory",
    "load_pretrained": "models.factory",
    "predict": "evaluation.predict",
    "train": "training.run",
    "evaluate": "evaluation.per_image",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
