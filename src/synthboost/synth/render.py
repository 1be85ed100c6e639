"""Label maps → images in the Echo-from-noise layout (``synth render``).

Reads a ``synth shapes`` folder and writes the layout the SDM reader reads::

    <out>/<split>/images/<stem>.png   uint8 grayscale image
    <out>/<split>/labels/<stem>.png   uint8 label map 0..3 (copied)
    <out>/attributes.json             copied from the shapes folder

for ``split`` in ``training`` and ``validation``. Renderers: ``speckle`` (the physics-flavoured
renderer of :mod:`synthboost.data.phantom.speckle`, fast, CPU) or ``sdm:RUN_DIR`` (a trained semantic
diffusion model, through ``synthboost.synth.sample.sample_images``).
"""

from __future__ import annotations

import shutil
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from synthboost.data.imageio.medical import read_png, write_png
from synthboost.data.phantom.speckle import render_bmode
from synthboost.logs import get_logger
from synthboost.progress import track
from synthboost.synth.sample import sample_images
from synthboost.synth.shapes import SHAPE_SPLITS
from synthboost.utils.files import atomic_dir, read_json

log = get_logger("synth.render")

BATCH = 16
QUALITY_WEIGHTS = {"good": 0.4, "medium": 0.45, "poor": 0.15}

#: (labels, sectors, stems, seed, batch start) -> images
Renderer = Callable[[list[np.ndarray], list[np.ndarray], list[str], int, int], list[np.ndarray]]


def _speckle(
    labels: list[np.ndarray], sectors: list[np.ndarray], stems: list[str], seed: int, start: int
) -> list[np.ndarray]:
    """Speckle renderer; each image's randomness is keyed by (seed, stem), not by its position."""

    images = []
    for lab, sec, stem in zip(labels, sectors, stems, strict=True):
        rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(stem.encode())]))
        quality = str(rng.choice(list(QUALITY_WEIGHTS), p=list(QUALITY_WEIGHTS.values())))
        images.append(render_bmode(lab, sec, rng, quality))
    return images


def _sdm(run_dir: str, trust_pickle: bool = False) -> Renderer:
    """Renderer calling ``synthboost.synth.sample.sample_images`` of a trained SDM run."""

    def render(
        labels: list[np.ndarray], sectors: list[np.ndarray], stems: list[str], seed: int, start: int
    ) -> list[np.ndarray]:
        return sample_images(Path(run_dir), labels, sectors, seed + start, trust_pickle=trust_pickle)

    return render


def get_renderer(renderer: str, trust_pickle: bool = False) -> Renderer:
    """Resolve ``speckle`` or ``sdm:RUN_DIR`` into a batch rendering function (``trust_pickle``: the
    SDM weights may need pickle)."""
    if renderer == "speckle":
        return _speckle
    if renderer.startswith("sdm:") and len(renderer) > 4:
        return _sdm(renderer[4:], trust_pickle)
    raise ValueError(f"unknown renderer {renderer!r} (expected 'speckle' or 'sdm:RUN_DIR')")


def _read_attributes(shapes_dir: Path) -> dict[str, dict]:
    path = shapes_dir / "attributes.json"
    attributes = read_json(path)
    if not isinstance(attributes, dict):
        raise ValueError(f"{path}: expected an object {{stem: attributes}}")
    for stem, attrs in attributes.items():
        if not isinstance(attrs, dict) or attrs.get("split") not in SHAPE_SPLITS:
            raise ValueError(f"{path}: {stem}: 'split' must be one of {SHAPE_SPLITS}")
    return attributes


def _as_uint8(image: np.ndarray, shape: tuple[int, ...], stem: str) -> np.ndarray:
    image = np.asarray(image)
    if image.shape != shape:
        raise ValueError(f"renderer returned shape {image.shape} for {stem}, expected {shape}")
    if image.dtype == np.uint8:
        return image
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _map_dir(shapes_dir: Path, attributes: dict[str, dict], stem: str) -> Path:
    """Folder holding ``labels/`` and ``sectors/`` of a stem: flat (``synth shapes``) or per split
    (``synth perturb``)."""
    return shapes_dir if (shapes_dir / "labels").is_dir() else shapes_dir / attributes[stem]["split"]


def render_folder(
    shapes_dir: Path,
    out: Path,
    renderer: str = "speckle",
    seed: int = 0,
    overwrite: bool = False,
    trust_pickle: bool = False,
) -> Path:
    """Render every label map of a ``synth shapes`` folder into the Echo-from-noise layout.

    Args:
        shapes_dir: folder written by :func:`synthboost.synth.shapes.write_shape_masks` or by
            :func:`synthboost.synth.perturb.perturb_dataset` (perturbed real masks).
        out: destination folder (written atomically).
        renderer: ``speckle`` or ``sdm:RUN_DIR``.
        seed: base seed.
        overwrite: replace an existing ``out``.
        trust_pickle: let the SDM weights need pickle (see :mod:`synthboost.checkpoints`).

    Returns:
        ``out``.
    """
    shapes_dir, out = Path(shapes_dir), Path(out)
    render = get_renderer(renderer, trust_pickle)
    attributes = _read_attributes(shapes_dir)
    stems = sorted(attributes)
    run = [renderer[4:]] if renderer.startswith("sdm:") else []
    with atomic_dir(out, overwrite=overwrite, markers=("attributes.json",), inputs=[shapes_dir, *run]) as tmp:
        for start in track(range(0, len(stems), BATCH), f"render ({len(stems)} maps)"):
            batch = stems[start : start + BATCH]
            labels = [read_png(_map_dir(shapes_dir, attributes, s) / "labels" / f"{s}.png") for s in batch]
            sectors = [
                read_png(_map_dir(shapes_dir, attributes, s) / "sectors" / f"{s}.png") > 0 for s in batch
            ]
            images = render(labels, sectors, batch, seed, start)
            if len(images) != len(batch):
                raise ValueError(f"renderer {renderer!r} returned {len(images)} images for {len(batch)} maps")
            for stem, lab, img in zip(batch, labels, images, strict=True):
                split = attributes[stem]["split"]
                write_png(tmp / split / "images" / f"{stem}.png", _as_uint8(img, lab.shape, stem))
                write_png(tmp / split / "labels" / f"{stem}.png", lab)
        shutil.copyfile(shapes_dir / "attributes.json", tmp / "attributes.json")
    log.info("render: %d images with %s in %s", len(stems), renderer, out)
    return out
