"""Reading echo files: one reader for every format a user brings.

- :mod:`~synthboost.data.imageio.echo`: :func:`read_echo`, the entry point every command calls (DICOM,
  NIfTI/MetaImage, AVI/MP4, PNG/JPEG) and the suffixes it reads;
- :mod:`~synthboost.data.imageio.medical`: SimpleITK images, PNG read/write, resizing;
- :mod:`~synthboost.data.imageio.dicom`, :mod:`~synthboost.data.imageio.video`: the DICOM and video decoders;
- :mod:`~synthboost.data.imageio.region`: the imaging sector (DICOM regions or detected from the pixels);
- :mod:`~synthboost.data.imageio.camus_info`: CAMUS ``Info_*.cfg`` metadata read beside an image.

Like nnU-Net's ``imageio/``: nothing here knows a dataset's layout or the phantom.
"""
