"""Slides: the picture model of the video and the drawing of each distinct picture, once.

The picture of a captioned slideshow is piecewise constant in time. ``plan_shots`` turns the timeline and the
caption cues into the sequence of distinct pictures (``Shot``: a ``Picture`` held from ``start`` to ``end``):

- a title card (the cover, the book title, the author) from 0 until the first words (held at least a few
  seconds, so it reads even when the narration starts at once);
- a chapter card for each titled chapter, shown from the pause before the chapter's first word into its first
  seconds;
- body slides carrying the book and current chapter title;
- an end card (the cover again, "the end") once the last word is said, when the narration's tail leaves time;
- on chapter cards and body slides, the track of a slim progress bar with a tick at each chapter start (the video
  stage fills it as time passes);
- over all of them, the caption of the cue playing at that moment: with ``highlight``, one look per spoken word
  (the word on a pill from its start to the next word's start), matched to the cue's words by their letters.

Each card is laid out for its shape: in landscape the cover sits beside the text, in portrait and square above it.

A picture has three parts, each drawn with Pillow at most once and kept in the cache (kind ``slide``) under the
hash of exactly what is drawn on it: the calm generated ``Backdrop`` (gradient and soft light, no stock image),
the ``Card`` text, and the ``Caption`` strip (the bottom 20 % of the frame, text on a legibility box). A still
video flattens backdrop and card into one ``Slide`` (it changes a few times per chapter); with motion, the
backdrop stays a layer of its own so it can move under still text. The caption strip is always separate, so a
caption edit redraws only the strips of that cue. Strips are many (one per spoken word): a cue's box is drawn
once and each look only paints its pill over a copy, letters are set from a glyph cache, and a still video keeps
just the box, as run-length TGA (several times faster to write than PNG). The video stage
(``pipeline.video.encode``) composites the layers (or, with motion, stacks them in ffmpeg).

Typography: ``pipeline.pictures.text`` (bundled Lato, Noto Sans for Greek and Cyrillic).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.narration.captions import Cue
from pipeline.narration.timeline import Timeline, Word

TITLE_CARD_SECONDS = 3.0  # the title card stays at least this long, even if speech starts at once
CHAPTER_CARD_SECONDS = 3.0  # a chapter card is held this long (or until the next chapter)
CHAPTER_CARD_LEAD = 0.25  # it appears this long after the previous chapter's last word ends
BODY_MIN_SECONDS = 2.0  # a body slide shorter than this is not shown (the chapter card stays instead)
END_CARD_MIN_SECONDS = 0.8  # shorter than this, the end card would only flash: the body slide stays

CAPTION_BAND = 0.20  # captions live in the bottom 20 % of the frame
SIDE_MARGIN = 0.06  # …and never closer than 6 % of the width to a side (the safe area asks for ≥ 5 %)
PALETTE_COUNT = 7  # backdrop palettes (drawing._PALETTES): 0 is the cover's, the rest rotate by chapter

# --- the picture model -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backdrop:
    """The generated background: a palette and a seed for the placement of its soft light."""

    palette: int
    seed: int


@dataclass(frozen=True)
class Card:
    """The text of a slide (title card, chapter card or body slide), drawn above the backdrop."""

    kind: str  # "title" | "chapter" | "body" | "end"
    title: str
    author: str | None = None
    chapter_title: str | None = None
    chapter_number: int = 0  # 1-based; 0 when the summary has no titled chapters
    chapter_count: int = 0
    ticks: tuple[float, ...] = ()  # progress bar (chapter and body slides): chapter starts, as shares of the whole


@dataclass(frozen=True)
class Slide:
    """A backdrop with its card text, flattened into one still: the picture behind captions when nothing moves."""

    backdrop: Backdrop
    card: Card


@dataclass(frozen=True)
class Caption:
    """The caption strip: the lines of the cue playing (none: an empty, transparent strip).

    ``text`` is the cue on one line (words cut across lines joined again), for formats too narrow for the cue's
    own line breaks. ``highlight`` is the word being spoken: indices into the whitespace-separated words of
    ``lines`` (two when a word is cut across lines: both pieces light up).
    """

    lines: tuple[str, ...] = ()
    text: str = ""
    highlight: tuple[int, ...] = ()  # the word being spoken: its pieces' indices among the words of ``lines``


Layer = Backdrop | Card | Slide | Caption


@dataclass(frozen=True)
class Picture:
    backdrop: Backdrop
    card: Card
    caption: Caption


@dataclass(frozen=True)
class Shot:
    """A picture held on screen from ``start`` to ``end`` (seconds in the mastered narration)."""

    start: float
    end: float
    picture: Picture


CAPTION_STYLES = ("highlight", "plain", "none")


def plan_shots(timeline: Timeline, cues: Sequence[Cue], captions: str = "highlight") -> list[Shot]:
    """The piecewise-constant sequence of distinct pictures covering ``[0, timeline.duration]``.

    ``captions``: ``highlight`` (the cue's lines with the word being spoken lit, from its start to the next
    word's start), ``plain`` (the cue's lines) or ``none``. Consecutive shots always differ; a shot never has
    zero length. Times are exact (not yet snapped to frames).
    """
    duration = timeline.duration
    if duration <= 0:
        return []
    if captions not in CAPTION_STYLES:
        raise ValueError(f"unknown caption style {captions!r}")
    cards = _card_changes(timeline, cues)
    strips = _caption_changes(
        [] if captions == "none" else cues, duration, timeline if captions == "highlight" else None
    )
    times = sorted({t for t, _ in cards} | {t for t, _ in strips} | {0.0})
    times = [t for t in times if 0.0 <= t < duration]
    shots: list[Shot] = []
    card_index = caption_index = 0
    for i, start in enumerate(times):
        while card_index + 1 < len(cards) and cards[card_index + 1][0] <= start:
            card_index += 1
        while caption_index + 1 < len(strips) and strips[caption_index + 1][0] <= start:
            caption_index += 1
        backdrop, card = cards[card_index][1]
        picture = Picture(backdrop, card, strips[caption_index][1])
        end = times[i + 1] if i + 1 < len(times) else duration
        if shots and shots[-1].picture == picture:
            shots[-1] = Shot(shots[-1].start, end, picture)
        else:
            shots.append(Shot(start, end, picture))
    return shots


def _has_chapter_cards(timeline: Timeline) -> bool:
    # A summary without ``##`` headings is one chapter named after the book: no chapter card for it.
    return not (len(timeline.chapters) == 1 and timeline.chapters[0].title.strip() == timeline.title.strip())


def end_card_start(timeline: Timeline) -> float | None:
    """When the end card comes: once the last word is said (its caption may linger over it), if the narration's
    tail leaves it time to be read."""
    start = max([w.end for w in timeline.words] + [0.0]) + CHAPTER_CARD_LEAD
    return start if timeline.duration - start >= END_CARD_MIN_SECONDS else None


def _card_changes(timeline: Timeline, cues: Sequence[Cue]) -> list[tuple[float, tuple[Backdrop, Card]]]:
    """(time, layers) whenever the card changes; times are non-decreasing, the first is 0."""
    duration = timeline.duration
    first_word = timeline.words[0].start if timeline.words else duration
    title_end = min(duration, max(first_word, TITLE_CARD_SECONDS))
    changes: list[tuple[float, tuple[Backdrop, Card]]] = [
        (0.0, (Backdrop(palette=0, seed=0), Card("title", timeline.title, timeline.author)))
    ]
    titled = _has_chapter_cards(timeline)
    count = len(timeline.chapters) if titled else 0
    ticks = tuple(round(c.start / duration, 4) for c in timeline.chapters[1:] if 0 < c.start < duration)
    last_word_end: dict[int, float] = {}
    for word in timeline.words:
        last_word_end[word.chapter] = max(last_word_end.get(word.chapter, 0.0), word.end)

    # Where each chapter's slides begin: the first after the title card; the others in the pause before their
    # first word, once the previous chapter has fallen silent and its last caption is gone.
    starts: list[float] = []
    for index, chapter in enumerate(timeline.chapters):
        if index == 0:
            starts.append(title_end)
            continue
        silent_from = last_word_end.get(index - 1, chapter.start) + CHAPTER_CARD_LEAD
        for cue in cues:
            if cue.start < chapter.start:
                silent_from = max(silent_from, cue.end)
        starts.append(max(min(chapter.start, silent_from), starts[-1]))

    for index, chapter in enumerate(timeline.chapters):
        backdrop = Backdrop(palette=1 + index % (PALETTE_COUNT - 1), seed=index + 1)
        number = index + 1 if titled else 0
        start = starts[index]
        end = starts[index + 1] if index + 1 < len(starts) else duration
        if titled:
            changes.append((start, (backdrop, Card("chapter", timeline.title, timeline.author, chapter.title,
                                                   number, count, ticks))))  # fmt: skip
            start += CHAPTER_CARD_SECONDS
            if end - start < BODY_MIN_SECONDS:
                continue  # a short chapter keeps its card rather than flashing its body slide
        changes.append((start, (backdrop, Card("body", timeline.title, timeline.author, chapter.title, number,
                                               count, ticks))))  # fmt: skip
    end_card = end_card_start(timeline)
    if end_card is not None:
        changes.append((end_card, (Backdrop(palette=0, seed=0), Card("end", timeline.title, timeline.author))))
    # Later changes at the same instant win.
    deduplicated: list[tuple[float, tuple[Backdrop, Card]]] = []
    for time, layers in changes:
        time = max(time, deduplicated[-1][0]) if deduplicated else time
        if deduplicated and deduplicated[-1][0] == time:
            deduplicated[-1] = (time, layers)
        else:
            deduplicated.append((time, layers))
    return deduplicated


def _caption_changes(cues: Sequence[Cue], duration: float, timeline: Timeline | None) -> list[tuple[float, Caption]]:
    """(time, caption) whenever the caption changes; the empty caption between cues. With a timeline, a change
    at each spoken word too (the highlight moves)."""
    changes: list[tuple[float, Caption]] = [(0.0, Caption())]
    words = timeline.words if timeline is not None else ()
    starts = [w.start for w in words]
    for cue in sorted(cues, key=lambda c: c.start):
        start, end = max(0.0, cue.start), min(cue.end, duration)
        if end <= start:
            continue
        if changes[-1][0] >= start:  # overlapping cues: the later one takes over where it starts
            while len(changes) > 1 and changes[-1][0] >= start:
                changes.pop()
        lines = tuple(line.strip() for line in cue.lines if line.strip())
        plain = Caption(lines, cue.body)  # body re-joins words the cue cut across lines
        changes.append((start, plain))
        if timeline is not None:
            first, last = bisect.bisect_left(starts, start - 0.002), bisect.bisect_left(starts, end)
            for at, pieces in _highlights(cue, lines, words[first:last]):
                at = max(start, at)
                caption = Caption(plain.lines, plain.text, pieces)
                if changes[-1][0] >= at:
                    changes[-1] = (changes[-1][0], caption)
                else:
                    changes.append((at, caption))
        changes.append((end, Caption()))
    return changes


def _normalised(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _highlights(cue: Cue, lines: tuple[str, ...], words: Sequence[Word]) -> list[tuple[float, tuple[int, ...]]]:
    """(time, pieces) for each timeline word spoken during the cue that the cue shows.

    The words shown are matched to the words spoken in order, by their letters: an edited caption (a word
    added or changed by hand) keeps the highlight on the words that still match, and a word it does not show
    leaves the highlight where it was.
    """
    shown: list[tuple[str, tuple[int, ...]]] = []  # a word on screen: its letters and its pieces
    continues = cue.continues or (False,) * len(lines)
    index = 0
    glue = False
    for line, cont in zip(lines, continues, strict=False):
        parts = line.split()
        for position, part in enumerate(parts):
            if glue and position == 0 and shown:
                text, pieces = shown[-1]
                shown[-1] = (text + _normalised(part), (*pieces, index))
            else:
                shown.append((_normalised(part), (index,)))
            index += 1
        glue = cont
    out: list[tuple[float, tuple[int, ...]]] = []
    pointer = 0
    for word in words:
        target = _normalised(word.text)
        if not target:
            continue
        for look in range(pointer, min(len(shown), pointer + 4)):
            text = shown[look][0]
            if text == target or (text and (target.startswith(text) or target.endswith(text))):
                out.append((word.start, shown[look][1]))
                pointer = look + 1
                break
    return out


# --- layout ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaptionArea:
    """Where captions go in a frame of ``width`` × ``height``: a band at the bottom, full width."""

    y: int
    height: int


def caption_area(size: tuple[int, int]) -> CaptionArea:
    """The caption band: the bottom 20 % of the frame (the strip image is drawn at this size)."""
    width, height = size
    band = round(height * CAPTION_BAND)
    return CaptionArea(y=height - band, height=band)
