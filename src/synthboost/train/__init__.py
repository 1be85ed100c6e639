"""Train stage: configs, the LightningModule, losses, strategies, run folders, sweeps.

The package is callable as its stage function: ``synthboost.train(config, out, resume=False,
force=False)`` is :func:`synthboost.train.run.train` (``config``: a :class:`TrainConfig` or the path of
an experiment YAML, read by :func:`synthboost.train.config.load_config`). Returns the run folder.
"""

from __future__ import annotations

from synthboost.utils import callable_package

callable_package(__name__, "run", "train")
