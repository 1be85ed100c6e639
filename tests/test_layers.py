"""The layers of docs/architecture.md hold, and `lint-imports` would fail CI on each knot the
[house] issue measured on 8076882 (four two-file circles, two imports running up a stage)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")

#: (file that gets the import, the import): each brings back one knot of 8076882.
KNOTS = {
    "phantom writer <-> cine": ("data/phantom/cine.py", "from synthboost.data.phantom import writer"),
    "models factory <-> adapters": ("models/adapters.py", "from synthboost.models import factory"),
    "models cris <-> cris_checkpoint": ("models/cris.py", "from synthboost.models import cris_checkpoint"),
    "synth io <-> perturb": ("synth/io.py", "from synthboost.synth import perturb"),
    "training -> evaluation (predict)": ("training/run.py", "from synthboost.evaluation import predict"),
    "data -> prompts": ("data/writer.py", "from synthboost.prompts import annotate"),
}

pytestmark = pytest.mark.skipif(not LINT.is_file(), reason="import-linter is a dev dependency")


def _lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run(
        [str(LINT), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    shutil.copy(ROOT / "pyproject.toml", root)
    shutil.copytree(ROOT / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return root


def test_the_tree_keeps_every_contract(tree):
    res = _lint(tree)
    assert res.returncode == 0, res.stdout[-3000:]
    assert "0 broken" in res.stdout


@pytest.mark.parametrize("knot", sorted(KNOTS))
def test_bringing_back_a_knot_breaks_a_contract(tree, knot):
    rel, line = KNOTS[knot]
    path = tree / "src" / "synthboost" / rel
    original = path.read_text()
    try:
        path.write_text(original + f"\n{line}  # noqa: E402, F401\n")
        res = _lint(tree)
    finally:
        path.write_text(original)
    assert res.returncode != 0, f"{knot}: lint-imports still passes\n{res.stdout[-2000:]}"
    assert "BROKEN" in res.stdout
