"""A small threaded web server for the built site, for listening (and testing) before publishing.

Podcast apps (Apple Podcasts in particular) seek in episodes with ``Range`` requests and check artwork and
enclosures with ``HEAD``; the standard library's ``SimpleHTTPRequestHandler`` answers neither range, so this
handler adds single-range support (RFC 9110 §14): ``bytes=a-b``, ``bytes=a-`` and ``bytes=-n`` answer 206
with ``Content-Range``; a range past the end answers 416; a malformed or multi-range header is ignored and
the whole file is sent (which the RFC allows); ``If-Range`` keeps the range only for the current ETag or date.

What web players need comes too: every response allows any origin (``Access-Control-Allow-Origin: *``, and
preflight ``OPTIONS`` is answered) so players elsewhere can fetch transcripts and chapters; a strong ETag
(modification time and size) and ``Last-Modified`` let clients revalidate, answered ``304 Not Modified``
(``If-None-Match`` before ``If-Modified-Since``, RFC 9110 §13.2.2); text files are sent gzip-compressed to
clients that accept it (``Vary: Accept-Encoding``; the gzip form has its own ETag, and ranges apply to the
uncompressed file only). Dot-files (locks, temp files) are never served.
"""

from __future__ import annotations

import contextlib
import email.utils
import errno
import os
import posixpath
import re
import shutil
from collections.abc import Callable
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

from pipeline.errors import InputError, OutputError
from pipeline.media_types import compressible, content_type
from pipeline.publishing.targets import gzip_bytes

Log = Callable[[str], None]

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | str:
    """The inclusive ``(first, last)`` byte range asked for, ``None`` for the whole file, ``"unsatisfiable"``."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or match.group(1) == match.group(2) == "":
        return None  # malformed, or several ranges: serve the whole file
    first_text, last_text = match.groups()
    if first_text == "":  # suffix range: the last n bytes
        length = int(last_text)
        if length == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - length), size - 1
    first = int(first_text)
    if last_text and int(last_text) < first:
        return None  # syntactically invalid: ignore the header
    if first >= size:
        return "unsatisfiable"
    last = int(last_text) if last_text else size - 1
    return first, min(last, size - 1)


class SiteRequestHandler(SimpleHTTPRequestHandler):
    """Serves files of one folder with ``Range``/``HEAD``, validators, gzip and CORS, and the site's own types."""

    server_version = "nlmg-media"
    protocol_version = "HTTP/1.1"  # keep-alive: players issue many small Range requests
    log: Log | None = None

    def __init__(self, *args: Any, directory: str, log: Log | None = None, **kwargs: Any) -> None:
        self.log = log
        self._range: tuple[int, int] | None = None
        super().__init__(*args, directory=directory, **kwargs)

    def handle(self) -> None:
        # A browser or player that drops a keep-alive connection is normal, not a server error.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            super().handle()

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = self._send_head()
        if body is None:
            return
        try:
            if isinstance(body, bytes):
                self.wfile.write(body)
                return
            try:
                if self._range is None:
                    shutil.copyfileobj(body, self.wfile)
                else:
                    first, last = self._range
                    body.seek(first)
                    _copy_exactly(body, self.wfile, last - first + 1)
            finally:
                body.close()
        except (BrokenPipeError, ConnectionResetError):
            pass  # a player that closes the connection mid-file (seeking, stopping) is normal

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
        body = self._send_head()
        if body is not None and not isinstance(body, bytes):
            body.close()

    def do_OPTIONS(self) -> None:  # noqa: N802 - http.server's naming
        """CORS preflight: any origin may GET or HEAD (with Range) the site's files."""
        self.send_response(HTTPStatus.NO_CONTENT)
        self._send_cors_headers()
        self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "Range, If-None-Match, If-Modified-Since")
        self.send_header("Access-Control-Max-Age", "86400")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send_cors_headers(self) -> None:
        # Web players and transcript viewers on other sites fetch chapters, transcripts and captions with fetch().
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Expose-Headers", "Content-Length, Content-Range, Accept-Ranges, ETag")

    def _file_path(self) -> Path | None:
        """The file the request names, ``index.html`` for a folder; ``None`` if it must not be served."""
        path = unquote(urlsplit(self.path).path)
        parts = [p for p in posixpath.normpath(path).split("/") if p and p not in (".", "..")]
        if any(p.startswith(".") for p in parts):
            return None
        candidate = Path(self.directory, *parts)
        if candidate.is_dir():
            candidate = candidate / "index.html"
        return candidate if candidate.is_file() else None

    def _send_head(self) -> BinaryIO | bytes | None:
        """Send the status and headers; return what the body is (an open file, bytes) or ``None`` for none."""
        self._range = None
        path = self._file_path()
        if path is None:
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed by do_GET / do_HEAD
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        stat = os.fstat(handle.fileno())
        size = stat.st_size
        mime = content_type(path.name)
        text = compressible(path.name) and size >= GZIP_MIN_BYTES
        gzipped = text and accepts_gzip(self.headers.get("Accept-Encoding"))
        etag = entity_tag(stat.st_mtime_ns, size, gzipped)
        last_modified = email.utils.formatdate(stat.st_mtime, usegmt=True)

        def common_headers() -> None:
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", last_modified)
            self.send_header("Cache-Control", "no-cache")  # revalidate every time: a preview shows the latest build
            if text:
                self.send_header("Vary", "Accept-Encoding")
            self._send_cors_headers()

        if not_modified(self.headers, etag, int(stat.st_mtime)):
            handle.close()
            self.send_response(HTTPStatus.NOT_MODIFIED)
            common_headers()
            self.end_headers()
            return None
        if gzipped:
            # Text files of a site are small: compress in memory (mtime=0 keeps the bytes, hence the ETag, stable).
            with handle:
                body = gzip_bytes(handle.read())
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", mime)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            common_headers()
            self.end_headers()
            return body
        wanted = parse_range(self.headers.get("Range"), size)
        if_range = self.headers.get("If-Range")
        if if_range and if_range.strip() not in (etag, last_modified):
            wanted = None  # the client's copy is stale: the whole (new) file is the right answer
        if wanted == "unsatisfiable":
            handle.close()
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self._send_cors_headers()
            self.end_headers()
            return None
        if isinstance(wanted, tuple):
            first, last = wanted
            self._range = (first, last)
            self.send_response(HTTPStatus.PARTIAL_CONTENT)
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
            self.send_header("Content-Length", str(last - first + 1))
        else:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Length", str(size))
        self.send_header("Content-Type", mime)
        self.send_header("Accept-Ranges", "bytes")
        common_headers()
        self.end_headers()
        return handle

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        if self.log is not None:
            self.log(f"{self.address_string()} {format % args}")


GZIP_MIN_BYTES = 256  # below this, gzip's header costs more than it saves


def accepts_gzip(header: str | None) -> bool:
    """Whether an ``Accept-Encoding`` header allows gzip (``gzip`` or ``*`` without ``q=0``)."""
    for item in (header or "").split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            quality = re.search(r"q\s*=\s*([0-9.]+)", params)
            return not (quality and float(quality.group(1)) == 0)
    return False


def entity_tag(mtime_ns: int, size: int, gzipped: bool) -> str:
    """A strong ETag from the file's modification time and size; the gzip form of a file is another entity."""
    return f'"{mtime_ns:x}-{size:x}{"-gz" if gzipped else ""}"'


def not_modified(headers: Any, etag: str, mtime: int) -> bool:
    """RFC 9110 §13.1: ``If-None-Match`` (weak comparison) wins over ``If-Modified-Since``."""
    if_none_match = headers.get("If-None-Match")
    if if_none_match:
        tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        return "*" in tags or etag in tags
    since = headers.get("If-Modified-Since")
    if since:
        try:
            moment = email.utils.parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        return moment is not None and mtime <= int(moment.timestamp())
    return False


def _copy_exactly(source: BinaryIO, target: Any, length: int) -> None:
    remaining = length
    while remaining > 0:
        block = source.read(min(remaining, 1 << 16))
        if not block:
            break
        target.write(block)
        remaining -= len(block)


def make_server(
    site: Path, host: str = "127.0.0.1", port: int = 8000, *, log: Log | None = None
) -> ThreadingHTTPServer:
    """A ready-to-run server for ``site`` (call ``serve_forever``; port 0 picks a free port)."""
    site = Path(site)
    if not (site / "index.html").is_file() and not (site / "feed.xml").is_file():
        raise InputError(f"no site at {site} (run `nlmg-media publish --base-url URL` first)")
    handler = partial(SiteRequestHandler, directory=str(site.resolve()), log=log)
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise OutputError(f"port {port} on {host} is already in use; choose another with --port") from exc
        raise OutputError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    server.daemon_threads = True
    return server
