"""The command line, run in-process: fast help, the foundation chain, clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from synthboost.cli import app

runner = CliRunner()


def test_help_lists_every_stage() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for cmd in ("phantom", "prepare", "prompts", "check", "demo"):
        assert cmd in result.output


def test_cli_import_stays_light() -> None:
    code = "import sys, synthboost.cli; print(sorted(m for m in ('torch', 'transformers', 'lightning', 'pandas', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_prepare_prompts_check_chain(camus2019: Path, tmp_path: Path) -> None:
    out = tmp_path / "proc"
    result = runner.invoke(app, ["prepare", "camus", str(camus2019), str(out), "--image-size", "64"])
    assert result.exit_code == 0, result.output
    assert "train" in result.output and "tasks" in result.output
    result = runner.invoke(app, ["check", str(out)])
    assert result.exit_code == 0, result.output
    assert "valid processed dataset (48 images)" in result.output
    (out / "masks/test/mask_2/patient0002_4CH_ED_gt.png").unlink()
    result = runner.invoke(app, ["check", str(out)])
    assert result.exit_code == 1
    assert "mask_2/patient0002_4CH_ED_gt.png: missing" in result.output


def test_user_error_is_one_clear_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "synthboost.cli",
            "prepare",
            "camus",
            str(tmp_path / "nope"),
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {tmp_path / 'nope'}: CAMUS folder not found"
