"""Start time of ``synthboost app``: seconds from launching the command until it can answer.

    python benchmarks/bench_app_start.py --model RUN --starts 5 [--src new=src --src old=/tmp/old/src]
                                         [--wait-quiet 0.3]

Each start launches ``synthboost app --model RUN --port P`` (the console script beside this Python,
in a fresh process, ``PYTHONPATH`` set to the source tree under test) and records, from the launch:

- ``page``: the first ``GET /`` answered 200 (polled every 20 ms);
- ``model``: the log line ``app: model loaded`` arriving on the app's stderr;
- ``ready``: the later of the two, the moment the app can answer a segment request;
- ``answer``: a ``/segment`` request on the first phantom case (sent through Gradio's REST API as
  soon as the page is served; the app holds it until the model is there) answered.

Several ``--src`` trees are started in turn (old, new, old, new, ...), so a busy machine slows both
alike; the table gives the median, min and max of each column per tree, with the load average
before and after. Each start also prints ``others``: the CPU the rest of the machine used meanwhile
(``/proc/stat`` busy time less this start's own, in cores), to tell quiet starts from busy ones;
``--wait-quiet CORES`` starts only when the machine is that quiet (a shared machine's quiet moments).

The sequential start before the model process (commit 47d3e53: model loaded in a thread once the
page was served, Gradio imported whole) is the baseline: ``mkdir /tmp/old && git archive 47d3e53 src
| tar -x -C /tmp/old`` and pass ``--src old=/tmp/old/src --src new=src``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

MARKER = "app: model loaded"
CASE = "patient0001_2CH_ED"


def launcher() -> list[str]:
    """The ``synthboost`` console script beside this Python (what a user runs), else ``python -c``."""
    script = Path(sys.executable).with_name("synthboost")
    if script.is_file():
        return [sys.executable, str(script)]
    return [sys.executable, "-c", "from synthboost.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def segment_answer(base: str, timeout: float = 60.0) -> str:
    """Ask ``/segment`` for the first phantom case (REST API) and return its result text."""
    data = [[], CASE, "Left ventricular cavity of the heart.", 0.5, None, None]
    req = urllib.request.Request(f"{base}gradio_api/call/segment", json.dumps({"data": data}).encode(),
                                 {"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=timeout) as r:
        event = json.load(r)["event_id"]
    with urllib.request.urlopen(f"{base}gradio_api/call/segment/{event}", timeout=timeout) as r:
        lines = r.read().decode().splitlines()
    if "event: complete" not in lines:
        raise RuntimeError(f"/segment did not complete: {lines[-3:]}")
    return json.loads(lines[lines.index("event: complete") + 1][len("data: ") :])[1]


def busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (Linux ``/proc/stat``; NaN elsewhere)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return float("nan")
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_seconds() -> float:
    """CPU seconds of this process and its waited-for children (the app and its model process)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def wait_quiet(cores: float, patience: float = 600.0) -> float:
    """Wait until the machine used less than ``cores`` over the last second (at most ``patience`` s);
    the cores it used in that last second."""
    end = time.monotonic() + patience
    while True:
        before = busy_seconds()
        time.sleep(1.0)
        used = busy_seconds() - before
        if not used >= cores or time.monotonic() > end:  # NaN (no /proc/stat): do not wait
            return used


def one_start(src: Path, model: str, timeout: float) -> dict[str, float]:
    """Launch the app from ``src`` once; seconds to page, model, ready and first answer, and the
    cores the rest of the machine used meanwhile (``others``)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(src), "HF_HUB_OFFLINE": "1"}
    cmd = [*launcher(), "app", "--model", model, "--port", str(port)]
    busy0, own0 = busy_seconds(), own_seconds()
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    seen: dict[str, float] = {}
    lines: list[str] = []

    def read() -> None:
        for line in proc.stderr:
            lines.append(line)
            if MARKER in line and "model" not in seen:
                seen["model"] = time.monotonic() - t0

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}/"
    try:
        while _get_status(base) != 200:
            if proc.poll() is not None or time.monotonic() - t0 > timeout:
                raise RuntimeError(f"the app did not serve (exit {proc.poll()}): {''.join(lines)[-2000:]}")
            time.sleep(0.02)
        page = time.monotonic() - t0
        text = segment_answer(base, timeout)
        answer = time.monotonic() - t0
        if not text.startswith("Area: "):
            raise RuntimeError(f"unexpected /segment answer {text!r}")
        while "model" not in seen and time.monotonic() - t0 < timeout:
            time.sleep(0.01)
    finally:
        proc.terminate()
        proc.wait(30)
        reader.join(5)
    others = (busy_seconds() - busy0 - (own_seconds() - own0)) / (time.monotonic() - t0)
    if "model" not in seen:
        raise RuntimeError(f"no {MARKER!r} line: {''.join(lines)[-2000:]}")
    ready = max(page, seen["model"])
    return {"page": page, "model": seen["model"], "ready": ready, "answer": answer, "others": others}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="run or model folder given to synthboost app --model")
    parser.add_argument("--starts", type=int, default=5, help="starts per source tree")
    parser.add_argument("--src", action="append", default=[], metavar="NAME=PATH",
                        help="source tree to start the app from (repeatable; default: this checkout's src)")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--wait-quiet", type=float, default=None, metavar="CORES",
                        help="before each start, wait (up to 10 min) until the machine used fewer cores "
                        "than this over one second (a shared machine's quiet moments)")  # fmt: skip
    args = parser.parse_args()
    trees = dict(s.split("=", 1) for s in args.src) or {"this": str(Path(__file__).parents[1] / "src")}
    load_before = os.getloadavg()
    times: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for i in range(args.starts):
        for name, src in trees.items():
            if args.wait_quiet is not None:
                wait_quiet(args.wait_quiet)
            t = one_start(Path(src), args.model, args.timeout)
            times[name].append(t)
            cells = [f"{k} {v:5.2f} s" for k, v in t.items() if k != "others"]
            print(
                f"start {i + 1} {name:<6} " + "  ".join(cells) + f"  others {t['others']:4.2f} cores",
                flush=True,
            )
    load_after = os.getloadavg()
    print(f"\n{' '.join(launcher())} app --model {args.model}")
    print(f"{args.starts} starts per tree, {os.cpu_count()} CPUs; load average (1, 5, 15 min) "
          f"before {', '.join(f'{x:.2f}' for x in load_before)}, after {', '.join(f'{x:.2f}' for x in load_after)}")  # fmt: skip
    print(
        f"{'tree':<8}"
        + "".join(f"{k + ' median [min, max]':>27}" for k in ("page", "model", "ready", "answer"))
    )
    for name, runs in times.items():
        cells = []
        for key in ("page", "model", "ready", "answer"):
            v = [r[key] for r in runs]
            cells.append(f"{statistics.median(v):>10.2f} [{min(v):5.2f}, {max(v):5.2f}] s")
        print(f"{name:<8}" + "".join(f"{c:>27}" for c in cells))


if __name__ == "__main__":
    main()
