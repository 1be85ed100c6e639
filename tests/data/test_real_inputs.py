"""Real-world quirks of echo exports: calibration from real metadata (recorded, warned, never refused) and
the imaging sector on a display with an ECG strip, text and marks around it. Files are written here."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from echo_fixtures import us_region, write_video
from hypothesis import given, settings
from hypothesis import strategies as st
from quirk_fixtures import (
    draw_fan_loop,
    echo_display,
    enlarged_export,
    resized_export,
    us_dicom,
    write_nifti_pixdim,
)

from synthboost.data.imageio.calibration import Calibration, check_size, snap_scale
from synthboost.data.imageio.echo import read_echo
from synthboost.data.imageio.region import bbox_of, detect_sector, region_from_frames

SHAPE = (80, 100)


def _fan_loop(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return draw_fan_loop(6, SHAPE, (2.0, 50.0), 70.0, seed)


def _warned(cal: Calibration, *fragments: str) -> str:
    """The one warning holding every fragment (fails naming the warnings when there is none)."""
    hits = [w for w in cal.warnings if all(f in w for f in fragments)]
    assert hits, (fragments, cal.warnings)
    return hits[0]


# --- stale regions: resized, cropped, neither ----------------------------------------------------------


@pytest.mark.parametrize("factor", [2, 3])
def test_resized_export_gives_the_physical_spacing(tmp_path: Path, factor: int) -> None:
    path, depth_mm = resized_export(tmp_path / f"resized{factor}.dcm", factor)
    loop = read_echo(path)
    cal = loop.calibration
    assert loop.frames.shape == (8, 80, 100)
    assert cal.source == "us_regions" and cal.scaled_by == pytest.approx(1 / factor)
    assert cal.spacing_mm == pytest.approx((0.5 * factor, 0.5 * factor))
    # the physically right size: the fan's drawn depth (mm) over its depth in the exported frame (px)
    fan_rows = loop.region.mask.any(axis=1).sum()
    assert cal.spacing_mm[0] == pytest.approx(depth_mm / fan_rows, rel=0.03)
    _warned(cal, f"resized{factor}.dcm", "does not fit the 80x100 frame", "resized after acquisition")
    r0, c0, r1, c1 = loop.region.bbox
    assert r1 <= 80 and c1 <= 100 and loop.region.source == "us_regions"


def test_resized_export_whose_region_is_larger_than_the_fan(tmp_path: Path) -> None:
    path, depth_mm = resized_export(
        tmp_path / "loose.dcm", 2, margin=0.15
    )  # the fan fills the region nowhere
    cal = read_echo(path).calibration
    assert cal.source == "us_regions" and cal.scaled_by == pytest.approx(0.5)  # from the centred fan
    assert cal.spacing_mm == pytest.approx((1.0, 1.0))


@pytest.mark.parametrize("factor", [2, 3])
def test_enlarged_export_whose_region_still_fits_gives_the_physical_spacing(
    tmp_path: Path, factor: int
) -> None:
    path, depth_mm = enlarged_export(tmp_path / f"enlarged{factor}.dcm", factor)
    loop = read_echo(path)
    cal = loop.calibration
    assert loop.frames.shape == (8, 80 * factor, 100 * factor)
    assert cal.source == "us_regions" and cal.scaled_by == pytest.approx(factor)
    assert cal.spacing_mm == pytest.approx((0.5 / factor, 0.5 / factor))  # 0.5 mm pixels, enlarged
    fan_rows = loop.region.mask.any(axis=1).sum()  # the fan's drawn depth (mm) over its rows: the truth
    assert cal.spacing_mm[0] == pytest.approx(depth_mm / fan_rows, rel=0.05)
    _warned(cal, f"enlarged{factor}.dcm", "extends beyond ultrasound region", "resized after acquisition")
    r0, c0, r1, c1 = loop.region.bbox  # the whole fan, not the stale corner of it
    assert r1 - r0 >= 0.9 * fan_rows and r1 <= 80 * factor and c1 <= 100 * factor


def test_a_fan_slightly_beyond_its_region_keeps_the_region(tmp_path: Path) -> None:
    frames, fan = _fan_loop()
    r0, c0, r1, c1 = bbox_of(fan)
    region = us_region((r0, c0 + 6, r1, c1 - 6), delta_cm=(0.04, 0.04))  # the fan spills 6 px each side
    cal = read_echo(us_dicom(tmp_path / "spill.dcm", frames, [region])).calibration
    assert (
        cal.source == "us_regions" and cal.spacing_mm == pytest.approx((0.4, 0.4)) and cal.scaled_by is None
    )
    _warned(cal, "spill.dcm", "extends beyond ultrasound region", "kept as given, check the calibration")
    exact = us_region(bbox_of(fan), delta_cm=(0.04, 0.04))  # a region that holds the fan says nothing
    assert read_echo(us_dicom(tmp_path / "exact.dcm", frames, [exact])).calibration.warnings == ()


def test_cropped_frame_clips_the_region(tmp_path: Path) -> None:
    frames, fan = _fan_loop()
    region = us_region((0, 0, 120, 140), delta_cm=(0.04, 0.04))  # the acquisition was larger: cropped
    loop = read_echo(us_dicom(tmp_path / "cropped.dcm", frames, [region]))
    cal = loop.calibration
    assert (
        cal.source == "us_regions" and cal.spacing_mm == pytest.approx((0.4, 0.4)) and cal.scaled_by is None
    )
    assert loop.region.bbox == (0, 0, 80, 100)
    _warned(cal, "cropped.dcm", "cropped", "clipped to (0, 0, 80, 100)")
    assert (loop.region.mask & fan).sum() / fan.sum() > 0.97


def test_region_nothing_explains_is_uncalibrated(tmp_path: Path) -> None:
    frames, _ = _fan_loop()
    region = us_region((300, 400, 420, 520), delta_cm=(0.04, 0.04))  # wholly outside the frame
    loop = read_echo(us_dicom(tmp_path / "lost.dcm", frames, [region]))
    assert loop.calibration.source == "uncalibrated" and loop.spacing_mm is None
    _warned(loop.calibration, "lost.dcm", "neither a resize nor a crop explains it")
    assert loop.region.source == "detected" and loop.frames.shape == (6, 80, 100)


def test_snap_scale_to_simple_fractions() -> None:
    assert snap_scale(0.4987) == 0.5 and snap_scale(0.6612) == pytest.approx(2 / 3)
    assert snap_scale(0.5731) == pytest.approx(4 / 7) and snap_scale(0.123) == 0.125


# --- several regions, units, deltas ---------------------------------------------------------------------


def test_multiple_regions_pick_the_one_holding_the_fan(tmp_path: Path) -> None:
    frames, fan = draw_fan_loop(6, (80, 200), (2.0, 150.0), 70.0)  # the fan sits in the right half
    regions = [
        us_region((0, 0, 80, 100), delta_cm=(0.08, 0.08)),  # an empty 2-D tissue region on the left
        us_region((0, 100, 80, 200), delta_cm=(0.03, 0.03)),
        us_region((60, 0, 80, 100), spatial=3, data=3, delta_cm=(1.0, 0.01), units=7),  # spectral Doppler
    ]
    loop = read_echo(us_dicom(tmp_path / "dual.dcm", frames, regions))
    assert loop.calibration.source == "us_regions" and loop.spacing_mm == pytest.approx((0.3, 0.3))
    assert loop.region.bbox == (0, 100, 80, 200) and loop.calibration.warnings == ()


@pytest.mark.parametrize(
    ("units", "deltas", "fragment"),
    [
        ((0, 0), (0.03, 0.03), "are not cm"),
        ((4, 4), (0.03, 0.03), "are not cm"),  # seconds
        ((3, 3), (0.0, 0.03), "not two positive finite sizes"),
        ((3, 3), (-0.03, 0.03), "not two positive finite sizes"),
        ((3, 3), (math.nan, 0.03), "not two positive finite sizes"),
        ((3, 3), (math.inf, 0.03), "not two positive finite sizes"),
        ((3, 3), (1e-30, 1e-30), "outside the plausible"),
        ((3, 3), (1e6, 1e6), "outside the plausible"),
        ((3, 3), (0.03, 30.0), "implausible anisotropy"),
    ],
)
def test_bad_region_units_or_deltas_are_uncalibrated_naming_the_tag(
    tmp_path: Path, units: tuple[int, int], deltas: tuple[float, float], fragment: str
) -> None:
    frames, _ = _fan_loop()
    region = us_region((0, 0, 80, 100), delta_cm=deltas, units=units[0])
    loop = read_echo(us_dicom(tmp_path / "bad.dcm", frames, [region]))
    assert loop.calibration.source == "uncalibrated" and loop.spacing_mm is None
    warning = _warned(loop.calibration, "bad.dcm", fragment)
    assert "PhysicalUnits" in warning or "PhysicalDelta" in warning
    assert loop.region.bbox == (0, 0, 80, 100) and loop.frames.shape == (6, 80, 100)


def test_non_square_deltas_are_used_and_warned(tmp_path: Path) -> None:
    frames, _ = _fan_loop()
    loop = read_echo(
        us_dicom(tmp_path / "aniso.dcm", frames, [us_region((0, 0, 80, 100), delta_cm=(0.03, 0.045))])
    )
    assert loop.calibration.source == "us_regions" and loop.spacing_mm == pytest.approx((0.3, 0.45))
    _warned(loop.calibration, "PhysicalDeltaY/X", "non-square")


@pytest.mark.parametrize(
    ("tags", "source", "spacing", "fragment"),
    [
        ({"PixelSpacing": [0.2, 0.2]}, "pixel_spacing", (0.2, 0.2), None),
        ({"ImagerPixelSpacing": [0.25, 0.25]}, "imager_pixel_spacing", (0.25, 0.25), None),
        ({"PixelSpacing": [0.2, 0.2], "ImagerPixelSpacing": [0.2, 0.2]}, "pixel_spacing", (0.2, 0.2), None),
        ({"PixelSpacing": [0.2, 0.2], "ImagerPixelSpacing": [0.4, 0.4]}, "uncalibrated", None, "disagree"),
        ({"PixelSpacing": ["inf", "0.2"]}, "uncalibrated", None, "PixelSpacing (inf, 0.2)"),
        ({"PixelSpacing": [1e7, 1e7]}, "uncalibrated", None, "outside the plausible"),
        ({"PixelSpacing": [1e-29, 1e-29]}, "uncalibrated", None, "outside the plausible"),
    ],
)
def test_pixel_spacing_only_when_consistent(
    tmp_path: Path, tags: dict, source: str, spacing: tuple | None, fragment: str | None
) -> None:
    frames, _ = _fan_loop()
    loop = read_echo(us_dicom(tmp_path / "ps.dcm", frames, **tags))
    assert loop.calibration.source == source and loop.spacing_mm == (
        pytest.approx(spacing) if spacing else None
    )
    if fragment:
        _warned(loop.calibration, "ps.dcm", fragment)


def test_region_in_other_units_falls_back_to_consistent_pixel_spacing(tmp_path: Path) -> None:
    frames, _ = _fan_loop()
    region = us_region((0, 0, 80, 100), units=0)
    loop = read_echo(us_dicom(tmp_path / "fb.dcm", frames, [region], PixelSpacing=[0.3, 0.3]))
    assert loop.calibration.source == "pixel_spacing" and loop.spacing_mm == (0.3, 0.3)
    _warned(loop.calibration, "fb.dcm", "are not cm")


def test_pixel_aspect_ratio_when_uncalibrated(tmp_path: Path) -> None:
    frames, _ = _fan_loop()
    assert read_echo(us_dicom(tmp_path / "a.dcm", frames)).calibration.aspect == 1.0  # DICOM: absent = 1:1
    loop = read_echo(us_dicom(tmp_path / "b.dcm", frames, PixelAspectRatio=[2, 1]))
    assert loop.calibration.aspect == 2.0
    loop = read_echo(us_dicom(tmp_path / "c.dcm", frames, PixelAspectRatio=[0, 1]))
    assert loop.calibration.aspect is None and _warned(loop.calibration, "c.dcm", "PixelAspectRatio")


def test_check_size_ranges() -> None:
    assert check_size([0.3, 0.3], "T") == ((0.3, 0.3), 1.0, None)
    assert check_size(["x", "1"], "T")[0] is None
    assert check_size([0.009, 0.009], "T")[0] is None and check_size([5.1, 5.1], "T")[0] is None


# --- colour, transfer syntaxes with a region ------------------------------------------------------------


def test_palette_colour_with_region(tmp_path: Path) -> None:
    frames, fan = _fan_loop()
    ramp = list(range(256))
    tags = {}
    for colour in ("Red", "Green", "Blue"):
        tags[f"{colour}PaletteColorLookupTableDescriptor"] = [256, 0, 8]
        tags[f"{colour}PaletteColorLookupTableData"] = bytes(ramp)
    region = us_region((0, 0, 80, 100), delta_cm=(0.05, 0.05))
    loop = read_echo(us_dicom(tmp_path / "pal.dcm", frames, [region], "PALETTE COLOR", **tags))
    assert np.array_equal(loop.frames, frames)
    assert loop.calibration.source == "us_regions" and loop.spacing_mm == pytest.approx((0.5, 0.5))


def test_ybr_rct_jpeg2000_with_region(tmp_path: Path) -> None:
    import pydicom
    from pydicom.uid import JPEG2000Lossless

    frames, _ = draw_fan_loop(3, (64, 64), (1.0, 32.0), 60.0)
    rgb = np.stack([frames, frames // 2, frames // 3], axis=-1).astype(np.uint8)
    path = us_dicom(tmp_path / "rct.dcm", rgb, [us_region((0, 0, 64, 64), delta_cm=(0.02, 0.02))], "RGB")
    ds = pydicom.dcmread(path)
    ds.compress(JPEG2000Lossless)
    ds.PhotometricInterpretation = "YBR_RCT"  # the codestream's reversible colour transform
    ds.save_as(path, enforce_file_format=True)
    loop = read_echo(path)
    r, g, b = (rgb[..., k].astype(np.int64) for k in range(3))
    luma = ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)
    assert np.array_equal(loop.frames, luma) and loop.spacing_mm == pytest.approx((0.2, 0.2))


def test_big_endian_sixteen_bit_with_region(tmp_path: Path) -> None:
    import pydicom
    from pydicom.uid import ExplicitVRBigEndian

    frames, _ = _fan_loop()
    stored = frames.astype(np.uint16) * 4  # 10 bits stored
    region = us_region((0, 0, 80, 100), delta_cm=(0.05, 0.05))
    path = us_dicom(tmp_path / "be.dcm", frames, [region], pixels=stored.astype(">u2").tobytes(), bits=10)
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    pydicom.dcmwrite(path, ds, implicit_vr=False, little_endian=False, force_encoding=True)
    loop = read_echo(path)
    assert np.abs(loop.frames.astype(int) - frames).max() <= 1
    assert loop.calibration.source == "us_regions" and loop.spacing_mm == pytest.approx((0.5, 0.5))


# --- NIfTI / MetaImage headers ---------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [math.nan, 0.0, math.inf, -0.3])
def test_nifti_bad_pixdim_is_uncalibrated_never_one_mm(tmp_path: Path, bad: float) -> None:
    frames, _ = _fan_loop()
    loop = read_echo(write_nifti_pixdim(tmp_path / "bad.nii", frames, (bad, 0.3)))
    assert loop.calibration.source == "uncalibrated" and loop.spacing_mm is None
    assert loop.calibration.aspect is None and loop.frames.shape == (6, 80, 100)
    _warned(loop.calibration, "bad.nii", "pixdim")


def test_nifti_good_pixdim_is_header(tmp_path: Path) -> None:
    frames, _ = _fan_loop()
    loop = read_echo(write_nifti_pixdim(tmp_path / "ok.nii", frames, (0.3, 0.3)))
    assert loop.calibration.source == "header" and loop.spacing_mm == pytest.approx((0.3, 0.3))


@pytest.mark.parametrize("suffix", [".mhd", ".mha"])
@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("ElementSpacing = -0.3 0.3 1", "ElementSpacing"),
        ("ElementSpacing = nan 0.3 1", "ElementSpacing"),  # SimpleITK alone refuses these three
        ("ElementSpacing = 0 0.3 1", "ElementSpacing"),
        ("ElementSpacing = inf 0.3 1", "ElementSpacing"),
        (None, "no ElementSpacing"),
        ("ElementSpacing = 0.3 5000 1", "implausible anisotropy"),
        ("ElementSpacing = 0.3 0.3 1", None),
    ],
)
def test_metaimage_spacing(tmp_path: Path, line: str | None, fragment: str | None, suffix: str) -> None:
    import re

    import SimpleITK as sitk

    frames, _ = _fan_loop()
    path = tmp_path / f"loop{suffix}"
    sitk.WriteImage(sitk.GetImageFromArray(frames), str(path))
    header = re.sub(
        rb"ElementSpacing = [^\n]*\n", b"" if line is None else line.encode() + b"\n", path.read_bytes()
    )
    path.write_bytes(header)
    loop = read_echo(path)
    assert np.array_equal(loop.frames, frames)
    if fragment is None:
        assert loop.calibration.source == "header" and loop.spacing_mm == pytest.approx((0.3, 0.3))
    else:
        assert loop.calibration.source == "uncalibrated" and loop.spacing_mm is None
        _warned(loop.calibration, f"loop{suffix}", fragment)


# --- the sector on a real-looking display ----------------------------------------------------------------


def _sector_scores(mask: np.ndarray, fan: np.ndarray) -> tuple[float, float]:
    return float((mask & ~fan).sum() / mask.sum()), float((mask & fan).sum() / fan.sum())


def test_sector_excludes_ecg_cursor_text_bar_dots_and_border() -> None:
    d = echo_display()
    region = region_from_frames(d.frames)
    outside, inside = _sector_scores(region.mask, d.fan)
    assert outside <= 0.10 and inside >= 0.90, (outside, inside)
    assert not (region.mask & d.ecg).any() and not (region.mask & d.text).any()
    assert region.source == "detected" and region.bbox == bbox_of(region.mask)
    # what the model sees: nothing outside the sector
    assert region.apply(d.frames)[:, ~region.mask].max() == 0
    # the temporal maximum alone (the old detector) runs down into the ECG strip
    old = detect_sector(d.frames.max(axis=0))
    assert old is not None and _sector_scores(old, d.fan)[0] > 0.10


def test_sector_survives_lossy_mp4(tmp_path: Path) -> None:
    d = echo_display()
    loop = read_echo(write_video(tmp_path / "display.mp4", d.frames, fps=30, codec="libx264"))
    outside, inside = _sector_scores(loop.region.mask, d.fan)
    assert outside <= 0.10 and inside >= 0.90, (outside, inside)
    assert loop.calibration.source == "uncalibrated" and loop.calibration.aspect == 1.0
    assert loop.calibration.warnings == ()


def test_odd_tag_values_never_refuse_the_file(tmp_path: Path) -> None:
    frames, _ = _fan_loop()
    region = us_region((0, 0, 80, 100), delta_cm=(0.03, 0.03), units=0)
    region.PhysicalDeltaX = -0.03  # other units and a negative delta: no size, and no aspect either
    loop = read_echo(us_dicom(tmp_path / "odd.dcm", frames, [region], PixelSpacing=0.3))
    assert loop.calibration.source == "uncalibrated" and loop.frames.shape == (6, 80, 100)
    assert loop.calibration.aspect is None
    _warned(loop.calibration, "odd.dcm", "PixelSpacing", "not two values")
    _warned(loop.calibration, "odd.dcm", "are not cm")


# --- any value in the calibration tags: a record, never an exception, never an implausible size --------

_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.sampled_from([0.0, -0.0, 1e-30, 1e30, 0.03, 0.05]),
)


@settings(max_examples=60, deadline=None)
@given(dy=_values, dx=_values, units=st.sampled_from([0, 3, 4]), spacing=st.tuples(_values, _values))
def test_any_calibration_values_give_a_checked_record(
    dy: float, dx: float, units: int, spacing: tuple
) -> None:
    from pydicom.dataset import Dataset

    from synthboost.data.imageio.calibration import PLAUSIBLE_MM, dicom_calibration

    ds = Dataset()
    ds.Rows, ds.Columns = SHAPE
    region = us_region((0, 0, *SHAPE), delta_cm=None, units=units)
    region.PhysicalDeltaY, region.PhysicalDeltaX = dy, dx
    ds.SequenceOfUltrasoundRegions = [region]
    ds.PixelSpacing = list(spacing)
    fan = np.zeros(SHAPE, bool)
    fan[5:60, 10:90] = True
    cal, rect = dicom_calibration(ds, Path("h.dcm"), fan)
    assert rect == (0, 0, *SHAPE)
    if cal.spacing_mm is None:
        assert cal.source == "uncalibrated"
        wrong = [v for v in (dy, dx) if not (math.isfinite(v) and 0.001 <= v <= 0.5)] or units != 3
        assert not wrong or cal.warnings, (dy, dx, units, cal)
    else:
        lo, hi = PLAUSIBLE_MM
        assert all(math.isfinite(v) and lo <= v <= hi for v in cal.spacing_mm), cal
        assert cal.source in ("us_regions", "pixel_spacing")


def test_video_sample_aspect_ratio_gives_the_pixel_aspect(tmp_path: Path) -> None:
    from fractions import Fraction

    import av

    path = tmp_path / "anamorphic.mp4"
    frames, _ = _fan_loop()
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = SHAPE[1], SHAPE[0], "yuv420p"
        stream.codec_context.sample_aspect_ratio = Fraction(2, 1)  # pixels twice as wide as tall
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="gray")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    cal = read_echo(path).calibration
    assert cal.source == "uncalibrated" and cal.aspect == 0.5
    _warned(cal, "anamorphic.mp4", "sample aspect ratio 2")
