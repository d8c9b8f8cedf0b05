"""The mastered narration: sentences assembled on the timeline's layout, mastered, tagged — cached as a whole.

The cache key covers every sentence's synthesis key, the layout's pauses, the mastering target, the tags, the
cover and the chapters, so an unchanged summary reuses the MP3 and its measured loudness without running ffmpeg.
After an edit, mastering starts from the previous solution (the limiter and gain of the last render of the same
output folder), which usually saves the measuring passes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline import atomic
from pipeline.cache import Cache, content_key
from pipeline.ffmpeg import FFmpeg
from pipeline.narration.audio import Loudness, MasteringTarget, Solution, Tags, assemble, master, write_tags
from pipeline.narration.document import Document
from pipeline.narration.synthesis import SpokenSentence
from pipeline.narration.timeline import Layout, Pauses, Timeline
from pipeline.progress import Progress, quiet, seconds_of

# Bump when the mastered output for the same inputs changes, so old cache entries are not reused.
STAGE = "narration/1"


@dataclass(frozen=True)
class MasteredNarration:
    mp3: Path  # inside the cache
    loudness: Loudness
    solution: Solution | None  # how it was mastered (None for entries made before solutions were recorded)


def tags_for(document: Document) -> Tags:
    """The ID3 text of a narration of ``document``."""
    return Tags(
        title=document.title,
        artist=document.author or "Unknown author",
        album=f"{document.title} — a one-page summary",
        year=document.year,
        comment=f"Narrated summary of {document.title}" + (f" by {document.author}" if document.author else ""),
    )


def mastered_narration(
    sentences: list[SpokenSentence],
    placed: Layout,
    pauses: Pauses,
    timeline: Timeline,
    tags: Tags,
    cover: bytes,
    target: MasteringTarget,
    ffmpeg: FFmpeg,
    cache: Cache,
    previous: Solution | None = None,
    progress: Progress = quiet,
) -> MasteredNarration:
    """The narration MP3 for these sentences, from the cache or assembled, mastered and tagged now."""
    chapters = timeline.chapters
    key = content_key(
        STAGE, [s.key for s in sentences], pauses, target, tags, hashlib.sha256(cover).hexdigest(), chapters
    )
    cached = cache.get("narration", key, ".mp3")
    meta = cache.get_json("narration", key)
    if cached is not None and meta is not None:
        return MasteredNarration(cached, Loudness(**meta["loudness"]), solution_from(meta.get("mastering")))

    with cache.scratch() as work, atomic.atomic_path(cache.path("narration", key, ".mp3")) as mp3:
        assemble((s.synthesis.samples for s in sentences), placed, work / "narration.wav")
        loudness, solution = master(
            ffmpeg,
            work / "narration.wav",
            mp3,
            target,
            progress=seconds_of(progress, "Mastering narration", placed.duration),
            start=previous,
        )
        write_tags(mp3, tags, cover, chapters)
    cache.put_json("narration", key, {"loudness": loudness.__dict__, "mastering": solution.__dict__})
    return MasteredNarration(cache.path("narration", key, ".mp3"), loudness, solution)


def solution_from(value: Any) -> Solution | None:
    """A mastering solution from a record or cache entry, if it holds a well-formed one."""
    try:
        return Solution(str(value["chain"]), float(value["gain_db"]))
    except (TypeError, KeyError, ValueError):
        return None
