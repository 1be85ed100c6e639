"""Issue 23, silently wrong numbers from the readers: signed pixels, impossible frame times, a dropped
video frame and non-finite arrays handed to the Segmenter either read right or say so, never a number."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from hardening2_helpers import attack
from readers_helpers import correlation, ramp_frames, write_avi, write_dicom

from synthboost.data.imageio.budget import LOOP_BUDGET
from synthboost.data.imageio.echo import plausible_frame_times, read_echo
from synthboost.evaluation.segmenter import as_grayscale

SIGNED = [
    ("int8", np.int8, 8, False),
    ("int16", np.int16, 16, False),
    ("int16-rle", np.int16, 16, True),
    ("int16-12bit", np.int16, 12, False),
    ("int32", np.int32, 32, False),
]


@pytest.mark.parametrize(("dtype", "bits", "rle"), [s[1:] for s in SIGNED], ids=[s[0] for s in SIGNED])
def test_signed_pixels_decode_to_the_written_truth(tmp_path: Path, dtype, bits: int, rle: bool) -> None:
    """PixelRepresentation 1: the stored range -2^(b-1) .. 2^(b-1)-1 maps linearly onto 0..255."""
    top = 2 ** (bits - 1)
    truth = np.random.default_rng(0).integers(-top, top, (4, 24, 20)).astype(dtype)
    truth[0, 0, :2] = (-top, top - 1)  # both ends of the range
    path = write_dicom(tmp_path / "signed.dcm", truth, bits_stored=bits, rle=rle)
    with attack("silent"):
        frames = read_echo(path, LOOP_BUDGET).frames
        assert correlation(frames, truth) > 0.9999
        assert tuple(frames[0, 0, :2]) == (0, 255)
        expected = np.rint((truth.astype(np.float64) + top) * 255 / (2**bits - 1))
        assert np.abs(frames - expected).max() == 0


def test_signed_monochrome1_is_inverted_after_the_shift(tmp_path: Path) -> None:
    truth = np.random.default_rng(1).integers(-30000, 30000, (2, 16, 16)).astype(np.int16)
    path = write_dicom(tmp_path / "m1.dcm", truth, photometric="MONOCHROME1")
    with attack("silent"):
        assert correlation(read_echo(path).frames, truth) < -0.9999


FRAME_TIMES = [
    ("inf", {"FrameTime": "inf"}, "not finite"),
    ("nan", {"FrameTime": "nan"}, "not finite"),
    ("huge", {"FrameTime": "1e12"}, "outside 1-1000 Hz"),  # 1e-9 Hz
    ("tiny", {"FrameTime": "1e-9"}, "outside 1-1000 Hz"),
    ("zero", {"FrameTime": "0"}, "outside 1-1000 Hz"),
    ("negative", {"FrameTime": "-33"}, "outside 1-1000 Hz"),
    ("cine-rate-tiny", {"CineRate": "0"}, "not finite"),
    ("vector-zero-step", {"FrameTimeVector": ["0", "33", "0", "33"]}, "outside 1-1000 Hz"),
    ("vector-inf", {"FrameTimeVector": ["0", "33", "inf", "33"]}, "not finite"),
]


@pytest.mark.parametrize(("tags", "fragment"), [f[1:] for f in FRAME_TIMES], ids=[f[0] for f in FRAME_TIMES])
def test_implausible_frame_times_give_a_warning_and_no_rate(tmp_path: Path, caplog, tags, fragment) -> None:
    path = write_dicom(tmp_path / "t.dcm", ramp_frames(4), **tags)
    with attack("silent"), caplog.at_level(logging.WARNING):
        loop = read_echo(path, LOOP_BUDGET)
        assert loop.frame_times_s is None and loop.frame_rate is None
        warned = [r.getMessage() for r in caplog.records if r.name.startswith("synthboost")]
        assert any(str(path) in m and fragment in m and "no frame times" in m for m in warned), warned


def test_plausible_frame_times_pass_through_unchanged(tmp_path: Path) -> None:
    for rate in (1.0, 30.0, 1000.0):  # both ends of the range
        times = np.arange(5) / rate
        assert plausible_frame_times(times, tmp_path) is times or np.array_equal(
            plausible_frame_times(times, tmp_path), times
        )
    loop = read_echo(write_dicom(tmp_path / "ok.dcm", ramp_frames(4), FrameTime="20"), LOOP_BUDGET)
    assert loop.frame_rate == pytest.approx(50.0)


def _corrupt_one_mjpeg_frame(path: Path, index: int) -> None:
    """Zero the entropy-coded data of the ``index``-th JPEG of an MJPEG AVI (its markers kept)."""
    data = bytearray(path.read_bytes())
    sos = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xDA][index]  # start of scan
    end = data.index(b"\xff\xd9", sos)
    data[sos + 2 : end] = bytes(end - sos - 2)
    path.write_bytes(bytes(data))


def _break_one_avi_chunk(path: Path, index: int) -> None:
    """Rename the ``index``-th ``00dc`` (video frame) chunk: the demuxer skips that frame."""
    data = bytearray(path.read_bytes())
    movi = data.index(b"movi")
    at = movi
    for _ in range(index + 1):
        at = data.index(b"00dc", at + 4)
    data[at : at + 4] = b"zzzz"
    path.write_bytes(bytes(data))


def test_a_skipped_video_frame_is_an_error_naming_both_counts(tmp_path: Path) -> None:
    path = write_avi(tmp_path / "loop.avi", ramp_frames(19, 32, 32))
    assert read_echo(path).n_frames == 19
    _break_one_avi_chunk(path, 7)
    with (
        attack("silent"),
        pytest.raises(ValueError, match=r"loop\.avi: the video header says 19 frames but only 18"),
    ):
        read_echo(path, LOOP_BUDGET)


def test_a_corrupt_video_frame_is_concealed_or_refused_never_dropped(tmp_path: Path) -> None:
    path = write_avi(tmp_path / "loop.avi", ramp_frames(19, 32, 32))
    _corrupt_one_mjpeg_frame(path, 7)
    with attack("silent"):
        try:
            loop = read_echo(path, LOOP_BUDGET)
        except ValueError as err:
            assert "loop.avi" in str(err) and "19" in str(err), err
        else:  # FFmpeg concealed the frame: every frame is still there, in its place
            assert loop.n_frames == 19 and np.allclose(np.diff(loop.frame_times_s), 1 / 25)


BAD_ARRAYS = [
    ("nan", np.full((8, 8), np.nan, np.float32), "64 NaN"),
    ("one-nan", np.where(np.eye(8, dtype=bool), np.nan, 0.5), "8 NaN"),
    ("inf", np.full((8, 8), np.inf), "64 infinite"),
    ("minus-inf-rgb", np.dstack([np.zeros((8, 8))] * 2 + [np.full((8, 8), -np.inf)]), "infinite"),
    ("complex", np.ones((8, 8), np.complex64), "complex"),
    ("object", np.full((8, 8), None, object), "dtype object"),
    ("strings", np.full((8, 8), "a"), "dtype <U1"),
]


@pytest.mark.parametrize(("arr", "fragment"), [b[1:] for b in BAD_ARRAYS], ids=[b[0] for b in BAD_ARRAYS])
def test_segmenter_refuses_non_finite_and_non_real_arrays(arr: np.ndarray, fragment: str) -> None:
    with attack("silent"), pytest.raises(ValueError, match=f"Segmenter: .*{fragment}"):
        as_grayscale(arr)


def test_segmenter_still_takes_finite_float_and_integer_images() -> None:
    ramp = np.linspace(0, 1, 64).reshape(8, 8)
    assert as_grayscale(ramp).tolist() == np.rint(ramp * 255).astype(np.uint8).tolist()
    assert as_grayscale(np.arange(64, dtype=np.int32).reshape(8, 8)).max() == 63
