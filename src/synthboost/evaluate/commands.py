"""CLI commands of the evaluate stage (heavy imports stay inside the commands)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
