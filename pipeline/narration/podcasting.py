"""Podcasting 2.0 JSON sidecars: chapters (JSON Chapters 1.2) and the transcript (JSON transcript 1.0).

Public API::

    chapters_json(timeline, *, image_url=None) -> dict    # serve as application/json+chapters
    transcript_json(cues, timeline) -> dict               # serve as application/json (podcast:transcript)

Both return plain dicts; the caller writes them with ``atomic.write_json``. Field names follow the Podcast
Index namespace specs (``chapters/jsonChapters.md``, ``transcripts/transcripts.md``): times are seconds as
JSON numbers (rounded to the millisecond, like the captions), only fields the specs define are written, and
optional fields are left out rather than written empty.

Transcript granularity: one segment per caption cue. The spec allows anything from one word to a whole
monologue per segment; per cue gives phrase-sized segments that are already broken at phrase boundaries and
are in step with the captions and the video, which is what players highlight and scroll through. Per-word
segments would make the file about ten times larger for nothing: AntennaPod, for one, merges segments back
into spans of at least a second before showing them. There is one voice, so ``speaker`` is left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipeline.narration.captions import Cue
from pipeline.narration.timeline import Timeline

CHAPTERS_VERSION = "1.2.0"
TRANSCRIPT_VERSION = "1.0.0"


def _seconds(t: float) -> float:
    return round(t, 3)


def chapters_json(timeline: Timeline, *, image_url: str | None = None) -> dict[str, Any]:
    """The timeline's chapters as a JSON Chapters 1.2 document (``image_url``: chapter art for every chapter).

    Chapters are written in ascending ``startTime`` (the spec assumes that order), clamped to the narration;
    ``endTime`` is given when it is after ``startTime``. The episode's title and author go in the optional
    top-level fields.
    """
    duration = max(0.0, timeline.duration)
    document: dict[str, Any] = {"version": CHAPTERS_VERSION}
    if timeline.title:
        document["title"] = timeline.title
    if timeline.author:
        document["author"] = timeline.author
    chapters: list[dict[str, Any]] = []
    for mark in sorted(timeline.chapters, key=lambda c: c.start):
        start = _seconds(min(max(0.0, mark.start), duration))
        end = _seconds(min(max(mark.end, 0.0), duration))
        chapter: dict[str, Any] = {"startTime": start}
        if mark.title:
            chapter["title"] = mark.title
        if image_url:
            chapter["img"] = image_url
        if end > start:
            chapter["endTime"] = end
        chapters.append(chapter)
    document["chapters"] = chapters
    return document


def transcript_json(cues: Sequence[Cue], timeline: Timeline) -> dict[str, Any]:
    """The captions as a Podcasting 2.0 JSON transcript: one segment per cue, its text on one line.

    ``body`` is the cue's text as written in the summary, lines joined by a space (a word cut across lines
    is joined back). Times are those of the cue, kept within the narration's duration.
    """
    duration = max(0.0, timeline.duration)
    segments = []
    for cue in cues:
        start = _seconds(min(max(0.0, cue.start), duration))
        end = _seconds(min(max(cue.end, cue.start), duration))
        segments.append({"startTime": start, "endTime": max(end, start), "body": cue.body})
    return {"version": TRANSCRIPT_VERSION, "segments": segments}
