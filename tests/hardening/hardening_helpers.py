"""Helpers of the hardening tests (importable by name, unlike a conftest): CLI results, the
one-line error check and a live pickle payload."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path


@dataclasses.dataclass
class CliResult:
    code: int
    out: str
    err: str


def one_line_error(result: CliResult, *fragments: str) -> str:
    """Assert exit code 2, no traceback and one ``error: ...`` line (the last one, after any log lines)
    holding every fragment; return that line."""
    lines = [line for line in result.err.strip().splitlines() if line.strip()]
    assert result.code == 2, (result.code, result.err, result.out)
    assert "Traceback" not in result.err, result.err
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.err
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    return errors[0]


class Payload:
    """Unpickling this creates ``marker`` (a stand-in for arbitrary code execution)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def write_evil(path: Path, marker: Path, wrap: Callable[[object], object] = lambda p: p) -> Path:
    """A ``torch.save`` file whose unpickling runs :class:`Payload` (``wrap`` builds its container)."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(wrap(Payload(marker)), path)
    return path
