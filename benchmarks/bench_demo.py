"""The default demo of two versions side by side: wall time, printed lines and folder size.

Run: ``.venv/bin/python benchmarks/bench_demo.py --base REV [--head REV] [--quick]``. Each version is
exported with ``git archive`` into a temporary folder and its ``synthboost demo`` runs there (one after
the other, same machine, same Python environment, ``PYTHONPATH`` pointing at that version's
``src``), writing its demo folder in the temporary folder too. Prints, per version, the wall time,
the lines the demo printed (stdout + stderr, default verbosity, no terminal: the progress view
draws its final state only), the demo folder's disk use (``du``: blocks, as a user sees it) and
apparent size, and the ratios head / base. The two demos take about 5 minutes each on 2 idle cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def export(rev: str, dest: Path) -> Path:
    """Write the tree of ``rev`` into ``dest`` (``git archive``); returns ``dest``."""
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def folder_bytes(folder: Path) -> tuple[int, int]:
    """``(disk use in bytes as du counts it, apparent bytes)`` of ``folder``."""
    disk = int(
        subprocess.run(["du", "-sk", str(folder)], check=True, capture_output=True, text=True).stdout.split()[
            0
        ]
    )
    apparent = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    return disk * 1024, apparent


def run_demo(tree: Path, quick: bool) -> dict[str, float]:
    """Run one version's demo in ``tree``; wall seconds, printed lines and folder sizes."""
    out = tree / "demo_out"
    code = "import sys; from synthboost.cli import main; sys.argv = sys.argv[1:]; main()"
    cmd = [
        sys.executable,
        "-c",
        code,
        "synthboost",
        "demo",
        "--out",
        str(out),
        *(["--quick"] if quick else []),
    ]
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "HF_HUB_OFFLINE": "1"}
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"demo of {tree} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    disk, apparent = folder_bytes(out)
    lines = len((proc.stdout + proc.stderr).splitlines())
    return {"wall_s": wall, "lines": lines, "disk_mb": disk / 1e6, "apparent_mb": apparent / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="git revision of the previous version")
    parser.add_argument("--head", default="HEAD", help="git revision of the new version (default HEAD)")
    parser.add_argument("--quick", action="store_true", help="the quick demo instead of the default one")
    args = parser.parse_args()
    preset = "quick" if args.quick else "default"
    with tempfile.TemporaryDirectory(prefix="bench_demo_") as tmp:
        rows = {}
        for label, rev in (("base", args.base), ("head", args.head)):
            tree = export(rev, Path(tmp) / label)
            rows[label] = run_demo(tree, args.quick)
            print(
                f"{label} ({rev}): " + ", ".join(f"{k} {v:.1f}" for k, v in rows[label].items()), flush=True
            )
    print(f"\ndemo preset {preset}, {os.cpu_count()} CPUs; head / base:")
    for key in rows["base"]:
        print(
            f"  {key:12s} {rows['base'][key]:9.1f} -> {rows['head'][key]:9.1f}  ({rows['head'][key] / rows['base'][key]:.2f}x)"
        )


if __name__ == "__main__":
    main()
