"""The mastered narration: sentences assembled on the timeline's layout, mastered, tagged — cached as a whole.

The cache key covers every sentence's synthesis key, the layout's pauses, the mastering target, the tags, the
cover and the chapters, so an unchanged summary reuses the MP3 and its measured loudness without running ffmpeg.
After an edit, mastering keeps the previous solution (the limiter threshold and gain of the last render of the same
output folder) when it still lands on target, so the narration changes only where the edit is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline import atomic
from pipeline.cache import Cache, content_key
from pipeline.errors import MediaError
from pipeline.ffmpeg import FFmpeg
from pipeline.narration.audio import RESAMPLER, MasteringTarget, Solution, Tags, to_rate, write_tags
from pipeline.narration.document import Document
from pipeline.narration.loudness import Loudness
from pipeline.narration.segments import Segment, master_segments, split
from pipeline.narration.synthesis import SpokenSentence
from pipeline.narration.timeline import Layout, Pauses, Timeline
from pipeline.progress import Progress, quiet, seconds_of

# Bump when the mastered output for the same inputs changes, so old cache entries are not reused.
STAGE = "narration/2"


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


class Voiced:
    """Each sentence's audio at the master rate (SoX's resampler), made when a segment that holds it is measured or
    encoded. Its length is kept in the cache, so laying out a narration whose segments are all cached (an edit's
    untouched paragraphs) resamples nothing."""

    def __init__(self, sentences: Sequence[SpokenSentence], rate: int, cache: Cache) -> None:
        self.sentences, self.rate, self.cache = sentences, rate, cache
        self._made: dict[int, np.ndarray] = {}

    def __getitem__(self, index: int) -> np.ndarray:
        if index not in self._made:
            synthesis = self.sentences[index].synthesis
            self._made[index] = to_rate(synthesis.samples, synthesis.sample_rate, self.rate)
        return self._made[index]

    def lengths(self) -> list[int]:
        found = []
        for index, sentence in enumerate(self.sentences):
            key = content_key(STAGE, "length", sentence.key, self.rate, RESAMPLER)
            known = self.cache.get_json("resampled", key)
            if not isinstance(known, int):
                known = len(self[index])
                self.cache.put_json("resampled", key, known)
            found.append(known)
        return found


def mastered_narration(
    sentences: list[SpokenSentence],
    voiced: Voiced,
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
    """The narration MP3 for these sentences (``voiced``: their audio at the master rate, laid out by ``placed``),
    from the cache or mastered and tagged now."""
    chapters = timeline.chapters
    key = content_key(
        STAGE, [s.key for s in sentences], pauses, target, tags, hashlib.sha256(cover).hexdigest(), chapters
    )
    cached = cache.get("narration", key, ".mp3")
    meta = cache.get_json("narration", key)
    if cached is not None and meta is not None:
        return MasteredNarration(cached, Loudness(**meta["loudness"]), solution_from(meta.get("mastering")))

    def audio(segment: Segment) -> np.ndarray:
        samples = np.zeros(segment.samples, dtype=np.float32)
        for index in segment.sentences:
            at, said = placed.starts[index] - segment.start, voiced[index]
            if len(said) != placed.lengths[index]:
                raise MediaError(
                    f"sentence {index + 1} resampled to {len(said)} samples, laid out as {placed.lengths[index]}"
                )
            samples[at : at + len(said)] = said
        return samples

    segments = split(placed, [s.key for s in sentences], RESAMPLER)
    with atomic.atomic_path(cache.path("narration", key, ".mp3")) as mp3:
        loudness, solution = master_segments(
            segments, audio, mp3, target, ffmpeg, cache, start=previous,
            progress=seconds_of(progress, "Mastering narration", placed.duration),
        )  # fmt: skip
        write_tags(mp3, tags, cover, chapters)
    cache.put_json("narration", key, {"loudness": loudness.__dict__, "mastering": solution.__dict__})
    return MasteredNarration(cache.path("narration", key, ".mp3"), loudness, solution)


def solution_from(value: Any) -> Solution | None:
    """A mastering solution from a record or cache entry, if it holds a well-formed one."""
    try:
        limit = value["limit_db"]
        return Solution(
            None if limit is None else float(limit), float(value["gain_db"]), float(value.get("encoder_db", 0.0))
        )
    except (TypeError, KeyError, ValueError):
        return None
