"""The video manifest: the state a refresh keeps (``<out>/manifest.json``), entry by entry.

``<out>/manifest.json`` — the state (default ``output/videos/manifest.json``). Refresh reads it back, so a failed
check never erases the last good metadata. ``playlist.jspf``, ``playlist.m3u8`` and ``index.html`` (written by
:mod:`pipeline.curation.playlist`) are views of it, rewritten with it. Schema (version 1)::

    {
      "schema": 1,
      "title": "…", "list": "assets/curated_videos.toml", "refreshed_at": "2026-11-24T22:00:00Z",
      "entries": [                                   # approved in list order, then candidates
        {"url": "…",                                 # as curated (the key that ties an entry to the list)
         "role": "approved" | "candidate", "kind": "summary", "note": "…",
         "query": null | "the search that found a candidate",
         "status": "ok", "checked_at": "…Z" | null, "last_ok_at": "…Z" | null, "error": null | "…",
         "id": "…", "extractor": "Youtube", "title": "…", "channel": "…", "uploader": "…",
         "duration": 303.0, "upload_date": "2024-03-01", "view_count": 1234, "thumbnail": "https://…",
         "description": "first 300 characters…", "chapters": [{"title": "…", "start": 0.0, "end": 60.0}],
         "webpage_url": "https://…"}
      ],
      "searches": [{"query": "…", "limit": 5, "kind": "summary", "status": "ok", "found": 5,
                    "checked_at": "…Z", "last_ok_at": "…Z", "error": null}]
    }

Statuses
--------
``ok``; permanent failures flagged for the curator (``private``, ``removed``, ``unavailable``, ``geo_blocked``,
``age_restricted``), re-checked once older than ``max_age``; transient ones (``rate_limited``, ``unreachable``,
``error``) re-checked on every refresh. A failed check changes only ``status``, ``checked_at`` and ``error``:
every metadata field and ``last_ok_at`` keep their last good values. A video the curator removes from the
list leaves the manifest at the next refresh.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

KINDS = ("summary", "interview", "commentary", "adaptation", "other")
STATUSES = (
    "ok",
    "private",
    "removed",
    "unavailable",
    "geo_blocked",
    "age_restricted",
    "rate_limited",
    "unreachable",
    "error",
)
PERMANENT_FAILURES = frozenset({"private", "removed", "unavailable", "geo_blocked", "age_restricted"})
TRANSIENT_FAILURES = frozenset({"rate_limited", "unreachable", "error"})
# Worth another try within the same refresh; "error" is usually an extractor problem that a retry won't fix.
RETRYABLE_NOW = frozenset({"rate_limited", "unreachable"})

ROLES = ("approved", "candidate")
DEFAULT_LIST = Path("assets/curated_videos.toml")
DEFAULT_OUT = Path("output/videos")
MANIFEST_NAME = "manifest.json"
MANIFEST_SCHEMA = 1
LOCK_NAME = ".nlmg-videos.lock"
DEFAULT_TITLE = "Curated videos"
DESCRIPTION_EXCERPT = 300
MAX_SEARCH_LIMIT = 50
METADATA_FIELDS = (
    "id",
    "extractor",
    "title",
    "channel",
    "uploader",
    "duration",
    "upload_date",
    "view_count",
    "thumbnail",
    "description",
    "chapters",
    "webpage_url",
)


@dataclass(frozen=True)
class Chapter:
    title: str
    start: float
    end: float | None = None


@dataclass(frozen=True)
class VideoEntry:
    """One approved video or discovery candidate with its last-known metadata and the result of its last check."""

    url: str
    role: str
    kind: str
    status: str
    note: str = ""
    query: str | None = None
    checked_at: str | None = None
    last_ok_at: str | None = None
    error: str | None = None
    id: str | None = None
    extractor: str | None = None
    title: str | None = None
    channel: str | None = None
    uploader: str | None = None
    duration: float | None = None
    upload_date: str | None = None
    view_count: int | None = None
    thumbnail: str | None = None
    description: str | None = None
    chapters: tuple[Chapter, ...] = ()
    webpage_url: str | None = None

    @property
    def location(self) -> str:
        """Where a person (or player) opens the video: the canonical page yt-dlp reported, else the curated URL."""
        return self.webpage_url or self.url

    @property
    def display_title(self) -> str:
        return self.title or self.location

    @property
    def creator(self) -> str | None:
        return self.channel or self.uploader

    def to_json(self) -> dict[str, Any]:
        record = asdict(self)
        record["chapters"] = [asdict(chapter) for chapter in self.chapters]
        return record

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> VideoEntry:
        known = {name: record[name] for name in cls.__dataclass_fields__ if name in record}
        known["chapters"] = tuple(
            Chapter(title=str(c.get("title") or ""), start=float(c.get("start") or 0), end=c.get("end"))
            for c in record.get("chapters") or []
            if isinstance(c, dict)
        )
        return cls(**known)


@dataclass(frozen=True)
class SearchRecord:
    """The last run of one discovery search."""

    query: str
    limit: int
    kind: str
    status: str
    found: int = 0
    checked_at: str | None = None
    last_ok_at: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Manifest:
    """Everything refresh knows: approved entries (list order), then candidates, and the searches' last runs."""

    title: str
    list_path: str
    refreshed_at: str | None
    entries: tuple[VideoEntry, ...] = ()
    searches: tuple[SearchRecord, ...] = ()

    @property
    def approved(self) -> tuple[VideoEntry, ...]:
        return tuple(entry for entry in self.entries if entry.role == "approved")

    @property
    def candidates(self) -> tuple[VideoEntry, ...]:
        return tuple(entry for entry in self.entries if entry.role == "candidate")

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": MANIFEST_SCHEMA,
            "title": self.title,
            "list": self.list_path,
            "refreshed_at": self.refreshed_at,
            "entries": [entry.to_json() for entry in self.entries],
            "searches": [asdict(record) for record in self.searches],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Manifest:
        searches = []
        for record in data.get("searches") or []:
            fields_ = {name: record[name] for name in SearchRecord.__dataclass_fields__ if name in record}
            searches.append(SearchRecord(**fields_))
        return cls(
            title=str(data.get("title") or DEFAULT_TITLE),
            list_path=str(data.get("list") or ""),
            refreshed_at=data.get("refreshed_at"),
            entries=tuple(VideoEntry.from_json(record) for record in data.get("entries") or []),
            searches=tuple(searches),
        )


def manifest_path(out_dir: Path) -> Path:
    return Path(out_dir) / MANIFEST_NAME


def load_manifest(out_dir: Path) -> Manifest | None:
    """The manifest in ``out_dir``, or ``None`` if there is none yet. A damaged one is an error, never ignored:
    silently starting afresh would throw away the last-known metadata this file exists to keep."""
    path = manifest_path(out_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read video manifest {path}: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"video manifest {path} is not valid JSON (line {exc.lineno}, column {exc.colno}); "
            "restore it or delete it to start afresh"
        ) from exc
    if not isinstance(data, dict) or data.get("schema") != MANIFEST_SCHEMA:
        raise ConfigError(f"video manifest {path} is not a schema {MANIFEST_SCHEMA} nlmg-media manifest")
    try:
        return Manifest.from_json(data)
    except (TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"video manifest {path} has a malformed entry: {exc}") from exc
