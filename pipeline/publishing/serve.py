"""A small threaded web server for the built site, with HTTP Range and HEAD, for listening before publishing.

Podcast apps (Apple Podcasts in particular) seek in episodes with ``Range`` requests and check artwork and
enclosures with ``HEAD``; the standard library's ``SimpleHTTPRequestHandler`` answers neither range, so this
handler adds single-range support (RFC 9110 §14): ``bytes=a-b``, ``bytes=a-`` and ``bytes=-n`` answer 206
with ``Content-Range``; a range past the end answers 416; a malformed or multi-range header is ignored and
the whole file is sent (which the RFC allows). Dot-files (locks, temp files) are never served.
"""

from __future__ import annotations

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
from pipeline.media_types import content_type

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
    """Serves files of one folder with ``Range``/``HEAD`` support and the site's own ``Content-Type`` map."""

    server_version = "nlmg-media"
    protocol_version = "HTTP/1.1"  # keep-alive: players issue many small Range requests
    log: Log | None = None

    def __init__(self, *args: Any, directory: str, log: Log | None = None, **kwargs: Any) -> None:
        self.log = log
        self._range: tuple[int, int] | None = None
        super().__init__(*args, directory=directory, **kwargs)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        handle = self._send_head()
        if handle is None:
            return
        try:
            if self._range is None:
                shutil.copyfileobj(handle, self.wfile)
            else:
                first, last = self._range
                handle.seek(first)
                _copy_exactly(handle, self.wfile, last - first + 1)
        except (BrokenPipeError, ConnectionResetError):
            pass  # a player that closes the connection mid-file (seeking, stopping) is normal
        finally:
            handle.close()

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
        handle = self._send_head()
        if handle is not None:
            handle.close()

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

    def _send_head(self) -> BinaryIO | None:
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
        wanted = parse_range(self.headers.get("Range"), size)
        if self.headers.get("If-Range"):
            wanted = None  # no validators are kept here: answering with the whole file is always correct
        if wanted == "unsatisfiable":
            handle.close()
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
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
        self.send_header("Content-Type", content_type(path.name))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Last-Modified", email.utils.formatdate(stat.st_mtime, usegmt=True))
        self.send_header("Cache-Control", "no-cache")  # a local preview should always show the latest build
        self.end_headers()
        return handle

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        if self.log is not None:
            self.log(f"{self.address_string()} {format % args}")


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
