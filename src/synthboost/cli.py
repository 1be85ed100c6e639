"""The ``synthboost`` command line: thin wiring of the stage functions.

Each stage package owns a ``commands.py`` with ``register(app)``; those modules import only
``typer`` at top level (heavy libraries are imported inside the commands) so that
``synthboost --help`` answers in about a second.
"""

from __future__ import annotations

import errno
import importlib
import traceback

import typer

STAGES = ("data", "prompts", "synth", "models", "train", "evaluate", "report", "clinical", "cine", "app")

app = typer.Typer(
    name="synthboost",
    help="Text-prompted echocardiogram segmentation with VLSMs, boosted by synthetic data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


#: Set by ``--verbose``: user errors then show their traceback too.
_state = {"verbose": False}

#: System errors a user causes (permissions, a full or read-only disk, the wrong kind of path).
USER_ERRNOS = frozenset(
    {errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.ENOTDIR, errno.EISDIR,
     errno.ENOENT, errno.EEXIST, errno.ENAMETOOLONG, errno.ELOOP, errno.ENOTEMPTY}
)  # fmt: skip


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging; tracebacks of user errors."),
) -> None:
    from synthboost.logs import setup_logging

    _state["verbose"] = verbose
    setup_logging(verbose)


def user_error_message(err: BaseException) -> str | None:
    """The one-line message of an error the user caused (bad input, permissions, full disk), or
    ``None`` for an internal error, which must keep its traceback (bugs stay visible)."""
    if isinstance(err, OSError) and err.errno in USER_ERRNOS:
        names = [str(n) for n in (err.filename, err.filename2) if n is not None]
        return ": ".join(
            [" → ".join(names), err.strerror or str(err)] if names else [err.strerror or str(err)]
        )
    if isinstance(err, (FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError)):
        return str(err)
    if isinstance(err, UnicodeEncodeError):
        return f"a file name or text is not valid UTF-8 ({err.object[err.start : err.end]!r}): {err.reason}"
    if isinstance(err, ValueError):
        return str(err)
    return None


for _stage in STAGES:
    importlib.import_module(f"synthboost.{_stage}.commands").register(app)


@app.command("demo")
def demo(
    out: str = typer.Option("demo_out", help="Output folder; finished stages are reused."),
    quick: bool = typer.Option(False, "--quick", help="Small and fast variant (about 2 minutes)."),
    keep_checkpoints: bool = typer.Option(
        False,
        "--keep-checkpoints",
        help="Keep the Lightning checkpoints of finished runs (best weights stay in RUN/model/).",
    ),
) -> None:
    """Run the whole pipeline on the procedural phantom, no download needed."""
    from synthboost.demo import NOTE, run_demo

    res = run_demo(out, quick=quick, keep_checkpoints=keep_checkpoints)
    preset = "quick" if quick else "default"
    typer.echo("\nTime per stage:")
    total = sum(seconds for _, _, seconds in res["timings"])
    for stage, count, seconds in res["timings"]:
        typer.echo(f"  {stage:<14} {count:>3} x  {seconds:7.1f} s  {100 * seconds / max(total, 1e-9):5.1f} %")
    typer.echo(f"  {'total':<14}        {total:7.1f} s")
    typer.echo(f"\nTest Dice (demo preset {preset}; x100, mean ± sd over images and structures; first seed):")
    for _, row in res["summary"].iterrows():
        typer.echo(
            f"  {row['model']:<8} {row['strategy']:<18} {row['encoders']:<8} {row['prompt']:<3} "
            f"{row['mean']:6.2f} ± {row['std']:5.2f}"
        )
    typer.echo(f"  Caveat: {NOTE}")
    if len(res["lora"]):
        typer.echo(
            "\nSynth-PT → real-FT, full fine-tune vs LoRA (val Dice x100; trainable / total parameters):"
        )
        for _, r in res["lora"].iterrows():
            typer.echo(
                f"  {r['model']:<8} {r['encoders']:<8} {r['prompt']} seed {r['seed']}  val Dice {r['val_dice']:6.2f}"
                f"  params {r['trainable_params']:,} / {r['total_params']:,}  steps {r['optimizer_steps']}"
                f"  wall {r['wall_s']:.0f} s"
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
    """Console-script entry point: user errors print one clear line and exit with status 2
    (``--verbose`` adds the traceback); internal errors keep their traceback."""
    try:
        app()
    except Exception as err:
        message = user_error_message(err)
        if message is None:
            raise
        if _state["verbose"]:
            traceback.print_exc()
        line = "; ".join(part.strip() for part in message.splitlines() if part.strip()) or type(err).__name__
        typer.secho(f"error: {line}".encode("utf-8", "backslashreplace").decode("utf-8"), fg="red", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
