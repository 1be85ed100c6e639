"""Label map → B-mode-like apical sector image with speckle (shared by the phantom and ``synth render``).

A simplified ultrasound image formation, vectorised with numpy/scipy:

1. echogenicity (backscattered power) per structure: dark blood pools, bright myocardium and
   pericardium, mid-grey surrounding tissue with a smooth random texture;
2. clutter (haze, strongest in the near field), an angular drop-out and depth attenuation,
   all set by the image quality (``good``, ``medium``, ``poor``);
3. a complex Gaussian scatterer field weighted by the amplitude and blurred by an anisotropic
   point-spread function (short along the beam, wider across it); its envelope is
   Rayleigh distributed (fully developed speckle);
4. log compression to 8 bits and zero outside the sector.

The sector apex (probe) is assumed at the top centre of the image, as in apical views.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
from scipy import ndimage

from synthboost.data.phantom.heart_model import TISSUE_BLOOD, TISSUE_REFLECTOR, TISSUE_WALL

#: Backscattered power per code: 0 tissue, 1 LV, 2 MYO, 3 LA, then the ``TISSUE_*`` codes.
ECHOGENICITY: dict[int, float] = {
    0: 0.06,
    1: 1e-4,
    2: 0.8,
    3: 1e-4,
    TISSUE_BLOOD: 1e-4,
    TISSUE_WALL: 0.55,
    TISSUE_REFLECTOR: 1.8,
}
_LUT = np.zeros(256, np.float32)
for _code, _value in ECHOGENICITY.items():
    _LUT[_code] = _value

PSF_MM = (0.4, 1.2)  # Gaussian sigma of the point-spread function: (axial, lateral) mm
DEFAULT_FIELD_MM = (150.0, 180.0)  # assumed image extent (rows, cols) when no spacing is given


@dataclasses.dataclass(frozen=True)
class Quality:
    """Acquisition-quality knobs of the renderer."""

    haze: float  # clutter power added everywhere (near field ×3)
    attenuation: float  # residual amplitude attenuation after TGC (1/mm)
    dropout: float  # depth of an angular echo drop-out (0..1)
    dynamic_db: float  # log-compression range
    texture: float  # std of the log tissue texture


QUALITIES: dict[str, Quality] = {
    "good": Quality(haze=1.5e-4, attenuation=0.003, dropout=0.0, dynamic_db=40.0, texture=0.35),
    "medium": Quality(haze=8e-4, attenuation=0.0045, dropout=0.4, dynamic_db=38.0, texture=0.4),
    "poor": Quality(haze=4e-3, attenuation=0.006, dropout=0.75, dynamic_db=34.0, texture=0.45),
}


def _check_inputs(labels: np.ndarray, sector: np.ndarray, extra: np.ndarray | None, quality: str) -> None:
    if labels.ndim != 2:
        raise ValueError(f"render_bmode: labels must be 2-D, got shape {labels.shape}")
    if sector.shape != labels.shape:
        raise ValueError(f"render_bmode: sector shape {sector.shape} differs from labels {labels.shape}")
    if extra is not None and extra.shape != labels.shape:
        raise ValueError(f"render_bmode: extra_tissue shape {extra.shape} differs from labels {labels.shape}")
    if labels.size and int(labels.max()) > 3:
        raise ValueError(f"render_bmode: label values must be in 0..3, got max {int(labels.max())}")
    if quality.lower() not in QUALITIES:
        raise ValueError(f"render_bmode: unknown quality {quality!r} (expected one of {sorted(QUALITIES)})")


def _upsample(coarse: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear upsampling of a small grid to ``shape``."""
    out = coarse
    for axis, n in enumerate(shape):
        pos = np.linspace(0, out.shape[axis] - 1, n, dtype=np.float32)
        i0 = np.minimum(pos.astype(np.int64), out.shape[axis] - 2)
        w = (pos - i0).astype(np.float32)
        a, b = np.take(out, i0, axis=axis), np.take(out, i0 + 1, axis=axis)
        w = w[:, None] if axis == 0 else w[None, :]
        out = a * (1 - w) + b * w
    return out


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cell: int) -> np.ndarray:
    """Zero-mean, unit-ish variance noise correlated over ``cell`` pixels."""
    coarse = rng.standard_normal((shape[0] // cell + 2, shape[1] // cell + 2)).astype(np.float32)
    return _upsample(coarse, shape)


@functools.lru_cache(maxsize=4)
def _polar(h: int, w: int, sy: float, sx: float) -> tuple[np.ndarray, np.ndarray]:
    """Depth (mm) and beam angle (rad) of every pixel from the top-centre probe (cached, read-only)."""
    y = (np.arange(h, dtype=np.float32) * sy)[:, None]
    x = ((np.arange(w, dtype=np.float32) - (w - 1) / 2) * sx)[None, :]
    depth, angle = np.sqrt(x * x + y * y), np.arctan2(x, y + 1e-3)
    depth.flags.writeable = False
    angle.flags.writeable = False
    return depth, angle


def _gauss_norm(sigma: float, truncate: float = 2.5) -> float:
    """Sum of squares of scipy's 1-D Gaussian kernel (variance gain on white noise)."""
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / max(sigma, 1e-6)) ** 2)
    k /= k.sum()
    return float((k * k).sum())


def _speckle_envelope(
    amplitude: np.ndarray, rng: np.random.Generator, sigma_px: tuple[float, float]
) -> np.ndarray:
    """Envelope of the PSF-blurred complex scatterer field (Rayleigh speckle), RMS = amplitude."""
    gain = math.sqrt(_gauss_norm(sigma_px[0]) * _gauss_norm(sigma_px[1]) / 12.0)
    parts = []
    for _ in range(2):  # real and imaginary parts
        # uniform scatterer amplitudes (unit variance): after the PSF sum they are Gaussian
        # (central limit) and uniform draws are cheaper than normal ones
        field = rng.random(amplitude.shape, dtype=np.float32)
        field -= 0.5
        field *= amplitude
        parts.append(ndimage.gaussian_filter(field, sigma_px, truncate=2.5, mode="nearest"))
    envelope = np.sqrt(parts[0] * parts[0] + parts[1] * parts[1]) * np.float32(1.0 / (gain * math.sqrt(2.0)))
    # the display's smoothing (scan conversion, interpolation) fills the speckle's deep nulls
    return ndimage.gaussian_filter(envelope, (0.5 * sigma_px[0], 0.5 * sigma_px[1]), truncate=2.0)


def render_bmode(
    labels: np.ndarray,
    sector: np.ndarray,
    rng: np.random.Generator,
    quality: str = "good",
    extra_tissue: np.ndarray | None = None,
    *,
    spacing_mm: tuple[float, float] | None = None,
) -> np.ndarray:
    """Render a B-mode-like uint8 image from a label map.

    Args:
        labels: (H, W) uint8 label map, 0 bg, 1 LV, 2 MYO, 3 LA.
        sector: (H, W) field of view (bool or 0/255); the image is 0 outside it.
        rng: numpy generator (all randomness comes from it).
        quality: ``good``, ``medium`` or ``poor`` (case-insensitive).
        extra_tissue: optional (H, W) map of unlabelled content with ``TISSUE_*`` codes of
            :mod:`synthboost.data.phantom.heart_model` (other chambers, walls, pericardium).
        spacing_mm: pixel size (row, col) in mm; default assumes the image spans
            ``DEFAULT_FIELD_MM``.

    Returns:
        (H, W) uint8 image.
    """
    labels = np.asarray(labels)
    sector = np.asarray(sector) > 0
    _check_inputs(labels, sector, extra_tissue, quality)
    q = QUALITIES[quality.lower()]
    h, w = labels.shape
    sy, sx = spacing_mm or (DEFAULT_FIELD_MM[0] / h, DEFAULT_FIELD_MM[1] / w)
    codes = labels.astype(np.uint8)
    if extra_tissue is not None:
        codes = np.where(codes > 0, codes, np.asarray(extra_tissue, np.uint8))
    echo = _LUT[codes]
    texture_cell = max(2, int(round(6.0 / sy)))
    echo *= np.exp(q.texture * _smooth_noise(rng, (h, w), texture_cell))

    depth, angle = _polar(h, w, float(sy), float(sx))
    max_angle = float(np.abs(angle[sector]).max()) if sector.any() else 1.0
    if q.dropout > 0:
        centre = float(rng.uniform(-0.8, 0.8)) * max_angle
        echo *= 1.0 - q.dropout * np.exp(-np.minimum(((angle - centre) / 0.15) ** 2, 30.0))
    echo += q.haze * (1.0 + 3.0 * np.exp(-depth / 25.0))
    rolloff = 1.0 - 0.6 * ((angle / max_angle) ** 2) ** 3  # (negative base)**6 is slow in numpy
    gain = 10 ** (float(rng.uniform(-1.5, 1.5)) / 10)
    echo *= gain * rolloff * np.exp(-2.0 * q.attenuation * depth)

    sigma_px = (PSF_MM[0] / sy, PSF_MM[1] / sx)
    envelope = _speckle_envelope(np.sqrt(np.maximum(echo, 0.0)), rng, sigma_px)
    db = 20.0 * np.log10(envelope + 1e-6) - 20.0 * math.log10(1.5)
    img = np.clip((db + q.dynamic_db) * (255.0 / q.dynamic_db), 0.0, 255.0)
    img[~sector] = 0.0
    return img.astype(np.uint8)
