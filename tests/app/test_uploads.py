"""Uploads are read within a decoded-size budget checked from the header, before decoding."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from synthboost.app.uploads import read_upload
from synthboost.data.imageio import echo as echo_io
from synthboost.data.imageio.budget import DecodeBudget, ImageTooLarge, check_budget, decoded_size

CHANNELS = {0: 1, 2: 3, 6: 4}  # PNG colour type -> samples per pixel


def zero_png(
    path, width: int, height: int, bit_depth: int = 8, color_type: int = 0, data: bool = True
) -> None:
    """A PNG of black pixels (compressed to almost nothing); ``data=False``: the header only."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    row = 1 + width * CHANNELS[color_type] * bit_depth // 8
    idat = chunk(b"IDAT", zlib.compress(bytes(row * height), 9)) if data else b""
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + idat + chunk(b"IEND", b""))


@pytest.fixture
def no_decoding(monkeypatch):
    """Fail the test if an image gets decoded."""

    def refuse(path):
        raise AssertionError(f"{path} was decoded")

    monkeypatch.setattr(echo_io, "read_echo", refuse)


def test_bit_depth_and_channels_count(tmp_path):
    gray, rgba16 = tmp_path / "gray.png", tmp_path / "rgba16.png"
    Image.new("L", (300, 200)).save(gray)
    zero_png(rgba16, 300, 200, bit_depth=16, color_type=6)
    assert decoded_size(gray).nbytes == 60_000
    size = decoded_size(rgba16)
    assert (size.shape, size.channels, size.bits, size.nbytes) == ((200, 300), 4, 16, 480_000)
    budget = DecodeBudget(max_pixels=10**6, max_bytes=100_000)
    check_budget(gray, budget)
    with pytest.raises(ImageTooLarge, match=r"rgba16\.png: 200×300 pixels × 4 channel\(s\) × 16 bit"):
        check_budget(rgba16, budget)


def test_small_file_of_a_huge_image_is_refused_before_decoding(tmp_path, no_decoding):
    for side in (5000, 30000):  # 30000²: Pillow's own bomb guard fires when opening
        path = tmp_path / f"big{side}.png"
        zero_png(path, side, side, data=side < 10000)
        assert path.stat().st_size < 30_000
        with pytest.raises(ImageTooLarge, match=rf"big{side}\.png"):
            read_upload(path, DecodeBudget())


def test_medical_header_counts_frames_and_sample_type(tmp_path, no_decoding):
    import SimpleITK as sitk

    loop = sitk.GetImageFromArray(np.zeros((40, 300, 400), np.float64))
    sitk.WriteImage(loop, str(tmp_path / "loop.nii.gz"))
    size = decoded_size(tmp_path / "loop.nii.gz")
    assert (size.shape, size.bits, size.nbytes) == ((40, 300, 400), 64, 40 * 300 * 400 * 8)
    with pytest.raises(ImageTooLarge, match="37 MiB decoded, more than the 16 MiB"):
        read_upload(tmp_path / "loop.nii.gz", DecodeBudget(max_bytes=16 * 2**20))


def test_metaimage_pair_uploaded_separately_is_read_with_its_spacing(tmp_path):
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(np.arange(12 * 10, dtype=np.uint8).reshape(12, 10))
    img.SetSpacing((0.3, 0.4))  # (x = column, y = row)
    sitk.WriteImage(img, str(tmp_path / "scan.mhd"))
    a, b = tmp_path / "a", tmp_path / "b"  # Gradio stores each uploaded file in its own folder
    a.mkdir(), b.mkdir()
    (tmp_path / "scan.mhd").rename(a / "scan.mhd")
    (tmp_path / "scan.raw").rename(b / "scan.raw")
    loop = read_upload([a / "scan.mhd", b / "scan.raw"], DecodeBudget(), tmp_path)
    assert loop.frames.shape == (1, 12, 10) and loop.spacing_mm == pytest.approx((0.4, 0.3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]  # the side-by-side copy is removed
    with pytest.raises(ValueError, match="upload one image, or a MetaImage .mhd with its .raw"):
        read_upload([a / "scan.mhd", a / "scan.mhd", b / "scan.raw"], DecodeBudget(), tmp_path)
