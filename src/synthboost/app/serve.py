"""Serve the Gradio app safely: Gradio's own limits plus what it leaves to the host application.

Gradio (mounted with :func:`gradio.mount_gradio_app` on a FastAPI app, served by uvicorn as
``launch()`` does) brings the upload limit (``max_file_size``), the bounded queue and the file-access
rules (no ``allowed_paths``: only its own cache is served). Added, because neither Gradio nor
uvicorn does it (the guards live in :mod:`synthboost.app.guards`):

- :class:`HostOriginGuard`: requests whose ``Host`` is not this server (DNS rebinding) or whose
  ``Origin`` is another site (cross-site posts) are refused with 403 before Gradio sees them;
- :class:`BodyLimit`: request bodies other than uploads (which Gradio streams to disk within
  ``max_file_size``) are refused over 1 MiB (413) or without a length (411), before being read;
- :func:`read_timeout_protocol`: a client that has not sent a whole request within ``read_timeout``
  seconds is disconnected (slow-loris), on top of uvicorn's keep-alive timeout, and at most
  ``max_connections`` connections are served at once (uvicorn answers 503 beyond);
- :func:`run_app`: the app's temporary folder (Gradio's cache, the phantom cases) is removed on
  exit, after Ctrl-C as after SIGTERM; binding anything but loopback prints a warning. The model
  loads in its own process (:class:`~synthboost.app.worker.ModelProcess`) from the start, while
  Gradio imports here; requests made before it is loaded wait for it, and a model that cannot be
  loaded (or a model process that ends) stops the server with its error.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthboost.app.guards import (
    BodyLimit,
    HostOriginGuard,
    allowed_hosts_for,
    network_warning,
    read_timeout_protocol,
)
from synthboost.logs import get_logger

log = get_logger("app")

MAX_UPLOAD = "20mb"


@dataclass(frozen=True)
class ServeLimits:
    """Connection limits of the server.

    Attributes:
        read_timeout: seconds a client has to send a whole request (headers and body).
        keep_alive: seconds an idle keep-alive connection stays open.
        max_connections: connections served at once (503 beyond).
        max_file_size: Gradio's upload limit (``"20mb"``).
    """

    read_timeout: float = 30.0
    keep_alive: int = 5
    max_connections: int = 64
    max_file_size: str = MAX_UPLOAD


def asgi_app(blocks: Any, allowed_hosts: Iterable[str] | None, limits: ServeLimits) -> Any:
    """The FastAPI app serving ``blocks`` at ``/`` behind :class:`HostOriginGuard`."""
    import gradio as gr
    from fastapi import FastAPI

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(BodyLimit)
    app.add_middleware(HostOriginGuard, allowed_hosts=allowed_hosts)  # added last: runs first
    return gr.mount_gradio_app(
        app, blocks, path="/", allowed_paths=[], max_file_size=limits.max_file_size, ssr_mode=False,
        footer_links=["api"], run_history=False, show_error=False,
    )  # fmt: skip


def uvicorn_server(app: Any, limits: ServeLimits) -> Any:
    """A uvicorn server for ``app`` with the limits (bind it with ``server.run(sockets=[...])``)."""
    import uvicorn

    config = uvicorn.Config(
        app, http=read_timeout_protocol(limits.read_timeout), ws="none", lifespan="on",
        timeout_keep_alive=limits.keep_alive, limit_concurrency=limits.max_connections,
        log_level="warning", timeout_graceful_shutdown=5, h11_max_incomplete_event_size=64 * 1024,
    )  # fmt: skip
    return uvicorn.Server(config)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (``port=0``: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise ValueError(f"cannot listen on {host}:{port} ({err.strerror})") from None
    sock.listen(128)
    return sock


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _process_start() -> float:
    """When this process started (epoch seconds), from ``/proc`` where there is one, else now."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return time.time() - uptime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.time()


def _log_since_start(what: str) -> None:
    log.info("app: %s %.1f s after the command started (%.1f s of CPU in this process)", what,
             time.time() - _process_start(), time.process_time())  # fmt: skip


def _watch_model(
    server: Any, worker: Any, cases: Any, make_cases: Callable, errors: list[BaseException]
) -> None:
    """Once the server listens: write the example cases, wait for the model process; stop the server
    when either fails, or when the model process ends while serving."""
    while not server.started and not server.should_exit:
        time.sleep(0.02)
    _log_since_start("serving")
    error = cases.fill(make_cases) or worker.wait_loaded()
    if worker.closed:  # the app is stopping (Ctrl-C, SIGTERM): a model cut off while loading is no error
        return
    if error is None:
        _log_since_start("model loaded (and the example cases written)")
        code = worker.wait_ended()
        if worker.closed:
            return
        error = RuntimeError(f"the model process ended (exit code {code}); the app stops")
    errors.append(error)
    server.should_exit = True


def run_app(
    model: str,
    host: str = "127.0.0.1",
    port: int = 7860,
    phantom_patients: int = 1,
    allowed_hosts: Iterable[str] = (),
    limits: ServeLimits | None = None,
) -> None:
    """Serve the app until Ctrl-C or SIGTERM; the temporary folder is then removed.

    Raises:
        ValueError / FileNotFoundError: the model cannot be loaded (after the server stopped).
    """
    from synthboost.app.analysis import model_info
    from synthboost.app.cases import LazyCases, case_ids, phantom_cases
    from synthboost.app.ui import AppState, build_blocks, import_gradio
    from synthboost.app.worker import ModelProcess
    from synthboost.logs import verbose

    limits = limits or ServeLimits()
    signal.signal(signal.SIGTERM, _terminate)  # cleanup below also when killed before uvicorn runs
    workdir = Path(tempfile.mkdtemp(prefix="synthboost-app-"))
    os.environ["GRADIO_TEMP_DIR"] = str(workdir / "gradio")  # read by gradio at import
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    errors: list[BaseException] = []
    worker = server = watcher = None
    try:
        warning = network_warning(host)
        if warning:
            log.warning("app: %s", warning)
        sock = bind(host, port)
        info = model_info(model)
        worker = ModelProcess(model, info["threshold"], verbose=verbose())  # loads while Gradio imports below
        import_gradio()
        cases = LazyCases(case_ids(phantom_patients))
        blocks = build_blocks(AppState(worker, info, cases, workdir))
        server = uvicorn_server(asgi_app(blocks, allowed_hosts_for(host, allowed_hosts), limits), limits)
        make_cases = functools.partial(phantom_cases, workdir / "cases", phantom_patients)
        watcher = threading.Thread(target=_watch_model, args=(server, worker, cases, make_cases, errors),
                                   daemon=True)  # fmt: skip
        watcher.start()
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        log.info("synthboost app on http://%s:%d (Ctrl-C to stop)", shown, sock.getsockname()[1])
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            server.should_exit = True
        if worker is not None:
            worker.close()
        if watcher is not None:  # it may be writing the example cases (SimpleITK): an interpreter that
            watcher.join(30)  # exits under a native thread aborts, and the cases would outlive rmtree
        shutil.rmtree(workdir, ignore_errors=True)
    if errors:
        raise errors[0]


def build(model: str, workdir: Path, phantom_patients: int = 1, segmenter: Any = None) -> Any:
    """Load the model (unless ``segmenter`` is given), write the phantom cases, build the page."""
    from synthboost.app.analysis import model_info
    from synthboost.app.cases import phantom_cases
    from synthboost.app.ui import AppState, build_blocks
    from synthboost.evaluation.segmenter import Segmenter

    info = model_info(model)
    segmenter = segmenter or Segmenter.from_pretrained(model)
    cases = phantom_cases(workdir / "cases", phantom_patients) if phantom_patients > 0 else {}
    return build_blocks(AppState(segmenter, info, cases, workdir))
