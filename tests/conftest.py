"""Shared fixtures: the ffmpeg binary for independent measurement, and a short real render reused by tests."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

SHORT_SUMMARY = """# The Quiet Harbour
*by Ada Example (1999)*

## Arrival

Mara arrives at the harbour town in 1999, carrying $20 and a letter. Dr. Okafor meets her at the pier.

She rents a room above the bakery. The owner, Mr. Lind, asks no questions.

## The Letter

The letter is from her brother. It says he has gone north — and that she should not follow.

## Departure

She follows anyway.
"""


@pytest.fixture(scope="session")
def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def ebur128(ffmpeg_exe: str, path: Path) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) measured by ffmpeg itself, not by the code under test."""
    err = subprocess.run(
        [ffmpeg_exe, "-hide_banner", "-nostdin", "-i", str(path), "-af", "ebur128=peak=true", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    summary = err[err.rfind("Summary:") :]
    integrated = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1))
    peak = float(re.search(r"Peak:\s+(-?[\d.]+) dBFS", summary).group(1))
    return integrated, peak


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
