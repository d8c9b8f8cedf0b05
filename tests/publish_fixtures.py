"""Hand-made render folders for the publish and serve tests: a real 3 s MP3 and small sidecars."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

from PIL import Image

from pipeline import manifest

_TONE_CACHE: dict[tuple[str, float], bytes] = {}


def tone_mp3(ffmpeg_exe: str, seconds: float = 3.0, frequency: int = 440) -> bytes:
    """A real MP3 (sine, mono, 44.1 kHz) made by the ffmpeg binary; cached per process to keep tests fast."""
    key = (str(frequency), seconds)
    if key not in _TONE_CACHE:
        _TONE_CACHE[key] = subprocess.run(
            [
                ffmpeg_exe,
                "-hide_banner",
                "-nostdin",
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                f"sine=frequency={frequency}:duration={seconds}:sample_rate=44100",
                "-ac",
                "1",
                "-c:a",
                "libmp3lame",
                "-b:a",
                "64k",
                "-f",
                "mp3",
                "pipe:1",
            ],  # fmt: skip
            capture_output=True,
            check=True,
        ).stdout
    return _TONE_CACHE[key]


def cover_jpeg(size: int = 1400, colour: tuple[int, int, int] = (40, 60, 90)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def make_render(
    folder: Path,
    ffmpeg_exe: str,
    *,
    title: str = "Never Let Me Go",
    author: str = "Kazuo Ishiguro",
    slug: str | None = None,
    description: str = "Kathy H. looks back on Hailsham, a school with a secret.",
    cover_size: int = 1400,
    frequency: int = 440,
    video: bool = False,
) -> Path:
    """Write a render folder with the files and ``render.json`` of the documented schema; return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "narration.mp3").write_bytes(tone_mp3(ffmpeg_exe, 3.0, frequency))
    (folder / "captions.srt").write_text(
        "1\n00:00:00,000 --> 00:00:01,500\nFirst line.\n\n2\n00:00:01,500 --> 00:00:03,000\nSecond line.\n", "utf-8"
    )
    (folder / "captions.vtt").write_text(
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nFirst line.\n\n00:00:01.500 --> 00:00:03.000\nSecond line.\n",
        "utf-8",
    )
    chapters = [{"title": "Hailsham", "start": 0.0, "end": 1.5}, {"title": f"After {title}", "start": 1.5, "end": 3.0}]
    (folder / "chapters.json").write_text(
        json.dumps(
            {"version": "1.2.0", "chapters": [{"startTime": c["start"], "title": c["title"]} for c in chapters]}
        ),
        "utf-8",
    )
    (folder / "transcript.json").write_text(
        json.dumps(
            {
                "version": "1.0.0",
                "segments": [
                    {"startTime": 0.0, "endTime": 1.5, "body": "First line."},
                    {"startTime": 1.5, "endTime": 3.0, "body": f"Second line about {title}."},
                ],
            }
        ),
        "utf-8",
    )
    (folder / "timeline.json").write_text(json.dumps({"duration": 3.0, "words": []}), "utf-8")
    (folder / "cover.jpg").write_bytes(cover_jpeg(cover_size))
    names = {
        "narration": "narration.mp3",
        "captions_srt": "captions.srt",
        "captions_vtt": "captions.vtt",
        "chapters": "chapters.json",
        "transcript": "transcript.json",
        "timeline": "timeline.json",
        "cover": "cover.jpg",
    }
    if video:
        (folder / "video.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))  # stands in for a video
        names["video_landscape"] = "video.mp4"
    record = {
        "title": title,
        "author": author,
        "year": 2005,
        "slug": slug or folder.name,
        "description": description,
        "summary": {"path": "assets/summary.md", "sha256": "0" * 64},
        "engine": "piper",
        "voice": "en_US-joe-medium",
        "duration": 3.0,
        "chapters": chapters,
        "loudness": {"integrated_lufs": -16.0, "true_peak_dbtp": -1.5},
        "files": {role: manifest.file_entry(folder, name) for role, name in names.items()},
        "rendered_at": "2026-01-01T00:00:00Z",
        "versions": {"nlmg-media": "0.1.0"},
        "stats": {"sentences": 2},
    }
    manifest.write(folder, record)
    return folder
