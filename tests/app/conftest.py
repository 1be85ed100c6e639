"""Fixtures of the app tests: the app served as ``synthboost app`` serves it, on 127.0.0.1.

``tiny_model``, ``segmenter`` and ``echo_png`` come from ``tests/conftest.py``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def serving(blocks, limits=None, allowed_hosts=("127.0.0.1",)) -> Iterator[str]:
    """Serve ``blocks`` as ``synthboost app`` does (guard, limits), on a free port of 127.0.0.1."""
    from synthboost.app.serve import ServeLimits, asgi_app, bind, uvicorn_server

    limits = limits or ServeLimits()
    sock = bind("127.0.0.1", 0)
    server = uvicorn_server(asgi_app(blocks, allowed_hosts, limits), limits)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    end = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > end or not thread.is_alive():
            raise RuntimeError("app server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@pytest.fixture(scope="session")
def app_workdir(tmp_path_factory) -> Path:
    """The app's private folder (and Gradio's cache) for the tests of this session."""
    workdir = tmp_path_factory.mktemp("appwork")
    os.environ["GRADIO_TEMP_DIR"] = str(workdir / "gradio")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    return workdir


@pytest.fixture(scope="session")
def app_url(tiny_model, segmenter, app_workdir) -> Iterator[str]:
    """The whole app (one phantom test patient) served on 127.0.0.1 for the session."""
    from synthboost.app.serve import build

    blocks = build(str(tiny_model), app_workdir, phantom_patients=1, segmenter=segmenter)
    with serving(blocks) as url:
        yield url
