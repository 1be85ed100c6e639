"""The README cannot drift: every shell line of its stage section and its Python quick start run as
written on the quick demo's output folder (only the folder name ``demo_out`` is substituted)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from synthboost.cli import app
from synthboost.data.imageio.medical import read_png

README = Path(__file__).resolve().parents[1] / "README.md"


def section(title: str) -> str:
    """The text of the README section ``## title`` (up to the next ``## `` heading)."""
    text = README.read_text(encoding="utf-8")
    if f"\n## {title}\n" not in text:
        raise AssertionError(f"README has no section {title!r}")
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def stage_commands() -> list[list[str]]:
    """Every non-blank line of the stage section's bash blocks, split like a shell (comments dropped)."""
    lines = [
        line for block in code_blocks(section("One command per stage"), "bash") for line in block.splitlines()
    ]
    return [shlex.split(line, comments=True) for line in lines if line.strip()]


def test_stage_section_lists_every_stage() -> None:
    commands = stage_commands()
    assert all(args[0] == "synthboost" for args in commands), "every line is a synthboost command"
    stages = {" ".join(args[1:3]) if args[1] in ("synth", "prepare") else args[1] for args in commands}
    for stage in ("phantom", "prepare camus", "prepare sdm", "prompts", "check", "synth perturb",
                  "synth render", "synth train", "synth sample", "synth score", "train", "predict",
                  "evaluate", "clinical", "report", "segment"):  # fmt: skip
        assert stage in stages, stage


def test_stage_commands_run_as_written_on_the_demo_output(quick_demo, tmp_path, monkeypatch) -> None:
    out, _ = quick_demo
    monkeypatch.chdir(tmp_path)  # packaged config names resolve from any folder
    runner = CliRunner()
    for args in stage_commands():
        args = [a.replace("demo_out", str(out)) for a in args[1:]]
        res = runner.invoke(app, args)
        assert res.exit_code == 0, f"synthboost {' '.join(args)}\n{res.output[-2000:]}\n{res.exception!r}"
    stages = out / "stages"
    assert (stages / "runs" / "ptft_cris_p2" / "DONE").is_file()
    assert (stages / "report" / "report.html").is_file()
    assert (stages / "segment" / "patient0001_2CH_ED_mask.png").is_file()


def test_python_quick_start_runs_as_written(quick_demo) -> None:
    out, _ = quick_demo
    (block,) = code_blocks(section("Python quick start"), "python")
    assert len([line for line in block.splitlines() if line.strip()]) == 5
    namespace: dict = {}
    exec(block.replace("demo_out", str(out)), namespace)  # noqa: S102 - our own README
    labels, lv = namespace["labels"], namespace["lv"]
    size = out / "camus" / "images" / "test" / "patient0001_2CH_ED.png"
    assert labels.shape == lv.mask.shape == read_png(size).shape and labels.dtype == np.uint8
    assert set(np.unique(labels)) <= {0, 1, 2, 3} and lv.probability.dtype == np.float32
