"""Curated third-party videos: the curator's list, the refresh engine over yt-dlp, and the manifest it keeps.

Files
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

``<out>/manifest.json`` — the state (default ``output/videos/manifest.json``). Refresh reads it back, so a failed
check never erases the last good metadata. ``playlist.jspf``, ``playlist.m3u8`` and ``index.html`` (written by
:mod:`pipeline.playlist`) are views of it, rewritten with it. Schema (version 1)::

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

Network boundary: :class:`YtDlpSource` (one ``YoutubeDL`` per worker thread, metadata only, socket timeout, no
yt-dlp-internal retries) behind the small :class:`MetadataSource` protocol; the refresh engine retries
``rate_limited``/``unreachable`` with exponential backoff inside a per-entry budget of
``socket_timeout × attempts``, and a host that exhausted its retries gets a single attempt for the rest of the
refresh. Nothing here prints: progress flows out through a callback.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import unicodedata
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import tomli_w

from . import atomic, playlist
from .config import load_toml
from .errors import ConfigError, NlmgError

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

# --------------------------------------------------------------------------------------------------------------
# The curated list


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
    return _curated_list_from_data(path, data)


def _curated_list_from_data(path: Path, data: Mapping[str, Any]) -> CuratedList:
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
        if not isinstance(url, str) or not _is_http_url(url.strip()):
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


def _is_http_url(value: str) -> bool:
    parts = urllib.parse.urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not re.search(r"\s", value)


# --------------------------------------------------------------------------------------------------------------
# The manifest


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


def write_outputs(manifest: Manifest, out_dir: Path) -> dict[str, Path]:
    """Write the manifest and its views (JSPF, M3U8, HTML) atomically; return them by role."""
    out_dir = Path(out_dir)
    atomic.write_json(manifest_path(out_dir), manifest.to_json())
    files = {"manifest": manifest_path(out_dir)}
    files.update(playlist.write_playlist_files(manifest, out_dir))
    return files


# --------------------------------------------------------------------------------------------------------------
# From yt-dlp's info dict to our fields

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def clean_text(value: Any, limit: int | None = None) -> str | None:
    """One line of plain text: control characters dropped, whitespace collapsed, optionally shortened with "…".

    Third-party text is untrusted; this only makes it a tidy line. Escaping happens in each output format.
    """
    if value is None:
        return None
    text = unicodedata.normalize("NFC", str(value))
    text = " ".join(_CONTROL.sub(" ", text).split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text or None


def metadata_from_info(info: Mapping[str, Any]) -> dict[str, Any]:
    """The fields we keep from a (sanitised) yt-dlp info dict or flat search entry, typed and cleaned."""
    thumbnail = _http_url(info.get("thumbnail"))
    if thumbnail is None:
        # yt-dlp orders thumbnails worst to best.
        for candidate in reversed(info.get("thumbnails") or []):
            if isinstance(candidate, dict) and (thumbnail := _http_url(candidate.get("url"))):
                break
    chapters = []
    for chapter in info.get("chapters") or []:
        if isinstance(chapter, dict) and _number(chapter.get("start_time")) is not None:
            chapters.append(
                Chapter(
                    title=clean_text(chapter.get("title"), 200) or "",
                    start=float(chapter["start_time"]),
                    end=_number(chapter.get("end_time")),
                )
            )
    extractor = info.get("extractor_key") or info.get("ie_key") or info.get("extractor")
    return {
        "id": clean_text(info.get("id"), 200),
        "extractor": clean_text(extractor, 100),
        "title": clean_text(info.get("title") or info.get("fulltitle"), 300),
        "channel": clean_text(info.get("channel"), 200),
        "uploader": clean_text(info.get("uploader"), 200),
        "duration": _number(info.get("duration")),
        "upload_date": _upload_date(info),
        "view_count": _whole(info.get("view_count")),
        "thumbnail": thumbnail,
        "description": clean_text(info.get("description"), DESCRIPTION_EXCERPT),
        "chapters": tuple(chapters),
        "webpage_url": _http_url(info.get("webpage_url")) or _http_url(info.get("original_url")),
    }


def _http_url(value: Any) -> str | None:
    return value if isinstance(value, str) and _is_http_url(value) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or value < 0:
        return None
    return float(value)


def _whole(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None


def _upload_date(info: Mapping[str, Any]) -> str | None:
    raw = info.get("upload_date") or info.get("release_date")
    if isinstance(raw, str) and re.fullmatch(r"\d{8}", raw):
        try:
            return date(int(raw[:4]), int(raw[4:6]), int(raw[6:])).isoformat()
        except ValueError:
            return None
    for key in ("timestamp", "release_timestamp"):
        stamp = _number(info.get(key))
        if stamp is not None:
            return datetime.fromtimestamp(stamp, UTC).date().isoformat()
    return None


# --------------------------------------------------------------------------------------------------------------
# Classifying yt-dlp's failures

# Order matters: the first rule whose words appear wins. YouTube's private and age-gate messages both say
# "sign in"; its rate-limit message says "isn't available"; "Video unavailable. This video has been removed…".
_MESSAGE_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("rate_limited", ("too many requests", "rate-limit", "rate limit", "not a bot", "try again later")),
    ("private", ("private video", "video is private", "this video is private")),
    (
        "age_restricted",
        ("confirm your age", "age-restricted", "age restricted", "inappropriate for some users", "age-gate"),
    ),
    (
        "geo_blocked",
        (
            "not available in your country",
            "available in your country",
            "geo restrict",
            "geo-restrict",
            "not available from your location",
        ),
    ),  # fmt: skip
    ("removed", ("has been removed", "has been terminated", "no longer available", "has been deleted")),
    ("unavailable", ("video unavailable", "is unavailable", "not available", "unsupported url", "members-only")),
)
_NETWORK_WORDS = (
    "connection refused",
    "timed out",
    "name or service not known",
    "temporary failure in name resolution",
    "network is unreachable",
    "unable to connect",
    "connection reset",
    "nodename nor servname",
    "no route to host",
)


def classify_ytdlp_error(error: BaseException, warnings: Sequence[str] = ()) -> tuple[str, str]:
    """Map an exception from ``YoutubeDL.extract_info`` to ``(status, short message)``.

    yt-dlp wraps extractor failures in ``DownloadError`` whose ``exc_info`` holds the original exception (the
    ``HTTPError``/``TransportError`` for network failures, the ``GeoRestrictedError`` for geo blocks); other
    failures are only distinguishable by their message, which comes from the site (YouTube's playability
    reason). ``warnings`` are yt-dlp's warnings during the attempt: an extractor that tolerated a failed page
    download may fail later with a vague message, and the warning tells us the cause was the network.
    """
    from yt_dlp.networking.exceptions import HTTPError, TransportError
    from yt_dlp.utils import GeoRestrictedError, UnsupportedError

    chain = _exception_chain(error)
    detail = _short_message(error)
    if any(isinstance(item, GeoRestrictedError) for item in chain):
        return "geo_blocked", detail
    for item in chain:
        if isinstance(item, HTTPError):
            code = item.status
            if code == 429:
                return "rate_limited", detail
            if code in (404, 410):
                return "removed", detail
            if code in (401, 403, 451):
                return "unavailable", detail
            if code == 408 or code >= 500:
                return "unreachable", detail
            return "error", detail
    if any(isinstance(item, TransportError | TimeoutError | ConnectionError) for item in chain):
        return "unreachable", detail
    text = " ".join(str(item) for item in chain).lower().replace("\u2019", "'")
    for status, words in _MESSAGE_RULES:
        if any(word in text for word in words):
            return status, detail
    if any(isinstance(item, UnsupportedError) for item in chain):
        return "unavailable", detail
    if any(word in message.lower() for message in warnings for word in _NETWORK_WORDS):
        return "unreachable", detail
    return "error", detail


def _exception_chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    pending: list[Any] = [error]
    while pending:
        item = pending.pop(0)
        if not isinstance(item, BaseException) or any(item is known for known in seen):
            continue
        seen.append(item)
        exc_info = getattr(item, "exc_info", None)
        if isinstance(exc_info, tuple) and len(exc_info) == 3:
            pending.append(exc_info[1])
        pending.extend([getattr(item, "cause", None), item.__cause__, item.__context__])
    return seen


def _short_message(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    text = re.sub(r"^\s*ERROR:\s*", "", text)
    # Drop yt-dlp's boilerplate: the bug-report plea, the repr of the cause, the cookie how-to.
    for marker in ("; please report this issue", " (caused by ", " Use --cookies", ". Also see ", "\nYou might want"):
        text = text.split(marker, 1)[0]
    text = re.sub(r"(?<![.!?;:])\s*\n\s*", ". ", text.strip())
    return clean_text(text, 300) or type(error).__name__


# --------------------------------------------------------------------------------------------------------------
# The network boundary


class CheckFailed(Exception):
    """A metadata check failed; ``status`` is one of ``STATUSES`` other than ``ok``."""

    def __init__(self, status: str, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


class MetadataSource(Protocol):
    """Where metadata comes from. Both methods raise ``CheckFailed`` for every expected failure."""

    def extract(self, url: str) -> Mapping[str, Any]: ...

    def search(self, query: str, limit: int) -> list[Mapping[str, Any]]: ...

    def close(self) -> None: ...


class _YtDlpLog:
    """yt-dlp's logger interface; keeps warnings for classification and keeps yt-dlp off our terminal."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def debug(self, message: str) -> None:
        pass

    def info(self, message: str) -> None:
        pass

    def warning(self, message: str) -> None:
        self.messages.append(message)

    def error(self, message: str) -> None:
        self.messages.append(message)


class YtDlpSource:
    """Metadata through yt-dlp: one ``YoutubeDL`` per worker thread (it is not thread-safe), nothing downloaded.

    ``extractors`` are InfoExtractor classes registered on every ``YoutubeDL`` after the defaults; one whose
    ``ie_key()`` equals a built-in's replaces it in place (how tests feed recorded fixtures to YouTube URLs).
    """

    def __init__(
        self,
        *,
        socket_timeout: float = 10.0,
        sleep: float = 0.0,
        proxy: str | None = None,
        extractors: Sequence[type] = (),
    ) -> None:
        self._params: dict[str, Any] = {
            "quiet": True,
            "noprogress": True,
            "color": "no_color",
            "skip_download": True,
            "simulate": True,
            "noplaylist": True,
            # A curated playlist URL yields its entries as links, not a metadata fetch per entry.
            "extract_flat": "in_playlist",
            "socket_timeout": socket_timeout,
            # We retry ourselves, within a time budget; yt-dlp's own retries would multiply it.
            "extractor_retries": 0,
            "retries": 0,
            "sleep_interval_requests": sleep,
        }
        if proxy is not None:
            self._params["proxy"] = proxy
        self._extractors = tuple(extractors)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._instances: list[Any] = []

    def _ydl(self) -> tuple[Any, _YtDlpLog]:
        ydl = getattr(self._local, "ydl", None)
        if ydl is None:
            from yt_dlp import YoutubeDL

            log = _YtDlpLog()
            ydl = YoutubeDL({**self._params, "logger": log})
            for extractor in self._extractors:
                ydl.add_info_extractor(extractor())
            self._local.ydl, self._local.log = ydl, log
            with self._lock:
                self._instances.append(ydl)
        log = self._local.log
        log.messages.clear()
        return ydl, log

    def _extract(self, url: str) -> dict[str, Any]:
        ydl, log = self._ydl()
        try:
            info = ydl.extract_info(url, download=False)
        except Exception as exc:  # noqa: BLE001 - a third-party extractor's bug must not sink the whole refresh
            status, detail = classify_ytdlp_error(exc, log.messages)
            raise CheckFailed(status, detail) from exc
        if not isinstance(info, dict):
            raise CheckFailed("error", "yt-dlp returned no metadata")
        return info

    def extract(self, url: str) -> Mapping[str, Any]:
        from yt_dlp import YoutubeDL

        return YoutubeDL.sanitize_info(self._extract(url), remove_private_keys=True)

    def search(self, query: str, limit: int) -> list[Mapping[str, Any]]:
        from yt_dlp import YoutubeDL

        info = YoutubeDL.sanitize_info(self._extract(f"ytsearch{limit}:{query}"))
        return [entry for entry in info.get("entries") or [] if isinstance(entry, dict)]

    def close(self) -> None:
        with self._lock:
            instances, self._instances = self._instances, []
        for ydl in instances:
            ydl.close()


# --------------------------------------------------------------------------------------------------------------
# Refresh


@dataclass(frozen=True)
class RefreshSettings:
    """Defaults for ``videos refresh``; the project file's ``[videos]`` table and options layer on top."""

    jobs: int = 4
    max_age: timedelta = timedelta(hours=24)
    force: bool = False
    socket_timeout: float = 10.0
    attempts: int = 3  # tries per entry for rate-limited/unreachable checks, counting the first
    backoff: float = 1.0  # seconds before the 2nd try, doubling after
    sleep: float = 0.0  # polite pause before each HTTP request yt-dlp makes
    proxy: str | None = None
    discover: bool = True

    def __post_init__(self) -> None:
        if self.jobs < 1 or self.attempts < 1:
            raise ConfigError("videos: jobs and retries must be at least 1")
        if self.socket_timeout <= 0 or self.sleep < 0 or self.backoff < 0 or self.max_age < timedelta(0):
            raise ConfigError("videos: timeout must be positive; max_age, sleep and backoff must not be negative")

    @property
    def entry_budget(self) -> float:
        """Seconds one entry may take in the worst case (every try timing out)."""
        return self.socket_timeout * self.attempts


@dataclass(frozen=True)
class RefreshProgress:
    """One finished check, reported to the caller's progress callback (always from the calling thread)."""

    done: int
    total: int
    label: str
    status: str


@dataclass(frozen=True)
class RefreshReport:
    """What a refresh did, for the summary line and ``--strict``."""

    manifest: Manifest
    checked: int
    fresh: int
    searched: int
    outcomes: Mapping[str, int]
    out_dir: Path | None = None
    files: Mapping[str, Path] = field(default_factory=dict)

    @property
    def network_down(self) -> bool:
        """Every check that was attempted failed to connect."""
        attempted = self.checked + self.searched
        return attempted > 0 and self.outcomes.get("unreachable", 0) == attempted

    @property
    def not_ok(self) -> tuple[VideoEntry, ...]:
        return tuple(entry for entry in self.manifest.approved if entry.status != "ok")

    def summary(self) -> str:
        """One line saying what happened; the first thing to read after a refresh."""
        approved, candidates = self.manifest.approved, self.manifest.candidates
        where = f" in {manifest_path(self.out_dir)}" if self.out_dir is not None else ""
        if self.network_down:
            attempted = self.checked + self.searched
            return (
                f"No network: {'all ' if attempted > 1 else ''}{_count(attempted, 'check')} failed to connect; "
                f"kept last-known metadata for every entry ({len(approved)} approved, "
                f"{_count(len(candidates), 'candidate')}){where}"
            )
        counts = Counter(entry.status for entry in approved)
        parts = [f"{counts[status]} {status}" for status in STATUSES if counts[status]]
        text = _count(len(approved), "approved video")
        if parts:
            text += ": " + ", ".join(parts)
        text += f" (checked {self.checked}, {self.fresh} still fresh)"
        kept = sum(1 for entry in approved if entry.status != "ok" and entry.last_ok_at)
        if kept:
            text += f"; kept last-known metadata for {kept}"
        searches = _count(len(self.manifest.searches), "search", "searches")
        text += f"; {_count(len(candidates), 'candidate')} from {searches}{where}"
        return text


def _count(number: int, word: str, plural: str | None = None) -> str:
    return f"{number} {word if number == 1 else plural or word + 's'}"


ProgressCallback = Callable[[RefreshProgress], None]


def refresh_videos(
    list_path: Path,
    out_dir: Path,
    settings: RefreshSettings = RefreshSettings(),
    *,
    source: MetadataSource | None = None,
    progress: ProgressCallback | None = None,
    now: datetime | None = None,
) -> RefreshReport:
    """Load the list and the last manifest, check what is stale, write the manifest and its views.

    One refresh at a time per output folder (a lock file); a second one fails at once with ``OutputError``.
    """
    curated = load_curated_list(list_path)
    out_dir = Path(out_dir)
    with _output_lock(out_dir):
        atomic.remove_stale_temps(out_dir)
        previous = load_manifest(out_dir)
        own_source = source is None
        if source is None:
            source = YtDlpSource(socket_timeout=settings.socket_timeout, sleep=settings.sleep, proxy=settings.proxy)
        try:
            report = refresh(curated, previous, settings, source=source, progress=progress, now=now)
        finally:
            if own_source:
                source.close()
        files = write_outputs(report.manifest, out_dir)
        return replace(report, out_dir=out_dir, files=files)


@contextlib.contextmanager
def _output_lock(out_dir: Path) -> Iterator[None]:
    """One writer per output folder: a second refresh or approve fails at once instead of interleaving."""
    atomic.make_folder(out_dir, "output folder")
    busy = f"another videos refresh is writing to {out_dir} (lock {out_dir / LOCK_NAME})"
    with atomic.folder_lock(out_dir, LOCK_NAME, busy=busy):
        yield


def refresh(
    curated: CuratedList,
    previous: Manifest | None,
    settings: RefreshSettings,
    *,
    source: MetadataSource,
    progress: ProgressCallback | None = None,
    now: datetime | None = None,
) -> RefreshReport:
    """The refresh engine: merge fresh metadata into the last manifest. Pure apart from ``source``'s network use."""
    now = now or datetime.now(UTC)
    stamp = _iso(now)
    old_entries = {entry.url: entry for entry in previous.entries} if previous else {}
    old_searches = {record.query: record for record in previous.searches} if previous else {}

    approved: list[VideoEntry] = []
    video_jobs: list[tuple[int, str]] = []
    for index, video in enumerate(curated.videos):
        old = old_entries.get(video.url)
        if old is None:
            entry = VideoEntry(url=video.url, role="approved", kind=video.kind, note=video.note, status="error")
        else:
            # The list is the truth for what the curator says; the manifest for what the site says.
            entry = replace(old, role="approved", kind=video.kind, note=video.note, query=None)
        approved.append(entry)
        if settings.force or _is_stale(entry.status, entry.checked_at, now, settings.max_age):
            video_jobs.append((index, video.url))

    search_jobs: list[DiscoverySearch] = []
    if settings.discover:
        for search in curated.searches:
            old_record = old_searches.get(search.query)
            if (
                settings.force
                or old_record is None
                or old_record.limit != search.limit
                or _is_stale(old_record.status, old_record.checked_at, now, settings.max_age)
            ):
                search_jobs.append(search)

    runner = _CheckRunner(settings, source)
    total = len(video_jobs) + len(search_jobs)
    outcomes: Counter[str] = Counter()
    search_results: dict[str, _Outcome] = {}

    tasks: list[tuple[str, Any, Callable[[], Any], str]] = [
        ("video", index, _bind(source.extract, url), _host_key(url)) for index, url in video_jobs
    ] + [("search", search, _bind(source.search, search.query, search.limit), "youtube.com") for search in search_jobs]
    finished = runner.run_all([(task[2], task[3]) for task in tasks])
    for done, (number, outcome) in enumerate(finished, start=1):
        what, key = tasks[number][0], tasks[number][1]
        outcomes[outcome.status] += 1
        if what == "video":
            approved[key] = _merge(approved[key], outcome, stamp)
            label = approved[key].display_title
        else:
            search_results[key.query] = outcome
            label = f"search: {key.query}"
        if progress is not None:
            progress(RefreshProgress(done=done, total=total, label=label, status=outcome.status))

    searches, candidates = _discovery(curated, previous, approved, search_results, old_searches, stamp)
    manifest = Manifest(
        title=curated.title,
        list_path=str(curated.path),
        refreshed_at=stamp,
        entries=tuple(approved) + tuple(candidates),
        searches=tuple(searches),
    )
    return RefreshReport(
        manifest=manifest,
        checked=len(video_jobs),
        fresh=len(curated.videos) - len(video_jobs),
        searched=len(search_jobs),
        outcomes=dict(outcomes),
    )


def _bind(function: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    return lambda: function(*args)


def _is_stale(status: str, checked_at: str | None, now: datetime, max_age: timedelta) -> bool:
    if status in TRANSIENT_FAILURES or checked_at is None:
        return True
    checked = _parse_iso(checked_at)
    return checked is None or now - checked >= max_age


def _merge(entry: VideoEntry, outcome: _Outcome, stamp: str) -> VideoEntry:
    """Fresh metadata replaces the old on success; a failure changes only the status fields."""
    if outcome.status == "ok":
        fresh = metadata_from_info(outcome.value)
        return replace(entry, **fresh, status="ok", checked_at=stamp, last_ok_at=stamp, error=None)
    return replace(entry, status=outcome.status, checked_at=stamp, error=outcome.detail)


def _discovery(
    curated: CuratedList,
    previous: Manifest | None,
    approved: Sequence[VideoEntry],
    results: Mapping[str, _Outcome],
    old_searches: Mapping[str, SearchRecord],
    stamp: str,
) -> tuple[list[SearchRecord], list[VideoEntry]]:
    """Candidates per search: new results when the search ran, the previous ones when it failed or was fresh."""
    old_candidates: dict[str, list[VideoEntry]] = {}
    for entry in previous.candidates if previous else ():
        old_candidates.setdefault(entry.query or "", []).append(entry)
    taken_urls = {entry.url for entry in approved} | {entry.location for entry in approved}
    taken_ids = {(entry.extractor, entry.id) for entry in approved if entry.id}

    records: list[SearchRecord] = []
    candidates: list[VideoEntry] = []
    for search in curated.searches:
        outcome = results.get(search.query)
        old = old_searches.get(search.query)
        if outcome is not None and outcome.status == "ok":
            found = [_candidate(info, search, stamp) for info in outcome.value]
            batch = [entry for entry in found if entry is not None]
            record = SearchRecord(search.query, search.limit, search.kind, "ok", len(batch), stamp, stamp)
        else:
            batch = [replace(entry, kind=search.kind) for entry in old_candidates.get(search.query, [])]
            if outcome is not None:
                record = SearchRecord(
                    search.query,
                    search.limit,
                    search.kind,
                    outcome.status,
                    len(batch),
                    stamp,
                    old.last_ok_at if old else None,
                    outcome.detail,
                )
            elif old is not None:
                record = replace(old, kind=search.kind)
            else:  # discovery switched off and never run
                continue
        records.append(record)
        for entry in batch:
            if entry.url in taken_urls or entry.location in taken_urls or (entry.extractor, entry.id) in taken_ids:
                continue
            taken_urls.update({entry.url, entry.location})
            candidates.append(entry)
    return records, candidates


def _candidate(info: Mapping[str, Any], search: DiscoverySearch, stamp: str) -> VideoEntry | None:
    metadata = metadata_from_info(info)
    url = metadata["webpage_url"] or _http_url(info.get("url"))
    if url is None:
        return None
    metadata["webpage_url"] = metadata["webpage_url"] or url
    return VideoEntry(
        url=url,
        role="candidate",
        kind=search.kind,
        query=search.query,
        status="ok",
        checked_at=stamp,
        last_ok_at=stamp,
        **metadata,
    )


def _host_key(url: str) -> str:
    """Entries on one site share a fate: a host that is down or rate-limiting us is tried once per entry after."""
    netloc = urllib.parse.urlsplit(url).netloc.lower()
    netloc = re.sub(r"^(www|m)\.", "", netloc)
    return "youtube.com" if netloc in ("youtu.be", "youtube-nocookie.com") else netloc


@dataclass(frozen=True)
class _Outcome:
    status: str
    value: Any = None
    detail: str | None = None
    attempts: int = 1


class _CheckRunner:
    """Runs checks on a bounded thread pool with per-entry retries, backoff and a per-host circuit breaker."""

    def __init__(self, settings: RefreshSettings, source: MetadataSource) -> None:
        self._settings = settings
        self._source = source
        self._troubled_hosts: set[str] = set()
        self._lock = threading.Lock()

    def run_all(self, tasks: Sequence[tuple[Callable[[], Any], str]]) -> Iterable[tuple[int, _Outcome]]:
        """Yield ``(task number, outcome)`` as checks finish. Ctrl-C cancels what has not started."""
        if not tasks:
            return
        pool = ThreadPoolExecutor(max_workers=max(1, self._settings.jobs), thread_name_prefix="nlmg-videos")
        try:
            pending: dict[Future[_Outcome], int] = {
                pool.submit(self._check, action, host): number for number, (action, host) in enumerate(tasks)
            }
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    number = pending.pop(future)
                    yield number, future.result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _check(self, action: Callable[[], Any], host: str) -> _Outcome:
        settings = self._settings
        with self._lock:
            attempts = 1 if host in self._troubled_hosts else max(1, settings.attempts)
        deadline = time.monotonic() + settings.entry_budget
        attempt = 0
        failure = CheckFailed("error", "not checked")
        while attempt < attempts:
            attempt += 1
            try:
                return _Outcome("ok", value=action(), attempts=attempt)
            except CheckFailed as exc:
                failure = exc
            if failure.status not in RETRYABLE_NOW or attempt == attempts:
                break
            # Keep a full socket timeout for the next try inside the entry's budget; else stop here.
            spare = deadline - time.monotonic() - settings.socket_timeout
            if spare < 0:
                break
            time.sleep(min(settings.backoff * 2 ** (attempt - 1), spare))
        if failure.status in RETRYABLE_NOW:
            with self._lock:
                self._troubled_hosts.add(host)
        return _Outcome(failure.status, detail=failure.detail, attempts=attempt)


# --------------------------------------------------------------------------------------------------------------
# Approve


def find_candidate(manifest: Manifest, id_or_url: str) -> VideoEntry | None:
    """The candidate whose id, curated URL or page URL is ``id_or_url``; ``ConfigError`` if several match."""
    matches = [entry for entry in manifest.candidates if id_or_url in (entry.id, entry.url, entry.webpage_url)]
    if len({entry.url for entry in matches}) > 1:
        urls = ", ".join(entry.url for entry in matches)
        raise ConfigError(f"{id_or_url!r} matches several candidates ({urls}); approve by URL instead")
    return matches[0] if matches else None


def approve_video(
    list_path: Path,
    out_dir: Path,
    id_or_url: str,
    *,
    kind: str | None = None,
    note: str | None = None,
) -> VideoEntry:
    """Move a discovery candidate (or any http(s) URL) into the curated list, keeping the file's comments.

    A candidate becomes an approved entry of the manifest at once (its outputs are rewritten) and is fully
    re-checked on the next refresh; a URL that is not a candidate is checked on the next refresh.
    """
    list_path, out_dir = Path(list_path), Path(out_dir)
    curated = load_curated_list(list_path)
    with _output_lock(out_dir):
        return _approve(list_path, out_dir, curated, id_or_url, kind, note)


def _approve(
    list_path: Path, out_dir: Path, curated: CuratedList, id_or_url: str, kind: str | None, note: str | None
) -> VideoEntry:
    manifest = load_manifest(out_dir)
    candidate = find_candidate(manifest, id_or_url) if manifest else None
    if candidate is None and not _is_http_url(id_or_url):
        where = manifest_path(out_dir)
        raise ConfigError(
            f"no candidate with id or URL {id_or_url!r} in {where}; run `nlmg-media videos refresh` first"
        )
    url = candidate.url if candidate else id_or_url
    if kind is not None and kind not in KINDS:
        raise ConfigError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    kind = kind or (candidate.kind if candidate else "other")
    note = (note or "").strip()
    for video in curated.videos:
        if video.url == url or (candidate is not None and candidate.webpage_url == video.url):
            raise ConfigError(f"{url} is already approved in {list_path}")

    text = list_path.read_text(encoding="utf-8")
    new_video = CuratedVideo(url=url, kind=kind, note=note)
    atomic.write_text(list_path, _with_video_appended(list_path, text, curated, new_video))

    approved_entry = VideoEntry(url=url, role="approved", kind=kind, note=note, status="error")
    if candidate is not None and manifest is not None:
        # Search results carry partial metadata: checked_at None makes the next refresh fetch it all.
        approved_entry = replace(candidate, role="approved", kind=kind, note=note, query=None, checked_at=None)
        others = [entry for entry in manifest.entries if entry is not candidate]
        last_approved = max((i for i, entry in enumerate(others) if entry.role == "approved"), default=-1)
        others.insert(last_approved + 1, approved_entry)
        write_outputs(replace(manifest, entries=tuple(others)), out_dir)
    return approved_entry


_HEADER = re.compile(r"^\s*\[")
_VIDEO_HEADER = re.compile(r"^\s*\[\[\s*video\s*\]\]")
_SEARCH_HEADER = re.compile(r"^\s*\[\[\s*search\s*\]\]")


def _with_video_appended(path: Path, text: str, curated: CuratedList, video: CuratedVideo) -> str:
    """The list's text with one more ``[[video]]`` table after the last one (comments untouched).

    Placement is textual; the result is parsed back and must hold exactly the old videos plus the new one and
    the same searches, else the table goes at the end of the file (valid TOML either way).
    """
    record = {"url": video.url, "kind": video.kind}
    if video.note:
        record["note"] = video.note
    # tomli_w writes short arrays of tables inline; the header form is what the curator writes and expects.
    block = "[[video]]\n" + tomli_w.dumps(record)
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"

    def insertion_point() -> int:
        video_headers = [i for i, line in enumerate(lines) if _VIDEO_HEADER.match(line)]
        if video_headers:
            after = video_headers[-1] + 1
            nxt = next((i for i in range(after, len(lines)) if _HEADER.match(lines[i])), len(lines))
        else:
            nxt = next((i for i, line in enumerate(lines) if _SEARCH_HEADER.match(line)), len(lines))
        # Comments directly above the next header belong to that header.
        while nxt > 0 and lines[nxt - 1].lstrip().startswith("#"):
            nxt -= 1
        return nxt

    expected = (curated.title, curated.videos + (video,), curated.searches)
    at = insertion_point()
    attempts = [
        "".join(lines[:at]) + ("\n" if at and lines[at - 1].strip() else "") + block + "\n" + "".join(lines[at:]),
        "".join(lines) + "\n" + block,
    ]
    for candidate_text in attempts:
        try:
            import tomllib

            parsed = _curated_list_from_data(path, tomllib.loads(candidate_text))
        except (ValueError, ConfigError):
            continue
        if (parsed.title, parsed.videos, parsed.searches) == expected:
            return candidate_text.rstrip("\n") + "\n"
    raise ConfigError(f"could not add the video to {path} safely; add it by hand:\n{block}")


# --------------------------------------------------------------------------------------------------------------
# Time


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class StrictCheckError(NlmgError):
    """``--strict`` found approved videos that are not ``ok``."""


def strict_check(report: RefreshReport) -> None:
    """Raise ``StrictCheckError`` naming every approved video that is not ``ok``."""
    failing = report.not_ok
    if failing:
        listed = ", ".join(f"{entry.url} ({entry.status})" for entry in failing)
        raise StrictCheckError(
            f"--strict: {len(failing)} of {len(report.manifest.approved)} approved videos are not ok: {listed}"
        )
