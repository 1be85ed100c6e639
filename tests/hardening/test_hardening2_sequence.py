"""Issue 23, sequence ``evaluate`` on a malformed analysis folder: one line naming the file and the key,
never a traceback; any JSON in ``summary.json`` either scores or gives one clear ``ValueError``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hardening2_helpers import attack, edit_json
from hardening_helpers import one_line_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthboost.evaluation.sequence import evaluate_sequences

LOOP = "patient0001_2CH_half_sequence"


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``(phantom root, analysis folder)``: one patient's two half-sequences measured on their truth."""
    from synthboost.cine.analysis import analyze
    from synthboost.data.phantom import generate_phantom

    root = tmp_path_factory.mktemp("seq")
    phantom = generate_phantom(root / "phantom", n_patients=1, seed=1, image_scale=0.3, sequences=True,
                               n_frames=8, n_test=0)  # fmt: skip
    analyze(
        phantom / "database_nifti" / "patient0001", out=root / "analysis", ground_truth=True, video="none"
    )
    return phantom, root / "analysis"


@pytest.fixture
def folder(analysed: tuple[Path, Path], tmp_path: Path) -> Path:
    return Path(shutil.copytree(analysed[1], tmp_path / "analysis"))


def _summary(folder: Path, **changes) -> Path:
    return edit_json(folder / LOOP / "summary.json", **changes)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _drop(path: Path, key: str) -> Path:
    data = json.loads(path.read_text())
    del data[key]
    path.write_text(json.dumps(data))
    return path


#: (id, corrupt(folder) -> the file the message must name, fragment naming the key or problem)
BAD = [
    ("summary-list", lambda f: _write(f / LOOP / "summary.json", "[1, 2]"), "expected an object"),
    ("summary-string", lambda f: _write(f / LOOP / "summary.json", '"x"'), "expected an object"),
    ("summary-no-view", lambda f: _drop(f / LOOP / "summary.json", "view"), "missing keys ['view']"),
    ("summary-no-ed", lambda f: _drop(f / LOOP / "summary.json", "ed_frames"), "missing keys ['ed_frames']"),
    ("n-frames-text", lambda f: _summary(f, n_frames="eight"), "n_frames must be a positive integer"),
    ("ed-frames-text", lambda f: _summary(f, ed_frames=["0"]), "ed_frames must be a list of frame numbers"),
    ("es-frames-string", lambda f: _summary(f, es_frames="7"), "es_frames must be a list of frame numbers"),
    ("es-outside", lambda f: _summary(f, es_frames=[40]), "es_frames [40] outside"),
    ("ef-text", lambda f: _summary(f, ef_percent="55"), "ef_percent must be a finite number"),
    ("view-3ch", lambda f: _summary(f, view="3CH"), "view must be one of"),
    ("frames-csv-list", lambda f: _write(f / LOOP / "frames.csv", "[1, 2, 3]\n"), "missing columns"),
    ("frames-csv-text", lambda f: _frames_text(f), "column lv_area: 'abc' is not a number"),
    ("frames-csv-short", lambda f: _frames_short(f), "rows but summary.json says n_frames"),
    ("marker-list", lambda f: _write(f / "analysis.json", "[]"), "expected an object"),
    ("marker-loops-text", lambda f: edit_json(f / "analysis.json", loops="x"), "loops must be a list"),
    ("marker-no-loops", lambda f: _drop(f / "analysis.json", "loops"), "missing keys ['loops']"),
    ("marker-escape", lambda f: edit_json(f / "analysis.json", loops=["../x"]), "not folder names"),
    ("biplane-list", lambda f: _write(f / "biplane.json", "[]"), "expected an object"),
    (
        "biplane-ef-text",
        lambda f: edit_json(f / "biplane.json", patient0001={"ef_percent": "x"}),
        "ef_percent",
    ),
]


def _frames_text(folder: Path) -> Path:
    path = folder / LOOP / "frames.csv"
    lines = path.read_text().splitlines()
    head = lines[0].split(",")
    cells = lines[1].split(",")
    cells[head.index("lv_area")] = "abc"
    lines[1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    return path


def _frames_short(folder: Path) -> Path:
    path = folder / LOOP / "frames.csv"
    path.write_text("\n".join(path.read_text().splitlines()[:-2]) + "\n")
    return path


def test_the_intact_folder_scores(analysed) -> None:
    """Control: the untouched analysis scores exactly on its own truth."""
    phantom, folder = analysed
    df = evaluate_sequences(folder, phantom)
    loops = df[df["view"] != "biplane"]
    assert len(loops) == 2 and (loops["dice_mean"] == 100).all() and (loops["ed_error"] == 0).all()


@pytest.mark.parametrize(("corrupt", "fragment"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_malformed_analysis_folder_is_one_line(cli, analysed, folder, tmp_path, corrupt, fragment) -> None:
    named = corrupt(folder)
    with attack("traceback"):
        one_line_error(
            cli("evaluate", folder, analysed[0], "--out", tmp_path / "seq.csv"), str(named), fragment
        )
    assert not (tmp_path / "seq.csv").exists()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 50) | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
KEYS = st.sampled_from(["view", "source", "n_frames", "ed_frames", "es_frames", "ef_percent", "patient"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.dictionaries(KEYS, JSON, max_size=3) | JSON)
def test_any_summary_json_scores_or_gives_one_value_error(analysed, folder, changes) -> None:
    """Property: ``summary.json`` replaced by any JSON, or with any keys set to any JSON, either scores
    or raises one ValueError/FileNotFoundError naming a file."""
    phantom, intact = analysed
    path = folder / LOOP / "summary.json"
    data = json.loads((intact / LOOP / "summary.json").read_text())
    path.write_text(json.dumps({**data, **changes} if isinstance(changes, dict) else changes))
    try:
        df = evaluate_sequences(folder, phantom)
    except (ValueError, FileNotFoundError) as err:
        assert str(folder) in str(err) or str(phantom) in str(err), err
        return
    assert len(df[df["view"] != "biplane"]) == 2


CSV_CELLS = st.sampled_from(["", "0", "1", "2.5", "nan", "inf", "-3", "abc", "1e999", '"', "\x00", "7,8"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.lists(CSV_CELLS, min_size=1, max_size=5), max_size=10),
    header=st.sampled_from(["frame,time_s,lv_area,is_ED,is_ES", "frame,lv_area", "", "[1, 2]"]),
)
def test_any_frames_csv_scores_or_gives_one_value_error(analysed, folder, rows, header) -> None:
    """Property: ``frames.csv`` replaced by any table of odd cells either scores or raises one error
    naming it."""
    phantom, _ = analysed
    path = folder / LOOP / "frames.csv"
    path.write_text("\n".join([header, *(",".join(r) for r in rows)]) + "\n")
    try:
        evaluate_sequences(folder, phantom)
    except (ValueError, FileNotFoundError) as err:
        assert str(path) in str(err), err
