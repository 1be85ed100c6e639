"""Issue 23, memory and time bombs: every budget (bytes, pixels, frames, seconds) is checked from the header
before anything is decoded, and again frame by frame while decoding; each is tested at its edge (exactly at
the limit reads, one over is refused naming the file and the limit) and on every path that decodes."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest
from hardening2_helpers import attack
from hardening_helpers import one_line_error
from readers_helpers import ramp_frames, write_avi, write_dicom

from synthboost.data.imageio import budget as budget_mod
from synthboost.data.imageio.budget import (
    FILE_BUDGET,
    LOOP_BUDGET,
    PREPARE_BUDGET,
    DecodeBudget,
    ImageTooLarge,
    check_budget,
)
from synthboost.data.imageio.echo import read_echo


def _huge_rle(path: Path) -> Path:
    """An RLE cine whose header says 65535 × 65535 × 1000 frames (about 4 TiB decoded) over 3 real frames."""
    write_dicom(path, ramp_frames(3), rle=True)
    import pydicom

    ds = pydicom.dcmread(path)
    ds.Rows = ds.Columns = 65535
    ds.NumberOfFrames = 1000
    ds.save_as(path)
    return path


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a pixel gets decoded (the header alone must refuse the file)."""
    from synthboost.data.imageio import dicom, video

    def refuse(*args, **kwargs):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(dicom, "_pixels", refuse)
    monkeypatch.setattr(video, "decode_video", refuse)


def test_tib_rle_header_is_refused_before_decoding_by_every_budget(tmp_path: Path, no_decoding) -> None:
    path = _huge_rle(tmp_path / "huge_2CH.dcm")
    for budget in (LOOP_BUDGET, FILE_BUDGET, PREPARE_BUDGET, DecodeBudget()):
        with attack("unbounded"), pytest.raises(ImageTooLarge, match=r"huge_2CH\.dcm: .*65535×65535"):
            read_echo(path, budget)


def test_tib_rle_header_is_one_line_in_analyze_file_and_folder(cli, tmp_path: Path, no_decoding) -> None:
    (tmp_path / "loops").mkdir()
    path = _huge_rle(tmp_path / "loops" / "huge_2CH.dcm")
    for target in (path, path.parent):
        with attack("unbounded"):
            one_line_error(cli("analyze", target, "--ground-truth"), "huge_2CH.dcm", "pixels per frame")


def test_tib_rle_header_is_one_line_in_segment(cli, tmp_path: Path, no_decoding) -> None:
    path = _huge_rle(tmp_path / "huge.dcm")
    with attack("unbounded"):
        # the image is read before the model: no model needed to show the refusal
        one_line_error(cli("segment", path, "--model", tmp_path / "no-model", "--prompt", "lv"), "huge.dcm")


def test_app_upload_of_a_tib_header_is_refused(tmp_path: Path, no_decoding) -> None:
    from synthboost.app.uploads import read_upload

    path = _huge_rle(tmp_path / "huge.dcm")
    with attack("unbounded"), pytest.raises(ImageTooLarge, match=r"huge\.dcm"):
        read_upload(path, LOOP_BUDGET, tmp_path)


def test_ten_thousand_tiny_frames_are_refused_from_the_header(cli, tmp_path: Path, no_decoding) -> None:
    path = write_dicom(tmp_path / "many_2CH.dcm", np.zeros((10_000, 8, 8), np.uint8))
    with attack("unbounded"):
        line = one_line_error(cli("analyze", path, "--ground-truth"), "many_2CH.dcm", "10,000 frames")
        assert f"{LOOP_BUDGET.max_frames:,} frames" in line


def test_long_video_is_refused_from_the_container(tmp_path: Path, no_decoding) -> None:
    path = write_avi(tmp_path / "long_4CH.avi", np.zeros((LOOP_BUDGET.max_frames + 1, 16, 16), np.uint8))
    with (
        attack("unbounded"),
        pytest.raises(ImageTooLarge, match=r"long_4CH\.avi: 1,025 frames.* 1,024 frames"),
    ):
        read_echo(path, LOOP_BUDGET)


def _budget_at(size: tuple[int, ...], **over: int) -> DecodeBudget:
    frames, rows, cols = size
    exact = DecodeBudget(max_pixels=rows * cols, max_bytes=frames * rows * cols, max_frames=frames)
    return dataclasses.replace(exact, **over)


@pytest.mark.parametrize(
    ("field", "fragment"),
    [
        ("max_bytes", "bytes this tool decodes"),
        ("max_pixels", "pixels per frame"),
        ("max_frames", "frames this tool"),
    ],
)
@pytest.mark.parametrize("kind", ["dicom", "avi"])
def test_header_budgets_at_their_edge(tmp_path: Path, kind: str, field: str, fragment: str) -> None:
    frames = ramp_frames(6, 16, 16)
    path = (
        write_dicom(tmp_path / "a.dcm", frames) if kind == "dicom" else write_avi(tmp_path / "a.avi", frames)
    )
    size = check_budget(path, DecodeBudget()).shape
    channels = 1 if kind == "dicom" else 3  # a video is budgeted as RGB (what FFmpeg may decode)
    exact = _budget_at(size, max_bytes=int(np.prod(size)) * channels)
    with attack("unbounded"):
        loop = read_echo(path, exact)  # exactly at every limit: read
        assert loop.frames.shape == frames.shape
        with pytest.raises(ImageTooLarge, match=rf"{path.name}: .*{fragment}"):
            read_echo(path, dataclasses.replace(exact, **{field: getattr(exact, field) - 1}))


def test_frame_guard_stops_a_video_whose_header_says_fewer_frames(tmp_path: Path, monkeypatch) -> None:
    """A container can lie (or not say): the guard counts decoded frames, the header is only a hint."""
    path = write_avi(tmp_path / "liar.avi", ramp_frames(8))
    monkeypatch.setattr(budget_mod, "_video_size", lambda p: budget_mod.DecodedSize((1, 16, 16), 3, 8))
    budget = DecodeBudget(max_frames=7)
    with attack("unbounded"), pytest.raises(ImageTooLarge, match=r"liar\.avi: more than the 7 frames"):
        read_echo(path, budget)
    assert read_echo(path, dataclasses.replace(budget, max_frames=8)).n_frames == 8


@pytest.mark.parametrize("kind", ["dicom-rle", "avi"])
def test_decoding_time_budget_at_its_edge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """A clock that advances 1 s per look: the guard starts at 0 and sees frame k at k s."""
    frames = ramp_frames(6)
    path = (
        write_dicom(tmp_path / "slow.dcm", frames, rle=True)
        if kind == "dicom-rle"
        else write_avi(tmp_path / "slow.avi", frames)
    )

    def fake_clock() -> None:
        ticks = itertools.count()
        monkeypatch.setattr(budget_mod, "clock", lambda: float(next(ticks)))

    fake_clock()
    assert read_echo(path, DecodeBudget(max_seconds=6)).n_frames == 6  # frame 6 at exactly 6 s: read
    fake_clock()
    with (
        attack("unbounded"),
        pytest.raises(ImageTooLarge, match=r"slow\.\w+: decoding took more than the 5 s"),
    ):
        read_echo(path, DecodeBudget(max_seconds=5))


def test_prepare_reads_raw_videos_within_a_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from synthboost.data.sources import echonet

    path = write_avi(tmp_path / "0X1.avi", ramp_frames(9))
    video = echonet.EchoNetVideo("0X1", "TRAIN", 50.0, 40.0, 80.0, path, {})
    monkeypatch.setattr(echonet, "PREPARE_BUDGET", DecodeBudget(max_frames=8))
    with attack("unbounded"), pytest.raises(ImageTooLarge, match=r"0X1\.avi: 9 frames, more than the 8"):
        next(iter(echonet.echonet_records([video])))


@pytest.mark.parametrize(
    "bad",
    [
        {"max_frames": 0},
        {"max_bytes": -1},
        {"max_pixels": 2.5},
        {"max_seconds": float("inf")},
        {"max_seconds": 0},
    ],
)
def test_a_budget_itself_must_be_positive(bad: dict) -> None:
    with pytest.raises(ValueError, match=f"DecodeBudget.{next(iter(bad))} must be"):
        DecodeBudget(**bad)


def test_negative_ndims_metaimage_is_refused_before_itk(tmp_path: Path) -> None:
    """ITK's MetaImage reader loops for ever on ``NDims = -1``: run it in a process of its own, with a timeout."""
    import subprocess
    import sys

    path = tmp_path / "loop.mhd"
    path.write_bytes(
        b"NDims = -1\nDimSize = 5 4 3\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n" + bytes(60)
    )
    code = "import sys; from synthboost.data.imageio.echo import read_echo; read_echo(sys.argv[1])"
    with attack("unbounded"):
        result = subprocess.run(
            [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 1 and "Traceback" in result.stderr  # a plain python -c shows the raise
        assert "ValueError: " in result.stderr and "loop.mhd: MetaImage header NDims = '-1'" in result.stderr


def test_a_corrupt_dicom_element_length_allocates_nothing_large(tmp_path: Path) -> None:
    """A length field of 0xFFFFFFF0 made CPython allocate 4 GiB for a read of the few bytes left."""
    import tracemalloc

    path = write_dicom(tmp_path / "len.dcm", ramp_frames(2))
    data = bytearray(path.read_bytes())
    at = data.index(b"\x28\x00\x10\x00US")  # (0028,0010) Rows, explicit VR: tag, VR, 2-byte length
    data[at + 4 : at + 8] = b"OB\x00\x00"  # now an OB element whose 4-byte length follows
    data[at + 8 : at + 12] = b"\xf0\xff\xff\xff"
    path.write_bytes(bytes(data))
    tracemalloc.start()
    try:
        with attack("unbounded"), pytest.raises(ValueError, match=r"len\.dcm"):
            read_echo(path, LOOP_BUDGET)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MiB allocated"


@pytest.mark.parametrize("name", ["labels.nii", "labels.nii.gz"])
def test_a_loop_nifti_written_frame_by_frame_equals_simpleitks(tmp_path: Path, name: str) -> None:
    """``write_medical`` streams a (T, H, W) NIfTI (no second copy of a large loop): same header, same data."""
    import SimpleITK as sitk

    from synthboost.data.imageio.medical import write_medical

    arr = np.random.default_rng(0).integers(0, 4, (5, 13, 11)).astype(np.uint8)
    write_medical(tmp_path / name, arr, (0.3, 0.45))
    ref = sitk.GetImageFromArray(arr)
    ref.SetSpacing((0.45, 0.3, 1.0))
    sitk.WriteImage(ref, str(tmp_path / f"ref_{name}"), name.endswith(".gz"))
    ours, theirs = sitk.ReadImage(str(tmp_path / name)), sitk.ReadImage(str(tmp_path / f"ref_{name}"))
    assert np.array_equal(sitk.GetArrayFromImage(ours), arr)
    for attribute in ("GetSpacing", "GetOrigin", "GetDirection"):
        assert getattr(ours, attribute)() == getattr(theirs, attribute)()
    if name == "labels.nii":
        assert (tmp_path / name).read_bytes() == (tmp_path / f"ref_{name}").read_bytes()
