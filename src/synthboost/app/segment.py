"""Segment one image with a trained VLSM and a text prompt (``synthboost segment`` and the browser app).

``Segmenter.from_pretrained(path)(image, prompt)`` returns the foreground probabilities at the
image's own size: the grayscale image is resized (bilinear) to the model's input size and
normalised exactly as in training (:func:`synthboost.data.torch_dataset.normalize`), the logits
go through a sigmoid and are resized back (bilinear), as the evaluate stage does at native size.

``path`` is a model folder (what ``save_pretrained`` writes: ``config.json`` + ``model.safetensors``),
a run folder (its ``model/`` sub-folder) or a Hugging Face hub id.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from synthboost.utils import get_logger, inference_autocast, torch_device

log = get_logger("app.segment")

MAX_PIXELS = 4096 * 4096  # refuse larger images before decoding them
PNG_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
OVERLAY_COLOR = (255, 64, 32)


class ImageTooLarge(ValueError):
    """An image with more than ``MAX_PIXELS`` pixels (refused before decoding)."""

    def __init__(self, path: Path, pixels: int) -> None:
        super().__init__(f"{path}: {pixels:,} pixels, more than the {MAX_PIXELS:,} this tool decodes")
        self.pixels = pixels


def read_image(path: str | os.PathLike) -> tuple[np.ndarray, tuple[float, float] | None]:
    """Read a PNG (or other Pillow format), MetaImage or NIfTI image as uint8 grayscale.

    Returns:
        ``(image (rows, cols) uint8, spacing (row_mm, col_mm) or None)``; PNGs carry no spacing.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a readable 2-D image, or it has more than ``MAX_PIXELS`` pixels
            (checked from the header, before decoding).
    """
    from synthboost.data.imageio import MEDICAL_SUFFIXES, image_shape, read_medical, read_png, to_uint8

    path = Path(path)
    name = path.name.lower()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: image not found")
    pixels = int(np.prod(image_shape(path)))
    if pixels > MAX_PIXELS:
        raise ImageTooLarge(path, pixels)
    if name.endswith(MEDICAL_SUFFIXES):
        arr, spacing = read_medical(path)
        return to_uint8(_rescale(arr)), spacing
    return read_png(path), None


def _rescale(arr: np.ndarray) -> np.ndarray:
    """Integers in 0..255 and floats in [0, 1] stay; other ranges are stretched to 0..255."""
    lo, hi = float(arr.min()), float(arr.max())
    if arr.dtype == np.uint8 or (lo >= 0 and hi <= (1.0 if np.issubdtype(arr.dtype, np.floating) else 255)):
        return arr
    return (arr.astype(np.float64) - lo) / max(hi - lo, 1e-12)


def prompt_from_attributes(
    structure: str,
    view: str | None = None,
    phase: str | None = None,
    sex: str | None = None,
    age: int | None = None,
    quality: str | None = None,
    shape: str | None = None,
    phrasing: int = 0,
) -> str:
    """The most specific prompt the given attributes allow (the paper's wording, ``of the heart``).

    With view and phase the P-level is the highest one whose attribute is given (e.g. structure,
    view, phase and sex -> P4; absent attributes in between are left out of the sentence).
    """
    from synthboost.prompts.templates import LEVEL_ORDER, build_prompts, prompts_for

    attrs = {"structure": structure, "view": view, "phase": phase, "sex": sex, "age": age,
             "quality": quality, "shape": shape}  # fmt: skip
    order = LEVEL_ORDER["camus"]
    level = max(k for k in range(1, len(order) + 1) if attrs[order[k - 1]] is not None or k == 1)
    if view is not None and phase is not None:
        prompts = build_prompts(structure, view, phase, sex, age, quality, shape, source="camus")
    else:
        build_prompts(structure, view or "2CH", phase or "ED", sex, age, quality, shape)  # validates
        prompts = prompts_for(attrs, "camus")
    return prompts[f"p{level}"][phrasing]


class Segmenter:
    """A VLSM ready for single-image inference.

    Args:
        model: a :class:`synthboost.models.VLSM`.
        device: ``"cuda"``, ``"cpu"``, ... (default: CUDA when available).
    """

    def __init__(self, model: Any, device: str | None = None, threshold: float = 0.5) -> None:

        from synthboost.models import get_tokenizer

        self.threshold = threshold  # the run's decision threshold (its loss preset), else 0.5
        self.device = torch_device(device)
        self.model = model.to(self.device).eval()
        self.preprocessing = model.preprocessing
        self.tokenize = get_tokenizer(model.preprocessing)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, device: str | None = None) -> Segmenter:
        """Load a model folder, run folder (``RUN/model``, with the run's threshold) or hub id."""
        from synthboost.models import load_pretrained
        from synthboost.train.losses import DEFAULT_THRESHOLD
        from synthboost.train.runfolder import resolve_model

        folder, settings = resolve_model(path)
        threshold = settings["threshold"] if settings["threshold"] is not None else DEFAULT_THRESHOLD
        return cls(load_pretrained(folder), device, threshold)

    def __call__(self, image: np.ndarray, prompt: str) -> np.ndarray:
        """Foreground probabilities ``(rows, cols)`` float32 in [0, 1] at the image's size."""
        import torch

        from synthboost.data.imageio import bilinear_resize, resize, to_uint8
        from synthboost.data.torch_dataset import normalize

        image = np.asarray(image)
        if image.ndim != 2 or min(image.shape) < 2:
            raise ValueError(f"Segmenter: expected a 2-D grayscale image, got shape {image.shape}")
        if not isinstance(prompt, str):
            raise ValueError(f"Segmenter: prompt must be a string, got {type(prompt).__name__}")
        size = self.preprocessing.image_size
        small = resize(to_uint8(image), (size, size))
        pixels = normalize(
            torch.from_numpy(np.array(small))[None, None], self.preprocessing.mean, self.preprocessing.std
        )
        tokens = self.tokenize([prompt])
        with torch.inference_mode(), inference_autocast(self.device):
            logits = self.model(pixels.to(self.device), tokens["input_ids"].to(self.device),
                                tokens["attention_mask"].to(self.device))  # fmt: skip
        prob = torch.sigmoid(logits.float())[0, 0].cpu().numpy()
        return np.clip(bilinear_resize(prob, image.shape), 0.0, 1.0)


def overlay(image: np.ndarray, mask: np.ndarray, color: tuple[int, int, int] = OVERLAY_COLOR) -> np.ndarray:
    """RGB uint8 picture of ``image`` with the mask tinted and its contour drawn in ``color``."""
    from scipy import ndimage

    from synthboost.data.imageio import to_uint8

    gray = to_uint8(np.asarray(image))
    mask = np.asarray(mask, bool)
    rgb = np.repeat(gray[..., None], 3, axis=2).astype(np.float32)
    tint = np.asarray(color, np.float32)
    rgb[mask] = 0.75 * rgb[mask] + 0.25 * tint
    width = max(1, round(max(mask.shape) / 300))
    edge = mask & ~ndimage.binary_erosion(mask, iterations=width, border_value=0)
    rgb[edge] = tint
    return rgb.astype(np.uint8)


def area(mask: np.ndarray, spacing: tuple[float, float] | None) -> tuple[float, str]:
    """Area of a mask: ``(value, "mm²")`` with a spacing, else ``(pixels, "px")``."""
    n = float(np.count_nonzero(mask))
    return (n * spacing[0] * spacing[1], "mm²") if spacing else (n, "px")


def write_rgb_png(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Write an RGB uint8 array as PNG (atomically)."""
    from PIL import Image

    from synthboost.utils import atomic_path

    with atomic_path(path) as tmp:
        Image.fromarray(np.ascontiguousarray(rgb, np.uint8), mode="RGB").save(tmp, format="PNG")


def segment_file(
    image_path: str | os.PathLike,
    segmenter: Segmenter,
    prompt: str,
    out: str | os.PathLike,
    threshold: float | None = None,
) -> dict[str, Any]:
    """Segment one image file; write ``<stem>_mask.png`` (0/255) and ``<stem>_overlay.png`` to ``out``.

    ``threshold`` defaults to the segmenter's (its run's loss preset, else 0.5).

    Returns:
        ``{"mask": Path, "overlay": Path, "area": float, "unit": str, "prompt": str}``.
    """
    from synthboost.data.imageio import write_png

    threshold = getattr(segmenter, "threshold", 0.5) if threshold is None else threshold
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}")
    image, spacing = read_image(image_path)
    mask = segmenter(image, prompt) > threshold
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = Path(image_path).name.split(".")[0]
    paths = {"mask": out / f"{stem}_mask.png", "overlay": out / f"{stem}_overlay.png"}
    write_png(paths["mask"], np.where(mask, 255, 0).astype(np.uint8))
    write_rgb_png(paths["overlay"], overlay(image, mask))
    value, unit = area(mask, spacing)
    log.info("%s: %r -> %.1f %s", image_path, prompt, value, unit)
    return {**paths, "area": value, "unit": unit, "prompt": prompt}
