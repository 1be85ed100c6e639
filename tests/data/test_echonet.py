"""prepare echonet on a fixture in EchoNet-Dynamic's released layout (AVIs written with PyAV)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from echo_fixtures import sector_frames, write_video
from typer.testing import CliRunner

from synthboost.cli import app
from synthboost.data.imageio.medical import read_png
from synthboost.data.processed import check_dataset, read_meta
from synthboost.data.sources.echonet import fill_polygon, list_videos, prepare_echonet, tracing_polygon

SIZE, N_FRAMES = 112, 12
VIDEOS = {  # name: (split, EF, ESV, EDV, ED frame, ES frame, rows listed ES first)
    "0X1A": ("TRAIN", 55.0, 40.0, 88.9, 2, 9, False),
    "0X2B": ("VAL", 35.5, 60.0, 93.0, 10, 4, True),
    "0X3C": ("TEST", 62.1, 30.0, 79.2, 0, 6, False),
}


def chords(half_width: float, n: int = 20) -> list[list[float]]:
    """Long axis then ``n`` chords of an elliptic cavity (centre x 56, apex y 20, base y 90)."""
    rows = [[56.0, 20.0, 56.0, 90.0]]
    for y in np.linspace(22.0, 88.0, n):
        w = half_width * np.sqrt(max(0.0, 1 - ((y - 55.0) / 35.0) ** 2))
        rows.append([56.0 - w, float(y), 56.0 + w, float(y)])
    return rows


def write_echonet(root: Path, untraced: bool = True) -> Path:
    (root / "Videos").mkdir(parents=True)
    with (root / "FileList.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            ["FileName", "EF", "ESV", "EDV", "FrameHeight", "FrameWidth", "FPS", "NumberOfFrames", "Split"]
        )
        for i, (name, (split, ef, esv, edv, *_)) in enumerate(VIDEOS.items()):
            w.writerow([name, ef, esv, edv, SIZE, SIZE, 50, N_FRAMES, split])
            frames, _ = sector_frames(N_FRAMES, (SIZE, SIZE), seed=i)
            frames[:, 0, 0] = np.arange(N_FRAMES) * 20  # each frame knows its index
            write_video(root / "Videos" / f"{name}.avi", frames, fps=50)
        if untraced:
            w.writerow(["0X4D", 50, 40, 80, SIZE, SIZE, 50, N_FRAMES, "TRAIN"])  # no tracings
            w.writerow(["0X5E", 50, 40, 80, SIZE, SIZE, 50, N_FRAMES, "TRAIN"])  # traced beyond its end
    with (root / "VolumeTracings.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["FileName", "X1", "Y1", "X2", "Y2", "Frame"])
        for name, (*_, ed, es, es_first) in VIDEOS.items():
            order = [(es, 12.0), (ed, 18.0)] if es_first else [(ed, 18.0), (es, 12.0)]
            for frame, half_width in order:
                for row in chords(half_width):
                    w.writerow([f"{name}.avi", *row, frame])
        if untraced:
            for frame, half_width in ((1, 18.0), (N_FRAMES + 3, 12.0)):
                for row in chords(half_width):
                    w.writerow(["0X5E.avi", *row, frame])
    return root


@pytest.fixture(scope="module")
def echonet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    raw = write_echonet(tmp_path_factory.mktemp("echonet") / "EchoNet-Dynamic")
    out = raw.parent / "processed"
    result = CliRunner().invoke(app, ["prepare", "echonet", str(raw), str(out)])
    assert result.exit_code == 0, result.output
    return raw, out


def official_mask(chords_: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The official loader's mask derived independently of skimage: the polygon of the chords' ends with
    vertices rounded to whole pixels; a pixel centre belongs to it when inside (even-odd rule) or on an edge."""
    ends = np.asarray(chords_, np.float64)[1:]
    v = np.rint(np.concatenate([ends[:, 0:2], ends[::-1, 2:4]]))
    y, x = np.mgrid[: shape[0], : shape[1]]
    inside, edge = np.zeros(shape, bool), np.zeros(shape, bool)
    for (x0, y0), (x1, y1) in zip(v, np.roll(v, -1, axis=0), strict=True):
        on_line = (x1 - x0) * (y - y0) - (y1 - y0) * (x - x0) == 0
        in_box = (np.minimum(x0, x1) <= x) & (x <= np.maximum(x0, x1))
        edge |= on_line & in_box & (np.minimum(y0, y1) <= y) & (y <= np.maximum(y0, y1))
        if y0 != y1:
            inside ^= ((y0 > y) != (y1 > y)) & (x < x0 + (y - y0) * (x1 - x0) / (y1 - y0))
    return inside | edge


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2 * float((a & b).sum()) / float(a.sum() + b.sum())


def test_polygon_fill_matches_the_ellipse() -> None:
    mask = fill_polygon(tracing_polygon(np.asarray(chords(18.0))), (SIZE, SIZE))
    assert mask[55, 56] and mask[25, 56] and not mask[55, 80] and not mask[10, 56]
    assert mask.sum() == pytest.approx(np.pi * 18 * 35, rel=0.06)  # the polygon is inscribed in the ellipse


def test_processed_dataset_is_valid_with_lv_only(echonet: tuple[Path, Path]) -> None:
    raw, out = echonet
    assert check_dataset(out) == []
    info = json.loads((out / "dataset.json").read_text())
    assert info["source"] == "echonet" and info["labels"] == {"1": "lv"} and info["image_size"] == SIZE
    assert info["extra"]["left_out"] == {
        "0X4D": "no tracings",
        "0X5E": f"traced frame {N_FRAMES + 3} beyond NumberOfFrames {N_FRAMES}",
    }
    assert not (out / "masks" / "train" / "mask_2").exists()
    rows = {r["name"]: r for r in read_meta(out)}
    assert sorted(rows) == sorted(f"{n}_4CH_{p}" for n in VIDEOS for p in ("ED", "ES"))
    for name, (split, ef, esv, edv, ed, es, es_first) in VIDEOS.items():
        r_ed, r_es = rows[f"{name}_4CH_ED"], rows[f"{name}_4CH_ES"]
        assert r_ed["split"] == split.lower() and r_ed["group"] == ("test" if split == "TEST" else "train")
        # official rule: the last-listed traced frame is ED, whatever its area
        assert (r_ed["frame"], r_es["frame"]) == ((ed, es) if es_first else (es, ed))
        assert (r_ed["lv_ef"], r_ed["lv_esv"], r_ed["lv_edv"]) == (ef, esv, edv)
        assert r_ed["sex"] is None and r_ed["age"] is None and r_ed["spacing_row_mm"] is None
        group = r_ed["group"]
        image = read_png(out / "images" / group / f"{name}_4CH_ED.png")
        assert image[0, 0] == r_ed["frame"] * 20  # the traced frame, not another
        lv_ed = read_png(out / "labels_native" / group / f"{name}_4CH_ED.png")
        lv_es = read_png(out / "labels_native" / group / f"{name}_4CH_ES.png")
        assert set(np.unique(lv_ed)) == {0, 1} and lv_es.sum() > 0
        assert (lv_ed.sum() > lv_es.sum()) == es_first
    assert info["extra"]["ed_es_disagree"] == [
        "0X1A",
        "0X3C",
    ]  # listed ED first: official and area rules differ
    assert "official loader" in info["extra"]["ed_es_rule"]


def test_masks_are_the_official_loaders_on_every_traced_frame(echonet: tuple[Path, Path]) -> None:
    raw, out = echonet
    rows = {r["name"]: r for r in read_meta(out)}
    dices, old_dices = [], []
    for name, (*_, es_first) in VIDEOS.items():
        widths = (
            {"ED": 18.0, "ES": 12.0} if es_first else {"ED": 12.0, "ES": 18.0}
        )  # official: last-listed is ED
        for phase, half_width in widths.items():
            group = rows[f"{name}_4CH_{phase}"]["group"]
            got = read_png(out / "labels_native" / group / f"{name}_4CH_{phase}.png")
            want = official_mask(chords(half_width), (SIZE, SIZE))
            dices.append(dice(got == 1, want))
            vertices = tracing_polygon(np.asarray(chords(half_width)))
            from skimage.draw import polygon  # the previous reader: sub-pixel polygon at pixel centres

            old = np.zeros((SIZE, SIZE), bool)
            old[polygon(vertices[:, 1], vertices[:, 0], (SIZE, SIZE))] = True
            old_dices.append(dice(old, want))
    assert dices == [1.0] * 6
    assert max(old_dices) < 0.99  # the sub-pixel fill was smaller on every frame


def test_area_rule_on_request(tmp_path: Path) -> None:
    raw = write_echonet(tmp_path / "e", untraced=False)
    out = tmp_path / "area"
    result = CliRunner().invoke(app, ["prepare", "echonet", str(raw), str(out), "--ed-es", "area"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in read_meta(out)}
    for name, (*_, ed, es, _) in VIDEOS.items():
        assert (rows[f"{name}_4CH_ED"]["frame"], rows[f"{name}_4CH_ES"]["frame"]) == (ed, es)
    info = json.loads((out / "dataset.json").read_text())
    assert info["extra"]["ed_es_rule"] == "larger traced LV area is ED"
    assert info["extra"]["ed_es_disagree"] == ["0X1A", "0X3C"]
    bad = CliRunner().invoke(app, ["prepare", "echonet", str(raw), str(tmp_path / "x"), "--ed-es", "size"])
    assert isinstance(bad.exception, ValueError) and "--ed-es 'size'" in str(bad.exception)


def test_prompts_hold_only_what_is_known(echonet: tuple[Path, Path]) -> None:
    _, out = echonet
    entries = json.loads((out / "anns" / "test.json").read_text())
    assert {e["structure"] for e in entries} == {"lv"} and len(entries) == 2
    p7 = entries[0]["prompts"]["p7"][0]
    assert "four-chamber view" in p7 and "cycle" in p7 and "year-old" not in p7 and "quality" not in p7


def test_layout_errors_name_the_file(tmp_path: Path) -> None:
    raw = write_echonet(tmp_path / "e", untraced=False)
    with (raw / "VolumeTracings.csv").open("a") as f:
        f.write("0X9Z.avi,1,2,3,4,5\n")
    with pytest.raises(ValueError, match=r"VolumeTracings\.csv: tracings of videos not in FileList\.csv"):
        list_videos(raw)
    raw = write_echonet(tmp_path / "f", untraced=False)
    (raw / "Videos" / "0X2B.avi").unlink()
    with pytest.raises(FileNotFoundError, match=r"0X2B\.avi: video listed in FileList\.csv not found"):
        list_videos(raw)
    with pytest.raises(FileNotFoundError, match="FileList.csv: not found"):
        prepare_echonet(tmp_path, tmp_path / "out")


def test_evaluate_without_spacing_leaves_mm_empty(echonet: tuple[Path, Path], tmp_path: Path) -> None:
    from synthboost.evaluation.per_image import evaluate
    from synthboost.evaluation.predictions import PredictionWriter

    _, out = echonet
    info = {"run": "r", "dataset": "e", "split": "test", "prompt_level": "p3", "threshold": 0.5, "model": "m"}
    with PredictionWriter(tmp_path / "pred", info) as w:
        for phase in ("ED", "ES"):
            name = f"0X3C_4CH_{phase}"
            grid = read_png(out / "masks" / "test" / "mask_1" / f"{name}_gt.png") > 0
            w.add("test", name, 1, grid, read_png(out / "labels_native" / "test" / f"{name}.png") == 1)
    df = evaluate(tmp_path / "pred", out)
    assert df["dice"].tolist() == [100.0, 100.0] and df["hd95_mm"].isna().all()


@pytest.mark.slow
def test_echonet_dataset_trains(echonet: tuple[Path, Path], tmp_path: Path) -> None:
    from synthboost.training.config import load_config
    from synthboost.training.run import train

    _, out = echonet
    sets = {"data.root": str(out), "data.batch_size": "2", "data.prompt": "p3", "trainer.max_epochs": "1",
            "trainer.min_epochs": "1", "trainer.accelerator": "cpu", "trainer.progress_bar": "false"}  # fmt: skip
    cfg = load_config("configs/experiment/demo_tiny_clipseg.yaml", [f"{k}={v}" for k, v in sets.items()])
    run = train(cfg, tmp_path / "run")
    assert (run / "DONE").is_file()


def test_evaluate_echonet_format_on_a_hand_made_analysis(tmp_path: Path) -> None:
    from synthboost.data.imageio.medical import write_medical
    from synthboost.data.sources.echonet import ed_es_masks
    from synthboost.evaluation.echonet_format import echonet_summary

    raw = write_echonet(tmp_path / "e", untraced=False)
    videos = {v.name: v for v in list_videos(raw)[0]}
    analysis = tmp_path / "analysis"
    offsets = {"0X1A": 2.0, "0X2B": -4.0, "0X3C": 6.0}  # EF errors (points)
    for name, err in offsets.items():
        labels = np.zeros((N_FRAMES, SIZE, SIZE), np.uint8)
        for frame, mask in ed_es_masks(videos[name], (SIZE, SIZE)).values():
            labels[frame][mask] = 1
        if name == "0X3C":  # ES without its upper rows: P ⊂ G, so Dice = 2|P| / (|P| + |G|)
            frame, mask = ed_es_masks(videos[name], (SIZE, SIZE))["ES"]
            rows = np.flatnonzero(mask.any(axis=1))
            labels[frame][: rows[len(rows) // 2]] = 0
            kept = labels[frame] == 1
            expected_es = 200 * kept.sum() / (kept.sum() + mask.sum())
        (analysis / name).mkdir(parents=True)
        write_medical(analysis / name / "labels.nii.gz", labels, (1.0, 1.0))
        summary = {"ef_percent": videos[name].ef + err, "model": "m", "prompt_level": "p3"}
        (analysis / name / "summary.json").write_text(json.dumps(summary))
    (analysis / "analysis.json").write_text(json.dumps({"version": 1, "loops": list(offsets)}))
    out = tmp_path / "echonet.csv"
    res = CliRunner().invoke(
        app, ["evaluate", str(analysis), str(raw), "--format", "echonet", "-o", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert "model m · prompt p3" in res.output and "MAE 4.00" in res.output
    import pandas as pd

    df = pd.read_csv(out)
    s = echonet_summary(df)
    truth = np.array([videos[n].ef for n in offsets])
    errors = np.array(list(offsets.values()))
    assert s["ef_mae"] == pytest.approx(4.0) and s["ef_rmse"] == pytest.approx(np.sqrt(56 / 3))
    assert s["ef_r2"] == pytest.approx(1 - 56 / np.sum((truth - truth.mean()) ** 2))
    assert (errors == df["ef_error"].round(6).to_numpy()).all()
    assert df["dice_lv_ed"].tolist() == [100.0] * 3
    assert df["dice_lv_es"].tolist()[:2] == [100.0, 100.0]
    assert df["dice_lv_es"].iloc[2] == pytest.approx(expected_es, abs=1e-3)


def test_a_video_traced_at_three_frames_keeps_the_two_the_official_loader_reads(tmp_path: Path) -> None:
    raw = write_echonet(tmp_path / "e", untraced=False)
    with (raw / "VolumeTracings.csv").open("a", newline="") as f:
        w = csv.writer(f)
        for row in chords(15.0):  # 0X1A is listed ED (2) then ES (9); a third traced frame comes last
            w.writerow(["0X1A.avi", *row, 5])
        for row in chords(15.0):  # and 0X6F is traced at one frame only
            w.writerow(["0X6F.avi", *row, 3])
    with (raw / "FileList.csv").open("a", newline="") as f:
        csv.writer(f).writerow(["0X6F", 50, 40, 80, SIZE, SIZE, 50, N_FRAMES, "TRAIN"])
    for rule, (ed, es) in (
        ("official", (5, 2)),
        ("area", (2, 5)),
    ):  # official: last-listed ED, first-listed ES
        out = tmp_path / rule
        result = CliRunner().invoke(app, ["prepare", "echonet", str(raw), str(out), "--ed-es", rule])
        assert result.exit_code == 0, result.output
        rows = {r["name"]: r for r in read_meta(out)}
        assert (rows["0X1A_4CH_ED"]["frame"], rows["0X1A_4CH_ES"]["frame"]) == (ed, es)
        info = json.loads((out / "dataset.json").read_text())
        assert info["extra"]["left_out"] == {"0X6F": "tracings at 1 frame [3] (ED and ES need 2)"}
        said = [w for w in info["extra"]["warnings"] if "0X1A: tracings at 3 frames [2, 9, 5]" in w]
        assert len(said) == 1 and "first- and last-listed [2, 5] are used" in said[0]
