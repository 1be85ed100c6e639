"""Training stage: configs, the LightningModule, losses, strategies, the torch Dataset/DataModule,
run folders (:mod:`synthboost.training.runfolder` owns their format) and sweeps.

``train(config, out, resume=False, force=False)`` (:mod:`synthboost.training.run`) trains a run folder
from a :class:`~synthboost.training.config.TrainConfig` or an experiment YAML.
"""
