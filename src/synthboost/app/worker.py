"""The app's model in a process of its own, loading while the app imports Gradio and serves its page.

Importing Gradio (about 3 s of CPU) and loading the model (torch and the tokenizer's ``transformers``,
about 3 s) are both Python imports, which hold the GIL: in a thread the model loads no faster than
after the page (measured: slower). In a spawned process it loads on the other core, so the app can
answer a segment request about as soon as its page is served (``benchmarks/bench_app_start.py``).

:class:`ModelProcess` stands for the :class:`~synthboost.evaluation.segmenter.Segmenter`: its methods
(``seg(image, prompt)``, ``segment_all``, ``frame_probabilities``, ...) are sent to the process
through a pipe (arguments and results pickled: numpy arrays, strings, numbers), one call at a time
(the app's queue runs one model call at a time anyway), and wait for the model while it loads. An
error comes back as the same exception (a bad input stays a ``ValueError``, shown to the user); an
error that cannot be pickled, or a process that ended, is a ``RuntimeError``.
"""

from __future__ import annotations

import concurrent.futures
import inspect
import multiprocessing
import signal
import threading
from typing import Any

from synthboost.logs import get_logger

log = get_logger("app")

#: Errors the user causes (bad input): sent back without a traceback in the model process's log.
USER_ERRORS = (ValueError, FileNotFoundError)


def _send(conn: Any, message: tuple) -> bool:
    """Send ``message`` (an error that cannot be pickled goes as a ``RuntimeError`` naming it);
    ``False`` when the app is gone."""
    try:
        conn.send(message)  # pickles whole before writing: a failure sends nothing
    except (BrokenPipeError, EOFError, ConnectionError):
        return False
    except Exception as err:  # noqa: BLE001 - pickling raises several types
        status, value = message
        what = f"{type(value).__name__}: {value}" if status == "error" else f"{type(err).__name__}: {err}"
        return _send(conn, ("error", RuntimeError(f"model process: {what}")))
    return True


def serve_model(conn: Any, model: str, device: str | None = None, verbose: bool = False) -> None:
    """The model process: load ``model``, say so, then answer ``(method, args, kwargs)`` calls until the pipe closes.

    The first message is ``("ready", {"threshold": ..., "methods": [...]})`` or ``("error", err)``;
    every call is answered ``("ok", result)`` or ``("error", err)``.
    """
    from synthboost.logs import setup_logging

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the app's to handle: it ends this process
    setup_logging(verbose)
    try:
        from synthboost.evaluation.segmenter import Segmenter

        segmenter = Segmenter.from_pretrained(model, device)
    except Exception as err:  # noqa: BLE001 - handed to the app, which stops with it
        _send(conn, ("error", err))
        return
    methods = [n for n, v in inspect.getmembers(segmenter, inspect.ismethod) if not n.startswith("_")]
    ready = {"threshold": segmenter.threshold, "methods": [*methods, "__call__"]}
    running = _send(conn, ("ready", ready))
    while running:
        try:
            name, args, kwargs = conn.recv()
        except (EOFError, OSError):  # the app ended
            return
        try:
            reply: tuple = ("ok", getattr(segmenter, name)(*args, **kwargs))
        except Exception as err:  # noqa: BLE001 - every error goes back to the caller
            if not isinstance(err, USER_ERRORS):
                log.exception("app: model call %s failed", name)
            reply = ("error", err)
        running = _send(conn, reply)


class ModelProcess:
    """The segmenter, loading in a spawned process from the moment this object is made.

    Args:
        model: what :meth:`~synthboost.evaluation.segmenter.Segmenter.from_pretrained` loads.
        threshold: the run's threshold known before loading (``run.json``), shown by the sliders.
        device: ``"cuda"``, ``"cpu"``, ... (default: CUDA when available).
        verbose: debug logging in the model process.
    """

    def __init__(
        self, model: str, threshold: float, device: str | None = None, verbose: bool = False
    ) -> None:
        self.model_name, self.threshold = model, threshold
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=serve_model, args=(child, model, device, verbose), daemon=True,
                                    name="synthboost-model")  # fmt: skip
        self._process.start()
        child.close()
        self._lock = threading.Lock()
        self._loaded: concurrent.futures.Future = concurrent.futures.Future()
        self._methods: frozenset[str] = frozenset()
        self.closed = False

    @property
    def pid(self) -> int | None:
        """Process id of the model process."""
        return self._process.pid

    def _receive(self) -> tuple:
        try:
            return self._conn.recv()
        except (EOFError, OSError):
            self._process.join(5)
            raise RuntimeError(f"the model process ended (exit code {self._process.exitcode})") from None
        except Exception as err:  # noqa: BLE001 - an answer that cannot be unpickled here
            return "error", RuntimeError(f"model process answer unreadable: {type(err).__name__}: {err}")

    def wait_loaded(self) -> BaseException | None:
        """Wait until the model is loaded; returns the loading error, if any (called once, by the app)."""
        with self._lock:
            try:
                status, value = self._receive()
            except RuntimeError as err:
                status, value = "error", err
        if status != "ready":
            self._loaded.set_exception(value)
            return value
        self.threshold, self._methods = value["threshold"], frozenset(value["methods"])
        self._loaded.set_result(True)
        return None

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``segmenter.method(*args, **kwargs)`` in the model process (waits for the model)."""
        self._loaded.result()
        if method not in self._methods:
            raise AttributeError(f"the segmenter has no method {method!r}")
        with self._lock:
            self._conn.send((method, args, kwargs))
            status, value = self._receive()
        if status == "error":
            raise value
        return value

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.call("__call__", *args, **kwargs)

    def __getattr__(self, name: str) -> Any:  # segment_all, frame_probabilities, ...
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self.call(name, *args, **kwargs)

    def wait_ended(self) -> int | None:
        """Block until the model process ends; its exit code."""
        self._process.join()
        return self._process.exitcode

    def close(self) -> None:
        """End the model process (closing the pipe ends its loop; terminated if it does not end)."""
        self.closed = True
        self._conn.close()
        self._process.join(2 if self._loaded.done() else 0)  # a loading process is stopped at once
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)
