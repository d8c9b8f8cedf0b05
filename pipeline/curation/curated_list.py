"""The curator's list (``assets/curated_videos.toml``): approved videos and discovery searches.

-----
``assets/curated_videos.toml`` — the curator's list, edited by hand (or by ``approve``)::

    [playlist]
    title = "Never Let Me Go — video summaries and interviews"
    [[video]]                      # approved: appears in the playlist
    url = "https://…"              # any http(s) URL yt-dlp supports
    kind = "summary"               # summary | interview | commentary | adaptation | other
    note = "why a reader should watch it"
    [[search]]                     # discovery: results become candidates, never approved automatically
    query = "Never Let Me Go book summary"
    limit = 5                      # 1…50, run as yt-dlp's ``ytsearch5:…``
    kind = "summary"               # the kind a candidate gets when approved without --kind
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config import load_toml
from pipeline.curation.manifest import DEFAULT_TITLE, KINDS, MAX_SEARCH_LIMIT
from pipeline.errors import ConfigError


@dataclass(frozen=True)
class CuratedVideo:
    """One approved video: where it is, what kind of video it is, and why a reader should watch it."""

    url: str
    kind: str = "other"
    note: str = ""


@dataclass(frozen=True)
class DiscoverySearch:
    """A yt-dlp search whose results are offered to the curator as candidates."""

    query: str
    limit: int = 5
    kind: str = "other"

    @property
    def ytdlp_url(self) -> str:
        return f"ytsearch{self.limit}:{self.query}"


@dataclass(frozen=True)
class CuratedList:
    """The parsed ``curated_videos.toml``."""

    path: Path
    title: str = DEFAULT_TITLE
    videos: tuple[CuratedVideo, ...] = ()
    searches: tuple[DiscoverySearch, ...] = ()


_VIDEO_KEYS = {"url", "kind", "note"}
_SEARCH_KEYS = {"query", "limit", "kind"}
_PLAYLIST_KEYS = {"title"}


def load_curated_list(path: Path) -> CuratedList:
    """Parse and validate the curated list; every problem is a ``ConfigError`` naming the file and the entry."""
    path = Path(path)
    data = load_toml(path, "curated video list")
    return curated_list_from_data(path, data)


def curated_list_from_data(path: Path, data: Mapping[str, Any]) -> CuratedList:
    unknown = sorted(set(data) - {"playlist", "video", "search"})
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r} (expected [playlist], [[video]] and [[search]] tables)")
    table = data.get("playlist", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [playlist] must be a table")
    _reject_unknown_keys(path, "[playlist]", table, _PLAYLIST_KEYS)
    title = table.get("title", DEFAULT_TITLE)
    if not isinstance(title, str) or not title.strip():
        raise ConfigError(f"{path}: [playlist] title must be a non-empty string")

    videos: list[CuratedVideo] = []
    first_seen: dict[str, int] = {}
    for number, item in enumerate(_array_of_tables(path, data, "video"), start=1):
        where = f"video #{number}"
        _reject_unknown_keys(path, where, item, _VIDEO_KEYS)
        url = item.get("url")
        if not isinstance(url, str) or not is_http_url(url.strip()):
            raise ConfigError(f"{path}: {where}: url must be an http(s) URL, got {url!r}")
        url = url.strip()
        if url in first_seen:
            raise ConfigError(f"{path}: {where} repeats the url of video #{first_seen[url]}: {url}")
        first_seen[url] = number
        videos.append(
            CuratedVideo(url=url, kind=_kind(path, where, item.get("kind", "other")), note=_note(path, where, item))
        )

    searches: list[DiscoverySearch] = []
    for number, item in enumerate(_array_of_tables(path, data, "search"), start=1):
        where = f"search #{number}"
        _reject_unknown_keys(path, where, item, _SEARCH_KEYS)
        query = item.get("query")
        if not isinstance(query, str) or not query.strip():
            raise ConfigError(f"{path}: {where}: query must be a non-empty string")
        limit = item.get("limit", 5)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_SEARCH_LIMIT:
            raise ConfigError(f"{path}: {where}: limit must be a whole number from 1 to {MAX_SEARCH_LIMIT}")
        searches.append(
            DiscoverySearch(query=query.strip(), limit=limit, kind=_kind(path, where, item.get("kind", "other")))
        )
    return CuratedList(path=path, title=title.strip(), videos=tuple(videos), searches=tuple(searches))


def _array_of_tables(path: Path, data: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    items = data.get(key, [])
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ConfigError(f"{path}: {key} entries must be [[{key}]] tables")
    return items


def _reject_unknown_keys(path: Path, where: str, item: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(item) - allowed)
    if unknown:
        raise ConfigError(f"{path}: {where}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")


def _kind(path: Path, where: str, value: Any) -> str:
    if value not in KINDS:
        raise ConfigError(f"{path}: {where}: kind must be one of {', '.join(KINDS)}, got {value!r}")
    return str(value)


def _note(path: Path, where: str, item: Mapping[str, Any]) -> str:
    note = item.get("note", "")
    if not isinstance(note, str):
        raise ConfigError(f"{path}: {where}: note must be a string")
    return note.strip()


def is_http_url(value: str) -> bool:
    parts = urllib.parse.urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not re.search(r"\s", value)
