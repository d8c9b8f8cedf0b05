"""Content-addressed cache shared by renders (default ``output/.cache/``).

A key is the SHA-256 of everything that determines an artefact (engine, voice, settings, text, the stage's
code version). Entries are written atomically, so a killed run never leaves an entry that could be read back
half-written; concurrent renders may write the same entry, and the last complete rename wins harmlessly.

A killed run can leave hidden temp files and scratch folders behind. Every run holds the cache (``in_use``, a
shared ``flock``); a run that finds no other holder knows every temp file in it is stale and removes them first.
That same moment keeps the cache within its size limit: every edit leaves a new narration and video behind, so
the least recently used entries (reading an entry marks it used) go until the cache is back under 80 % of it.

The cache only ever deletes what it made. Its folder carries a marker (``CACHEDIR.TAG``, the Cache Directory
Tagging Specification's file, which backup tools also honour), and only files in its own layout are entries:
``<kind>/<first two hex digits of the key>/<64-hex key>.<suffix>``. A folder that already holds other files and
no marker is refused rather than adopted (a folder in the old, unmarked layout with nothing else in it is
adopted), and anything else a user puts inside a cache folder is never pruned.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline import atomic
from pipeline.errors import OutputError


def content_key(*parts: Any) -> str:
    """A stable hex key for JSON-serialisable ``parts``."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


DEFAULT_LIMIT_MB = 2048

MARKER_NAME = "CACHEDIR.TAG"
# The first line is the Cache Directory Tagging Specification's signature (https://bford.info/cachedir/).
MARKER_TEXT = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This folder is an nlmg-media cache (synthesised speech, narrations, pictures, video encodes).\n"
    "# It may be deleted at any time; renders remake what they need. nlmg-media removes only its own entries\n"
    "# (<kind>/<xx>/<64-hex key>.<suffix>) from it.\n"
)
_KIND = re.compile(r"^[a-z][a-z0-9_-]*$")
_ENTRY = re.compile(r"^(?P<key>[0-9a-f]{64})\.[A-Za-z0-9]+$")
_FAN_OUT = re.compile(r"^[0-9a-f]{2}$")
CLAIM_LOCK = ".nlmg-claim.lock"
_OWN_FILES = {MARKER_NAME, ".nlmg-users.lock", CLAIM_LOCK}


@dataclass(frozen=True)
class Cache:
    """A folder of entries grouped by kind (``speech``, ``slide``, ``video``…)."""

    root: Path
    limit_mb: int | None = DEFAULT_LIMIT_MB  # None: never prune

    def path(self, kind: str, key: str, suffix: str) -> Path:
        """Where the entry lives (whether or not it exists yet). Two-level fan-out keeps folders small."""
        if (
            not _KIND.match(kind)
            or not re.fullmatch(r"[0-9a-f]{64}", key)
            or not re.fullmatch(r"\.[A-Za-z0-9]+", suffix)
        ):
            raise ValueError(f"not a cache entry name: {kind}/{key}{suffix}")  # a bug: pruning would not know it
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
        were removed on the way in. A folder that is not a cache is refused with ``OutputError``."""
        self.claim()
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
                removed = self._remove_stale_temps() + self._prune()
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

    def claim(self) -> None:
        """Make sure ``root`` is this cache's folder: create it (with its marker) or check that it is one."""
        root = self.root
        if root.is_dir() and (root / MARKER_NAME).is_file():
            return
        if root.exists() and not root.is_dir():
            raise OutputError(f"cache path is not a folder: {root}")
        atomic.make_folder(root, "cache folder")
        with self._claiming():
            if not (root / MARKER_NAME).is_file():  # another first run may have marked it while this one waited
                self._mark()

    @contextlib.contextmanager
    def _claiming(self) -> Iterator[None]:
        """Two first runs on a new folder (a catalogue's parallel books) take turns to check and mark it."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no flock
            yield
            return
        try:
            handle = open(self.root / CLAIM_LOCK, "a+b")  # noqa: SIM115 (closed below)
        except OSError:  # a read-only cache: nothing will be written to it, so there is nothing to take turns on
            yield
            return
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _mark(self) -> None:
        """Check an unmarked folder holds nothing but a cache's own files, then mark it as this cache's."""
        root = self.root
        strangers = self._strangers()
        if strangers:
            shown = ", ".join(strangers[:3]) + (", …" if len(strangers) > 3 else "")
            raise OutputError(
                f"cache folder {root} already holds files that are not an nlmg-media cache's ({shown}); "
                "give the cache an empty or new folder"
            )
        with contextlib.suppress(OSError):  # a read-only cache in the old layout still serves its entries
            atomic.write_text(root / MARKER_NAME, MARKER_TEXT)

    def _strangers(self) -> list[str]:
        """Names in an unmarked folder that the cache's own layout (before the marker existed) cannot explain."""
        strangers = []
        for item in sorted(self.root.iterdir()):
            name = item.name
            if name in _OWN_FILES or name.startswith(atomic.TEMP_PREFIX):
                continue
            if name == "tmp" and item.is_dir():
                if any(not p.name.startswith(atomic.TEMP_PREFIX) for p in item.iterdir()):
                    strangers.append(f"{name}/")
                continue
            if not (_KIND.match(name) and item.is_dir()):
                strangers.append(name)
                continue
            for fan in item.iterdir():
                if not (_FAN_OUT.match(fan.name) and fan.is_dir()):
                    strangers.append(f"{name}/{fan.name}")
                    continue
                for entry in fan.iterdir():
                    if not (self._is_entry(entry) or entry.name.startswith(atomic.TEMP_PREFIX)):
                        strangers.append(f"{name}/{fan.name}/{entry.name}")
        return strangers

    @staticmethod
    def _is_entry(path: Path) -> bool:
        match = _ENTRY.match(path.name)
        if match is None:
            return False
        return match["key"][:2] == path.parent.name and _KIND.match(path.parent.parent.name) is not None

    def _entries(self) -> Iterator[Path]:
        """Every file of the cache's own layout; nothing else in the folder is ever touched."""
        for kind in self.root.iterdir():
            if kind.name == "tmp" or not _KIND.match(kind.name) or not kind.is_dir() or kind.is_symlink():
                continue
            for fan in kind.iterdir():
                if not _FAN_OUT.match(fan.name) or fan.is_symlink() or not fan.is_dir():
                    continue
                for path in fan.iterdir():
                    if self._is_entry(path) and not path.is_symlink():
                        yield path

    def _remove_stale_temps(self) -> int:
        """Killed runs' temp files and scratch folders, in the cache's own folders only."""
        removed = atomic.remove_stale_temps(self.root)
        if (self.root / "tmp").is_dir():
            removed += atomic.remove_stale_temps(self.root / "tmp")
        for kind in self.root.iterdir():
            if kind.name != "tmp" and _KIND.match(kind.name) and kind.is_dir() and not kind.is_symlink():
                for fan in kind.iterdir():
                    if _FAN_OUT.match(fan.name) and fan.is_dir() and not fan.is_symlink():
                        removed += atomic.remove_stale_temps(fan)
        return removed

    def _prune(self) -> int:
        if self.limit_mb is None:
            return 0
        entries = []
        for path in self._entries():
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
