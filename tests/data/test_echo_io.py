"""read_echo: DICOM (photometrics, regions, timing, compression, broken files), videos, images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from echo_fixtures import jpeg_frames, sector_frames, us_region, write_dicom, write_video
from PIL import Image

from synthboost.data.imageio.echo import ImagingRegion, read_echo
from synthboost.data.imageio.region import bbox_of, detect_sector, full_frame

RNG = np.random.default_rng(0)
MONO = RNG.integers(0, 256, (3, 12, 16), dtype=np.uint8)
RGB = RNG.integers(0, 256, (3, 12, 16, 3), dtype=np.uint8)


def _luma(rgb: np.ndarray) -> np.ndarray:
    r, g, b = (rgb[..., k].astype(np.int64) for k in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)


def test_monochrome2_multiframe(tmp_path: Path) -> None:
    p = write_dicom(tmp_path / "m2.dcm", MONO.tobytes(), (12, 16), 3)
    loop = read_echo(p)
    assert loop.frames.dtype == np.uint8 and np.array_equal(loop.frames, MONO)
    assert (
        loop.spacing_mm is None and loop.calibration.source == "uncalibrated" and loop.frame_times_s is None
    )
    assert loop.source == p and loop.labels is None and loop.frames.flags.writeable


def test_single_frame_and_monochrome1(tmp_path: Path) -> None:
    p = write_dicom(tmp_path / "m1.dcm", MONO[0].tobytes(), (12, 16), None, "MONOCHROME1")
    loop = read_echo(p)
    assert loop.frames.shape == (1, 12, 16) and np.array_equal(loop.frames[0], 255 - MONO[0])


def test_sixteen_bit_scaled_by_bits_stored(tmp_path: Path) -> None:
    raw = np.array([[0, 1023, 512, 4]], np.uint16)
    p = write_dicom(tmp_path / "b10.dcm", raw.tobytes(), (1, 4), None, bits=10)
    assert read_echo(p).frames[0].tolist() == [[0, 255, 128, 1]]


def test_rgb_to_luma(tmp_path: Path) -> None:
    p = write_dicom(tmp_path / "rgb.dcm", RGB.tobytes(), (12, 16), 3, "RGB")
    assert np.array_equal(read_echo(p).frames, _luma(RGB))


def test_rgb_planar_configuration(tmp_path: Path) -> None:
    planar = np.ascontiguousarray(RGB.transpose(0, 3, 1, 2))  # RRR... GGG... BBB... per frame
    p = write_dicom(tmp_path / "planar.dcm", planar.tobytes(), (12, 16), 3, "RGB", PlanarConfiguration=1)
    assert np.array_equal(read_echo(p).frames, _luma(RGB))


def test_jpeg2000_lossless(tmp_path: Path) -> None:
    import pydicom
    from pydicom.uid import JPEG2000Lossless

    big = np.random.default_rng(1).integers(0, 256, (2, 64, 64), dtype=np.uint8)
    p = write_dicom(tmp_path / "j2k.dcm", big.tobytes(), (64, 64), 2)
    ds = pydicom.dcmread(p)
    ds.compress(JPEG2000Lossless)
    ds.save_as(p, enforce_file_format=True)
    assert pydicom.dcmread(p).file_meta.TransferSyntaxUID == JPEG2000Lossless
    loop = read_echo(p)
    assert np.array_equal(loop.frames, big) and loop.frames.flags.writeable


def test_ybr_full_takes_y(tmp_path: Path) -> None:
    ybr = RGB.copy()  # any bytes are valid YBR; the luma is the Y channel
    p = write_dicom(tmp_path / "ybr.dcm", ybr.tobytes(), (12, 16), 3, "YBR_FULL")
    assert np.array_equal(read_echo(p).frames, ybr[..., 0])


def test_ybr_full_422_uncompressed(tmp_path: Path) -> None:
    # 4:2:2 byte order: Y1 Y2 Cb Cr for each pair of pixels
    data = bytes([10, 20, 128, 128, 30, 40, 90, 160, 50, 60, 100, 150, 70, 80, 128, 128])
    p = write_dicom(tmp_path / "ybr422.dcm", data, (2, 4), None, "YBR_FULL_422")
    assert read_echo(p).frames[0].tolist() == [[10, 20, 30, 40], [50, 60, 70, 80]]


def test_palette_colour(tmp_path: Path) -> None:
    index = np.array([[0, 1, 2, 3]], np.uint8)
    lut = {"red": [0, 255, 0, 255], "green": [0, 0, 255, 255], "blue": [0, 0, 0, 255]}
    tags = {}
    for colour, values in lut.items():
        key = colour.capitalize()
        tags[f"{key}PaletteColorLookupTableDescriptor"] = [4, 0, 8]
        tags[f"{key}PaletteColorLookupTableData"] = bytes(values)
    p = write_dicom(tmp_path / "pal.dcm", index.tobytes(), (1, 4), None, "PALETTE COLOR", **tags)
    rgb = np.array([[[0, 0, 0], [255, 0, 0], [0, 255, 0], [255, 255, 255]]], np.uint8)
    assert np.array_equal(read_echo(p).frames[0], _luma(rgb))


def test_tissue_region_in_cm_beside_doppler(tmp_path: Path) -> None:
    frames, sector = sector_frames(4, (60, 80))
    canvas = np.zeros((4, 100, 120), np.uint8)
    canvas[:, 5:65, 20:100] = frames
    canvas[:, 70:98, 2:118] = 200  # a spectral Doppler strip, larger than nothing, beside the tissue
    regions = [
        us_region((70, 2, 98, 118), spatial=3, data=3, delta_cm=(2.0, 0.01), units=7),
        us_region((5, 20, 65, 100), delta_cm=(0.03, 0.045)),
    ]
    p = write_dicom(
        tmp_path / "reg.dcm", canvas.tobytes(), (100, 120), 4, SequenceOfUltrasoundRegions=regions
    )
    loop = read_echo(p)
    # non-square deltas (0.3 x 0.45 mm): used as given, with a warning naming the tag
    assert loop.calibration.source == "us_regions" and loop.spacing_mm == pytest.approx(
        (0.3, 0.45), abs=1e-12
    )
    assert "PhysicalDeltaY/X" in loop.calibration.warnings[0] and "non-square" in loop.calibration.warnings[0]
    assert loop.calibration.aspect == pytest.approx(0.3 / 0.45)
    assert loop.region.source == "us_regions" and loop.region.bbox == (5, 20, 65, 100)
    inside = loop.region.crop(loop.region.mask)
    iou = (inside & sector).sum() / (inside | sector).sum()
    assert iou > 0.97 and not loop.region.mask[70:].any()
    assert loop.masked_frames()[:, 70:].max() == 0 and loop.frames[:, 70:].max() == 200


def test_region_in_other_units_is_uncalibrated(tmp_path: Path) -> None:
    regions = [us_region((0, 0, 12, 16), units=0, delta_cm=(1.0, 1.0))]
    p = write_dicom(tmp_path / "u.dcm", MONO.tobytes(), (12, 16), 3, SequenceOfUltrasoundRegions=regions)
    loop = read_echo(p)
    assert (
        loop.spacing_mm is None
        and loop.calibration.source == "uncalibrated"
        and loop.region.bbox == (0, 0, 12, 16)
    )


def test_pixel_spacing_when_no_region(tmp_path: Path) -> None:
    p = write_dicom(tmp_path / "ps.dcm", MONO.tobytes(), (12, 16), 3, PixelSpacing=[0.25, 0.5])
    loop = read_echo(p)
    assert loop.calibration.source == "pixel_spacing" and loop.spacing_mm == (0.25, 0.5)


def test_region_past_the_frame_is_clipped_not_refused(tmp_path: Path) -> None:
    regions = [us_region((0, 0, 40, 16), delta_cm=(0.03, 0.03))]
    p = write_dicom(tmp_path / "bad.dcm", MONO.tobytes(), (12, 16), 3, SequenceOfUltrasoundRegions=regions)
    loop = read_echo(p)  # the signal fills the frame: a frame cropped at the bottom
    assert loop.calibration.source == "us_regions" and loop.spacing_mm == pytest.approx((0.3, 0.3))
    assert loop.region.bbox == (0, 0, 12, 16) and loop.frames.shape == (3, 12, 16)
    (warning,) = loop.calibration.warnings
    assert warning.startswith("bad.dcm: ultrasound region (0, 0, 40, 16) does not fit the 12x16 frame")
    assert "cropped" in warning


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"FrameTime": "33.5"}, [0.0, 0.0335, 0.067]),
        ({"FrameTimeVector": ["0", "20", "30"]}, [0.0, 0.02, 0.05]),
        ({"CineRate": 40}, [0.0, 0.025, 0.05]),
    ],
)
def test_frame_times(tmp_path: Path, tags: dict, expected: list[float]) -> None:
    p = write_dicom(tmp_path / "t.dcm", MONO.tobytes(), (12, 16), 3, **tags)
    loop = read_echo(p)
    assert loop.frame_times_s == pytest.approx(expected, abs=1e-12)
    assert loop.frame_rate == pytest.approx(2 / expected[-1])


def test_frame_time_vector_of_wrong_length(tmp_path: Path) -> None:
    p = write_dicom(tmp_path / "ftv.dcm", MONO.tobytes(), (12, 16), 3, FrameTimeVector=["0", "20"])
    with pytest.raises(ValueError, match=r"ftv\.dcm: FrameTimeVector has 2 values for 3 frames"):
        read_echo(p)


def test_rle_lossless(tmp_path: Path) -> None:
    import pydicom
    from pydicom.uid import RLELossless

    p = write_dicom(tmp_path / "rle.dcm", MONO.tobytes(), (12, 16), 3)
    ds = pydicom.dcmread(p)
    ds.compress(RLELossless)
    ds.save_as(p, enforce_file_format=True)
    assert np.array_equal(read_echo(p).frames, MONO)


def test_jpeg_baseline_ybr_422(tmp_path: Path) -> None:
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGBaseline8Bit

    grey = np.repeat(np.linspace(0, 255, 32, dtype=np.uint8)[None, None, :], 16, axis=1)
    grey = np.repeat(grey, 2, axis=0)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    data = encapsulate(jpeg_frames(rgb))
    p = write_dicom(tmp_path / "jpg.dcm", data, (16, 32), 2, "YBR_FULL_422", transfer_syntax=JPEGBaseline8Bit)
    loop = read_echo(p)
    assert loop.frames.shape == (2, 16, 32)
    assert np.abs(loop.frames.astype(int) - grey).max() <= 3  # lossy, but grey stays grey


def _h264(frames: np.ndarray) -> bytes:
    """Frames as a raw H.264 (Annex B) stream, lossless (qp 0), with PyAV."""
    import io

    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="h264") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = {"qp": "0"}
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="gray")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


def test_mpeg4_avc_video_syntax(tmp_path: Path) -> None:
    from pydicom.encaps import encapsulate
    from pydicom.uid import MPEG4HP41

    grey = np.tile(np.linspace(0, 255, 64, dtype=np.uint8)[None, None, :], (6, 48, 1))
    grey[3, :8, :8] = 0  # frames differ
    data = _h264(grey)
    fragments = encapsulate([data[: len(data) // 2], data[len(data) // 2 :]], fragments_per_frame=2)
    p = write_dicom(tmp_path / "h264.dcm", fragments, (48, 64), 6, "YBR_PARTIAL_420",
                    transfer_syntax=MPEG4HP41, FrameTime="40")  # fmt: skip
    loop = read_echo(p)
    assert loop.frames.shape == (6, 48, 64) and np.abs(loop.frames.astype(int) - grey).max() <= 2
    assert loop.frame_times_s == pytest.approx(np.arange(6) * 0.04)


def test_undecodable_syntax_names_the_problem(tmp_path: Path) -> None:
    from pydicom.encaps import encapsulate
    from pydicom.uid import MPEG4HP41

    p = write_dicom(tmp_path / "h264.dcm", encapsulate([b"\0" * 64]), (12, 16), 1, transfer_syntax=MPEG4HP41)
    with pytest.raises(ValueError, match=r"h264\.dcm: .*video.*MPEG-4 AVC") as err:
        read_echo(p)
    assert "\n" not in str(err.value)
    from pydicom.uid import JPEG2000

    # pydicom writes only syntaxes it knows: write JPEG 2000, then turn its UID into an unknown one
    unknown = write_dicom(
        tmp_path / "unknown.dcm", encapsulate([b"\0" * 64]), (12, 16), 1, transfer_syntax=JPEG2000
    )
    unknown.write_bytes(unknown.read_bytes().replace(JPEG2000.encode(), b"1.2.840.10008.1.2.4.99"))
    with pytest.raises(
        ValueError, match=r"unknown\.dcm: cannot decode the pixel data: unknown transfer syntax"
    ):
        read_echo(unknown)


@pytest.mark.parametrize(
    "content", [b"", b"not a dicom file at all" * 20, b"\0" * 128 + b"DICM" + b"\xff" * 40]
)
def test_corrupt_dicom(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "broken.dcm"
    p.write_bytes(content)
    with pytest.raises(ValueError, match=r"broken\.dcm: ") as err:
        read_echo(p)
    assert "\n" not in str(err.value)


def test_truncated_pixel_data_and_no_pixels(tmp_path: Path) -> None:
    p = write_dicom(tmp_path / "short.dcm", MONO.tobytes()[:100], (12, 16), 3)
    with pytest.raises(ValueError, match=r"short\.dcm: broken pixel data"):
        read_echo(p)
    import pydicom

    ds = pydicom.dcmread(p)
    del ds.PixelData
    ds.save_as(tmp_path / "nopix.dcm", enforce_file_format=True)
    with pytest.raises(ValueError, match=r"nopix\.dcm: DICOM file has no pixel data"):
        read_echo(tmp_path / "nopix.dcm")


def test_dicom_without_suffix_is_recognised(tmp_path: Path) -> None:
    p = write_dicom(tmp_path / "IM0001", MONO.tobytes(), (12, 16), 3)
    assert np.array_equal(read_echo(p).frames, MONO)


def test_video_lossless_values_and_times(tmp_path: Path) -> None:
    frames, sector = sector_frames(6, (48, 64))
    frames[:, 40:, :6] = 255  # a mark outside the sector, not connected to it
    p = write_video(tmp_path / "loop.avi", frames, fps=25)
    loop = read_echo(p)
    assert np.array_equal(loop.frames, frames)
    assert loop.frame_times_s == pytest.approx(np.arange(6) / 25)
    assert loop.calibration.source == "uncalibrated" and loop.region.source == "detected"
    assert not loop.region.mask[40:, :6].any() and (loop.region.mask & sector).sum() / sector.sum() > 0.97


def test_mp4_lossy(tmp_path: Path) -> None:
    frames = np.full((5, 32, 32), 128, np.uint8)
    p = write_video(tmp_path / "loop.mp4", frames, fps=30, codec="mpeg4")
    loop = read_echo(p)
    assert loop.frames.shape == (5, 32, 32) and np.abs(loop.frames.astype(int) - 128).max() <= 2
    assert loop.frame_rate == pytest.approx(30.0)


def test_empty_and_broken_videos(tmp_path: Path) -> None:
    empty = write_video(tmp_path / "empty.avi", np.zeros((0, 16, 16), np.uint8))
    with pytest.raises(ValueError, match=r"empty\.avi: the video holds no frames"):
        read_echo(empty)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\0" * 1000)
    with pytest.raises(ValueError, match=r"broken\.mp4: not a readable video"):
        read_echo(broken)


def test_png_and_jpeg_stills(tmp_path: Path) -> None:
    Image.fromarray(RGB[0], "RGB").save(tmp_path / "a.png")
    loop = read_echo(tmp_path / "a.png")
    assert loop.frames.shape == (1, 12, 16) and np.array_equal(loop.frames[0], _luma(RGB[0]))
    assert loop.spacing_mm is None and loop.frame_times_s is None
    Image.fromarray(MONO[0]).save(tmp_path / "b.jpg", quality=100)
    assert np.abs(read_echo(tmp_path / "b.jpg").frames[0].astype(int) - MONO[0]).max() <= 8


def test_missing_and_unknown(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.dcm: file not found"):
        read_echo(tmp_path / "nope.dcm")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"x\.txt: unknown echo format \.txt"):
        read_echo(tmp_path / "x.txt")


def test_region_crop_uncrop_round_trip() -> None:
    frames, sector = sector_frames(3, (40, 50))
    mask = detect_sector(frames.max(axis=0))
    assert mask is not None
    region = ImagingRegion(bbox_of(mask), mask, "detected")
    r0, c0, r1, c1 = region.bbox
    assert region.bbox == bbox_of(sector) and (mask == sector).mean() > 0.99
    cropped = region.crop(frames)
    assert cropped.shape == (3, r1 - r0, c1 - c0)
    back = region.uncrop(cropped)
    assert np.array_equal(back, region.apply(frames))
    assert full_frame((4, 5)).mask.all() and full_frame((4, 5)).bbox == (0, 0, 4, 5)
    with pytest.raises(ValueError, match="bbox"):
        ImagingRegion((0, 0, 50, 50), mask, "detected")
    assert detect_sector(np.zeros((30, 30), np.uint8)) is None


def test_fill_convex_matches_scanline_polygon() -> None:
    from scipy.spatial import ConvexHull
    from skimage.draw import polygon

    from synthboost.data.imageio.region import fill_convex

    rng = np.random.default_rng(0)
    for _ in range(40):
        pts = rng.uniform(-5, 60, (int(rng.integers(3, 30)), 2))
        pts = np.round(pts) if rng.random() < 0.3 else pts  # vertices on pixel centres too
        v = pts[ConvexHull(pts).vertices]
        expected = np.zeros((50, 55), bool)
        expected[polygon(v[:, 0], v[:, 1], (50, 55))] = True
        assert np.array_equal(fill_convex(v, (50, 55)), expected)
