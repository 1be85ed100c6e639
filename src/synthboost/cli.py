"""The ``synthboost`` command line: thin wiring of the stage functions.

Each stage package owns a ``commands.py`` with ``register(app)``; those modules import only
``typer`` at top level (heavy libraries are imported inside the commands) so that
``synthboost --help`` answers in about a second.
"""

from __future__ import annotations

import importlib
import logging

import typer

STAGES = ("data", "prompts", "synth", "models", "train", "evaluate", "report", "clinical", "cine", "app")

app = typer.Typer(
    name="synthboost",
    help="Text-prompted echocardiogram segmentation with VLSMs, boosted by synthetic data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )


for _stage in STAGES:
    importlib.import_module(f"synthboost.{_stage}.commands").register(app)


@app.command("demo")
def demo(
    out: str = typer.Option("demo_out", help="Output folder; finished stages are reused."),
    quick: bool = typer.Option(False, "--quick", help="Small and fast variant (about 2 minutes)."),
) -> None:
    """Run the whole pipeline on the procedural phantom, no download needed."""
    from synthboost.demo import run_demo

    res = run_demo(out, quick=quick)
    summary = res["summary"]
    typer.echo("\nTest Dice (mean ± std over images and structures, x100):")
    for _, row in summary.iterrows():
        typer.echo(
            f"  {row['strategy']:<18} {row['model']:<8} {row['prompt']:<3} {row['mean']:6.2f} ± {row['std']:5.2f}"
        )
    typer.echo(f"\nBest run: {'_'.join(res['best'])}; clinical indices in {res['clinical']}")
    typer.echo(f"Report: {res['report']}")


def main() -> None:
    """Console-script entry point: user errors print one clear line and exit with status 2."""
    try:
        app()
    except (FileNotFoundError, FileExistsError, ValueError) as err:
        typer.secho(f"error: {err}", fg="red", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
