"""Atomic file writes: a temp file (dot-named, same folder) is filled, flushed, then renamed over the target.

An interrupted run therefore leaves either the previous complete file or the new complete one, never a half
file. Stale temp files from killed runs are removed by ``remove_stale_temps``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pipeline.errors import OutputError

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


def remove_stale_temps(folder: Path, *, recursive: bool = False) -> int:
    """Delete the temp files and scratch folders interrupted runs left in ``folder`` (and in every folder below
    it, with ``recursive``); return how many. Only call it when no live run can be writing there."""
    if not folder.is_dir():
        return 0
    removed = 0
    for parent, dirs, files in os.walk(folder):
        for name in files:
            if name.startswith(TEMP_PREFIX):
                with contextlib.suppress(OSError):
                    (Path(parent) / name).unlink()
                    removed += 1
        for name in dirs:
            if name.startswith(TEMP_PREFIX):
                shutil.rmtree(Path(parent) / name, ignore_errors=True)
                removed += 1
        dirs[:] = [name for name in dirs if not name.startswith(TEMP_PREFIX)] if recursive else []
    return removed


def make_folder(folder: Path, what: str) -> Path:
    """Create ``folder`` and its parents if needed; a failure is an ``OutputError`` naming ``what``."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {what} {folder}: {exc.strerror}") from exc
    return folder


@contextlib.contextmanager
def folder_lock(
    folder: Path, name: str, *, busy: str | None = None, on_wait: Callable[[], None] | None = None
) -> Iterator[None]:
    """One writer per folder, through the lock file ``folder/name``.

    With ``busy``, a second writer fails at once with ``OutputError(busy)``; without it, it waits (calling
    ``on_wait`` first) until the first one is done.
    """
    from filelock import FileLock, Timeout

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
    """The process umask, read without changing it: ``os.umask`` can only be read by setting it, and setting it
    to 0 even for an instant would give folders that drawing threads create meanwhile the wrong permissions."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022  # no /proc: the usual default


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
