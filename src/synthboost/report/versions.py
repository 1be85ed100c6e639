"""The report's note on software versions: runs compared under different package versions are named.

Each run folder's ``run.json`` records its ``environment`` (:mod:`synthboost.utils.environment`); when the
compared runs (or the datasets they trained on) were made under different versions of a package that
shapes results, the report says which, so a difference between two tables is not taken for an effect.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from synthboost.logs import get_logger
from synthboost.utils.environment import ENVIRONMENT_KEY, version_differences
from synthboost.utils.files import read_json

log = get_logger("report.versions")


def recorded_environment(path: Path) -> Any:
    """The ``environment`` recorded in a JSON file (``None`` when the file or the key is absent)."""
    if not path.is_file():
        return None
    data = read_json(path)
    return data.get(ENVIRONMENT_KEY) if isinstance(data, dict) else None


def run_environments(runs: Mapping[str, str | Path]) -> dict[str, Any]:
    """``{run name: environment}`` from each run folder's ``run.json`` (runs without one left out)."""
    found = {name: recorded_environment(Path(folder) / "run.json") for name, folder in runs.items()}
    return {name: env for name, env in found.items() if env is not None}


def versions_section(runs: Mapping[str, str | Path] | None) -> list[str]:
    """HTML paragraphs warning that the compared runs were made with different package versions
    (empty when they agree, or when fewer than two runs recorded their environment)."""
    if not runs:
        return []
    environments = run_environments(runs)
    lines = version_differences(environments)
    missing = sorted(set(runs) - set(environments))
    out = []
    if lines:
        log.warning("runs compared were made with different package versions: %s", "; ".join(lines))
        items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
        out.append(
            "<h2>Software versions differ</h2><p class='note'>The runs compared here were made with "
            f"different versions of packages that shape results (run.json, environment):</p><ul>{items}</ul>"
        )
    if missing and environments:
        out.append(
            f"<p class='note'>No recorded package versions (made by an older synthboost): "
            f"{html.escape(', '.join(missing))}.</p>"
        )
    return out
