"""Podcasting 2.0 sidecars: JSON Chapters 1.2 and the JSON transcript, checked field by field against the specs."""

from __future__ import annotations

import json

from pipeline.narration.captions import Cue, build_cues, caption_words
from pipeline.narration.podcasting import chapters_json, transcript_json
from pipeline.narration.timeline import ChapterMark, Timeline, Word

CHAPTER_FIELDS = {"startTime", "title", "img", "url", "toc", "endTime", "location"}  # JSON Chapters 1.2
TOP_FIELDS = {"version", "chapters", "author", "title", "podcastName", "description", "fileName", "waypoints"}
SEGMENT_FIELDS = {"speaker", "startTime", "endTime", "body"}  # JSON transcript 1.0.0

TEXT = [
    ["Kathy recalls her time at Hailsham, a boarding school.", "She had two best friends: Ruth and Tommy."],
    ["Tommy and Ruth begin dating each other when they’re sixteen years old."],
    ["She finds out that the deferral program never existed.", "Funding ran out."],
]


def three_chapter_timeline(title: str = "Never Let Me Go", author: str | None = "Kazuo Ishiguro") -> Timeline:
    words: list[Word] = []
    marks: list[ChapterMark] = []
    t = 0.25
    sentence = 0
    for c, sentences in enumerate(TEXT):
        start = 0.0 if c == 0 else t
        for text in sentences:
            for w in text.split():
                words.append(Word(w, t, t + 0.3, sentence, c, c))
                t += 0.3
            t += 0.4
            sentence += 1
        if marks:
            marks[-1] = ChapterMark(marks[-1].title, marks[-1].start, start)
        marks.append(ChapterMark(["Hailsham", "The “Cottages” & <more>", "Völlig – 終わり"][c], start, 0.0))
        t += 1.2
    duration = t
    marks[-1] = ChapterMark(marks[-1].title, marks[-1].start, duration)
    return Timeline(title, author, duration, tuple(words), tuple(marks))


def test_chapters_follow_json_chapters_1_2() -> None:
    timeline = three_chapter_timeline()
    document = chapters_json(timeline)
    assert json.loads(json.dumps(document, ensure_ascii=False)) == document
    assert set(document) <= TOP_FIELDS
    assert document["version"] == "1.2.0"
    assert document["title"] == "Never Let Me Go" and document["author"] == "Kazuo Ishiguro"
    chapters = document["chapters"]
    assert [c["title"] for c in chapters] == ["Hailsham", "The “Cottages” & <more>", "Völlig – 終わり"]
    for chapter, mark in zip(chapters, timeline.chapters, strict=True):
        assert set(chapter) <= CHAPTER_FIELDS
        assert isinstance(chapter["startTime"], float) and isinstance(chapter["endTime"], float)
        assert chapter["startTime"] == round(mark.start, 3) and chapter["endTime"] == round(mark.end, 3)
        assert "img" not in chapter and "toc" not in chapter
    assert chapters[0]["startTime"] == 0.0
    starts = [c["startTime"] for c in chapters]
    assert starts == sorted(starts)
    assert all(a["endTime"] == b["startTime"] for a, b in zip(chapters, chapters[1:], strict=False))
    assert chapters[-1]["endTime"] == round(timeline.duration, 3)


def test_chapter_art_and_optional_fields() -> None:
    document = chapters_json(three_chapter_timeline(author=None), image_url="https://example.com/art.jpg")
    assert "author" not in document
    assert all(c["img"] == "https://example.com/art.jpg" for c in document["chapters"])


def test_chapters_are_sorted_and_clamped_to_the_narration() -> None:
    timeline = Timeline(
        "T",
        None,
        10.0,
        (),
        (ChapterMark("Late", 6.0, 12.0), ChapterMark("Early", -0.5, 6.0), ChapterMark("", 10.0, 10.0)),
    )
    chapters = chapters_json(timeline)["chapters"]
    assert chapters == [
        {"startTime": 0.0, "title": "Early", "endTime": 6.0},
        {"startTime": 6.0, "title": "Late", "endTime": 10.0},
        {"startTime": 10.0},  # no title, no empty range: only what the spec requires
    ]


def test_transcript_has_one_segment_per_cue() -> None:
    timeline = three_chapter_timeline()
    cues = build_cues(timeline)
    document = transcript_json(cues, timeline)
    assert json.loads(json.dumps(document, ensure_ascii=False)) == document
    assert set(document) == {"version", "segments"} and document["version"] == "1.0.0"
    segments = document["segments"]
    assert len(segments) == len(cues)
    for segment, cue in zip(segments, cues, strict=True):
        assert set(segment) <= SEGMENT_FIELDS and "speaker" not in segment
        assert (segment["startTime"], segment["endTime"]) == (cue.start, cue.end)
        assert segment["body"] == " ".join(cue.lines) and "\n" not in segment["body"]
    # The transcript is the summary's words as written, in order.
    assert " ".join(s["body"] for s in segments).split() == [w.text for w in timeline.words]
    starts = [s["startTime"] for s in segments]
    assert starts == sorted(starts) and all(s["endTime"] > s["startTime"] for s in segments)
    assert segments[-1]["endTime"] <= timeline.duration


def test_transcript_rejoins_words_cut_across_lines() -> None:
    url = "https://example.com/a/very/long/path/to/a/page/about/never-let-me-go"
    words = (Word("See", 0.0, 0.3, 0, 0, 0), Word(url, 0.3, 3.3, 0, 0, 0), Word("now.", 3.3, 3.6, 0, 0, 0))
    timeline = Timeline("T", None, 5.0, words, (ChapterMark("T", 0.0, 5.0),))
    cues = build_cues(timeline)
    assert any(c.continues for c in cues)
    (segment,) = transcript_json(cues, timeline)["segments"]
    assert segment["body"] == f"See {url} now."
    assert caption_words(cues) == ["See", url, "now."]


def test_transcript_times_are_kept_within_the_narration() -> None:
    timeline = Timeline("T", None, 2.0, (Word("x", 0.0, 1.0, 0, 0, 0),), (ChapterMark("T", 0.0, 2.0),))
    segments = transcript_json([Cue(0.0004, 2.5, ("x",))], timeline)["segments"]
    assert segments == [{"startTime": 0.0, "endTime": 2.0, "body": "x"}]
