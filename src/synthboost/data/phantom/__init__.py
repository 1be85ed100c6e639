"""The procedural echo phantom: a CAMUS-format dataset with exact labels and volumes, no download.

:mod:`~synthboost.data.phantom.heart_model` (anatomy, acquisitions, label rasters) →
:mod:`~synthboost.data.phantom.speckle` (B-mode rendering) → :mod:`~synthboost.data.phantom.patient`
(one patient's random draws and frames) → :mod:`~synthboost.data.phantom.cine` (half-sequences) and
:mod:`~synthboost.data.phantom.dicom` (DICOM cine export) → :mod:`~synthboost.data.phantom.writer`
(``generate_phantom``: the whole folder). Imports run in that order, one way.
"""

from synthboost.utils.lazy import lazy_exports

__all__ = ["generate_phantom", "write_patients"]
__getattr__ = lazy_exports(__name__, {"generate_phantom": "writer", "write_patients": "writer"})
