"""Helpers of the second hardening round (issue 23): each bad input is counted under the category of
the issue it belongs to, and as clean only when its test passed (printed by the conftest)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

from hardening_helpers import TALLY

#: The categories of issue 23 (the tally line names them in this order).
CATEGORIES = (
    "traceback",  # a user-caused error must be one clear line, never a traceback
    "silent",  # a wrong result must be refused, never printed
    "unbounded",  # memory and time checked before anything is allocated
    "overwrite",  # user data overwritten or partial output left behind
    "security",  # links out of the exported folder
    "message",  # the error names the file and the field, or says what to do
    "leftover",  # the first round's cases, rerun (beyond the silent ones)
    "reproducibility",  # package versions recorded and compared
)
PREFIX = "round 2 · "


@contextlib.contextmanager
def attack(category: str) -> Iterator[None]:
    """Count one bad input of ``category``: clean if the block passes, else a finding."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}")
    TALLY[f"{PREFIX}{category} tried"] += 1
    try:
        yield
    except BaseException:
        TALLY[f"{PREFIX}{category} found"] += 1
        raise
    TALLY[f"{PREFIX}{category} clean"] += 1


def tally_lines() -> list[str]:
    """``category: tried, clean, found`` for every category tried this session."""
    lines = []
    for category in CATEGORIES:
        tried = TALLY[f"{PREFIX}{category} tried"]
        if tried:
            clean, found = TALLY[f"{PREFIX}{category} clean"], TALLY[f"{PREFIX}{category} found"]
            lines.append(f"{category}: {tried} tried, {clean} clean, {found} found")
    return lines


def edit_json(path: Path, **changes: object) -> Path:
    """Rewrite the JSON object in ``path`` with ``changes`` applied; return ``path``."""
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))
    return path
