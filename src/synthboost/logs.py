"""Logs a person reads: one stream handler, each record once, third-party chatter below ``--verbose``.

:func:`setup_logging` (the CLI calls it) installs one handler on the root logger that writes to the
*current* ``sys.stderr`` (a live progress view redirects it, so records print above the view).
:func:`quiet_lightning` runs where Lightning is imported: Lightning adds a console handler of its
own (every INFO line would print twice) and logs banners and tips at INFO; below ``--verbose`` its
loggers show warnings only and its advisory warnings (logging interval, deprecations inside
Lightning) are dropped. Hugging Face progress bars are off below ``--verbose``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections import Counter
from collections.abc import Iterator

LOGGER_NAME = "synthboost"


def get_logger(name: str | None = None) -> logging.Logger:
    """Return the package logger (or a child of it)."""
    return logging.getLogger(LOGGER_NAME if name is None else f"{LOGGER_NAME}.{name}")


FORMAT = "%(levelname)s %(name)s: %(message)s"
LIGHTNING_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning")
#: Advisory warnings of Lightning that say nothing about the user's run.
LIGHTNING_ADVICE = (
    r".*smaller than the logging interval.*",
    r".*isinstance\(treespec, LeafSpec\).*",
    r".*does not have many workers which may be a bottleneck.*",
    r".*module\(s\) in eval mode at the start of training.*",  # frozen encoders keep eval mode by design
)


class CurrentStderrHandler(logging.StreamHandler):
    """A stream handler that writes to whatever ``sys.stderr`` is at the time of each record."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):  # noqa: ANN201 - the logging API's attribute
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # noqa: ANN001 - set by StreamHandler.__init__, ignored
        pass


def verbose() -> bool:
    """Whether the package logs at DEBUG (``synthboost --verbose``)."""
    return logging.getLogger("synthboost").getEffectiveLevel() <= logging.DEBUG


def setup_logging(verbose_: bool = False) -> None:
    """One root handler (current stderr, ``LEVEL name: message``); DEBUG with ``verbose_``, else INFO."""
    root = logging.getLogger()
    if not any(isinstance(h, CurrentStderrHandler) for h in root.handlers):
        handler = CurrentStderrHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose_ else logging.INFO)
    if not verbose_:
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # read when huggingface_hub loads
        if os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1":
            _progress_bars_off_if_loaded()


def _progress_bars_off_if_loaded() -> None:
    """Hugging Face libraries imported before logging was set up read the variable too early: tell them
    directly (``transformers``' "Loading weights" bar, the hub's downloads). Imports nothing."""
    hub = sys.modules.get("huggingface_hub.utils")
    if hub is not None:
        hub.disable_progress_bars()
    hf_logging = sys.modules.get("transformers.utils.logging")
    if hf_logging is not None:
        hf_logging.disable_progress_bar()


def quiet_lightning() -> None:
    """Lightning's records once, through the root handler; below ``--verbose`` warnings only."""
    quiet = not verbose()
    for name in LIGHTNING_LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if type(handler) is logging.StreamHandler:  # Lightning's own console handler
                logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.WARNING if quiet else logging.NOTSET)
    if quiet:
        for pattern in LIGHTNING_ADVICE:
            warnings.filterwarnings("ignore", message=pattern)


class CapPerLogger(logging.Filter):
    """Let through the first ``limit`` warnings (and errors) of each logger; count the rest."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.seen: Counter[str] = Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        self.seen[record.name] += 1
        return self.seen[record.name] <= self.limit


@contextlib.contextmanager
def capped_logs(limit: int = 3) -> Iterator[None]:
    """At most ``limit`` warnings per logger on the root handlers, then one line per logger that
    says how many more there were (``--verbose`` shows them all)."""
    cap = CapPerLogger(limit)
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(cap)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(cap)
        for name, count in cap.seen.items():
            if count > limit:
                logging.getLogger(name).warning(
                    "... and %d more messages like these (--verbose shows them)", count - limit
                )
