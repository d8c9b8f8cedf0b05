"""``nlmg-media serve``: Range and HEAD on the episode MP3, content types, and what is never served."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from support import request

from pipeline.cli import main
from pipeline.publishing import serve

MP3 = "/episodes/never-let-me-go/never-let-me-go.mp3"


def test_range_request_on_the_mp3_answers_206_with_the_right_bytes(address: tuple[str, int], built_site: Path) -> None:
    data = (built_site / MP3.lstrip("/")).read_bytes()
    response, body = request(address, "GET", MP3, {"Range": "bytes=0-99"})
    assert response.status == 206
    assert response.getheader("Content-Range") == f"bytes 0-99/{len(data)}"
    assert response.getheader("Content-Length") == "100"
    assert response.getheader("Content-Type") == "audio/mpeg"
    assert body == data[:100]


def test_head_reports_the_length_without_a_body(address: tuple[str, int], built_site: Path) -> None:
    size = (built_site / MP3.lstrip("/")).stat().st_size
    response, body = request(address, "HEAD", MP3)
    assert response.status == 200
    assert response.getheader("Content-Length") == str(size)
    assert response.getheader("Accept-Ranges") == "bytes"
    assert body == b""


def test_open_and_suffix_ranges(address: tuple[str, int], built_site: Path) -> None:
    data = (built_site / MP3.lstrip("/")).read_bytes()
    response, body = request(address, "GET", MP3, {"Range": f"bytes={len(data) - 10}-"})
    assert (response.status, body) == (206, data[-10:])
    response, body = request(address, "GET", MP3, {"Range": "bytes=-25"})
    assert (response.status, body) == (206, data[-25:])
    assert response.getheader("Content-Range") == f"bytes {len(data) - 25}-{len(data) - 1}/{len(data)}"
    response, body = request(address, "GET", MP3, {"Range": "bytes=100-99999999"})
    assert (response.status, body) == (206, data[100:])


def test_range_past_the_end_answers_416(address: tuple[str, int], built_site: Path) -> None:
    size = (built_site / MP3.lstrip("/")).stat().st_size
    response, _ = request(address, "GET", MP3, {"Range": f"bytes={size}-"})
    assert response.status == 416
    assert response.getheader("Content-Range") == f"bytes */{size}"


def test_malformed_or_multiple_ranges_get_the_whole_file(address: tuple[str, int], built_site: Path) -> None:
    data = (built_site / MP3.lstrip("/")).read_bytes()
    for header in ("bytes=0-1,5-6", "items=0-5", "bytes=9-3"):
        response, body = request(address, "GET", MP3, {"Range": header})
        assert (response.status, body) == (200, data), header


def test_site_pages_and_types(address: tuple[str, int]) -> None:
    response, body = request(address, "GET", "/")
    assert response.status == 200 and response.getheader("Content-Type") == "text/html; charset=utf-8"
    assert b"<audio" in body
    response, body = request(address, "GET", "/feed.xml")
    assert response.getheader("Content-Type") == "application/xml; charset=utf-8"  # browsers apply feed.xsl
    assert body.startswith(b"<?xml")
    response, _ = request(address, "HEAD", "/episodes/never-let-me-go/captions.vtt")
    assert response.getheader("Content-Type") == "text/vtt; charset=utf-8"


@pytest.mark.parametrize("path", ["/.nlmg-publish.lock", "/../render.json", "/%2e%2e/render.json", "/missing.mp3"])
def test_dot_files_and_paths_outside_the_site_are_not_served(address: tuple[str, int], path: str) -> None:
    response, _ = request(address, "GET", path)
    assert response.status == 404


@given(size=st.integers(1, 10_000), first=st.integers(0, 20_000), length=st.integers(1, 20_000))
def test_parsed_ranges_stay_inside_the_file(size: int, first: int, length: int) -> None:
    wanted = serve.parse_range(f"bytes={first}-{first + length - 1}", size)
    if first >= size:
        assert wanted == "unsatisfiable"
    else:
        assert wanted == (first, min(first + length - 1, size - 1))


def test_serve_without_a_site_is_an_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["serve", "--site", str(tmp_path / "nothing"), "--port", "0"])
    assert result.exit_code == 1
    assert (
        result.output == f"Error: no site at {tmp_path / 'nothing'} (run `nlmg-media publish --base-url URL` first)\n"
    )


def test_serve_on_a_busy_port_is_an_error(built_site: Path, address: tuple[str, int]) -> None:
    host, port = address
    result = CliRunner().invoke(main, ["serve", "--site", str(built_site), "--host", host, "--port", str(port)])
    assert result.exit_code == 1
    assert result.output == f"Error: port {port} on {host} is already in use; choose another with --port\n"
