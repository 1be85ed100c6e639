"""Dataset sources: one module per public dataset, its reader beside its ``prepare_*``
(:mod:`~synthboost.data.sources.camus`, :mod:`~synthboost.data.sources.sdm`,
:mod:`~synthboost.data.sources.echonet`), each writing the processed dataset through
:mod:`synthboost.data.writer` (nnU-Net's ``dataset_conversion/``)."""
