"""Segment one image with a trained VLSM and text prompts (the Python API, ``synthboost segment``, the app).

``seg = Segmenter.from_pretrained(path)``; ``seg(image, prompt)`` returns a :class:`Segmentation`
(foreground probabilities and the thresholded mask at the image's own size) and
``seg.segment_all(image, view=..., phase=..., ...)`` an LV/MYO/LA label map from one image encoding
shared by the three prompts. The image (a path, a PIL image, a 2-D or RGB array) is made grayscale,
resized (bilinear) to the model's input size and normalised exactly as in training
(:func:`synthboost.models.base.normalize`); the logits go through a sigmoid and are resized
back (bilinear), as the evaluate stage does at native size.

``path`` is a model folder (what ``save_pretrained`` writes: ``config.json`` + ``model.safetensors``),
a run folder (its ``model/`` sub-folder and its decision threshold) or a Hugging Face hub id.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

from synthboost.data.format import LABELS
from synthboost.data.imageio.budget import FILE_BUDGET
from synthboost.data.imageio.calibration import Calibration, user_calibration
from synthboost.data.imageio.echo import read_echo, stretch_to_unit
from synthboost.data.imageio.medical import (
    bilinear_resize,
    resize,
    to_uint8,
    write_png,
)
from synthboost.logs import get_logger
from synthboost.models import get_tokenizer, load_pretrained
from synthboost.models.base import normalize
from synthboost.prompts.select import prompt_from_attributes
from synthboost.training.runfolder import resolve_model
from synthboost.utils.device import inference_autocast, torch_device
from synthboost.utils.files import atomic_path, write_json_atomic

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

log = get_logger("evaluation.segmenter")

OVERLAY_COLOR = (255, 64, 32)
#: What the segmenter accepts as an image: a file path, a PIL image or a 2-D / RGB(A) array.
ImageInput: TypeAlias = "str | os.PathLike[str] | np.ndarray | PILImage"


@dataclasses.dataclass(frozen=True)
class Frame:
    """One frame of a file, with what the output must say about it.

    Attributes:
        image: ``(rows, cols)`` uint8 grayscale.
        calibration: the file's :class:`~synthboost.data.imageio.calibration.Calibration` record.
        index: which frame (0-based, non-negative).
        n_frames: how many frames the file holds.
    """

    image: np.ndarray
    calibration: Calibration
    index: int
    n_frames: int


def read_frame(path: str | os.PathLike, frame: int = 0) -> Frame:
    """One frame of any file the echo reader reads, with its calibration record.

    Reads through :func:`synthboost.data.imageio.echo.read_echo` (every format it reads, within
    :data:`~synthboost.data.imageio.budget.FILE_BUDGET` checked from the header).

    Args:
        path: the file (PNG/JPEG/BMP/TIFF, MetaImage/NIfTI, DICOM, video).
        frame: which frame of a loop (0, the first, by default; negative counts from the end).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: not readable, over the budget, or no such frame (the message names the file).
    """
    loop = read_echo(path, budget=FILE_BUDGET)
    if not -loop.n_frames <= frame < loop.n_frames:
        raise ValueError(
            f"{path}: no frame {frame} (the file holds {loop.n_frames} frame(s), 0..{loop.n_frames - 1})"
        )
    index = frame % loop.n_frames
    return Frame(loop.frames[index], loop.calibration, index, loop.n_frames)


def read_image(path: str | os.PathLike, frame: int = 0) -> tuple[np.ndarray, tuple[float, float] | None]:
    """``(image (rows, cols) uint8, spacing (row_mm, col_mm) or None)`` of one frame (:func:`read_frame`)."""
    f = read_frame(path, frame)
    return f.image, f.calibration.spacing_mm


def as_grayscale(image: ImageInput) -> np.ndarray:
    """A 2-D uint8 grayscale image from a path, a PIL image, or a 2-D, RGB or RGBA array.

    Colour is converted to luminance as Pillow does (ITU-R 601-2); floats in [0, 1] are scaled.

    Raises:
        FileNotFoundError / ValueError: see :func:`read_image`; ``ValueError`` for another array shape,
            a complex or non-numeric array, or NaN / infinite pixels.
    """
    from PIL import Image

    if isinstance(image, (str, os.PathLike)):
        return read_image(image)[0]
    if isinstance(image, Image.Image):
        image = image if image.mode in ("L", "I", "I;16", "F") else image.convert("L")
    arr = _real_finite(np.asarray(image))
    if arr.ndim == 3 and arr.shape[-1] in (3, 4):
        arr = np.asarray(Image.fromarray(to_uint8(arr[..., :3])).convert("L"))
    elif arr.ndim == 3 and 1 in (arr.shape[0], arr.shape[-1]):
        arr = arr.reshape(arr.shape[1:] if arr.shape[0] == 1 else arr.shape[:-1])
    if arr.ndim != 2 or min(arr.shape) < 2:
        raise ValueError(f"Segmenter: expected a 2-D grayscale or an RGB image, got shape {arr.shape}")
    return to_uint8(stretch_to_unit(arr))


def _real_finite(arr: np.ndarray) -> np.ndarray:
    """``arr`` when it holds real, finite numbers; a ValueError saying what it holds otherwise."""
    if arr.dtype.kind not in "buif":
        what = "complex numbers" if arr.dtype.kind == "c" else f"values of dtype {arr.dtype}"
        raise ValueError(f"Segmenter: the image holds {what}; expected real pixel values")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        n_nan, n_inf = int(np.isnan(arr).sum()), int(np.isinf(arr).sum())
        raise ValueError(
            f"Segmenter: the image holds {n_nan} NaN and {n_inf} infinite pixel(s); expected finite values"
        )
    return arr


def label_map(probabilities: np.ndarray, threshold: float) -> np.ndarray:
    """CAMUS label map (1 LV, 2 myocardium, 3 LA) from ``(3, rows, cols)`` probabilities in that order.

    A pixel takes the structure of highest probability when that probability is above
    ``threshold`` (overlapping masks are resolved by probability), else background 0.
    """
    labels = np.argmax(probabilities, axis=0).astype(np.uint8) + 1
    return np.where(probabilities.max(axis=0) > threshold, labels, 0).astype(np.uint8)


@dataclasses.dataclass(frozen=True)
class Segmentation:
    """One prompt's answer for one image, at the image's size.

    Attributes:
        probability: foreground probabilities ``(rows, cols)`` float32 in [0, 1].
        mask: ``probability > threshold`` ``(rows, cols)`` bool.
        prompt: the prompt.
        threshold: the decision threshold used.
    """

    probability: np.ndarray
    mask: np.ndarray
    prompt: str
    threshold: float


class Segmenter:
    """A VLSM ready for single-image inference.

    Args:
        model: a :class:`synthboost.models.VLSM`.
        device: ``"cuda"``, ``"cpu"``, ... (default: CUDA when available).
        threshold: the decision threshold (:meth:`from_pretrained` takes the run's loss preset).
    """

    def __init__(self, model: Any, device: str | None = None, threshold: float = 0.5) -> None:

        self.threshold = check_threshold(threshold)
        self.device = torch_device(device)
        self.model = model.to(self.device).eval()
        self.preprocessing = model.preprocessing
        self.tokenize = get_tokenizer(model.preprocessing)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, device: str | None = None) -> Segmenter:
        """Load a model folder, run folder (``RUN/model``, with the run's threshold) or hub id."""

        folder, settings = resolve_model(path)
        return cls(load_pretrained(folder, merge=True), device, settings["threshold"])

    def probabilities(self, image: ImageInput, prompts: list[str]) -> np.ndarray:
        """Foreground probabilities ``(len(prompts), rows, cols)`` float32 from one image encoding."""

        gray = as_grayscale(image)
        probs = self.frame_probabilities(gray[None], prompts)[0]
        return np.stack([np.clip(bilinear_resize(p, gray.shape), 0.0, 1.0) for p in probs])

    def frame_probabilities(
        self, frames: np.ndarray, prompts: list[str], batch_size: int = 8, shared: bool = True
    ) -> np.ndarray:
        """Probabilities ``(T, len(prompts), S, S)`` float32 at the model's input size ``S`` of a stack of frames.

        Args:
            frames: ``(T, rows, cols)`` uint8 grayscale frames (e.g. a cine loop).
            prompts: the prompts, each applied to every frame.
            batch_size: frames per forward pass.
            shared: encode each batch of frames once (``encode_image``) and decode it per prompt;
                ``False`` runs the whole model once per prompt (what separate single-prompt calls cost).
        """
        import torch

        frames = np.asarray(frames)
        if frames.ndim != 3 or frames.dtype != np.uint8:
            raise ValueError(
                f"Segmenter: expected (frames, rows, cols) uint8, got {frames.dtype} {frames.shape}"
            )
        if not prompts or not all(isinstance(p, str) for p in prompts):
            raise ValueError(f"Segmenter: prompts must be a non-empty list of strings, got {prompts!r}")
        if batch_size < 1:
            raise ValueError(f"Segmenter: batch_size must be >= 1, got {batch_size}")
        size, prep, model = self.preprocessing.image_size, self.preprocessing, self.model
        small = torch.from_numpy(np.stack([resize(f, (size, size)) for f in frames]))[:, None]
        tokens = self.tokenize(list(prompts))
        ids, mask = tokens["input_ids"].to(self.device), tokens["attention_mask"].to(self.device)
        out = []
        with torch.inference_mode(), inference_autocast(self.device):
            for start in range(0, len(small), batch_size):
                pixels = normalize(small[start : start + batch_size].to(self.device), prep.mean, prep.std)
                n = pixels.shape[0]
                features = model.encode_image(pixels) if shared else None
                logits = []
                for j in range(len(prompts)):
                    i, m = ids[j : j + 1].expand(n, -1), mask[j : j + 1].expand(n, -1)
                    logits.append(model.decode(features, i, m) if shared else model(pixels, i, m))
                out.append(torch.sigmoid(torch.cat(logits, dim=1).float()).cpu().numpy())
        return np.concatenate(out)

    def prompt_batch_probabilities(self, image: np.ndarray, prompts: list[str]) -> np.ndarray:
        """Probabilities ``(len(prompts), S, S)`` of one ``(rows, cols)`` uint8 image at the model's input
        size: one encoding, every prompt decoded in one batch (QC's prompt ensemble, :mod:`~synthboost.evaluation.qc_pass`)."""
        import torch

        size, prep = self.preprocessing.image_size, self.preprocessing
        small = torch.from_numpy(np.array(resize(np.asarray(image, np.uint8), (size, size))))[None, None]
        tokens = self.tokenize(list(prompts))
        ids, mask = tokens["input_ids"].to(self.device), tokens["attention_mask"].to(self.device)
        with torch.inference_mode(), inference_autocast(self.device):
            features = self.model.encode_image(normalize(small.to(self.device), prep.mean, prep.std))
            logits = self.model.decode(features.expand(len(prompts)), ids, mask)
        return torch.sigmoid(logits.float())[:, 0].cpu().numpy()

    def __call__(self, image: ImageInput, prompt: str, threshold: float | None = None) -> Segmentation:
        """Segment ``image`` with one prompt (``threshold`` defaults to the segmenter's)."""
        if not isinstance(prompt, str):
            raise ValueError(f"Segmenter: prompt must be a string, got {type(prompt).__name__}")
        threshold = self.threshold if threshold is None else check_threshold(threshold)
        prob = self.probabilities(image, [prompt])[0]
        return Segmentation(prob, prob > threshold, prompt, threshold)

    def segment_all(
        self,
        image: ImageInput,
        view: str | None = None,
        phase: str | None = None,
        sex: str | None = None,
        age: int | None = None,
        quality: str | None = None,
        threshold: float | None = None,
    ) -> np.ndarray:
        """LV/MYO/LA label map ``(rows, cols)`` uint8 (1, 2, 3; 0 background) of one image.

        The three prompts are built by :func:`prompt_from_attributes` from the given attributes
        and share one image encoding; overlaps go to the most probable structure (:func:`label_map`).
        """

        prompts = [prompt_from_attributes(s, view, phase, sex, age, quality) for s in LABELS.values()]
        threshold = self.threshold if threshold is None else check_threshold(threshold)
        return label_map(self.probabilities(image, prompts), threshold)


def check_spacing(spacing: tuple[float, float]) -> tuple[float, float]:
    """``(row_mm, col_mm)`` if both are positive and finite, else a ``ValueError``."""
    row, col = (float(v) for v in spacing)
    if not (np.isfinite(row) and np.isfinite(col) and row > 0 and col > 0):
        raise ValueError(f"spacing must be two positive sizes in mm (ROW COL), got {spacing}")
    return row, col


def check_threshold(threshold: float) -> float:
    """``threshold`` if it is in [0, 1), else a ``ValueError``."""
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}")
    return float(threshold)


def overlay(image: np.ndarray, mask: np.ndarray, color: tuple[int, int, int] = OVERLAY_COLOR) -> np.ndarray:
    """RGB uint8 picture of ``image`` with the mask tinted and its contour drawn in ``color``."""
    from scipy import ndimage

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

    with atomic_path(path) as tmp:
        Image.fromarray(np.ascontiguousarray(rgb, np.uint8), mode="RGB").save(tmp, format="PNG")


#: Columns of the one-row CSV ``segment`` writes beside its JSON.
RESULT_COLUMNS = (
    "file", "frame", "n_frames", "prompt", "threshold", "area", "unit",
    "calibration_source", "spacing_row_mm", "spacing_col_mm", "scaled_by", "calibration_warnings",
)  # fmt: skip


def _write_result(out: Path, stem: str, result: dict[str, Any]) -> dict[str, Path]:
    """``<stem>_segment.json`` and ``<stem>_segment.csv`` (one row) of a :func:`segment_file` result."""
    import csv

    cal = result["calibration"]
    spacing = cal["spacing_mm"] or [None, None]
    row = {"file": result["file"], "frame": result["frame"], "n_frames": result["n_frames"],
           "prompt": result["prompt"], "threshold": result["threshold"], "area": f"{result['area']:.4f}",
           "unit": result["unit"], "calibration_source": cal["source"], "spacing_row_mm": spacing[0],
           "spacing_col_mm": spacing[1], "scaled_by": cal["scaled_by"],
           "calibration_warnings": " | ".join(cal["warnings"])}  # fmt: skip
    paths = {"json": out / f"{stem}_segment.json", "csv": out / f"{stem}_segment.csv"}
    write_json_atomic(paths["json"], result)
    with atomic_path(paths["csv"]) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=RESULT_COLUMNS)
        writer.writeheader()
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return paths


def segment_file(
    image_path: str | os.PathLike,
    segmenter: Segmenter,
    prompt: str,
    out: str | os.PathLike,
    threshold: float | None = None,
    spacing: tuple[float, float] | None = None,
    frame: int = 0,
) -> dict[str, Any]:
    """Segment one frame of a file; write ``<stem>_mask.png`` (0/255), ``<stem>_overlay.png`` and
    ``<stem>_segment.json`` / ``.csv`` (what was measured, on which frame, and the calibration record).

    ``threshold`` defaults to the segmenter's (its run's loss preset, else 0.5); ``spacing``
    ``(row_mm, col_mm)`` to the file's (calibration ``user`` when given; without either the area is in
    pixels); ``frame`` picks the frame of a loop (default the first).

    Returns:
        ``{"mask", "overlay", "json", "csv": Path, "area": float, "unit": str, "prompt": str, "frame": int,
        "n_frames": int, "calibration": dict, ...}``.
    """

    f = read_frame(image_path, frame)
    calibration = (
        user_calibration(check_spacing(spacing), f.calibration) if spacing is not None else f.calibration
    )
    threshold = segmenter.threshold if threshold is None else check_threshold(threshold)
    mask = segmenter(f.image, prompt, threshold).mask
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = Path(image_path).name.split(".")[0]
    paths = {"mask": out / f"{stem}_mask.png", "overlay": out / f"{stem}_overlay.png"}
    write_png(paths["mask"], np.where(mask, 255, 0).astype(np.uint8))
    write_rgb_png(paths["overlay"], overlay(f.image, mask))
    value, unit = area(mask, calibration.spacing_mm)
    result = {"file": str(image_path), "frame": f.index, "n_frames": f.n_frames, "prompt": prompt,
              "threshold": float(threshold), "area": value, "unit": unit,
              "calibration": calibration.as_dict()}  # fmt: skip
    paths.update(_write_result(out, stem, result))
    log.info("%s (frame %d of %d): %r -> %.1f %s [%s]", image_path, f.index, f.n_frames, prompt, value, unit,
             calibration.describe())  # fmt: skip
    return {**paths, **result}
