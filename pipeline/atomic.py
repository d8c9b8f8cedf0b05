"""Atomic file writes: a temp file (dot-named, same folder) is filled, flushed, then renamed over the target.

An interrupted run therefore leaves either the previous complete file or the new complete one, never a half
file. Stale temp files from killed runs are removed by ``remove_stale_temps``. A failure to write (a full disk,
a read-only folder) is an ``OutputError`` naming the file.

A set of files that belong together (a render's MP3, captions and ``render.json``) is replaced as one with a
``FileSet``: staged in full first, then renamed in under a journal, so a reader holding the folder's lock never
sees files of two runs side by side. Readers and writers of a folder coordinate through ``folder_lock``: one
writer (exclusive), any number of readers (``shared=True``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
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
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=target.suffix, dir=target.parent)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the permissions of any new file
        yield tmp
        _fsync(tmp)
        os.replace(tmp, target)
    except OSError as exc:  # ENOSPC, EDQUOT, EROFS…: one line, and the old file stays as it was
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc
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
    folder: Path,
    name: str,
    *,
    busy: str | None = None,
    on_wait: Callable[[], None] | None = None,
    shared: bool = False,
) -> Iterator[None]:
    """One writer per folder, through the lock file ``folder/name``; with ``shared``, one of many readers.

    A reader waits while a writer holds the folder, and a writer while any reader does. With ``busy``, a second
    holder that would have to wait fails at once with ``OutputError(busy)``; without it, it waits (calling
    ``on_wait`` first) until the first one is done.
    """
    if shared:
        with _shared_lock(Path(folder) / name, busy, on_wait):
            yield
        return
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


@contextlib.contextmanager
def _shared_lock(path: Path, busy: str | None, on_wait: Callable[[], None] | None) -> Iterator[None]:
    """A shared ``flock`` on the writers' lock file (filelock holds it exclusively on Unix, in place)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: readers take the writers' exclusive lock
        with folder_lock(path.parent, path.name, busy=busy, on_wait=on_wait):
            yield
        return
    try:
        handle: Any = open(path, "a+b")  # noqa: SIM115 - closed below
    except OSError:
        try:
            handle = open(path, "rb")  # noqa: SIM115 - a folder we may read but not write
        except OSError:
            yield  # no lock file and no right to make one: nobody can be writing here through this tool
            return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            if busy is not None:
                raise OutputError(busy) from exc
            if on_wait:
                on_wait()
            fcntl.flock(handle, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- sets of files replaced together ------------------------------------------------------------------------

JOURNAL_NAME = ".nlmg-commit.json"


class FileSet:
    """The files of one output set, staged in a hidden folder beside them and renamed into place together.

    Every file of the new set is first written in full into the staging folder (``path(name)``, ``write_bytes``,
    ``copy``). ``commit`` then writes a journal naming the staged files and the old ones to remove, renames the
    staged ones in, removes the old ones and finally the journal. Ctrl-C and SIGTERM are held back while it
    renames; a run killed harder than that (SIGKILL, power loss) leaves the journal behind, and
    ``finish_commit`` (called by the next holder of the folder's lock) completes it. Until the journal exists
    nothing in the folder has changed, so a failed or interrupted run leaves the last complete set in place.
    A staged file identical to the one in place is not renamed (its inode and mtime stay).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        try:
            self.staging = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}set-", dir=self.folder))
        except OSError as exc:
            raise OutputError(f"cannot write in {self.folder}: {exc.strerror or exc}") from exc

    def path(self, name: str) -> Path:
        """Where to write the new version of ``folder/name``."""
        return self.staging / name

    def write_bytes(self, name: str, data: bytes) -> Path:
        path = self.path(name)
        try:
            path.write_bytes(data)
        except OSError as exc:
            raise OutputError(f"cannot write {self.folder / name}: {exc.strerror or exc}") from exc
        return path

    def copy(self, name: str, source: Path) -> Path:
        path = self.path(name)
        try:
            shutil.copyfile(source, path)
        except OSError as exc:
            raise OutputError(f"cannot write {self.folder / name}: {exc.strerror or exc}") from exc
        return path

    def commit(self, remove: Iterable[str] = ()) -> None:
        """Put every staged file in place; remove the files named in ``remove`` that are not part of the set."""
        names = sorted(p.name for p in self.staging.iterdir())
        for name in names:
            if _same_bytes(self.staging / name, self.folder / name):
                (self.staging / name).unlink()
        moved = sorted(p.name for p in self.staging.iterdir())
        gone = sorted(n for n in set(remove) - set(names) if (self.folder / n).exists())
        try:
            for name in moved:
                _fsync(self.staging / name)
            write_json(self.folder / JOURNAL_NAME, {"staging": self.staging.name, "files": moved, "remove": gone})
        except OSError as exc:
            raise OutputError(f"cannot write in {self.folder}: {exc.strerror or exc}") from exc
        with _signals_held():
            finish_commit(self.folder)

    def discard(self) -> None:
        """Drop what was staged, unless a journal names it (``finish_commit`` will still need it)."""
        if not (self.folder / JOURNAL_NAME).exists():
            shutil.rmtree(self.staging, ignore_errors=True)


@contextlib.contextmanager
def file_set(folder: Path, remove: Iterable[str] = ()) -> Iterator[FileSet]:
    """Stage a set of files for ``folder`` in the ``with`` body; commit them together when it ends without error."""
    files = FileSet(folder)
    try:
        yield files
        files.commit(remove)
    finally:
        files.discard()


def finish_commit(folder: Path) -> bool:
    """Complete a ``FileSet.commit`` that was cut short (its journal is still there); ``True`` if there was one.

    Only call it holding the folder's exclusive lock, before ``remove_stale_temps`` (which would take the staged
    files for leftovers). Renaming again is harmless: a file already moved is no longer in the staging folder.
    """
    folder = Path(folder)
    journal = folder / JOURNAL_NAME
    try:
        plan = json.loads(journal.read_text("utf-8"))
        staging = folder / Path(str(plan["staging"])).name
        moved = [Path(str(name)).name for name in plan["files"]]
        gone = [Path(str(name)).name for name in plan["remove"]]
    except FileNotFoundError:
        return False
    except (OSError, ValueError, KeyError, TypeError):
        journal.unlink(missing_ok=True)  # written atomically, so unreadable means damaged: nothing was renamed
        return False
    for name in moved:
        with contextlib.suppress(FileNotFoundError):
            os.replace(staging / name, folder / name)
    for name in gone:
        with contextlib.suppress(FileNotFoundError):
            (folder / name).unlink()
    _fsync_folder(folder)
    journal.unlink(missing_ok=True)
    shutil.rmtree(staging, ignore_errors=True)
    return True


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back during a few renames that belong together; they take effect when it ends.

    The Python-level handlers are swapped rather than the signal mask: a process-directed signal may be handled by
    any thread that does not block it (NumPy's worker threads among them), and Python then raises
    ``KeyboardInterrupt`` in the main thread whatever its own mask says.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread can set handlers, and only it receives KeyboardInterrupt
        return
    noted: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {number: signal.signal(number, lambda caught, frame: noted.append(caught)) for number in held}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
        for caught in noted:
            signal.raise_signal(caught)


def _same_bytes(a: Path, b: Path) -> bool:
    try:
        if a.stat().st_size != b.stat().st_size:
            return False
        with open(a, "rb") as first, open(b, "rb") as second:
            while True:
                block = first.read(1 << 20)
                if block != second.read(1 << 20):
                    return False
                if not block:
                    return True
    except OSError:
        return False


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError, AttributeError):  # not every platform can open a folder
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


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
