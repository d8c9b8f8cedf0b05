"""Helpers shared by the tests (one place; test modules never import each other):

- ``SHORT_SUMMARY`` and ``ebur128``: a short summary to render, and loudness measured by ffmpeg itself;
- hand-made render folders for the publish and serve tests: a real 3 s MP3 and small sidecars;
- caption-rule checkers and synthetic timelines for the caption tests.
"""

from __future__ import annotations

import io
import json
import math
import random
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from pipeline.narration.captions import Cue, CueRules, caption_words, display_width
from pipeline.narration.document import split_sentences
from pipeline.narration.timeline import ChapterMark, Timeline, Word
from pipeline.publishing import site
from pipeline.record import file_entry, write_record

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
    seconds: float = 3.0,
) -> Path:
    """Write a render folder with the files and ``render.json`` of the documented schema; return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "narration.mp3").write_bytes(tone_mp3(ffmpeg_exe, seconds, frequency))
    (folder / "captions.srt").write_text(
        "1\n00:00:00,000 --> 00:00:01,500\nFirst line.\n\n2\n00:00:01,500 --> 00:00:03,000\nSecond line.\n", "utf-8"
    )
    (folder / "captions.vtt").write_text(
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nFirst line.\n\n00:00:01.500 --> 00:00:03.000\nSecond line.\n",
        "utf-8",
    )
    half = seconds / 2
    chapters = [
        {"title": "Hailsham", "start": 0.0, "end": half},
        {"title": f"After {title}", "start": half, "end": seconds},
    ]
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
    words = timeline_words(seconds, title)
    (folder / "timeline.json").write_text(json.dumps({"duration": seconds, "words": words}), "utf-8")
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
        "duration": seconds,
        "chapters": chapters,
        "loudness": {"integrated_lufs": -16.0, "true_peak_dbtp": -1.5},
        "files": {role: file_entry(folder, name) for role, name in names.items()},
        "rendered_at": "2026-01-01T00:00:00Z",
        "versions": {"nlmg-media": "0.1.0"},
        "stats": {"sentences": 2},
    }
    write_record(folder, record)
    return folder


def timeline_words(seconds: float, title: str) -> list[dict]:
    """Word timings as ``timeline.json`` holds them: two sentences per chapter (a paragraph each), the words of a
    sentence back to back, a pause between sentences; the chapters are the first and second half."""
    sentences = [
        (0, "Kathy remembers Hailsham and its guardians."),
        (0, "They kept a secret."),
        (1, "Years later the truth came out."),
        (1, f"This was {title}."),
    ]
    words: list[dict] = []
    for chapter in (0, 1):
        mine = [(i, text) for i, (c, text) in enumerate(sentences) if c == chapter]
        t = chapter * seconds / 2 + 0.1
        span = seconds / 2 - 0.2
        pause = span * 0.2 / len(mine)
        per_word = (span - pause * len(mine)) / sum(len(text.split()) for _, text in mine)
        for index, text in mine:
            for word in text.split():
                words.append({"text": word, "start": round(t, 3), "end": round(t + per_word, 3),
                              "sentence": index, "paragraph": chapter, "chapter": chapter})  # fmt: skip
                t += per_word
            t += pause
    return words


def write_playlist(folder: Path, *, videos: int = 2) -> Path:
    """A curated-video folder as ``nlmg-media videos refresh`` leaves it (JSPF, M3U8, page); returns the JSPF."""
    folder.mkdir(parents=True, exist_ok=True)
    tracks = [
        {
            "title": f"Video essay {n} <on> Hailsham",
            "location": [f"https://video.example/watch?v={n}"],
            "creator": "Book Channel",
            "duration": 61000 * n,
            "annotation": "Why the ending works.",
            "extension": {"urn:nlmg-media:video": [{"status": "ok", "kind": "commentary"}]},
        }
        for n in range(1, videos + 1)
    ]
    jspf = folder / "playlist.jspf"
    jspf.write_text(json.dumps({"playlist": {"title": "Curated videos", "track": tracks}}), "utf-8")
    (folder / "playlist.m3u8").write_text("#EXTM3U\n", "utf-8")
    (folder / "index.html").write_text(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Curated videos</title></head>'
        "<body><main><h1>Curated videos</h1></main></body></html>\n",
        "utf-8",
    )
    return jspf


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


# The seed page sits in shared/ beside the repository (a developer checkout and CI's clone alike).
SEED = next(
    (p for p in (Path(__file__).resolve().parents[2] / "shared/seed/never-let-me-go-page.txt",
               Path("/work/shared/seed/never-let-me-go-page.txt")) if p.is_file()),
    Path("/work/shared/seed/never-let-me-go-page.txt"),
)  # fmt: skip
RULES = CueRules()
MIN_MS = math.ceil(RULES.min_duration * 1000)  # 834: the rule is 5/6 s, times are whole milliseconds
MAX_MS = 7000
GAP_MS = 83  # "at least 2 frames (0.083 s)"; the builder keeps 84 ms (2/24 s rounded up)


# --- building timelines --------------------------------------------------------------------------------------


def is_spoken(word: str) -> bool:
    """Roughly what the speech stage voices: Latin letters and digits (other scripts and symbols are silent)."""
    return any(ch.isalnum() and ord(ch) < 0x250 for ch in word)


def make_timeline(
    chapters: Sequence[Sequence[Sequence[str]]],
    *,
    per_char: float = 0.05,
    per_word: float = 0.1,
    sentence_pause: float = 0.4,
    paragraph_pause: float = 0.8,
    chapter_pause: float = 1.5,
    lead: float = 0.2,
    tail: float = 0.8,
    spoken: Callable[[str], bool] = is_spoken,
    silence_per_unspoken_char: float = 0.0,
    rng: random.Random | None = None,
) -> Timeline:
    """chapters ▸ paragraphs ▸ sentences (text) → a Timeline with plausible word timings.

    Unspoken words get start == end; ``silence_per_unspoken_char`` reserves a pause after a run of them, as a
    timeline should if it wants such text readable.
    """
    words: list[Word] = []
    marks: list[ChapterMark] = []
    t = lead
    sentence_index = paragraph_index = 0
    for c, chapter in enumerate(chapters):
        if c:
            t += chapter_pause
        chapter_start = 0.0 if c == 0 else t
        for p, paragraph in enumerate(chapter):
            if p:
                t += paragraph_pause
            for s, sentence in enumerate(paragraph):
                if s:
                    t += sentence_pause * (rng.uniform(0.75, 1.5) if rng else 1)
                unspoken_run = 0
                for text in sentence.split():
                    if spoken(text):
                        t += silence_per_unspoken_char * unspoken_run
                        unspoken_run = 0
                        factor = rng.uniform(0.7, 2.0) if rng else 1.0
                        duration = (per_char * len(text) + per_word) * factor
                        words.append(Word(text, t, t + duration, sentence_index, paragraph_index, c))
                        t += duration
                    else:
                        words.append(Word(text, t, t, sentence_index, paragraph_index, c))
                        unspoken_run += display_width(text) + 1
                t += silence_per_unspoken_char * unspoken_run
                sentence_index += 1
            paragraph_index += 1
        if marks:
            marks[-1] = ChapterMark(marks[-1].title, marks[-1].start, chapter_start)
        marks.append(ChapterMark(f"Chapter {c + 1}", chapter_start, 0.0))
    duration = t + tail
    marks[-1] = ChapterMark(marks[-1].title, marks[-1].start, duration)
    return Timeline("Test", None, duration, tuple(words), tuple(marks))


def one_sentence(text: str, **kwargs) -> Timeline:
    return make_timeline([[[text]]], **kwargs)


def seed_paragraphs() -> list[list[str]]:
    return [split_sentences(line) for line in SEED.read_text("utf-8").splitlines() if line.strip()]


# --- the rule checker ----------------------------------------------------------------------------------------


def ms(t: float) -> int:
    return round(t * 1000)


def line_word_spans(cues: Sequence[Cue], n_words: int) -> list[list[tuple[int, int, bool]]]:
    """Per cue, per line: (first word index, last word index, whether the line starts inside a cut word)."""
    spans: list[list[tuple[int, int, bool]]] = []
    position = -1
    carry = False
    for cue in cues:
        spans.append([])
        for line, cont in zip(cue.lines, cue.continues or (False,) * len(cue.lines), strict=True):
            parts = line.split()
            starts_inside = carry and bool(parts)
            position += len(parts) - (1 if starts_inside else 0)
            spans[-1].append((position - len(parts) + 1, position, starts_inside))
            carry = cont
    assert position == n_words - 1
    return spans


def check_cues(
    cues: Sequence[Cue],
    timeline: Timeline,
    rules: CueRules = RULES,
    *,
    timing: bool = True,
    sentences: bool = True,
    phrasing: bool = False,
) -> None:
    """Assert every caption rule. ``timing``: min duration, sync and end within the narration (the rules the
    input can make impossible); ``sentences``: no cue spans two sentences unless it holds both whole;
    ``phrasing``: no break after an article or determiner, or inside a name."""
    words = [part for w in timeline.words for part in w.text.split()]
    word_of = [w for w in timeline.words for _ in w.text.split()]
    # The caption words, joined, are the summary's words.
    assert caption_words(cues) == words
    if all(display_width(w) <= rules.max_chars for w in words):
        assert " ".join(c.text for c in cues).split() == words
        assert all(not c.continues for c in cues)
    assert bool(cues) == bool(words)
    spans = line_word_spans(cues, len(words))
    previous_end = None
    for cue, lines in zip(cues, spans, strict=True):
        first, last, starts_inside = lines[0][0], lines[-1][1], lines[0][2]
        start, end = ms(cue.start), ms(cue.end)
        assert abs(cue.start * 1000 - start) < 1e-6 and abs(cue.end * 1000 - end) < 1e-6, "whole milliseconds"
        assert 1 <= len(cue.lines) <= rules.max_lines
        for line in cue.lines:
            assert line and line == line.strip() and "\n" not in line
            assert len(line) <= rules.max_chars and display_width(line) <= rules.max_chars, line
        assert start >= 0
        assert start < end <= start + MAX_MS
        if previous_end is not None:
            assert start - previous_end >= GAP_MS, (cue, previous_end)
        previous_end = end
        if timing:
            assert end - start >= MIN_MS, cue
            assert end <= ms(timeline.duration)
            spoken = [i for i in range(first, last + 1) if word_of[i].end > word_of[i].start]
            if spoken and not (starts_inside and spoken[0] == first):
                assert abs(cue.start - word_of[spoken[0]].start) <= 0.1 + 1e-9, (cue, word_of[spoken[0]])
        if sentences:
            touched = {word_of[i].sentence for i in range(first, last + 1)}
            if len(touched) > 1:
                inside = [i for i, w in enumerate(word_of) if w.sentence in touched]
                assert first <= min(inside) and max(inside) <= last, f"cue spans a split sentence: {cue}"
    if phrasing:
        check_phrasing(cues, word_of, spans)


_NO_BREAK_AFTER = {"a", "an", "the", "this", "these", "those", "my", "your", "his", "its", "our", "their", "of"}


def check_phrasing(cues: Sequence[Cue], word_of: Sequence[Word], spans: Sequence[Sequence[tuple]]) -> None:
    """No line or cue ends after an article/determiner/"of", or between two capitalised words of a name."""
    ends = [last for lines in spans for _, last, _ in lines][:-1]
    for i in ends:
        left, right = word_of[i], word_of[i + 1]
        if left.sentence != right.sentence:
            continue
        core = re.sub(r"^\W+|\W+$", "", left.text).lower()
        assert core not in _NO_BREAK_AFTER, f"break after {left.text!r} before {right.text!r}"
        if left.text[-1].isalpha() and left.text[0].isupper() and right.text[0].isupper():
            raise AssertionError(f"break inside a name: {left.text!r} | {right.text!r}")


# --- realistic text ------------------------------------------------------------------------------------------


def request(address: tuple[str, int], method: str, path: str, headers: dict[str, str] | None = None):  # noqa: ANN201
    """One HTTP request to a loopback server; the response and its whole body."""
    import http.client

    connection = http.client.HTTPConnection(*address, timeout=10)
    connection.request(method, path, headers=headers or {})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response, body


def decode_pcm(ffmpeg_exe: str, path: Path, rate: int = 8000) -> np.ndarray:
    """A media file's sound as ffmpeg itself decodes it (with its gapless trimming): mono float samples at
    ``rate``, through 16-bit PCM."""
    raw = subprocess.run(
        [ffmpeg_exe, "-nostdin", "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1", "-ar", str(rate), "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.int16).astype(np.float32) / 32768


def evenly_spoken(chapters: Sequence[tuple[str, str]], gap: float, tail: float) -> Timeline:
    """A timeline of (title, text) chapters: from 0.5 s a word every 0.3 s (each 0.26 s long), ``gap`` seconds
    between chapters and ``tail`` after the last word."""
    words: list[Word] = []
    starts: list[float] = []
    t = 0.5
    for chapter, (_title, text) in enumerate(chapters):
        if chapter:
            t += gap
        starts.append(round(t, 3))
        for word in text.split():
            words.append(Word(word, round(t, 3), round(t + 0.26, 3), chapter, chapter, chapter))
            t += 0.3
    duration = round(t + tail, 3)
    starts[0] = 0.0
    marks = tuple(
        ChapterMark(title, start, end)
        for (title, _text), start, end in zip(chapters, starts, [*starts[1:], duration], strict=True)
    )
    return Timeline("Never Let Me Go", "Kazuo Ishiguro", duration, tuple(words), marks)


def interpreter_start_seconds() -> float:
    """How long Python takes here to start and import the entry module (``pipeline.__main__``, whose first act is
    to note Ctrl-C), with room to spare (the worst of three, × 1.5): interrupts sent earlier land in CPython's own
    start-up or imports, before any of our code runs. (A bare ``-c pass`` was the reference before; on a loaded
    machine the package's own import could outlast its margin, and an interrupt there is lost in an import lock's
    callback.)"""
    bare = []
    for _ in range(3):
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", "import pipeline.__main__"], check=True)
        bare.append(time.monotonic() - started)
    return max(bare) * 1.5


FEED_BASE = "https://example.org/pod"
FEED_NAMESPACES = {
    "itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd",
    "podcast": "https://podcastindex.org/namespace/1.0",
    "atom": "http://www.w3.org/2005/Atom",
}


def site_settings(**overrides: object) -> site.SiteSettings:
    """The test show's settings (base URL, title, author, e-mail), with ``overrides``."""
    values: dict = {"base_url": FEED_BASE, "title": "Book Notes", "author": "Ann Reader", "email": "ann@example.org"}
    values.update(overrides)
    return site.SiteSettings(**values)
