"""One ``rich`` progress view per process: the demo's overall task and every stage's long loops.

A stage wraps its loop in :func:`track`; inside an open view (the demo opens one with
:func:`progress_view`) the loop becomes a nested task of that view and disappears when done,
otherwise it opens a transient view of its own. Log records printed meanwhile appear above the
view (the stream handler of :func:`synthboost.logs.setup_logging` writes to the current
``sys.stderr``, which the live view redirects). On a terminal that is not interactive (a log file,
CI) the view draws once, when it closes, so nothing floods the log.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

_open: dict[str, Any] = {"view": None}


def _new_view(transient: bool) -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"), BarColumn(bar_width=24), MofNCompleteColumn(),
        TextColumn("elapsed"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
        console=Console(stderr=True), transient=transient,
    )  # fmt: skip


@contextlib.contextmanager
def progress_view(transient: bool = False) -> Iterator[Any]:
    """The open ``rich.progress.Progress`` view, or a new one for the duration of the block."""
    if _open["view"] is not None:
        yield _open["view"]
        return
    view = _new_view(transient)
    with view:
        _open["view"] = view
        try:
            yield view
        finally:
            _open["view"] = None


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate over ``items`` while a task of the progress view counts them.

    Args:
        items: the loop's items.
        description: what the loop does (``"phantom patients"``).
        total: number of items when ``items`` has no ``len``.
    """
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    nested = _open["view"] is not None
    with progress_view(transient=True) as view:
        task = view.add_task(description, total=total)
        try:
            for item in items:
                yield item
                view.advance(task)
        finally:
            if nested:
                view.remove_task(task)


def current() -> Any:
    """The open progress view (the demo's), or ``None``."""
    return _open["view"]


def is_open() -> bool:
    """Whether a progress view is open (the demo's)."""
    return _open["view"] is not None
