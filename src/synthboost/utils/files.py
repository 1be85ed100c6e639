"""Files a stage writes and reads: atomic writes (temp then rename), umask, replaceable folders, JSON/YAML."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from synthboost.logs import get_logger


def make_parent(path: Path) -> None:
    """Create the folder ``path`` goes in; a file standing where a folder must be is named clearly."""
    blocker = next((p for p in reversed(path.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise NotADirectoryError(f"{blocker}: is a file, not a folder (on the way to {path})")
    path.parent.mkdir(parents=True, exist_ok=True)


def current_umask() -> int:
    """The process umask (read by setting it and restoring it at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def follow_umask(path: str | os.PathLike) -> None:
    """Give a file or folder made by ``mkstemp``/``mkdtemp`` (0600/0700) the permissions of the umask."""
    mode = 0o777 if Path(path).is_dir() else 0o666
    os.chmod(path, mode & ~current_umask())


def follow_umask_tree(root: str | os.PathLike) -> None:
    """:func:`follow_umask` for every file and folder under ``root`` written owner-only (0600/0700,
    as ``safetensors``' ``save_file`` and ``mkstemp`` do); links are left alone."""
    for path in Path(root).rglob("*"):
        if not path.is_symlink() and path.stat().st_mode & 0o077 == 0:
            follow_umask(path)


def check_replaceable(
    folder: str | os.PathLike, markers: Sequence[str] = (), inputs: Sequence[str | os.PathLike] = ()
) -> None:
    """Raise unless ``folder`` may be deleted to be rewritten (``--force``/``overwrite``).

    Only an empty folder or one this project wrote (holding every file of ``markers``, e.g.
    ``dataset.json``) is replaceable; a plain file, a symlink, an input of the command or a folder
    containing an input, and a folder of other files are refused with ``FileExistsError``.
    """
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir():
        raise FileExistsError(
            f"{folder}: exists and is not a folder written by synthboost; refusing to replace it"
        )
    real = folder.resolve()
    for item in inputs:
        item_real = Path(item).resolve()
        if item_real == real or real in item_real.parents:
            raise FileExistsError(
                f"{folder}: is the input {item} or contains it; refusing to replace it (choose another output)"
            )
    if not any(folder.iterdir()):
        return
    if markers and all((folder / m).is_file() for m in markers):
        return
    what = f"no {' + '.join(markers)}" if markers else "not empty"
    raise FileExistsError(
        f"{folder}: not a folder written by this synthboost command ({what}); refusing to replace it "
        "(remove it yourself or choose another output)"
    )


_TMP_TAG, _OLD_TAG = ".tmp-", ".old-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_leftovers(final: str | os.PathLike) -> None:
    """Remove the temporary and ``.old`` folders that a killed :func:`atomic_dir` left beside ``final``.

    Only folders of processes that are gone are touched. A killed replacement that had already moved
    the old folder aside (``final`` missing, ``.old`` present) gets it back at ``final``.
    """
    final = Path(final)
    if not final.parent.is_dir():
        return
    for tag in (_OLD_TAG, _TMP_TAG):
        for path in sorted(final.parent.glob(f".{glob.escape(final.name)}{tag}*")):
            pid = path.name[len(final.name) + 1 + len(tag) :].split("-", 1)[0]
            if not pid.isdigit() or _pid_alive(int(pid)) or not path.is_dir() or path.is_symlink():
                continue
            if tag == _OLD_TAG and not final.exists():
                path.rename(final)
                get_logger().warning("%s: restored the previous folder left aside by a killed run", final)
                continue
            shutil.rmtree(path, ignore_errors=True)
            get_logger().info("%s: removed the leftover %s of a killed run", final, path.name)


@contextlib.contextmanager
def atomic_dir(
    final: str | os.PathLike,
    overwrite: bool = False,
    markers: Sequence[str] = (),
    inputs: Sequence[str | os.PathLike] = (),
) -> Iterator[Path]:
    """Yield a temporary folder beside ``final``; rename it to ``final`` only on success.

    Nothing is left half-written: on any exception the temporary folder is removed and ``final``
    is untouched; leftovers of a killed run are swept first (:func:`sweep_leftovers`). With
    ``overwrite`` an existing ``final`` is replaced, but only when :func:`check_replaceable`
    (``markers``, ``inputs``) allows it — checked before any work is done. The result and every
    owner-only file in it follow the umask (not ``mkdtemp``'s 0700 or ``save_file``'s 0600).
    """
    final = Path(final)
    try:
        str(final).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            f"{final}: the output path is not valid UTF-8 (its name goes into UTF-8 files)"
        ) from None
    sweep_leftovers(final)
    if final.exists() or final.is_symlink():
        if not overwrite:
            raise FileExistsError(f"{final}: already exists (use overwrite/--force to replace it)")
        check_replaceable(final, markers, inputs)
    make_parent(final)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}{_TMP_TAG}{os.getpid()}-", dir=final.parent))
    follow_umask(tmp)
    try:
        yield tmp
        follow_umask_tree(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        old = final.with_name(f".{final.name}{_OLD_TAG}{os.getpid()}")
        final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(final)


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary file path beside ``final``; ``os.replace`` it onto ``final`` on success.

    The file gets the permissions of the umask (not ``mkstemp``'s 0600).
    """
    final = Path(final)
    make_parent(final)
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(name)
    follow_umask(tmp)
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | os.PathLike, obj: Any, indent: int | None = 1) -> None:
    """Write ``obj`` as JSON to ``path`` atomically."""
    write_text_atomic(path, json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def read_json(path: str | os.PathLike, expect: type | None = None) -> Any:
    """Read a JSON file, raising a ``ValueError`` that names the file when it is malformed (or, with
    ``expect`` = ``dict``/``list``, when its top level is not an object/array)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: invalid JSON ({err})") from err
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from err
    if expect is not None and not isinstance(data, expect):
        kind = {dict: "an object {...}", list: "an array [...]"}.get(expect, expect.__name__)
        raise ValueError(f"{path}: expected {kind} at the top level, got {type(data).__name__}")
    return data


def read_yaml_mapping(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML file whose top level is a mapping; errors name the file."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: invalid YAML ({err})") from err
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data
