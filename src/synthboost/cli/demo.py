"""CLI command ``demo``: the whole pipeline on the procedural phantom (the printer lives in :mod:`synthboost.demo`)."""

from __future__ import annotations

import typer


def demo_cmd(
    out: str = typer.Option("demo_out", help="Output folder; finished stages are reused."),
    quick: bool = typer.Option(False, "--quick", help="Small and fast variant (about 2 minutes)."),
    keep_checkpoints: bool = typer.Option(
        False,
        "--keep-checkpoints",
        help="Keep the Lightning checkpoints of finished runs (best weights stay in RUN/model/).",
    ),
    seed: int = typer.Option(
        0, "--seed", help="Another phantom cohort, split and training seeds: an untouched repeat of the demo."
    ),
) -> None:
    """Run the whole pipeline on the procedural phantom, no download needed."""
    from synthboost.demo import print_results, run_demo

    print_results(run_demo(out, quick=quick, keep_checkpoints=keep_checkpoints, seed=seed), quick, typer.echo)


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.command("demo")(demo_cmd)
