"""``videos refresh`` against sites that answer too slowly: each check and the whole run have a deadline.

A socket timeout only bounds the silence between two packets; a server that trickles one byte every half
second never trips it. These tests run such a server on 127.0.0.1 and check that the refresh ends anyway, with
the slow entries reported and every other entry's metadata untouched.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.curation import RefreshSettings, refresh_videos


class TricklingServer:
    """Answers every request with headers for a large page, then sends its body one byte per ``interval``."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.stopped = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n")
                while not self.stopped.wait(self.interval):
                    conn.sendall(b" ")
            except OSError:
                return

    def stop(self) -> None:
        self.stopped.set()
        self.listener.close()


@pytest.fixture
def trickling() -> Iterator[TricklingServer]:
    server = TricklingServer()
    yield server
    server.stop()


def _list(path: Path, urls: list[str]) -> Path:
    body = '[playlist]\ntitle = "Slow sites"\n' + "".join(
        f'\n[[video]]\nurl = "{url}"\nkind = "other"\n' for url in urls
    )
    path.write_text(body, encoding="utf-8")
    return path


def test_a_trickling_site_is_given_up_at_the_entry_deadline(trickling: TricklingServer, tmp_path: Path) -> None:
    listing = _list(tmp_path / "list.toml", [f"{trickling.url}/a", f"{trickling.url}/b"])
    settings = RefreshSettings(socket_timeout=1.0, attempts=1, backoff=0.0, jobs=2, discover=False)
    started = time.monotonic()
    report = refresh_videos(listing, tmp_path / "out", settings)
    elapsed = time.monotonic() - started
    assert trickling.connections >= 2  # both checks really talked to the slow site
    assert [e.status for e in report.manifest.approved] == ["unreachable", "unreachable"]
    assert all("within 2 s" in (e.error or "") for e in report.manifest.approved)
    # Not a speed assert: without the deadline this call does not return while the server trickles (100 000 s).
    assert elapsed < 60


def test_the_whole_refresh_has_a_deadline_and_keeps_what_it_knew(trickling: TricklingServer, tmp_path: Path) -> None:
    urls = [f"{trickling.url}/{n}" for n in range(6)]
    listing = _list(tmp_path / "list.toml", urls)
    out = tmp_path / "out"
    # One worker, generous per-entry budget: the run's own deadline must end it.
    result = CliRunner().invoke(
        main,
        ["videos", "refresh", "--list", str(listing), "--out", str(out), "--timeout", "5", "--retries", "1",
         "--jobs", "1", "--deadline", "2", "--no-discover"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    statuses = [e["status"] for e in manifest["entries"]]
    assert statuses == ["error"] * 6
    assert all("deadline of 2 s" in e["error"] for e in manifest["entries"])


def test_deadline_must_be_positive(tmp_path: Path) -> None:
    listing = _list(tmp_path / "list.toml", ["https://example.invalid/x"])
    result = CliRunner().invoke(main, ["videos", "refresh", "--list", str(listing), "--deadline", "0"])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith("Error:")
