"""Interrupted writes: a killed ``prepare --force`` keeps the old dataset complete, its leftovers are swept
by the next run, a failing run leaves nothing behind, and outputs follow the umask."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hardening_helpers import assert_unchanged, leftovers, one_line_error, raw_camus, tree_state

from synthboost.utils.files import atomic_dir

KILL_AT_THIRD_RECORD = """
import os, signal, sys
import synthboost.data.writer as prepare
real, count = prepare.write_record, [0]
def write_record(*args, **kwargs):
    count[0] += 1
    if count[0] == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)
prepare.write_record = write_record
from synthboost.cli import main
sys.argv = ["synthboost", *sys.argv[1:]]
main()
"""


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    return raw_camus(tmp_path / "RAW", n_training=2, n_testing=1)


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_killed_prepare_force_keeps_the_old_dataset(cli, raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "processed"
    assert cli("prepare", "camus", raw, out, "--image-size", "32").code == 0
    before = tree_state(out)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path("src").resolve()), str(Path("tests"))])}
    proc = subprocess.run(
        [sys.executable, "-c", KILL_AT_THIRD_RECORD, "prepare", "camus", str(raw), str(out), "--force",
         "--image-size", "48"], env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert_unchanged(out, before)  # complete, and still the old one
    assert leftovers(tmp_path)  # the killed run's temporary folder
    assert cli("prepare", "camus", raw, out, "--image-size", "48", "--force").code == 0
    assert not leftovers(tmp_path) and tree_state(out) != before


def test_kill_between_the_renames_restores_the_old_folder(tmp_path: Path) -> None:
    out = tmp_path / "processed"
    with atomic_dir(out) as tmp:
        (tmp / "dataset.json").write_text("{}")
    pid = dead_pid()
    out.rename(tmp_path / f".processed.old-{pid}")  # moved aside, then killed before the new one moved in
    (tmp_path / f".processed.tmp-{pid}-abc").mkdir()
    alive = tmp_path / f".processed.tmp-{os.getpid()}-xyz"  # a live writer's folder is never touched
    alive.mkdir()
    with pytest.raises(FileExistsError, match="already exists"):
        with atomic_dir(out):
            pass
    assert (out / "dataset.json").read_text() == "{}"
    assert leftovers(tmp_path) == [alive.name]


def test_failing_prepare_leaves_nothing_and_keeps_the_old(cli, raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "processed"
    assert cli("prepare", "camus", raw, out, "--image-size", "32").code == 0
    before = tree_state(out)
    cfg = raw / "testing" / "patient0001" / "Info_4CH.cfg"
    cfg.write_text(re.sub(r"Age: \d+", "Age: nan", cfg.read_text()))
    one_line_error(cli("prepare", "camus", raw, out, "--force"), f"{cfg}: Age is not a finite number: 'nan'")
    assert_unchanged(out, before)
    assert not leftovers(tmp_path)


@pytest.mark.parametrize(("umask", "dir_mode", "file_mode"), [(0o022, 0o755, 0o644), (0o027, 0o750, 0o640)])
def test_outputs_follow_the_umask(cli, raw: Path, tmp_path: Path, umask: int, dir_mode: int, file_mode: int):
    old = os.umask(umask)
    try:
        out = tmp_path / "processed"
        assert cli("prepare", "camus", raw, out, "--image-size", "32").code == 0
        assert cli("prompts", out).code == 0
    finally:
        os.umask(old)
    paths = [out, *out.rglob("*")]
    modes = {p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in paths}
    wrong = {k: oct(m) for k, m in modes.items() if m != (dir_mode if (tmp_path / k).is_dir() else file_mode)}
    assert not wrong, wrong
    assert {"processed/dataset.json", "processed/meta.csv"} <= set(modes) and any("anns" in k for k in modes)


def test_prompts_are_written_before_the_dataset_appears(cli, raw: Path, tmp_path: Path, monkeypatch) -> None:
    import synthboost.prompts.annotate as annotate

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the user stops prepare while the prompts are written

    out = tmp_path / "processed"
    monkeypatch.setattr(annotate, "write_annotations", killed)
    assert cli("prepare", "camus", raw, out, "--image-size", "32").code == 130  # interrupted
    assert not out.exists() and not leftovers(tmp_path)  # no dataset without its prompts
    monkeypatch.undo()
    assert cli("prepare", "camus", raw, out, "--image-size", "32").code == 0
    assert sorted(p.name for p in (out / "anns").iterdir()) == ["test.json", "train.json", "val.json"]
