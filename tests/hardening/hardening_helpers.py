"""Helpers of the hardening tests (importable by name, unlike a conftest): CLI results, the
one-line error check and a live pickle payload."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from pathlib import Path


@dataclasses.dataclass
class CliResult:
    code: int
    out: str
    err: str


#: Bad inputs tried by the hardening tests and how each ended (printed at the end of the session).
TALLY: Counter[str] = Counter()


def one_line_error(result: CliResult, *fragments: str) -> str:
    """Assert exit code 2, no traceback and one ``error: ...`` line (the last one, after any log lines)
    holding every fragment; return that line."""
    TALLY["bad inputs tried"] += 1
    lines = [line for line in result.err.strip().splitlines() if line.strip()]
    if "Traceback" in result.err:
        TALLY["tracebacks"] += 1
    assert result.code == 2, (result.code, result.err, result.out)
    assert "Traceback" not in result.err, result.err
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.err
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    TALLY["handled cleanly (one line, exit 2)"] += 1
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


def tree_state(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative path → content), to assert that nothing changed."""
    root = Path(root)
    if root.is_file():
        return {".": root.read_bytes()}
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def raw_camus(root: Path, n_training: int = 3, n_testing: int = 1) -> Path:
    """A tiny raw CAMUS 2019 release (``n_training`` + ``n_testing`` patients)."""
    from camus_fixtures import write_patient

    for i in range(1, n_training + 1):
        write_patient(root / "training" / f"patient{i:04d}", f"patient{i:04d}", ".mhd", i, age=40 + i)
    for i in range(1, n_testing + 1):
        write_patient(root / "testing" / f"patient{i:04d}", f"patient{i:04d}", ".mhd", 100 + i)
    return root


def leftovers(folder: Path) -> list[str]:
    """Temporary or ``.old`` folders/files of ours left in ``folder``."""
    return sorted(p.name for p in Path(folder).iterdir() if ".tmp" in p.name or ".old-" in p.name)


def assert_unchanged(root: Path, before: dict[str, bytes]) -> None:
    """Assert that ``root`` holds exactly the files it held (counted as data loss otherwise)."""
    after = tree_state(root) if Path(root).exists() else {}
    if after != before:
        TALLY["data loss"] += 1
    assert after == before, sorted(set(before) ^ set(after)) or "contents changed"


def assert_no_code_ran(marker: Path) -> None:
    """Assert that the pickle payload did not run (counted as code execution otherwise)."""
    if marker.exists():
        TALLY["code execution"] += 1
    assert not marker.exists()
