"""Shared fixtures: the ffmpeg binary for independent measurement, and a short real render reused by tests.

Shared helpers (not fixtures) live in ``support.py``; test modules never import each other."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import SHORT_SUMMARY, make_render


@pytest.fixture(scope="session")
def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@pytest.fixture(scope="session")
def short_summary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("summary") / "summary.md"
    path.write_text(SHORT_SUMMARY, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def short_render(tmp_path_factory: pytest.TempPathFactory, short_summary: Path) -> dict:
    """One real render (piper, no video) of the short summary, shared by the narration tests."""
    from pipeline.ffmpeg import locate
    from pipeline.render import RenderJob, RenderSettings, render

    base = tmp_path_factory.mktemp("render")
    job = RenderJob(
        summary=short_summary,
        out_dir=base / "out",
        cache_dir=base / "cache",
        ffmpeg=locate(),
        settings=RenderSettings(video=False),
    )
    result = render(job)
    return {"job": job, "result": result, "out": base / "out", "cache": base / "cache"}


# Tests send Ctrl-C to real renders, as a user at a terminal would. A suite started in the background by a
# non-interactive shell inherits SIGINT ignored, and so would every render it starts (Python installs its
# KeyboardInterrupt handler only where SIGINT is at its default). A handled signal is reset to the default in
# an exec'd child, so handling it here gives the renders a terminal's disposition whoever started the suite.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


# Fixtures that render or measure real media: a test that uses one is a `media` test (the quick loop,
# `-m "not media"`, leaves them out). Tests that render without such a fixture carry the marker themselves.
MEDIA_FIXTURES = frozenset(
    {"ffmpeg_exe", "short_render", "ffmpeg", "narration", "rendered", "good", "one_render", "killed_history",
     "ctrl_c_folder", "built_site"}
)  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if MEDIA_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.media)


@pytest.fixture(scope="module")
def built_site(tmp_path_factory: pytest.TempPathFactory, ffmpeg_exe: str) -> Path:
    """A site built from one hand-made render (a real 3 s MP3), for the serve tests."""
    from pipeline.publishing import site

    base = tmp_path_factory.mktemp("serve")
    render = make_render(base / "never-let-me-go", ffmpeg_exe)
    site.build_site([render], base / "site", site.SiteSettings(base_url="http://127.0.0.1:8000", title="T"))
    return base / "site"


@pytest.fixture(scope="module")
def address(built_site: Path) -> Iterator[tuple[str, int]]:
    """``serve`` on an ephemeral loopback port, serving ``built_site``."""
    from pipeline.publishing import serve

    server = serve.make_server(built_site, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[:2]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """The moto S3 server on an ephemeral loopback port (no network, no real bucket)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_session() -> Any:
    """A boto3 session with explicit dummy credentials: nothing is read from ~/.aws or the environment."""
    import boto3

    return boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
