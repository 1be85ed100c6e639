"""One tiny file per format the reader claims, written at test time (pydicom, PyAV, SimpleITK, Pillow).

:func:`write_format` returns the file and the grey frames it must read back (and whether the
format is lossy). Every loop is the same drawn fan (4 frames of 64×64, smooth enough for lossy
codecs); stills are its first frame.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
from echo_fixtures import jpeg_frames, us_region, write_dicom, write_video
from quirk_fixtures import draw_fan_loop

SHAPE = (64, 64)
N_FRAMES = 4
#: Formats nothing installed can write (the reason is the skip message).
UNWRITABLE: dict[str, str] = {}


def content() -> np.ndarray:
    """``(4, 64, 64)`` uint8: the fan with speckle smoothed over 4×4 blocks (lossy codecs keep it)."""
    frames, fan = draw_fan_loop(N_FRAMES, SHAPE, (1.0, 32.0), 60.0, seed=7)
    blocks = frames.reshape(N_FRAMES, 16, 4, 16, 4).mean(axis=(2, 4))
    return (np.kron(blocks, np.ones((4, 4))) * fan).astype(np.uint8)


def _grey_rgb(frames: np.ndarray) -> np.ndarray:
    return np.repeat(frames[..., None], 3, axis=-1)


def _region() -> dict:
    return {
        "SequenceOfUltrasoundRegions": [us_region((0, 0, *SHAPE), delta_cm=(0.03, 0.03))],
        "FrameTime": "40",
    }


def _dicom(path: Path, data: bytes, photometric: str = "MONOCHROME2", **kw) -> Path:
    return write_dicom(path, data, SHAPE, N_FRAMES, photometric, **{**_region(), **kw})


def _compressed(path: Path, frames: np.ndarray, uid: str, photometric: str = "MONOCHROME2", **kw) -> Path:
    import pydicom

    _dicom(path, frames.tobytes(), photometric)
    ds = pydicom.dcmread(path)
    ds.compress(uid, **kw)
    return _save(ds, path)


def _save(ds, path: Path) -> Path:
    ds.save_as(path, enforce_file_format=True)
    return path


def _ybr_422(frames: np.ndarray) -> bytes:
    """YBR_FULL_422 bytes (Y1 Y2 Cb Cr per pair of pixels) of grey frames (chroma 128)."""
    pairs = frames.reshape(N_FRAMES, SHAPE[0], SHAPE[1] // 2, 2)
    chroma = np.full(pairs.shape, 128, np.uint8)
    return np.concatenate([pairs, chroma], axis=-1).tobytes()


def _video_stream(frames: np.ndarray, codec: str, fmt: str) -> bytes:
    """Frames as a raw elementary stream (H.264 Annex B / MPEG-2), lossless-ish, with PyAV."""
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = SHAPE[1], SHAPE[0], "yuv420p"
        stream.options = {"qp": "0"} if codec == "libx264" else {"qscale": "1"}
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="gray")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


def _dicom_video(path: Path, frames: np.ndarray, uid: str, codec: str, fmt: str) -> Path:
    from pydicom.encaps import encapsulate

    data = _video_stream(frames, codec, fmt)
    return _dicom(path, encapsulate([data]), "YBR_PARTIAL_420", transfer_syntax=uid)


def _medical(path: Path, frames: np.ndarray) -> Path:
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(frames)
    img.SetSpacing((0.3, 0.3, 1.0)[: img.GetDimension()])
    sitk.WriteImage(img, str(path))
    return path


def _still(path: Path, frame: np.ndarray) -> Path:
    from PIL import Image

    Image.fromarray(frame).save(path, **({"quality": 95} if path.suffix == ".jpg" else {}))
    return path


def _palette(path: Path, frames: np.ndarray) -> Path:
    tags = {}
    for colour in ("Red", "Green", "Blue"):
        tags[f"{colour}PaletteColorLookupTableDescriptor"] = [256, 0, 8]
        tags[f"{colour}PaletteColorLookupTableData"] = bytes(range(256))
    return _dicom(path, frames.tobytes(), "PALETTE COLOR", **tags)


def _big_endian(path: Path, frames: np.ndarray) -> Path:
    import pydicom
    from pydicom.uid import ExplicitVRBigEndian

    _dicom(path, (frames.astype(np.uint16) * 4).astype(">u2").tobytes(), bits=10)
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    pydicom.dcmwrite(path, ds, implicit_vr=False, little_endian=False, force_encoding=True)
    return path


def _deflated(path: Path, frames: np.ndarray) -> Path:
    import pydicom
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    ds = pydicom.dcmread(_dicom(path, frames.tobytes()))
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    return _save(ds, path)


def _jpeg(path: Path, frames: np.ndarray, uid: str) -> Path:
    from pydicom.encaps import encapsulate

    return _dicom(path, encapsulate(jpeg_frames(_grey_rgb(frames))), "YBR_FULL_422", transfer_syntax=uid)


def _j2k_colour(path: Path, frames: np.ndarray, lossless: bool) -> Path:
    import pydicom
    from pydicom.uid import JPEG2000, JPEG2000Lossless

    _dicom(path, _grey_rgb(frames).tobytes(), "RGB")
    ds = pydicom.dcmread(path)
    ds.compress(JPEG2000Lossless) if lossless else ds.compress(JPEG2000, j2k_psnr=[60])
    ds.PhotometricInterpretation = "YBR_RCT" if lossless else "YBR_ICT"  # the codestream's colour transform
    return _save(ds, path)


class _BitWriter:
    """Bits packed MSB first into bytes, with JPEG's 0xFF byte stuffing."""

    def __init__(self) -> None:
        self.out, self.acc, self.n = bytearray(), 0, 0

    def put(self, value: int, length: int) -> None:
        for k in range(length - 1, -1, -1):
            self.acc, self.n = (self.acc << 1) | ((value >> k) & 1), self.n + 1
            if self.n == 8:
                self.out += bytes([self.acc]) + (b"\x00" if self.acc == 0xFF else b"")
                self.acc, self.n = 0, 0

    def flush(self) -> bytes:
        if self.n:
            self.put((1 << (8 - self.n)) - 1, 8 - self.n)  # pad with 1 bits
        return bytes(self.out)


def lossless_jpeg(frame: np.ndarray) -> bytes:
    """An 8-bit grey frame as lossless JPEG (ITU-T T.81 process 14, predictor 1, point transform 0).

    Written here because no installed package encodes it (pydicom has no encoder, pylibjpeg-libjpeg only
    decodes, Pillow writes lossy JPEG only). One Huffman table: categories 0..8 with 4-bit codes.
    """
    h, w = frame.shape
    x = frame.astype(np.int32)
    pred = np.empty_like(x)
    pred[0, 0], pred[0, 1:], pred[1:, 0], pred[1:, 1:] = 128, x[0, :-1], x[:-1, 0], x[1:, :-1]
    bits = _BitWriter()
    for d in (x - pred).ravel().tolist():
        size = abs(d).bit_length()
        bits.put(size, 4)  # canonical code of category `size`: 9 codes of length 4 are 0000 .. 1000
        if size:
            bits.put(d if d > 0 else d + (1 << size) - 1, size)
    sof = bytes([0xFF, 0xC3, 0, 11, 8, h >> 8, h & 255, w >> 8, w & 255, 1, 1, 0x11, 0])
    dht = bytes([0xFF, 0xC4, 0, 3 + 16 + 9, 0x00]) + bytes([0, 0, 0, 9] + [0] * 12) + bytes(range(9))
    sos = bytes([0xFF, 0xDA, 0, 8, 1, 1, 0x00, 1, 0, 0])
    return b"\xff\xd8" + sof + dht + sos + bits.flush() + b"\xff\xd9"


def _jpeg_lossless(path: Path, frames: np.ndarray) -> Path:
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGLosslessSV1

    return _dicom(path, encapsulate([lossless_jpeg(f) for f in frames]), transfer_syntax=JPEGLosslessSV1)


def _writers() -> dict[str, tuple[str, Callable[[Path, np.ndarray], Path], bool]]:
    """``{format: (suffix, writer(path, frames), lossy)}``."""
    from pydicom import uid

    return {
        "dicom_monochrome2": (".dcm", lambda p, f: _dicom(p, f.tobytes()), False),
        "dicom_monochrome1": (".dcm", lambda p, f: _dicom(p, (255 - f).tobytes(), "MONOCHROME1"), False),
        "dicom_rgb": (".dcm", lambda p, f: _dicom(p, _grey_rgb(f).tobytes(), "RGB"), False),
        "dicom_ybr_full": (
            ".dcm",
            lambda p, f: _dicom(p, np.stack([f, f * 0 + 128, f * 0 + 128], -1).tobytes(), "YBR_FULL"),
            False,
        ),  # fmt: skip
        "dicom_ybr_full_422": (".dcm", lambda p, f: _dicom(p, _ybr_422(f), "YBR_FULL_422"), False),
        "dicom_palette_color": (".dcm", _palette, False),
        "dicom_big_endian": (".dcm", _big_endian, False),
        "dicom_deflated": (".dcm", _deflated, False),
        "dicom_jpeg_baseline": (".dcm", lambda p, f: _jpeg(p, f, uid.JPEGBaseline8Bit), True),
        "dicom_jpeg_extended": (".dcm", lambda p, f: _jpeg(p, f, uid.JPEGExtended12Bit), True),
        "dicom_jpeg_lossless": (".dcm", _jpeg_lossless, False),
        "dicom_jpeg_ls": (".dcm", lambda p, f: _compressed(p, f, uid.JPEGLSLossless), False),
        "dicom_jpeg2000": (".dcm", lambda p, f: _compressed(p, f, uid.JPEG2000Lossless), False),
        "dicom_ybr_rct_jpeg2000": (".dcm", lambda p, f: _j2k_colour(p, f, True), False),
        "dicom_ybr_ict_jpeg2000": (".dcm", lambda p, f: _j2k_colour(p, f, False), True),
        "dicom_rle": (".dcm", lambda p, f: _compressed(p, f, uid.RLELossless), False),
        "dicom_h264_video": (".dcm", lambda p, f: _dicom_video(p, f, uid.MPEG4HP41, "libx264", "h264"), True),
        "dicom_mpeg2_video": (
            ".dcm",
            lambda p, f: _dicom_video(p, f, uid.MPEG2MPML, "mpeg2video", "mpeg2video"),
            True,
        ),  # fmt: skip
        "nifti_2d": (".nii.gz", lambda p, f: _medical(p, f[0]), False),
        "nifti_2d_t": (".nii.gz", _medical, False),
        "metaimage_2d": (".mha", lambda p, f: _medical(p, f[0]), False),
        "metaimage_2d_t": (".mhd", _medical, False),
        "png": (".png", lambda p, f: _still(p, f[0]), False),
        "jpeg": (".jpg", lambda p, f: _still(p, f[0]), True),
        "bmp": (".bmp", lambda p, f: _still(p, f[0]), False),
        "tiff": (".tif", lambda p, f: _still(p, f[0]), False),
        "avi": (".avi", lambda p, f: write_video(p, f, codec="ffv1"), False),
        "mp4": (".mp4", lambda p, f: write_video(p, f, codec="libx264"), True),
        "mov": (".mov", lambda p, f: write_video(p, f, codec="libx264"), True),
        "mkv": (".mkv", lambda p, f: write_video(p, f, codec="ffv1"), False),
        "webm": (".webm", lambda p, f: write_video(p, f, codec="libvpx-vp9"), True),
    }


FORMATS = tuple(_writers())
STILLS = ("nifti_2d", "metaimage_2d", "png", "jpeg", "bmp", "tiff")


def write_format(name: str, folder: Path) -> tuple[Path, np.ndarray, bool]:
    """``(file, expected grey frames (T, 64, 64), lossy)`` of format ``name`` written into ``folder``."""
    suffix, writer, lossy = _writers()[name]
    frames = content()
    expected = frames[:1] if name in STILLS else frames
    # the view is in the name, as analyze and the app's Cine tab read it
    return writer(folder / f"{name}_4CH{suffix}", expected), expected, lossy
