"""Issue 23, tracebacks and cryptic messages from the readers: corrupt compressed DICOM data, a timing tag
that is not a number, a path SimpleITK cannot take, and odd cine uploads in the app each end in one line
(or one ``gr.Error``) naming the file and the problem."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hardening2_helpers import attack
from hardening_helpers import one_line_error, raw_camus
from readers_helpers import ramp_frames, write_avi, write_dicom


def _jpeg_dicom(path: Path, frames: np.ndarray) -> Path:
    """An 8-bit JPEG Baseline DICOM (each frame a Pillow JPEG)."""
    import pydicom
    from PIL import Image
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGBaseline8Bit

    write_dicom(path, frames)
    ds = pydicom.dcmread(path)
    encoded = []
    for frame in frames:
        buf = io.BytesIO()
        Image.fromarray(frame).save(buf, format="JPEG", quality=95)
        encoded.append(buf.getvalue())
    ds.PixelData = encapsulate(encoded)
    ds["PixelData"].is_undefined_length = True
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.save_as(path)
    return path


def _mangle_fragment(path: Path, index: int, keep: int) -> Path:
    """Keep the first ``keep`` bytes of pixel-data fragment ``index`` and fill the rest with 0x7f."""
    import pydicom
    from pydicom.encaps import encapsulate, generate_fragments

    ds = pydicom.dcmread(path)
    fragments = list(generate_fragments(ds.PixelData))
    bad = fragments[index][:keep]
    fragments[index] = bad + b"\x7f" * (len(fragments[index]) - keep + (len(fragments[index]) - keep) % 2)
    ds.PixelData = encapsulate(fragments)
    ds.save_as(path)
    return path


CORRUPT = [
    ("rle-header", lambda p: _mangle_fragment(write_dicom(p, ramp_frames(3), rle=True), 1, 20), "RLE"),
    ("rle-truncated", lambda p: _mangle_fragment(write_dicom(p, ramp_frames(3), rle=True), 2, 66), "RLE"),
    ("jpeg-scan", lambda p: _mangle_fragment(_jpeg_dicom(p, ramp_frames(3, 32, 32)), 1, 200), "JPEG"),
    ("jpeg-header", lambda p: _mangle_fragment(_jpeg_dicom(p, ramp_frames(3, 32, 32)), 0, 4), "JPEG"),
]


@pytest.mark.parametrize(("make", "syntax"), [c[1:] for c in CORRUPT], ids=[c[0] for c in CORRUPT])
def test_corrupt_compressed_dicom_is_one_line_without_traceback(cli, tmp_path: Path, make, syntax) -> None:
    path = make(tmp_path / "loop_2CH.dcm")
    with attack("traceback"):
        result = cli("analyze", path, "--ground-truth")
        assert "Traceback" not in result.err, result.err
        line = one_line_error(result, str(path))
        assert "pixel data" in line and syntax in line, line


def _replace_in_file(path: Path, old: bytes, new: bytes) -> Path:
    data = path.read_bytes()
    assert data.count(old) == 1 and len(old) == len(new)
    path.write_bytes(data.replace(old, new))
    return path


@pytest.mark.parametrize(
    ("tag", "written", "garbage"),
    [
        ("FrameTime", "33.3333", b"abc     "),
        ("CineRate", "977", b"x   "),
        ("FrameTimeVector", ["0", "33.25"], b"0\\abc   "),
    ],
)
def test_a_timing_tag_that_is_not_a_number_names_the_file_and_tag(
    cli, tmp_path, tag, written, garbage
) -> None:
    path = write_dicom(tmp_path / "loop_2CH.dcm", ramp_frames(2), **{tag: written})
    raw = "\\".join(written).encode() if isinstance(written, list) else written.encode()
    raw += b" " * (len(raw) % 2)
    _replace_in_file(path, raw, garbage)
    with attack("message"):
        one_line_error(cli("analyze", path, "--ground-truth"), str(path), f"DICOM {tag}", "not a number")


def test_non_utf8_raw_path_is_refused_before_simpleitk(tmp_path: Path) -> None:
    """SimpleITK aborts the interpreter (exit 134) on such a path: run the CLI in a process of its own."""
    raw = Path(os.fsdecode(bytes(tmp_path) + b"/RAW-\xff"))
    raw_camus(tmp_path / "ok", n_training=2, n_testing=1).rename(raw)
    out = tmp_path / "processed"
    command = [sys.executable, "-c", "from synthboost.cli import main; main()", "prepare", "camus",
               os.fsencode(raw), str(out), "--image-size", "32"]  # fmt: skip
    with attack("traceback"):
        result = subprocess.run(
            command, capture_output=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"}
        )
        err = result.stderr.decode("utf-8", "replace")
        assert result.returncode == 2, (result.returncode, err)
        assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("error: "), err
        assert "RAW-\\xff" in err and "not UTF-8" in err, err
        assert not out.exists()


class _DiscSegmenter:
    """Stands for the model in the app: the same disc of probability in every frame, for every prompt."""

    threshold = 0.5

    def frame_probabilities(self, frames, prompts, batch_size=8, shared=True) -> np.ndarray:
        yy, xx = np.mgrid[0:16, 0:16]
        disc = (np.hypot(yy - 8, xx - 8) < 5).astype(np.float32)
        return np.broadcast_to(disc, (len(frames), len(prompts), 16, 16)).copy()


def _palette_without_lut(path: Path) -> Path:
    return write_dicom(path, ramp_frames(3), photometric="PALETTE COLOR")


ODD_UPLOADS = [
    ("empty_2CH.dcm", lambda p: p.write_bytes(b""), "not a readable DICOM"),
    ("text_2CH.avi", lambda p: p.write_text("not a video"), "not a readable video"),
    ("tiny_2CH.dcm", lambda p: write_dicom(p, ramp_frames(3, 1, 1)), "too small to analyse"),
    ("palette_2CH.dcm", _palette_without_lut, "PALETTE COLOR without a usable lookup table"),
    ("rle_2CH.dcm", lambda p: _mangle_fragment(write_dicom(p, ramp_frames(3), rle=True), 1, 20), "RLE"),
    ("skipped_2CH.avi", None, "header says 6 frames but only 5"),
]


@pytest.mark.parametrize(("name", "make", "fragment"), ODD_UPLOADS, ids=[u[0] for u in ODD_UPLOADS])
def test_odd_cine_upload_gives_the_reason_in_the_app(tmp_path: Path, name: str, make, fragment: str) -> None:
    import gradio as gr

    from synthboost.app.ui import AppState, cine_fn

    path = tmp_path / name
    if make is None:
        write_avi(path, ramp_frames(6))
        data = bytearray(path.read_bytes())
        at = data.index(b"00dc", data.index(b"movi"))
        data[at : at + 4] = b"zzzz"
        path.write_bytes(bytes(data))
    else:
        make(path)
    run = cine_fn(AppState(_DiscSegmenter(), {"prompt": "p1"}, {}, tmp_path))
    with attack("traceback"), pytest.raises(gr.Error) as caught:
        run(str(path), "", 0.5)
    assert name in str(caught.value) and fragment in str(caught.value), caught.value


def test_an_unforeseen_failure_in_the_cine_tab_still_gives_its_reason(tmp_path: Path, monkeypatch) -> None:
    import gradio as gr

    from synthboost.app import ui

    def broken(*args, **kwargs):
        raise RuntimeError("decoder exploded\nsecond line")

    monkeypatch.setattr(ui, "read_upload", broken)
    run = ui.cine_fn(ui.AppState(_DiscSegmenter(), {"prompt": "p1"}, {}, tmp_path))
    with attack("traceback"), pytest.raises(gr.Error) as caught:
        run(str(tmp_path / "a_2CH.dcm"), "", 0.5)
    assert "a_2CH.dcm: could not be analysed: RuntimeError: decoder exploded" in str(caught.value)
    assert "second line" not in str(caught.value)


def test_a_good_cine_upload_still_analyses(tmp_path: Path) -> None:
    from synthboost.app.ui import AppState, cine_fn

    path = write_dicom(tmp_path / "ok_2CH.dcm", ramp_frames(4, 32, 32), FrameTime="40")
    video, curve, rows, notes = cine_fn(AppState(_DiscSegmenter(), {"prompt": "p1"}, {}, tmp_path))(
        str(path), "", 0.5
    )
    assert Path(video).stat().st_size > 0 and Path(curve).is_file()
    assert "4 frames" in notes or "frames" in str(rows)
