"""The one timeline: every spoken word with its start and end in the final mastered narration.

Built here, once: ``layout`` places each sentence's audio and the pauses between them, in frames of the voice's
sample rate, and ``build_timeline`` puts every written word at its spoken time in that layout. Assembly writes the
audio from the same layout, so the timeline and the audio agree to the frame. Captions, chapters, transcript,
slides and the video are views of the timeline. It is saved beside the narration as ``timeline.json`` so later
stages (video, publish) read it instead of re-estimating anything.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipeline import atomic
from pipeline.narration.document import Document


@dataclass(frozen=True)
class Pauses:
    """Silence (seconds) added after each unit of text, and around the whole narration."""

    lead_in: float = 0.6
    sentence: float = 0.35
    paragraph: float = 0.8
    chapter: float = 1.6
    tail: float = 1.2


@dataclass(frozen=True)
class Layout:
    """Where each sentence sits in the assembled narration, in frames (exact: the audio is written from it)."""

    rate: int
    lead_in: int  # frames of silence before the first sentence
    lengths: tuple[int, ...]  # frames of each sentence's audio
    pause_after: tuple[int, ...]  # frames of silence after each sentence
    starts: tuple[int, ...]  # first frame of each sentence
    total: int  # frames in all
    grid: int = 0  # the MP3 frame the segments are aligned to (0: not aligned)
    segments: tuple[tuple[int, int], ...] = ()  # (first sentence, first frame) of each segment after the first

    def start_seconds(self, sentence: int) -> float:
        return self.starts[sentence] / self.rate

    @property
    def duration(self) -> float:
        return self.total / self.rate


def layout(document: Document, lengths: list[int], rate: int, pauses: Pauses, grid: int = 0) -> Layout:
    """Place sentences of ``lengths`` frames with the pause each one's place in the document calls for.

    With a ``grid`` (an MP3 frame's samples), the narration is also cut into segments that can be encoded on their
    own (``segments``): after each pause long enough, a segment starts on a multiple of the grid, one grid step
    before its first sentence, and the previous one ends a grid step before that; the pause grows by less than a
    grid step for it. The total is then a multiple of the grid too.
    """
    seconds: list[float] = []
    splittable: list[bool] = []  # after this sentence, may a segment start?
    for c, chapter in enumerate(document.chapters):
        for p, paragraph in enumerate(chapter.paragraphs):
            for s, _sentence in enumerate(paragraph.sentences):
                last_in_paragraph = s == len(paragraph.sentences) - 1
                if not last_in_paragraph:
                    seconds.append(pauses.sentence)
                elif p < len(chapter.paragraphs) - 1:
                    seconds.append(pauses.paragraph)
                elif c < len(document.chapters) - 1:
                    seconds.append(pauses.chapter)
                else:
                    seconds.append(pauses.tail)
                splittable.append(last_in_paragraph)
    nominal = [round(value * rate) for value in seconds]
    position = lead_in = round(pauses.lead_in * rate)
    starts: list[int] = []
    segments: list[tuple[int, int]] = []
    for index, length in enumerate(lengths):
        if index and grid and splittable[index - 1] and nominal[index - 1] >= _MIN_SPLIT_GRIDS * grid:
            end = starts[-1] + lengths[index - 1]
            boundary = -(-max(end + grid, position - grid) // grid) * grid
            segments.append((index, boundary))
            position = boundary + grid
        starts.append(position)
        position += length + nominal[index]
    if grid:
        position = -(-position // grid) * grid
    pause_after = tuple(b - a - n for a, b, n in zip(starts, [*starts[1:], position], lengths, strict=True))
    return Layout(rate, lead_in, tuple(lengths), pause_after, tuple(starts), position, grid, tuple(segments))


_MIN_SPLIT_GRIDS = 4  # a segment starts only after a pause of at least this many grid steps


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


def build_timeline(
    document: Document,
    placed: Layout,
    token_times: list[tuple[tuple[float, float], ...]],
    word_tokens: list[tuple[range, ...]],
) -> Timeline:
    """Every written word of ``document`` at its spoken time.

    For sentence *i*, ``token_times[i]`` holds each speech token's (start, end) in seconds within the sentence's
    own audio, and ``word_tokens[i]`` the tokens that say each written word. A word that says nothing (a lone
    dash, an emoji) sits, with no length, where speech last ended.
    """
    words: list[Word] = []
    chapter_starts: list[float] = []
    index = 0
    paragraph_index = 0
    for c, chapter in enumerate(document.chapters):
        for paragraph in chapter.paragraphs:
            for sentence in paragraph.sentences:
                offset = placed.start_seconds(index)
                if len(chapter_starts) == c:
                    chapter_starts.append(0.0 if c == 0 else offset)
                last = offset
                times = token_times[index]
                for word, tokens in zip(sentence.words, word_tokens[index], strict=True):
                    if len(tokens):
                        start = offset + times[tokens.start][0]
                        end = max(start, offset + times[tokens.stop - 1][1])
                        last = max(last, end)
                    else:
                        start = end = last
                    words.append(Word(word, round(start, 3), round(end, 3), sentence.index, paragraph_index, c))
                index += 1
            paragraph_index += 1
    duration = round(placed.duration, 3)
    ends = chapter_starts[1:] + [duration]
    marks = tuple(
        ChapterMark(chapter.title, round(start, 3), round(end, 3))
        for chapter, start, end in zip(document.chapters, chapter_starts, ends, strict=True)
    )
    return Timeline(document.title, document.author, duration, tuple(words), marks)
