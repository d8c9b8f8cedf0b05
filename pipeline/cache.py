"""Content-addressed cache shared by renders (default ``output/.cache/``).

A key is the SHA-256 of everything that determines an artefact (engine, voice, settings, text, the stage's
code version). Entries are written atomically, so a killed run never leaves an entry that could be read back
half-written; concurrent renders may write the same entry, and the last complete rename wins harmlessly.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import atomic


def content_key(*parts: Any) -> str:
    """A stable hex key for JSON-serialisable ``parts``."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Cache:
    """A folder of entries grouped by kind (``speech``, ``slide``, ``video``…)."""

    root: Path

    def path(self, kind: str, key: str, suffix: str) -> Path:
        """Where the entry lives (whether or not it exists yet). Two-level fan-out keeps folders small."""
        return self.root / kind / key[:2] / f"{key}{suffix}"

    def get(self, kind: str, key: str, suffix: str) -> Path | None:
        path = self.path(kind, key, suffix)
        return path if path.is_file() else None

    def put_bytes(self, kind: str, key: str, suffix: str, data: bytes) -> Path:
        path = self.path(kind, key, suffix)
        atomic.write_bytes(path, data)
        return path

    def put_json(self, kind: str, key: str, value: Any) -> Path:
        path = self.path(kind, key, ".json")
        atomic.write_json(path, value)
        return path

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
