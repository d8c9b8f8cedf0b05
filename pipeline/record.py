"""``render.json``: the record of one render, read by later stages (video, publish) instead of re-probing media.

Schema (version 1)::

    {
      "schema": 1,
      "title": "Never Let Me Go", "author": "Kazuo Ishiguro", "year": 2005, "slug": "never-let-me-go",
      "description": "first paragraph of the summary (plain text)",
      "summary": {"path": "assets/summary.md", "sha256": "…"},
      "engine": "hibari", "voice": "heart", "voice_sha256": "…",
      "duration": 187.43,                                  # mastered narration, seconds
      "chapters": [{"title": "…", "start": 0.0, "end": 31.2}, …],
      "loudness": {"integrated_lufs": -16.0, "true_peak_dbtp": -1.4},
      "files": {                                           # role -> file in the render folder
        "narration":   {"path": "narration.mp3",   "bytes": 123456, "sha256": "…", "mime": "audio/mpeg"},
        "captions_srt", "captions_vtt", "chapters", "transcript", "timeline", "cover",
        "video_landscape", "video_portrait", "video_square"   # videos only when rendered
      },
      "rendered_at": "2026-11-24T22:00:00Z",
      "versions": {"nlmg-media": "0.1.0", "hibari-tts": "0.2.1", "piper-tts": "1.8.0", "ffmpeg": "…", …},
      "stats": {"sentences": 40, "synthesized": 0, "cached": 40, …}
    }
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline import atomic
from pipeline.cache import sha256_file
from pipeline.errors import InputError
from pipeline.media_types import mime

RECORD_NAME = "render.json"
RENDER_LOCK = ".nlmg-render.lock"  # a render holds it exclusively, publish shared (see ``atomic.folder_lock``)
SCHEMA = 1


def file_entry(folder: Path, name: str) -> dict[str, Any]:
    path = folder / name
    return {"path": name, "bytes": path.stat().st_size, "sha256": sha256_file(path), "mime": mime(name)}


def write_record(folder: Path, record: dict[str, Any]) -> Path:
    path = folder / RECORD_NAME
    atomic.write_json(path, {"schema": SCHEMA, **record})
    return path


@dataclass(frozen=True)
class RenderRecord:
    """A parsed ``render.json`` and the folder it lives in."""

    folder: Path
    data: dict[str, Any]

    def file(self, role: str) -> Path | None:
        """The file recorded for ``role``; ``InputError`` unless it is a regular file of the render folder itself
        (a ``render.json`` naming ``/etc/passwd``, ``../x`` or a link out of the folder would publish it)."""
        files = self.data.get("files")
        entry = files.get(role) if isinstance(files, dict) else None
        if not entry:
            return None
        name = entry.get("path") if isinstance(entry, dict) else None
        where = self.folder / RECORD_NAME
        if not isinstance(name, str) or name in ("", ".", "..") or any(c in name for c in "/\\\x00"):
            raise InputError(f"{where}: {role} names {name!r}, which is not a file of the render folder")
        path = self.folder / name
        folder = os.path.realpath(self.folder)
        if os.path.dirname(os.path.realpath(path)) != folder:
            raise InputError(f"{where}: {role} names {name!r}, which is not a file of the render folder (a link)")
        return path

    def sha256(self, role: str) -> str | None:
        """The SHA-256 ``render.json`` recorded for ``role``'s file, if it recorded one."""
        entry = (self.data.get("files") or {}).get(role)
        value = entry.get("sha256") if isinstance(entry, dict) else None
        return value if isinstance(value, str) else None


def read_record(folder: Path) -> RenderRecord:
    path = Path(folder) / RECORD_NAME
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"no {RECORD_NAME} in {folder} (run `nlmg-media render` first)") from exc
    except (OSError, ValueError) as exc:
        raise InputError(f"unreadable {path}: {exc}") from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise InputError(f"{path} has an unknown schema (expected {SCHEMA})")
    return RenderRecord(Path(folder), data)
