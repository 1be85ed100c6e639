"""Single-image segmentation for the app and ``synthboost segment``: see :mod:`synthboost.evaluate.segmenter`.

The segmenter lives below the app in the data flow (the cine and clinical stages use it too); this
module keeps the app's import path.
"""

from synthboost.evaluate.segmenter import (
    MAX_PIXELS,
    ImageTooLarge,
    Segmentation,
    Segmenter,
    area,
    as_grayscale,
    overlay,
    prompt_from_attributes,
    read_image,
    segment_file,
    write_rgb_png,
)

__all__ = [
    "MAX_PIXELS",
    "ImageTooLarge",
    "Segmentation",
    "Segmenter",
    "area",
    "as_grayscale",
    "overlay",
    "prompt_from_attributes",
    "read_image",
    "segment_file",
    "write_rgb_png",
]
