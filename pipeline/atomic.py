"""Atomic file writes: a temp file (dot-named, same folder) is filled, flushed, then renamed over the target.

An interrupted run therefore leaves either the previous complete file or the new complete one, never a half
file. Stale temp files from killed runs are removed by ``remove_stale_temps``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

TEMP_PREFIX = ".nlmg-tmp-"


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temp path beside ``target``; on success it replaces ``target``, on failure it is removed.

    The temp name keeps the target's suffix so tools that infer a format from the name (ffmpeg) still work.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=target.suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the permissions of any new file
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_bytes(target: Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(target: Path, text: str) -> None:
    write_bytes(target, text.encode("utf-8"))


def write_json(target: Path, value: Any) -> None:
    write_text(target, json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def remove_stale_temps(folder: Path) -> int:
    """Delete temp files left by interrupted runs in ``folder`` (not recursive); return how many."""
    removed = 0
    if not folder.is_dir():
        return 0
    for leftover in folder.glob(TEMP_PREFIX + "*"):
        with contextlib.suppress(OSError):
            leftover.unlink()
            removed += 1
    return removed


@contextlib.contextmanager
def folder_lock(
    folder: Path, name: str, *, busy: str | None = None, on_wait: Callable[[], None] | None = None
) -> Iterator[None]:
    """One writer per folder, through the lock file ``folder/name``.

    With ``busy``, a second writer fails at once with ``OutputError(busy)``; without it, it waits (calling
    ``on_wait`` first) until the first one is done.
    """
    from filelock import FileLock, Timeout

    from .errors import OutputError

    lock = FileLock(str(folder / name))
    try:
        lock.acquire(timeout=0)
    except Timeout as exc:
        if busy is not None:
            raise OutputError(busy) from exc
        if on_wait:
            on_wait()
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
