"""Content-addressed cache shared by renders (default ``output/.cache/``).

A key is the SHA-256 of everything that determines an artefact (engine, voice, settings, text, the stage's
code version). Entries are written atomically, so a killed run never leaves an entry that could be read back
half-written; concurrent renders may write the same entry, and the last complete rename wins harmlessly.

A killed run can leave hidden temp files and scratch folders behind. Every run holds the cache (``in_use``, a
shared ``flock``); a run that finds no other holder knows every temp file in it is stale and removes them first.
That same moment keeps the cache within its size limit: every edit leaves a new narration and video behind, so
the least recently used entries (reading an entry marks it used) go until the cache is back under 80 % of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline import atomic


def content_key(*parts: Any) -> str:
    """A stable hex key for JSON-serialisable ``parts``."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


DEFAULT_LIMIT_MB = 2048


@dataclass(frozen=True)
class Cache:
    """A folder of entries grouped by kind (``speech``, ``slide``, ``video``…)."""

    root: Path
    limit_mb: int | None = DEFAULT_LIMIT_MB  # None: never prune

    def path(self, kind: str, key: str, suffix: str) -> Path:
        """Where the entry lives (whether or not it exists yet). Two-level fan-out keeps folders small."""
        return self.root / kind / key[:2] / f"{key}{suffix}"

    def get(self, kind: str, key: str, suffix: str) -> Path | None:
        """The entry if it exists, marked as just used (its mtime) so pruning keeps it."""
        path = self.path(kind, key, suffix)
        if not path.is_file():
            return None
        with contextlib.suppress(OSError):  # a read-only cache still serves its entries
            os.utime(path)
        return path

    def put_bytes(self, kind: str, key: str, suffix: str, data: bytes) -> Path:
        path = self.path(kind, key, suffix)
        atomic.write_bytes(path, data)
        return path

    def put_json(self, kind: str, key: str, value: Any) -> Path:
        path = self.path(kind, key, ".json")
        atomic.write_json(path, value)
        return path

    @contextlib.contextmanager
    def in_use(self) -> Iterator[int]:
        """Hold the cache for one run; yield how many files (leftovers of killed runs, entries over the size limit)
        were removed on the way in."""
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no flock, so leave leftovers alone
            yield 0
            return
        with open(self.root / ".nlmg-users.lock", "a+b") as handle:
            removed = 0
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass  # another run is using the cache: its temp files are live, leave them
            else:
                removed = atomic.remove_stale_temps(self.root, recursive=True) + self._prune()
            fcntl.flock(handle, fcntl.LOCK_SH)  # waits while another run is clearing leftovers
            try:
                yield removed
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def scratch(self) -> Iterator[Path]:
        """A private hidden folder for one run's working files (under ``tmp/``), removed afterwards."""
        parent = self.root / "tmp"
        parent.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=atomic.TEMP_PREFIX, dir=parent))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _prune(self) -> int:
        if self.limit_mb is None:
            return 0
        entries = []
        for kind in self.root.iterdir():
            if not kind.is_dir() or kind.name == "tmp":
                continue
            for path in kind.glob("*/*"):
                with contextlib.suppress(OSError):
                    stat = path.stat()
                    entries.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in entries)
        limit = self.limit_mb * 1024 * 1024
        if total <= limit:
            return 0
        removed = 0
        for _, size, path in sorted(entries, key=lambda entry: entry[0]):
            if total <= 0.8 * limit:
                break
            with contextlib.suppress(OSError):
                path.unlink()
                total -= size
                removed += 1
        return removed

    def get_json(self, kind: str, key: str) -> Any | None:
        path = self.get(kind, key, ".json")
        if path is None:
            return None
        try:
            return json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            return None  # unreadable entry: treat as a miss, it will be rewritten


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
