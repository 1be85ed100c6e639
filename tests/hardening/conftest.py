"""Fixtures of the hardening tests: the CLI run in-process, a tiny processed dataset."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# Lightning attaches a stderr handler on first import: import it now, outside any test's capture,
# so that handler does not point at a closed capture stream in later tests.
import lightning.pytorch  # noqa: E402, F401
from hardening_helpers import CliResult  # noqa: E402


@pytest.fixture
def cli(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """Run ``synthboost ARGS`` through the console entry point (``main``: error mapping included)."""
    from synthboost.cli import main

    def run(*args: str | Path) -> CliResult:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["synthboost", *map(str, args)])
        root = logging.getLogger()
        handlers = list(root.handlers)
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            root.handlers[:] = handlers  # the CLI's stderr handler would outlive the capture
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny processed dataset (4 patients, images + masks + label maps + anns)."""
    from tiny_dataset import write_tiny_dataset

    return write_tiny_dataset(tmp_path_factory.mktemp("data") / "tiny", "phantom", seed=0)


def pytest_terminal_summary(terminalreporter) -> None:
    """Print how the bad inputs of the hardening tests ended (the counts of issue 10)."""
    from hardening_helpers import TALLY

    if TALLY["bad inputs tried"]:
        keys = (
            "bad inputs tried",
            "handled cleanly (one line, exit 2)",
            "tracebacks",
            "data loss",
            "code execution",
        )
        terminalreporter.write_line("hardening: " + ", ".join(f"{k}: {TALLY[k]}" for k in keys))
    from hardening2_helpers import tally_lines

    for line in tally_lines():
        terminalreporter.write_line(f"hardening round 2 · {line}")
