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
uncompressed file only).

What it exposes: the regular files of the site folder whose real path is inside it, nothing else. Dot-files
(locks, temp files) are never served, and a symbolic link is served only when its target is itself inside the
site (a link to ``/etc`` is a 404). It listens on 127.0.0.1 unless told otherwise (``--host 0.0.0.0`` shares it
on the network). It is built to stay up for a player on the LAN, not to face the internet: idle connections are
closed after ``idle_timeout`` seconds, at most ``max_connections`` are served at once (more get ``503`` with
``Retry-After``), the listen backlog is large, every odd request (a huge ``Range`` number, an over-long path)
gets a proper status, and what clients send is escaped before it reaches the log.
"""

from __future__ import annotations

import contextlib
import email.utils
import errno
import os
import posixpath
import re
import shutil
import socket
import stat as stat_mode
import threading
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
_HUGE = 10**18  # any byte position with more digits than this is past the end of every file
IDLE_TIMEOUT = 30.0  # seconds a connection may stay silent (before or between requests)
MAX_CONNECTIONS = 256  # served at once: a browser keeps paused media downloads open, a few per page
LISTEN_BACKLOG = 512
# C0 and C1 control characters (and DEL) from clients are written to the log as \xNN, never raw.
_LOG_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))}


def _position(digits: str) -> int:
    return int(digits) if len(digits) <= 18 else _HUGE


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | str:
    """The inclusive ``(first, last)`` byte range asked for, ``None`` for the whole file, ``"unsatisfiable"``."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or match.group(1) == match.group(2) == "":
        return None  # malformed, or several ranges: serve the whole file
    first_text, last_text = match.groups()
    if first_text == "":  # suffix range: the last n bytes
        length = _position(last_text)
        if length == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - length), size - 1
    first = _position(first_text)
    if last_text and _position(last_text) < first:
        return None  # syntactically invalid: ignore the header
    if first >= size:
        return "unsatisfiable"
    last = _position(last_text) if last_text else size - 1
    return first, min(last, size - 1)


class SiteRequestHandler(SimpleHTTPRequestHandler):
    """Serves files of one folder with ``Range``/``HEAD``, validators, gzip and CORS, and the site's own types."""

    server_version = "nlmg-media"
    protocol_version = "HTTP/1.1"  # keep-alive: players issue many small Range requests
    timeout = IDLE_TIMEOUT  # socket timeout: an idle or stalled client is dropped after this many seconds
    log: Log | None = None

    def __init__(self, *args: Any, directory: str, log: Log | None = None, **kwargs: Any) -> None:
        self.log = log
        self._range: tuple[int, int] | None = None
        self._responded = False
        super().__init__(*args, directory=directory, **kwargs)

    def send_response(self, code: int, message: str | None = None) -> None:
        self._responded = True
        super().send_response(code, message)

    def _answer(self, method: Callable[[], None]) -> None:
        """Every request gets a status: an unexpected failure before the headers is a 500, never an empty reply."""
        self._responded = False
        try:
            method()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True  # a player that closes or stalls mid-file (seeking, stopping) is normal
        except Exception as exc:  # noqa: BLE001 - a bug must cost this one request, not the connection silently
            self.log_error("could not answer %r: %r", self.path, exc)
            self.close_connection = True
            if not self._responded:
                with contextlib.suppress(OSError):
                    self.send_error(HTTPStatus.INTERNAL_SERVER_ERROR)

    def handle(self) -> None:
        # A browser or player that drops a keep-alive connection is normal, not a server error.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            super().handle()

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._answer(self._get)

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
        self._answer(self._head)

    def _get(self) -> None:
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

    def _head(self) -> None:
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
        """The file the request names, ``index.html`` for a folder; ``None`` if it must not be served: a dot-file,
        a name no file can have, or anything whose real path (symbolic links followed) is not inside the site."""
        path = unquote(urlsplit(self.path).path)
        parts = [p for p in posixpath.normpath(path).split("/") if p and p not in (".", "..")]
        if any(p.startswith(".") or len(p.encode("utf-8", "surrogateescape")) > 255 or "\x00" in p for p in parts):
            return None
        root = os.path.realpath(self.directory)
        try:
            candidate = os.path.realpath(os.path.join(root, *parts))
            if os.path.isdir(candidate):
                candidate = os.path.realpath(os.path.join(candidate, "index.html"))
        except (OSError, ValueError):
            return None
        if os.path.commonpath([root, candidate]) != root:
            return None  # a symbolic link out of the site
        if any(p.startswith(".") for p in os.path.relpath(candidate, root).split(os.sep)):
            return None  # a link to a dot-file inside the site is still a dot-file
        try:
            if not stat_mode.S_ISREG(os.stat(candidate).st_mode):
                return None  # a FIFO would block the handler, a device would leak: regular files only
        except OSError:
            return None
        return Path(candidate)

    def _send_head(self) -> BinaryIO | bytes | None:
        """Send the status and headers; return what the body is (an open file, bytes) or ``None`` for none."""
        self._range = None
        path = self._file_path()
        if path is None:
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        try:  # non-blocking open: should a FIFO replace the file after the check, open() must not hang
            handle = os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb")
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        stat = os.fstat(handle.fileno())
        if not stat_mode.S_ISREG(stat.st_mode):  # a FIFO or device would hang or leak: regular files only
            handle.close()
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
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
            self.log(f"{self.address_string()} {format % args}".translate(_LOG_ESCAPES))


class SiteServer(ThreadingHTTPServer):
    """A thread per connection, at most ``max_connections`` at once; the one over the cap gets ``503``."""

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG  # listen() backlog (the kernel caps it at net.core.somaxconn)

    def __init__(self, address: tuple[str, int], handler: Any, max_connections: int = MAX_CONNECTIONS) -> None:
        self._slots = threading.BoundedSemaphore(max_connections)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            _refuse_busy(request)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def _refuse_busy(request: socket.socket) -> None:
    """A short ``503`` written straight to the socket (it fits the send buffer, so this never blocks long)."""
    body = b"Too many connections; try again shortly.\n"
    head = (
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    with contextlib.suppress(OSError):
        request.settimeout(1.0)
        request.sendall(head.encode("ascii") + body)


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
    site: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    log: Log | None = None,
    idle_timeout: float = IDLE_TIMEOUT,
    max_connections: int = MAX_CONNECTIONS,
) -> SiteServer:
    """A ready-to-run server for ``site`` (call ``serve_forever``; port 0 picks a free port)."""
    site = Path(site)
    if not (site / "index.html").is_file() and not (site / "feed.xml").is_file():
        raise InputError(f"no site at {site} (run `nlmg-media publish --base-url URL` first)")
    handler = type("SiteHandler", (SiteRequestHandler,), {"timeout": idle_timeout})
    try:
        server = SiteServer((host, port), partial(handler, directory=str(site.resolve()), log=log), max_connections)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise OutputError(f"port {port} on {host} is already in use; choose another with --port") from exc
        raise OutputError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    except (UnicodeError, ValueError) as exc:
        raise InputError(f"cannot listen on {host!r}: not an address of this machine") from exc
    return server
