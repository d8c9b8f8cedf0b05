"""The yt-dlp boundary: metadata only, one ``YoutubeDL`` per worker thread, socket timeout, no yt-dlp-internal
retries; its info dicts become our fields and its failures our statuses."""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Protocol

from pipeline.curation.curated_list import is_http_url
from pipeline.curation.manifest import DESCRIPTION_EXCERPT, Chapter

# --------------------------------------------------------------------------------------------------------------
# From yt-dlp's info dict to our fields

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def tidy_line(value: Any, limit: int | None = None) -> str | None:
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
    thumbnail = http_url(info.get("thumbnail"))
    if thumbnail is None:
        # yt-dlp orders thumbnails worst to best.
        for candidate in reversed(info.get("thumbnails") or []):
            if isinstance(candidate, dict) and (thumbnail := http_url(candidate.get("url"))):
                break
    chapters = []
    for chapter in info.get("chapters") or []:
        if isinstance(chapter, dict) and _number(chapter.get("start_time")) is not None:
            chapters.append(
                Chapter(
                    title=tidy_line(chapter.get("title"), 200) or "",
                    start=float(chapter["start_time"]),
                    end=_number(chapter.get("end_time")),
                )
            )
    extractor = info.get("extractor_key") or info.get("ie_key") or info.get("extractor")
    return {
        "id": tidy_line(info.get("id"), 200),
        "extractor": tidy_line(extractor, 100),
        "title": tidy_line(info.get("title") or info.get("fulltitle"), 300),
        "channel": tidy_line(info.get("channel"), 200),
        "uploader": tidy_line(info.get("uploader"), 200),
        "duration": _number(info.get("duration")),
        "upload_date": _upload_date(info),
        "view_count": _whole(info.get("view_count")),
        "thumbnail": thumbnail,
        "description": tidy_line(info.get("description"), DESCRIPTION_EXCERPT),
        "chapters": tuple(chapters),
        "webpage_url": http_url(info.get("webpage_url")) or http_url(info.get("original_url")),
    }


def http_url(value: Any) -> str | None:
    return value if isinstance(value, str) and is_http_url(value) else None


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
    return tidy_line(text, 300) or type(error).__name__


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

    _patterns_ready = False  # process-wide: the extractors' URL patterns, once compiled, stay compiled

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

    def prepare(self) -> None:
        """Do the slow start now, before any check's clock starts: this thread's ``YoutubeDL``, and the first
        match of a URL against every extractor (it compiles their patterns: seconds on a busy machine)."""
        ydl, _ = self._ydl()
        with self._lock:
            if not YtDlpSource._patterns_ready:
                for extractor in ydl._ies.values():  # what extract_info does for its first URL
                    extractor.suitable("http://127.0.0.1/")
                YtDlpSource._patterns_ready = True

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
