"""``nlmg-media serve`` under hostile or careless use: what it exposes, how long it waits, odd requests, its log.

Every test talks to a real server over real sockets on 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.publishing import serve


@pytest.fixture
def site(tmp_path: Path) -> Path:
    folder = tmp_path / "site"
    (folder / "episodes" / "book").mkdir(parents=True)
    (folder / "index.html").write_text("<!doctype html><title>t</title>", "utf-8")
    (folder / "feed.xml").write_text("<rss/>", "utf-8")
    (folder / "episodes" / "book" / "book.mp3").write_bytes(bytes(range(256)) * 40)
    (tmp_path / "secret.txt").write_text("not for the network", "utf-8")
    return folder


class Running:
    def __init__(self, server: serve.SiteServer, lines: list[str]) -> None:
        self.server = server
        self.lines = lines
        self.port = int(server.server_address[1])

    def raw(self, request: bytes, timeout: float = 10.0) -> bytes:
        """Send ``request`` on a fresh connection; everything the server answers until it closes."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(request)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)

    def status(self, target: bytes, headers: bytes = b"") -> int:
        reply = self.raw(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers + b"\r\n")
        match = re.match(rb"HTTP/1\.[01] (\d{3}) ", reply)
        assert match, f"no status line in {reply[:80]!r}"
        return int(match.group(1))


@pytest.fixture
def running(site: Path) -> Iterator[Running]:
    lines: list[str] = []
    server = serve.make_server(site, "127.0.0.1", 0, log=lines.append, idle_timeout=1.0, max_connections=8)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield Running(server, lines)
    server.shutdown()
    server.server_close()


def test_serve_listens_on_this_machine_only_unless_told(site: Path) -> None:
    help_text = CliRunner().invoke(main, ["serve", "--help"]).output
    assert "127.0.0.1" in help_text and "0.0.0.0" in help_text
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "serve", "--site", str(site), "--port", "0", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        first = process.stdout.readline() if process.stdout else ""
        assert re.search(r"on http://127\.0\.0\.1:\d+/", first), first
    finally:
        process.terminate()
        process.wait(10)


def test_only_regular_files_inside_the_site_are_served(running: Running, site: Path, tmp_path: Path) -> None:
    os.symlink("/etc", site / "etc")
    os.symlink(tmp_path / "secret.txt", site / "secret.txt")
    os.symlink(site / "episodes" / "book" / "book.mp3", site / "latest.mp3")  # a link that stays inside: fine
    os.mkfifo(site / "pipe.mp3")
    assert running.status(b"/etc/passwd") == 404
    assert running.status(b"/secret.txt") == 404
    assert running.status(b"/pipe.mp3") == 404  # a FIFO would block the handler forever
    assert running.status(b"/latest.mp3") == 200
    assert running.status(b"/../secret.txt") == 404
    assert running.status(b"/%2e%2e/secret.txt") == 404


@pytest.mark.parametrize(
    ("target", "headers", "expected"),
    [
        (b"/episodes/book/book.mp3", b"Range: bytes=" + b"9" * 5000 + b"-\r\n", {416}),
        (b"/episodes/book/book.mp3", b"Range: bytes=0-" + b"9" * 5000 + b"\r\n", {206}),
        (b"/episodes/book/book.mp3", b"Range: bytes=-" + b"9" * 5000 + b"\r\n", {206}),
        (b"/" + b"a" * 300, b"", {404}),
        (b"/episodes/" + b"b" * 256 + b"/book.mp3", b"", {404}),
        (b"/" + b"a/" * 3000, b"", {404}),
        (b"/a%00b", b"", {404}),
        (b"/%ff%fe", b"", {404}),
    ],
)
def test_odd_requests_get_a_proper_status(running: Running, target: bytes, headers: bytes, expected: set[int]) -> None:
    assert running.status(target, headers) in expected
    assert running.status(b"/index.html") == 200  # and the server is still there


def test_idle_connections_are_dropped_and_the_server_stays_reachable(running: Running) -> None:
    idle = [socket.create_connection(("127.0.0.1", running.port), timeout=10) for _ in range(300)]
    try:
        # Over the cap, a client gets an immediate answer (503 with Retry-After) rather than silence.
        reply = running.raw(b"GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert reply.startswith((b"HTTP/1.1 503", b"HTTP/1.0 200", b"HTTP/1.1 200")), reply[:60]
        # An idle client is disconnected after the idle timeout (1 s here): recv sees the end of the stream.
        idle[0].settimeout(10)
        while idle[0].recv(4096):  # reaches the end of the stream (no TimeoutError): the server hung up
            pass
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if running.status(b"/index.html") == 200:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the server never became reachable again")
        assert threading.active_count() < 8 + 20  # the cap holds: no thread per idle socket
    finally:
        for sock in idle:
            sock.close()


def test_the_listen_backlog_is_large(running: Running) -> None:
    assert running.server.request_queue_size >= 128


def test_the_request_log_escapes_control_characters(running: Running) -> None:
    running.raw(b"GET /\x1b[31mred\x07 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    running.raw(b"GET /%1b%5b2J HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    time.sleep(0.2)
    text = "\n".join(running.lines)
    assert "\\x1b[31mred\\x07" in text
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", text)
