"""The ``synthboost`` command line: thin wiring of the stage functions.

One module per stage (``synthboost.cli.<stage>``, each with ``register(app)``), imported explicitly
below. This package is the only place that knows typer. The command modules import only ``typer`` at
top level and import their stage inside each command (a documented lazy import: ``synthboost --help``
then answers without importing torch, in well under a second).
"""

from __future__ import annotations

import errno
import traceback

import typer

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


# One module per stage, registered explicitly (imported after ``app`` exists; each imports only typer).
from synthboost.cli import (  # noqa: E402
    browser,
    cine,
    clinical,
    data,
    demo,
    evaluation,
    models,
    prompts,
    qc,
    report,
    synth,
    training,
)

for _stage in (data, prompts, synth, models, training, evaluation, qc, report, clinical, cine, browser, demo):
    _stage.register(app)


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
