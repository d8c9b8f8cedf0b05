"""The one timeline: every spoken word with its start and end in the final mastered narration.

Captions, chapters, transcript, slides and the video are views of it. It is saved beside the narration as
``timeline.json`` so later stages (video, publish) read it instead of re-estimating anything.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import atomic


@dataclass(frozen=True)
class Word:
    text: str  # as written in the summary (caption form), never the normalised speech form
    start: float  # seconds in the mastered narration
    end: float
    sentence: int  # global sentence index
    paragraph: int  # global paragraph index
    chapter: int  # chapter index


@dataclass(frozen=True)
class ChapterMark:
    title: str
    start: float  # chapter start in the mastered narration (0.0 for the first)
    end: float


@dataclass(frozen=True)
class Timeline:
    title: str
    author: str | None
    duration: float  # of the mastered narration, seconds
    words: tuple[Word, ...]
    chapters: tuple[ChapterMark, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "author": self.author,
            "duration": self.duration,
            "chapters": [asdict(c) for c in self.chapters],
            "words": [asdict(w) for w in self.words],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Timeline:
        return cls(
            title=data["title"],
            author=data.get("author"),
            duration=float(data["duration"]),
            words=tuple(Word(**w) for w in data["words"]),
            chapters=tuple(ChapterMark(**c) for c in data["chapters"]),
        )

    def save(self, path: Path) -> None:
        atomic.write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: Path) -> Timeline:
        return cls.from_dict(json.loads(Path(path).read_text("utf-8")))

    def chapter_at(self, t: float) -> int:
        """Index of the chapter playing at time ``t``."""
        current = 0
        for i, chapter in enumerate(self.chapters):
            if chapter.start <= t:
                current = i
        return current
