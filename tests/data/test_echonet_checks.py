"""Implausible FileList.csv rows and tracings: a warning naming the file and line, or the video left out."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import pytest
from test_echonet import write_echonet

from synthboost.data.sources.echonet import list_videos


def edit_filelist(root: Path, name: str, **values: str) -> None:
    path = root / "FileList.csv"
    rows = list(csv.DictReader(path.open(newline="")))
    for row in rows:
        if row["FileName"] == name:
            row.update(values)
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def edit_tracings(root: Path, name: str, frame: int, dx: float = 0.0, scale: float = 1.0) -> None:
    path = root / "VolumeTracings.csv"
    rows = list(csv.DictReader(path.open(newline="")))
    for row in rows:
        if row["FileName"] == f"{name}.avi" and int(row["Frame"]) == frame:
            for k in ("X1", "X2"):
                row[k] = repr(float(row[k]) * scale + dx)
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def checked(root: Path, caplog: pytest.LogCaptureFixture) -> tuple[list, dict, list[str]]:
    warnings: list[str] = []
    with caplog.at_level(logging.WARNING, logger="synthboost.data.sources.echonet"):
        videos, left_out = list_videos(root, warnings)
    assert all(w in caplog.text for w in warnings)  # every warning is logged too
    return videos, left_out, warnings


@pytest.mark.parametrize(("values", "message"), [
    ({"EF": "250"}, "line 2: EF 250 % is outside [0, 100]"),
    ({"EF": "-40"}, "line 2: EF -40 % is outside [0, 100]"),
    ({"ESV": "95", "EDV": "88.9"}, "line 2: ESV 95 mL is larger than EDV 88.9 mL"),
    ({"NumberOfFrames": "inf"}, "line 2: NumberOfFrames 'inf' is not a frame count in [1, 10000]"),
    ({"NumberOfFrames": "1e12"}, "line 2: NumberOfFrames '1e12' is not a frame count"),
])  # fmt: skip
def test_implausible_rows_warn_with_file_and_line(tmp_path, caplog, values, message):
    root = write_echonet(tmp_path / "e", untraced=False)
    edit_filelist(root, "0X1A", **values)
    videos, left_out, warnings = checked(root, caplog)
    assert len(videos) == 3 and not left_out
    assert [w for w in warnings if message in w and "FileList.csv" in w], warnings
    assert len(warnings) == 1


def test_duplicate_rows_warn_and_the_first_is_used(tmp_path, caplog):
    root = write_echonet(tmp_path / "e", untraced=False)
    with (root / "FileList.csv").open("a", newline="") as f:
        csv.writer(f).writerow(["0X2B", 99, 1, 2, 112, 112, 50, 12, "TRAIN"])
    videos, _, warnings = checked(root, caplog)
    assert [v.name for v in videos] == ["0X1A", "0X2B", "0X3C"]
    assert videos[1].ef == 35.5 and videos[1].split == "val"
    assert warnings == [f"{root / 'FileList.csv'}: line 5: duplicate FileName '0X2B' (first on line 3); "
                        "the first row is used"]  # fmt: skip


def test_tracings_outside_the_frame_leave_the_video_out_or_warn(tmp_path, caplog):
    root = write_echonet(tmp_path / "e", untraced=False)
    edit_tracings(root, "0X1A", 2, dx=500.0)  # entirely right of the 112-px frame: empty mask
    edit_tracings(root, "0X2B", 4, scale=1e300)  # absurd coordinates
    edit_tracings(root, "0X3C", 0, dx=50.0)  # the right walls cross the frame's edge
    videos, left_out, warnings = checked(root, caplog)
    assert [v.name for v in videos] == ["0X3C"]
    assert (
        left_out["0X1A"]
        == "tracing at frame 2: the tracing covers no pixel of the 112×112 frame (empty mask)"
    )
    assert left_out["0X2B"].startswith("tracing at frame 4: coordinates up to 6.8e+301 px, far outside")
    assert (
        len(warnings) == 1
        and f"{root / 'VolumeTracings.csv'}: 0X3C frame 0:" in warnings[0]
        and "outside the 112×112 frame" in warnings[0]
    )


def test_plausible_fixture_gives_no_warning(tmp_path, caplog):
    _, _, warnings = checked(write_echonet(tmp_path / "e", untraced=False), caplog)
    assert warnings == []
