"""Helpers shared by the app tests (a module of its own: importing ``conftest`` by name picks up
whichever folder's ``conftest`` was imported first when several test folders run together)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


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


def get(url: str, headers: dict[str, str] | None = None, data: bytes | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


def start_app(model: str, tmpdir: Path, *extra: str) -> tuple[subprocess.Popen, float, list[str]]:
    """``synthboost app`` in a child process whose temporary files go to ``tmpdir``.

    Returns:
        ``(process, seconds until its page answered, its log lines so far)``.
    """
    env = {**os.environ, "TMPDIR": str(tmpdir), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}  # fmt: skip
    env.pop("GRADIO_TEMP_DIR", None)
    cmd = [sys.executable, "-c", "from synthboost.cli import main; main()", "app", "--model", model,
           "--port", "0", *extra]  # fmt: skip
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if "synthboost app on http://" in line:
            url = line.split("on ", 1)[1].split()[0]
            assert get(url + "/")[0] == 200
            return proc, time.monotonic() - t0, lines
    raise AssertionError(f"the app did not start (exit {proc.wait()}): {''.join(lines)[-2000:]}")
