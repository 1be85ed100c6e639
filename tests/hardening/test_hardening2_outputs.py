"""Issue 23, outputs: ``analyze --out`` never overwrites the user's files and a failed ``analyze`` or
``--export-space`` leaves nothing; ``--export-space`` never follows a link out of the run folder;
``check`` on malformed ``anns/*.json`` lists the problem instead of a traceback."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pytest
from hardening2_helpers import attack
from hardening_helpers import assert_unchanged, leftovers, one_line_error, tree_state

LOOPS = "patient0001"


@pytest.fixture(scope="module")
def loops(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of one patient's 2CH and 4CH half-sequences (NIfTI, with their _gt label files)."""
    from synthboost.data.phantom import generate_phantom

    root = tmp_path_factory.mktemp("cine")
    phantom = generate_phantom(root / "phantom", n_patients=1, seed=1, image_scale=0.3, sequences=True,
                               n_frames=6, n_test=0)  # fmt: skip
    return phantom / "database_nifti" / LOOPS


def _analyze(cli, loops: Path, out: Path):
    return cli("analyze", loops, "--ground-truth", "--video", "none", "--out", out)


# --- analyze --out -------------------------------------------------------------------------------


def test_analyze_refuses_a_folder_of_the_users_files(cli, loops, tmp_path) -> None:
    mine = tmp_path / "my_results"
    mine.mkdir()
    (mine / "report.html").write_text("<p>my own report</p>")
    (mine / "biplane.json").write_text('{"mine": true}')
    before = tree_state(mine)
    with attack("overwrite"):
        one_line_error(
            _analyze(cli, loops, mine), str(mine), "not a folder written by this synthboost command"
        )
        assert_unchanged(mine, before)


def test_analyze_refuses_to_write_over_its_inputs(cli, loops, tmp_path) -> None:
    inputs = Path(shutil.copytree(loops, tmp_path / "loops"))
    before = tree_state(inputs)
    with attack("overwrite"):
        one_line_error(_analyze(cli, inputs, inputs), str(inputs), "is the input")
        assert_unchanged(inputs, before)


def test_analyze_replaces_its_own_earlier_analysis(cli, loops, tmp_path) -> None:
    """Control: an analysis folder (analysis.json) is replaced, so a rerun works."""
    out = tmp_path / "analysis"
    assert _analyze(cli, loops, out).code == 0
    (out / "stale.txt").write_text("from an earlier run")
    assert _analyze(cli, loops, out).code == 0
    assert not (out / "stale.txt").exists() and (out / "report.html").is_file()
    summary = json.loads((out / f"{LOOPS}_2CH_half_sequence" / "summary.json").read_text())
    assert summary["n_frames"] == 6 and summary["environment"]["packages"]["numpy"]


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device", "report.html")


def test_failed_analyze_leaves_no_half_outputs(cli, loops, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("synthboost.cine.analysis.write_report", _disk_full)
    out = tmp_path / "analysis"
    with attack("overwrite"):
        one_line_error(_analyze(cli, loops, out), "No space left on device")
        assert not out.exists() and not leftovers(tmp_path)


def test_failed_analyze_keeps_the_previous_analysis(cli, loops, tmp_path, monkeypatch) -> None:
    out = tmp_path / "analysis"
    assert _analyze(cli, loops, out).code == 0
    before = tree_state(out)
    monkeypatch.setattr("synthboost.cine.analysis.write_report", _disk_full)
    with attack("overwrite"):
        one_line_error(_analyze(cli, loops, out), "No space left on device")
        assert_unchanged(out, before)
        assert not leftovers(tmp_path)


# --- --export-space --------------------------------------------------------------------------------


@pytest.fixture
def run(tiny_model: Path, tmp_path: Path) -> Path:
    run = tmp_path / "runs" / "clipseg_real_p2"
    shutil.copytree(tiny_model / "model", run / "model")
    (run / "run.json").write_text(json.dumps({"prompt": "p2", "loss": {"threshold": 0.4}}))
    (run / "result.json").write_text(
        json.dumps({"model": "clipseg", "strategy": "real", "best_val_dice": 0.5})
    )
    return run


def _export(cli, run: Path, out: Path):
    pytest.importorskip("gradio")
    return cli("app", "--model", run, "--export-space", out)


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "elsewhere" / "secret.txt"
    path.parent.mkdir()
    path.write_text("PRIVATE KEY do not publish")
    return path


def _link(path: Path, target: Path) -> Path:
    if path.exists():
        path.unlink()
    path.symlink_to(target)
    return path


LINKS = [
    ("model-readme", lambda run, s: _link(run / "model" / "README.md", s)),
    ("result-json", lambda run, s: _link(run / "result.json", s)),
    ("run-json", lambda run, s: _link(run / "run.json", s)),
    ("weights", lambda run, s: _link(run / "model" / "model.safetensors", _moved(run, s))),
    ("model-folder", lambda run, s: _link(run / "model", _moved_folder(run, s))),
]


def _moved(run: Path, secret: Path) -> Path:
    target = secret.parent / "model.safetensors"
    shutil.copyfile(run / "model" / "model.safetensors", target)
    return target


def _moved_folder(run: Path, secret: Path) -> Path:
    target = secret.parent / "model"
    shutil.move(run / "model", target)
    return target


@pytest.mark.parametrize("make", [b[1] for b in LINKS], ids=[b[0] for b in LINKS])
def test_export_space_never_follows_a_link_out_of_the_run(cli, run, secret, tmp_path, make) -> None:
    link = make(run, secret)
    out = tmp_path / "space"
    with attack("security"):
        one_line_error(_export(cli, run, out), str(link), "outside the exported folder")
        assert not out.exists() and not leftovers(tmp_path)


def test_export_space_accepts_a_link_inside_the_run(cli, run, tmp_path) -> None:
    """Control: a link that stays inside the run folder is exported (its content is the run's)."""
    (run / "notes.md").write_text("# card\n")
    _link(run / "model" / "README.md", run / "notes.md")
    out = tmp_path / "space"
    assert _export(cli, run, out).code == 0
    assert (out / "clipseg_real_p2" / "model" / "README.md").read_text() == "# card\n"


def test_failed_export_space_leaves_no_folder(cli, run, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("synthboost.app.space._copy_model", _disk_full)
    out = tmp_path / "space"
    with attack("overwrite"):
        one_line_error(_export(cli, run, out), "No space left on device")
        assert not out.exists() and not leftovers(tmp_path)


# --- check on malformed anns/*.json ----------------------------------------------------------------


def _anns(root: Path, change) -> Path:
    path = root / "anns" / "train.json"
    entries = json.loads(path.read_text())
    path.write_text(json.dumps(change(entries)))
    return path


ANNS = [
    ("entry-string", lambda e: ["patient0001_2CH_ED.png", *e[1:]], "entry 0: not an object"),
    ("mask-name-null", lambda e: [{**e[0], "mask_name": None}, *e[1:]], "entry 0: mask_name must be"),
    ("img-name-number", lambda e: [{**e[0], "img_name": 3}, *e[1:]], "entry 0: img_name must be"),
    ("group-list", lambda e: [{**e[0], "group": ["train"]}, *e[1:]], "entry 0: group must be"),
    ("prompts-list", lambda e: [{**e[0], "prompts": []}, *e[1:]], "entry 0: prompts must be an object"),
    ("anns-object", lambda e: {"entries": e}, "expected a list of task entries"),
]


@pytest.mark.parametrize(("change", "fragment"), [a[1:] for a in ANNS], ids=[a[0] for a in ANNS])
def test_check_lists_malformed_anns_entries(cli, tiny_root, tmp_path, change, fragment) -> None:
    root = Path(shutil.copytree(tiny_root, tmp_path / "tiny"))
    path = _anns(root, change)
    result = cli("check", root)
    with attack("traceback"):
        assert result.code == 1 and "Traceback" not in result.err, result.err
        assert f"{path}: {fragment}" in result.out, result.out
