"""Shared fixtures: the ffmpeg binary for independent measurement, and a short real render reused by tests.

Shared helpers (not fixtures) live in ``support.py``; test modules never import each other."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import SHORT_SUMMARY


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
