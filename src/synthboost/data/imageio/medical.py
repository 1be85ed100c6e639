"""Image and label file I/O shared by every stage: medical images (SimpleITK) and PNGs (Pillow)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from synthboost.data.imageio.nifti_check import nifti_nonfinite
from synthboost.utils.files import atomic_path


def shown(path: str | os.PathLike) -> str:
    """``path`` printable whatever bytes its name holds (bytes that are not UTF-8 as ``\\xNN``)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def sitk_path(path: str | os.PathLike) -> str:
    """``path`` as SimpleITK takes it (UTF-8 text).

    Raises:
        ValueError: the path holds bytes that are not UTF-8 (SimpleITK aborts the interpreter on them).
    """
    text = os.fspath(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            f"{shown(path)}: the path holds bytes that are not UTF-8 text, which SimpleITK cannot open; "
            "rename the file or folder"
        ) from None
    return text


def _mhd_header(path: Path) -> dict[str, str]:
    """The ``key = value`` lines of a MetaImage header, up to ``ElementDataFile`` (the data may follow)."""
    fields = {}
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    for line in head.decode("latin-1").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip()
        if key.strip() == "ElementDataFile":
            break
    return fields


#: Dimensions a MetaImage header may declare (ITK's reader loops for ever on a negative ``NDims``).
_MAX_NDIMS = 8


def _positive_ints(path: Path, key: str, text: str, count: int | None) -> list[int]:
    values = text.split()
    try:
        ints = [int(v) for v in values]
    except ValueError:
        ints = []
    if not ints or any(v < 1 for v in ints) or (count is not None and len(ints) != count):
        what = f"{count} positive integer(s)" if count is not None else "positive integers"
        raise ValueError(f"{shown(path)}: MetaImage header {key} = {text!r}: expected {what}")
    return ints


def check_metaimage_header(path: str | os.PathLike) -> None:
    """Refuse a MetaImage (``.mhd`` / ``.mha``) header whose ``NDims``, ``DimSize`` or
    ``ElementNumberOfChannels`` is not what ITK can take, before ITK reads it (a negative ``NDims``
    makes ITK's reader loop for ever).

    Raises:
        ValueError: naming the file and the field.
    """
    path = Path(path)
    if path.suffix.lower() not in (".mhd", ".mha"):
        return
    header = _mhd_header(path)
    ndims = _positive_ints(path, "NDims", header.get("NDims", ""), 1)[0]
    if ndims > _MAX_NDIMS:
        raise ValueError(f"{shown(path)}: MetaImage header NDims = {ndims}: at most {_MAX_NDIMS} dimensions")
    _positive_ints(path, "DimSize", header.get("DimSize", ""), ndims)
    if "ElementNumberOfChannels" in header:
        _positive_ints(path, "ElementNumberOfChannels", header["ElementNumberOfChannels"], 1)


def _check_raw_size(path: Path) -> None:
    """Refuse a MetaImage whose uncompressed data file is larger or smaller than its header says
    (ITK silently reads the first bytes of a larger one), naming the data file."""
    import SimpleITK as sitk

    header = _mhd_header(path)
    data_file = header.get("ElementDataFile", "")
    compressed = header.get("CompressedData", "False").lower() == "true"
    if compressed or data_file in ("", "LOCAL", "LIST") or header.get("HeaderSize", "0") != "0":
        return
    raw = path.parent / data_file
    reader = sitk.ImageFileReader()
    reader.SetFileName(sitk_path(path))
    reader.ReadImageInformation()
    pixel = sitk.Image([1] * reader.GetDimension(), reader.GetPixelID())
    expected = (
        int(np.prod(reader.GetSize())) * reader.GetNumberOfComponents() * pixel.GetSizeOfPixelComponent()
    )
    if raw.is_file() and raw.stat().st_size != expected:
        raise ValueError(
            f"{path}: cannot read image: data file {raw.name} holds {raw.stat().st_size} bytes but the header describes "
            f"{expected} (DimSize × ElementType); the image would be garbled"
        )


def read_medical_array(path: str | os.PathLike) -> tuple[np.ndarray, tuple[float, ...]]:
    """Read a MetaImage / NIfTI / NRRD file of any dimension with SimpleITK.

    Returns:
        ``(array, spacing)`` with the spacing in the array's axis order (SimpleITK's (x, y[, z]) reversed),
        e.g. ``(frames, rows, cols)`` for a 2-D + time sequence.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the header cannot be read or does not match its data.
    """
    import SimpleITK as sitk

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{shown(path)}: file not found")
    name = sitk_path(path)
    check_metaimage_header(path)
    try:
        if path.suffix.lower() == ".mhd":
            _check_raw_size(path)
        img = sitk.ReadImage(name)
    except RuntimeError as err:
        msg = str(err).strip().splitlines()
        detail = next((m for m in msg if "ERROR" in m or "rror" in m), msg[-1] if msg else "")
        raise ValueError(f"{path}: cannot read image (header or data broken: {detail.strip()})") from err
    arr = sitk.GetArrayFromImage(img)
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        raise ValueError(f"{path}: {int((~np.isfinite(arr)).sum())} pixels are NaN or infinite")
    if path.name.lower().endswith((".nii", ".nii.gz")) and (bad := nifti_nonfinite(path)):
        raise ValueError(f"{path}: {bad} pixels are NaN or infinite (SimpleITK would read them as 0)")
    return arr, tuple(reversed([float(s) for s in img.GetSpacing()]))


def read_medical(path: str | os.PathLike) -> tuple[np.ndarray, tuple[float, float]]:
    """Read a 2-D MetaImage (.mhd) or NIfTI (.nii/.nii.gz) file.

    Returns:
        ``(array (rows, cols), (spacing_row_mm, spacing_col_mm))``. SimpleITK reports spacing in
        (x, y) order; it is swapped here to match the array's (row, col) axes.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the header cannot be read or does not match its data, or the image is not 2-D.
    """
    arr, spacing = read_medical_array(path)
    if arr.ndim == 3 and 1 in arr.shape:  # a 2-D image stored with a singleton slice axis
        spacing = tuple(s for s, n in zip(spacing, arr.shape, strict=True) if n != 1) or spacing[-2:]
        arr = arr.reshape([s for s in arr.shape if s != 1] or [1, 1])
    if arr.ndim != 2:
        raise ValueError(f"{path}: expected a 2-D image, got shape {arr.shape}")
    return arr, (spacing[-2], spacing[-1])


#: Byte offsets in the NIfTI-1 header: ``sizeof_hdr`` (int32), ``dim[3]`` (int16), ``vox_offset`` (float32).
_NIFTI_SIZEOF_HDR, _NIFTI_DIM3, _NIFTI_VOX_OFFSET = 0, 46, 108


def _write_nifti_frames(path: Path, arr: np.ndarray, spacing: tuple[float, float], compress: bool) -> None:
    """A ``(T, H, W)`` uint8 NIfTI-1 written frame by frame: no second copy of a large loop in memory.

    The header is the one SimpleITK writes for a 1-frame image of this size and spacing (orientation,
    qform/sform, units: byte for byte what :func:`write_medical` always wrote) with ``dim[3] = T``.
    """
    import gzip
    import struct
    import tempfile

    import SimpleITK as sitk

    t, h, w = np.shape(arr)
    probe = sitk.GetImageFromArray(np.zeros((1, h, w), np.uint8))
    probe.SetSpacing((float(spacing[1]), float(spacing[0]), 1.0))
    with tempfile.TemporaryDirectory() as tmp:
        sitk.WriteImage(probe, str(Path(tmp) / "probe.nii"), False)
        raw = (Path(tmp) / "probe.nii").read_bytes()
    if struct.unpack_from("<i", raw, _NIFTI_SIZEOF_HDR)[0] != 348:
        raise ValueError(f"{path}: SimpleITK wrote an unexpected NIfTI header (not little-endian NIfTI-1)")
    header = bytearray(raw[: int(struct.unpack_from("<f", raw, _NIFTI_VOX_OFFSET)[0])])
    struct.pack_into("<h", header, _NIFTI_DIM3, t)
    with atomic_path(path) as tmp:
        with gzip.open(tmp, "wb", compresslevel=6) if compress else open(tmp, "wb") as f:
            f.write(header)
            for frame in arr:
                f.write(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())


def write_medical(
    path: str | os.PathLike, arr: np.ndarray, spacing: tuple[float, float], compress: bool | None = None
) -> None:
    """Write a uint8 image ``(H, W)`` or sequence ``(T, H, W)`` with SimpleITK, format from the suffix.

    ``spacing`` is ``(row, col)`` mm; a frame axis gets spacing 1. Single-file formats (``.nii``,
    ``.nii.gz``, ``.mha``, ``.nrrd``) appear atomically (temporary file + rename); a MetaImage
    ``.mhd`` (header + ``.raw``, or ``.zraw`` when compressed) is written in place. ``compress``:
    zlib-compress the pixel data (default: only for a ``.gz`` suffix).
    """
    import SimpleITK as sitk

    path = Path(path)
    sitk_path(path)
    if compress is None:
        compress = path.name.lower().endswith(".gz")
    if np.ndim(arr) == 3 and path.name.lower().endswith((".nii", ".nii.gz")):
        _write_nifti_frames(path, arr, spacing, compress)
        return
    img = sitk.GetImageFromArray(np.ascontiguousarray(arr, dtype=np.uint8))
    img.SetSpacing((float(spacing[1]), float(spacing[0]), *([1.0] if np.ndim(arr) == 3 else [])))
    if path.suffix.lower() == ".mhd":
        sitk.WriteImage(img, str(path), compress)
        return
    suffix = ".nii.gz" if path.name.lower().endswith(".nii.gz") else path.suffix
    with atomic_path(path) as tmp:
        named = tmp.with_name(tmp.name + suffix)  # SimpleITK picks the writer from the suffix
        try:
            sitk.WriteImage(img, str(named), compress)
            named.replace(tmp)
        finally:
            named.unlink(missing_ok=True)


def to_uint8(arr: np.ndarray) -> np.ndarray:
    """Convert an image to uint8: integers are clipped to 0..255, floats in [0, 1] are scaled."""
    if arr.dtype == np.uint8:
        return arr
    a = arr.astype(np.float64)
    if np.issubdtype(arr.dtype, np.floating) and a.size and a.max() <= 1.0 and a.min() >= 0.0:
        a = a * 255.0
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def read_png(path: str | os.PathLike) -> np.ndarray:
    """Read a PNG as a 2-D uint8 array (colour images are converted to grayscale)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    try:
        with Image.open(path) as im:
            if im.mode not in ("L", "P", "I", "I;16"):
                im = im.convert("L")
            arr = np.asarray(im)
    except (OSError, Image.DecompressionBombError) as err:
        raise ValueError(f"{path}: not a readable image ({err})") from err
    return arr if arr.dtype == np.uint8 else to_uint8(arr)


def write_png(path: str | os.PathLike, arr: np.ndarray) -> None:
    """Write a 2-D uint8 array as a PNG through a temporary file and a rename."""
    if arr.ndim != 2:
        raise ValueError(f"{path}: write_png expects a 2-D array, got shape {arr.shape}")
    with atomic_path(path) as tmp:
        Image.fromarray(np.ascontiguousarray(arr, dtype=np.uint8)).save(tmp, format="PNG")


def nearest_resize(arr: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a 2-D array of any dtype by pixel-centre sampling.

    The one rule for label maps and masks everywhere (ground truth in ``prepare``, predictions in
    ``evaluate``), so both land on the same pixels.
    """
    h, w = arr.shape
    rows = np.minimum(((np.arange(shape[0]) + 0.5) * h / shape[0]).astype(int), h - 1)
    cols = np.minimum(((np.arange(shape[1]) + 0.5) * w / shape[1]).astype(int), w - 1)
    return arr[np.ix_(rows, cols)]


def bilinear_resize(arr: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a 2-D float map (e.g. probabilities) to ``shape = (rows, cols)``, float32."""
    if tuple(arr.shape) == tuple(shape):
        return arr.astype(np.float32)
    img = Image.fromarray(np.ascontiguousarray(arr, dtype=np.float32), mode="F")
    return np.asarray(img.resize((shape[1], shape[0]), Image.Resampling.BILINEAR), dtype=np.float32)


def resize(arr: np.ndarray, size: tuple[int, int], nearest: bool = False) -> np.ndarray:
    """Resize a 2-D uint8 array to ``size = (rows, cols)``: bilinear for images, nearest for labels."""
    if arr.shape == tuple(size):
        return arr.copy()
    if nearest:
        return nearest_resize(arr, size)
    im = Image.fromarray(np.ascontiguousarray(arr, dtype=np.uint8))
    return np.asarray(im.resize((size[1], size[0]), resample=Image.Resampling.BILINEAR))
