"""The built wheel is a working package: fresh venv, CPU torch, the wheel, `synthboost demo --quick` elsewhere.

Slow (a fresh venv installs torch and every dependency: ~5 min on 2 shared cores), so deselected by
default; `make test` (and so `.ci/run`) runs it through `make test-wheel`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TORCH = "torch==2.13.0"  # as the Makefile: the CPU build from the local wheel cache


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 1200) -> str:
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, (
        f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    )
    return res.stdout + res.stderr


def _clean_env() -> dict[str, str]:
    """This process's environment without anything pointing at the source tree or its venv."""
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    return {k: v for k, v in os.environ.items() if k not in drop} | {"HF_HUB_OFFLINE": "1"}


@pytest.mark.slow
def test_wheel_installs_and_runs_the_quick_demo_outside_the_repo(tmp_path: Path) -> None:
    env = _clean_env()
    source = tmp_path / "source"  # build from a copy: nothing is written into the checkout
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(source)],
         tmp_path, env)  # fmt: skip
    wheel = next((tmp_path / "dist").glob("synthboost-*.whl"))
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path, env)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    _run([*pip, TORCH], tmp_path, env)
    _run([*pip, str(wheel)], tmp_path, env)
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = _run(
        [str(venv / "bin" / "python"), "-c", "import synthboost; print(synthboost.__file__)"], work, env
    )
    assert Path(where.strip()).is_relative_to(venv)
    _run([str(venv / "bin" / "synthboost"), "demo", "--quick", "--out", "demo_q"], work, env)
    assert (work / "demo_q" / "report" / "report.html").is_file()
