"""CLI commands of the prompts stage (heavy imports stay inside the commands)."""

from __future__ import annotations

from pathlib import Path

import typer


def prompts(
    root: Path = typer.Argument(..., help="Processed dataset folder (dataset.json, meta.csv, masks/)."),
    shapes: str = typer.Option("geometry", "--shapes", help="Shape words: geometry | cache."),
    shape_cache: Path | None = typer.Option(
        None, "--shape-cache", help="Shape cache JSON (with --shapes cache; misses fall back to geometry)."
    ),
    domain: bool = typer.Option(False, "--domain", help="Tag prompts with the domain (real/synthetic)."),
) -> None:
    """Write anns/{train,val,test}.json (prompts P0-P7) of a processed dataset."""
    from synthboost.prompts.annotate import write_annotations

    counts = write_annotations(root, shape_source=shapes, shape_cache=shape_cache, domain=domain)
    for split, n in counts.items():
        typer.echo(f"{split}: {n}")


def shape_cache(
    out: Path = typer.Argument(..., help="Cache JSON to write."),
    tasks: list[Path] = typer.Argument(
        ..., help="Task JSONs to read shape words from (e.g. the reference's)."
    ),
) -> None:
    """Extract a shape cache from task JSONs (e.g. the authors' released VQA answers)."""
    from synthboost.prompts.shapes import extract_shape_cache
    from synthboost.utils.files import write_json_atomic

    table = extract_shape_cache(tasks)
    write_json_atomic(out, table)
    for group, entries in table.items():
        typer.echo(f"{group}: {len(entries)}")


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.command("prompts")(prompts)
    app.command("shape-cache")(shape_cache)
