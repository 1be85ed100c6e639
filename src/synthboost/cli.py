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
    preset = "quick" if quick else "default"
    typer.echo(f"\nTest Dice (demo preset {preset}; x100, mean ± sd over images and structures; first seed):")
    for _, row in res["summary"].iterrows():
        typer.echo(
            f"  {row['strategy']:<18} {row['model']:<8} {row['prompt']:<3} {row['mean']:6.2f} ± {row['std']:5.2f}"
        )
    typer.echo("\nSynth-PT → real-FT gains (patient-level 95% CI and Wilcoxon p; steps PT+FT vs baseline):")
    for _, r in res["claims"].iterrows():
        typer.echo(
            f"  {r['model']:<8} {r['prompt']} seed {r['seed']}  vs {r['baseline']:<17} {r['gain']:+6.2f}"
            f" [{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]  p = {r['p_wilcoxon']:.3g}"
            f"  steps {r['steps_boosted']} vs {r['steps_baseline']}"
        )
    for _, r in res["claims_across_seeds"].iterrows():
        typer.echo(
            f"  {r['model']:<8} {r['prompt']} {r['n_seeds']} seeds vs {r['baseline']:<17} {r['gain']:+6.2f}"
            f" [{r['ci_low']:+.2f}, {r['ci_high']:+.2f}] (t 95% CI across seeds)"
        )
    sel = res["selection"]
    typer.echo(
        f"\nBest run (validation Dice, never test): {res['best'].name}, val Dice {100 * sel.val_dice:.2f};"
        f" clinical indices in {res['clinical']}"
    )
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
