"""Issue 23, property-based: any DICOM, NIfTI/MetaImage or video header either reads into a sane loop or
gives one clear error (``ValueError`` / ``FileNotFoundError`` naming the file), never another exception
and never an allocation beyond the budget (hypothesis, few examples each: fast)."""

from __future__ import annotations

import tempfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hardening2_helpers import attack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from readers_helpers import ramp_frames, write_avi

from synthboost.data.imageio.budget import DecodeBudget
from synthboost.data.imageio.echo import read_echo

#: Small budget of these tests: the allocation bound below is twice its bytes.
BUDGET = DecodeBudget(max_pixels=512 * 512, max_bytes=8 * 2**20, max_frames=64, max_seconds=20.0)
FAST = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _reads_or_one_clear_error(path: Path, budget: DecodeBudget = BUDGET) -> None:
    """The property: a sane loop, or a ValueError / FileNotFoundError naming the file; peak traced
    allocation under twice the budget's bytes (numpy reports its buffers to tracemalloc)."""
    tracemalloc.start()
    try:
        loop = read_echo(path, budget)
    except (ValueError, FileNotFoundError) as err:
        assert path.name in str(err), err
        assert "\n" not in str(err).strip(), err
        return
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 2 * budget.max_bytes + 2**20, f"{peak / 2**20:.0f} MiB allocated"
    frames = loop.frames
    assert frames.dtype == np.uint8 and frames.ndim == 3 and min(frames.shape) >= 1
    assert frames.shape[0] <= budget.max_frames and frames[0].size <= budget.max_pixels
    if loop.frame_times_s is not None:
        steps = np.diff(loop.frame_times_s)
        assert np.isfinite(loop.frame_times_s).all() and ((steps >= 1e-3) & (steps <= 1.0)).all()
        assert loop.frame_rate is None or 1.0 <= loop.frame_rate <= 1000.0
    if loop.spacing_mm is not None:
        assert len(loop.spacing_mm) == 2


def _check(make: Callable[[Path], Path], suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = make(Path(tmp) / f"case{suffix}")
        with attack("traceback"):
            _reads_or_one_clear_error(path)


# ---- DICOM: the Image Pixel module, the transfer syntax, timing tags, the pixel data length -------------

SYNTAXES = [
    "1.2.840.10008.1.2.1",  # explicit VR little endian
    "1.2.840.10008.1.2",  # implicit VR little endian
    "1.2.840.10008.1.2.5",  # RLE Lossless
    "1.2.840.10008.1.2.4.50",  # JPEG Baseline
    "1.2.840.10008.1.2.4.90",  # JPEG 2000 lossless
    "1.2.840.10008.1.2.1.99",  # deflated
    "1.2.840.10008.1.2.4.102",  # MPEG-4 AVC/H.264
    "1.2.3.4.5.6",  # unknown
]
PHOTOMETRIC = ["MONOCHROME2", "MONOCHROME1", "RGB", "YBR_FULL", "YBR_FULL_422", "PALETTE COLOR", "HSV", ""]
IS_TEXT = st.one_of(
    st.integers(-3, 70_000).map(str), st.sampled_from(["", "abc", "1e3", "99999999999", "-0", "2.5"])
)
DS_TEXT = st.sampled_from(["33.3", "0", "-5", "inf", "nan", "1e12", "1e-9", "abc", "", "30\\40"])

DICOM_HEADERS = st.fixed_dictionaries(
    {
        "Rows": st.integers(0, 65535),
        "Columns": st.one_of(st.integers(0, 40), st.integers(0, 65535)),
        "NumberOfFrames": IS_TEXT,
        "BitsAllocated": st.sampled_from([0, 1, 8, 12, 16, 32, 64]),
        "BitsStored": st.integers(0, 70),
        "PixelRepresentation": st.integers(0, 2),
        "SamplesPerPixel": st.integers(0, 4),
        "PlanarConfiguration": st.integers(0, 2),
        "PhotometricInterpretation": st.sampled_from(PHOTOMETRIC),
        "FrameTime": DS_TEXT,
    }
)


def _write_hostile_dicom(path: Path, header: dict, syntax: str, n_bytes: int) -> Path:
    from pydicom import config
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.encaps import encapsulate
    from pydicom.uid import UID, UltrasoundMultiFrameImageStorage

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UltrasoundMultiFrameImageStorage
    meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    meta.TransferSyntaxUID = UID(syntax)
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = meta.MediaStorageSOPClassUID, "1.2.3.4", "US"
    old = config.settings.writing_validation_mode, config.settings.reading_validation_mode
    config.settings.writing_validation_mode = config.settings.reading_validation_mode = config.IGNORE
    try:
        for key, value in header.items():
            if key in ("NumberOfFrames", "FrameTime"):  # text as found in the wild: any characters
                ds.add_new(key, "LO", value)
            else:
                setattr(ds, key, value)
        data = bytes(np.random.default_rng(n_bytes).integers(0, 256, n_bytes, dtype=np.uint8))
        encapsulated = meta.TransferSyntaxUID.is_transfer_syntax and meta.TransferSyntaxUID.is_compressed
        ds.PixelData = (
            encapsulate([(data or b"\0") + b"\0" * (len(data) % 2 or not data)]) if encapsulated else data
        )
        if encapsulated:
            ds["PixelData"].is_undefined_length = True
        ds.save_as(path, implicit_vr=syntax == "1.2.840.10008.1.2", little_endian=True)
    finally:
        config.settings.writing_validation_mode, config.settings.reading_validation_mode = old
    return path


@FAST
@given(
    header=DICOM_HEADERS,
    syntax=st.sampled_from(SYNTAXES),
    n_bytes=st.sampled_from([0, 1, 64, 255, 256, 4096, 65536]),
)
def test_any_dicom_header_reads_or_gives_one_clear_error(header, syntax, n_bytes) -> None:
    _check(lambda p: _write_hostile_dicom(p, header, syntax, n_bytes), ".dcm")


@FAST
@given(offset=st.integers(0, 1400), value=st.binary(min_size=1, max_size=8), cut=st.integers(0, 3000))
def test_any_damaged_dicom_file_reads_or_gives_one_clear_error(offset: int, value: bytes, cut: int) -> None:
    """Bytes overwritten anywhere in a valid cine, or the file cut short."""
    from readers_helpers import write_dicom

    def make(path: Path) -> Path:
        write_dicom(path, ramp_frames(4), FrameTime="33.3")
        data = bytearray(path.read_bytes())
        data[offset : offset + len(value)] = value
        path.write_bytes(bytes(data[: max(len(data) - cut, 0)]))
        return path

    _check(make, ".dcm")


# ---- NIfTI / MetaImage: header fields and bytes ----------------------------------------------------------

MHD_FIELDS = st.fixed_dictionaries(
    {
        "NDims": st.sampled_from(["2", "3", "4", "1", "0", "-1", "x", "9"]),
        "DimSize": st.lists(st.integers(-1, 70_000), min_size=0, max_size=4).map(
            lambda v: " ".join(map(str, v))
        ),
        "ElementType": st.sampled_from(
            ["MET_UCHAR", "MET_SHORT", "MET_FLOAT", "MET_DOUBLE", "MET_UINT", "MET_BOGUS"]
        ),
        "ElementSpacing": st.lists(
            st.sampled_from(["0.3", "0", "-1", "nan", "inf", "1e300", "x"]), min_size=0, max_size=4
        ).map(" ".join),
        "ElementNumberOfChannels": st.sampled_from(["1", "3", "0", "1000000"]),
    }
)


@FAST
@given(fields=MHD_FIELDS, n_bytes=st.sampled_from([0, 7, 100, 4096, 65536]), local=st.booleans())
def test_any_metaimage_header_reads_or_gives_one_clear_error(fields: dict, n_bytes: int, local: bool) -> None:
    def make(path: Path) -> Path:
        text = "".join(f"{k} = {v}\n" for k, v in fields.items() if v != "")
        data = bytes(np.random.default_rng(n_bytes).integers(0, 256, n_bytes, dtype=np.uint8))
        if local:
            path.write_bytes((text + "ElementDataFile = LOCAL\n").encode() + data)
        else:
            path.with_suffix(".raw").write_bytes(data)
            path.write_text(text + f"ElementDataFile = {path.with_suffix('.raw').name}\n")
        return path

    _check(make, ".mhd")


@FAST
@given(offset=st.integers(0, 352), value=st.binary(min_size=1, max_size=4), cut=st.integers(0, 400))
def test_any_damaged_nifti_header_reads_or_gives_one_clear_error(offset: int, value: bytes, cut: int) -> None:
    """A valid 2-D + time NIfTI-1 with bytes of its 348-byte header (dims, datatype, pixdim, vox_offset)
    overwritten, or the file cut short."""
    from synthboost.data.imageio.medical import write_medical

    def make(path: Path) -> Path:
        write_medical(path, ramp_frames(4, 12, 10), (0.3, 0.3))
        data = bytearray(path.read_bytes())
        data[offset : offset + len(value)] = value
        path.write_bytes(bytes(data[: max(len(data) - cut, 0)]))
        return path

    _check(make, ".nii")


# ---- Video: container bytes ----------------------------------------------------------------------------

_AVI: dict[str, bytes] = {}


def _valid_avi() -> bytes:
    if "mjpeg" not in _AVI:
        with tempfile.TemporaryDirectory() as tmp:
            _AVI["mjpeg"] = write_avi(Path(tmp) / "v.avi", ramp_frames(6, 16, 16)).read_bytes()
    return _AVI["mjpeg"]


@FAST
@given(
    offset=st.integers(0, 6000),
    value=st.binary(min_size=1, max_size=8),
    cut=st.integers(0, 6000),
)
def test_any_damaged_video_reads_or_gives_one_clear_error(offset: int, value: bytes, cut: int) -> None:
    """Bytes overwritten in a valid 6-frame MJPEG AVI (RIFF/avih/strh headers, index, frames), or cut short."""

    def make(path: Path) -> Path:
        data = bytearray(_valid_avi())
        data[offset % len(data) : offset % len(data) + len(value)] = value
        path.write_bytes(bytes(data[: max(len(data) - cut, 0)]))
        return path

    _check(make, ".avi")


@pytest.mark.parametrize("suffix", [".dcm", ".nii.gz", ".mha", ".avi", ".mp4"])
def test_random_bytes_under_every_loop_suffix(tmp_path: Path, suffix: str) -> None:
    rng = np.random.default_rng(0)
    for size in (0, 1, 132, 4096):
        path = tmp_path / f"noise{size}{suffix}"
        path.write_bytes(bytes(rng.integers(0, 256, size, dtype=np.uint8)))
        with attack("traceback"):
            _reads_or_one_clear_error(path)
