"""The media type of every kind of file we write: one table for render records, the site, uploads and ``serve``.

``mime`` is the bare type (render.json, the feed's enclosures); ``content_type`` adds the charset that text
files are served with.
"""

from __future__ import annotations

from pathlib import Path

_TYPES = {
    ".mp3": "audio/mpeg",
    ".mp4": "video/mp4",
    ".vtt": "text/vtt",
    ".srt": "application/x-subrip",
    ".json": "application/json",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    # application/xml, not application/rss+xml, for the feed: browsers show an rss+xml document as plain text and
    # never apply its stylesheet (feed.xsl); podcast apps and the W3C validator accept both (<rss> names the format).
    ".xml": "application/xml",
    ".xsl": "text/xsl",
    ".html": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".jspf": "application/jspf+json",
    ".m3u8": "application/vnd.apple.mpegurl",
}
_TEXT = {".vtt", ".srt", ".xml", ".xsl", ".html", ".css", ".js", ".svg", ".m3u8"}
_COMPRESSIBLE = _TEXT | {".json", ".jspf"}  # worth gzip; audio, video, JPEG and PNG are compressed already
UNKNOWN = "application/octet-stream"


def mime(name: str | Path) -> str:
    """The media type of a file by its name (``application/octet-stream`` when we do not write such files)."""
    return _TYPES.get(Path(name).suffix.lower(), UNKNOWN)


def content_type(name: str | Path) -> str:
    """The ``Content-Type`` header a file is served with: its media type, with the charset for text."""
    suffix = Path(name).suffix.lower()
    return mime(name) + ("; charset=utf-8" if suffix in _TEXT else "")


def compressible(name: str | Path) -> bool:
    """Whether a file is text that gzip shrinks (served and uploaded gzip-compressed)."""
    return Path(name).suffix.lower() in _COMPRESSIBLE
