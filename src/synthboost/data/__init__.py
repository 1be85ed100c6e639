"""Data stage: the processed-dataset contract and, in rooms, what feeds it.

- :mod:`~synthboost.data.format` and :mod:`~synthboost.data.processed`: the processed dataset (the one
  format every later stage reads, ``docs/formats.md``); :mod:`~synthboost.data.writer` writes it.
- :mod:`synthboost.data.imageio`: ONE reader for every echo file (DICOM, NIfTI/MetaImage, video, PNG…).
- :mod:`synthboost.data.sources`: one module per dataset (CAMUS, SDM, EchoNet-Dynamic), each with its
  ``prepare_*`` beside its reader.
- :mod:`synthboost.data.phantom`: the procedural echo phantom (stills, cines, DICOM).
"""
