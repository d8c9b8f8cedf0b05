"""The render stage: summary → narration.mp3, captions, chapters, transcript, timeline, cover, video, render.json.

Incremental by construction: each sentence's synthesis is cached by (engine identity, speech tokens, stage
version); the mastered narration by the keys of all its sentences plus pauses, mastering and tags; pictures and
encodes by what they show. An unchanged summary performs no synthesis and no encode.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, atomic, manifest
from .audio import (
    ChapterTag,
    Loudness,
    MasteringTarget,
    Pauses,
    Piece,
    Solution,
    Tags,
    assemble,
    master,
    write_tags,
)
from .cache import DEFAULT_LIMIT_MB, Cache, content_key, sha256_file
from .captions import Cue, build_cues, to_srt, to_vtt
from .cover import CoverText, draw_cover
from .document import Document, load_summary
from .errors import NlmgError, OutputError
from .ffmpeg import FFmpeg
from .podcasting import chapters_json, transcript_json
from .speech import Lexicon, speech_words
from .timeline import ChapterMark, Timeline, Word
from .tts import Engine, Synthesis, engine_identity, open_engine

# Bump when a stage's output for the same inputs changes, so old cache entries are not reused.
SPEECH_STAGE = "speech/1"
NARRATION_STAGE = "narration/1"
COVER_STAGE = "cover/1"

Progress = Callable[[str, float, float], None]
"""Called with (stage label, done, total)."""


@dataclass(frozen=True)
class RenderSettings:
    engine: str = "piper"
    voice: Path | None = None
    lexicon: Path | None = None
    pauses: Pauses = Pauses()
    mastering: MasteringTarget = MasteringTarget()
    video: bool = True
    formats: tuple[str, ...] = ("landscape",)
    motion: bool = False
    gtts_timeout: float = 10.0


@dataclass(frozen=True)
class RenderJob:
    summary: Path
    out_dir: Path
    cache_dir: Path
    ffmpeg: FFmpeg
    settings: RenderSettings = RenderSettings()
    cache_limit_mb: int | None = DEFAULT_LIMIT_MB  # least recently used entries go beyond this (None: never)


@dataclass
class RenderResult:
    out_dir: Path
    files: dict[str, Path]
    duration: float
    loudness: Loudness
    sentences: int
    synthesized: int
    cues: int
    chapters: int
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per stage


def _quiet(stage: str, done: float, total: float) -> None:
    return None


def render(job: RenderJob, progress: Progress = _quiet, on_wait: Callable[[], None] | None = None) -> RenderResult:
    """Run the whole render. Every expected failure raises a ``NlmgError``; outputs are replaced atomically."""
    document = load_summary(job.summary)
    lexicon = Lexicon.load(job.settings.lexicon) if job.settings.lexicon else Lexicon.empty()
    out_dir = _prepare_output(job.out_dir)
    cache = Cache(
        job.cache_dir.resolve(), job.cache_limit_mb
    )  # absolute: ffmpeg lists made elsewhere name files inside it
    with atomic.folder_lock(out_dir, ".nlmg-render.lock", on_wait=on_wait), cache.in_use():
        atomic.remove_stale_temps(out_dir)
        return _render_locked(job, document, lexicon, out_dir, cache, progress)


def _render_locked(
    job: RenderJob, document: Document, lexicon: Lexicon, out_dir: Path, cache: Cache, progress: Progress
) -> RenderResult:
    settings = job.settings
    clock = _Stopwatch()
    identity = engine_identity(settings.engine, settings.voice)

    with clock("speech"):
        sentences = _speak(document, lexicon, identity, settings, cache, job.ffmpeg, progress)
    with clock("narration"):
        cover = _cover(document, cache)
        pieces_keys = [s.key for s in sentences]
        tags = Tags(
            title=document.title,
            artist=document.author or "Unknown author",
            album=f"{document.title} — a one-page summary",
            year=document.year,
            comment=f"Narrated summary of {document.title}" + (f" by {document.author}" if document.author else ""),
        )
        layout = _layout(document, sentences, settings.pauses)
        timeline = _timeline(document, sentences, layout)
        narration_mp3, loudness, solution = _narration(
            job, cache, pieces_keys, layout, sentences, tags, cover, timeline, progress, _previous_solution(out_dir)
        )
    with clock("captions"):
        cues = build_cues(timeline)
    videos: dict[str, Path] = {}
    if settings.video:  # encoded into the cache first, so the out folder is only updated at the very end
        with clock("video"):
            videos = _video(job, cache, narration_mp3, out_dir, timeline, cues, progress)
    files = _write_sidecars(out_dir, narration_mp3, cover, timeline, cues)
    files.update(videos)
    synthesized = sum(1 for s in sentences if s.synthesized)
    record = _record(job, document, identity, timeline, loudness, out_dir, files, len(sentences), synthesized)
    if solution is not None:
        record["mastering"] = {"chain": solution.chain, "gain_db": round(solution.gain_db, 3)}
    manifest.write(out_dir, record)
    files["render"] = out_dir / manifest.MANIFEST_NAME
    return RenderResult(
        out_dir=out_dir,
        files=files,
        duration=timeline.duration,
        loudness=loudness,
        sentences=len(sentences),
        synthesized=synthesized,
        cues=len(cues),
        chapters=len(timeline.chapters),
        seconds=clock.seconds,
    )


# --- speech: written words → tokens → cached synthesis ------------------------------------------------------


@dataclass
class _SpokenSentence:
    key: str
    synthesis: Synthesis
    word_tokens: list[range]  # for each written word, the tokens that say it
    synthesized: bool


def _speak(
    document: Document,
    lexicon: Lexicon,
    identity: dict[str, Any],
    settings: RenderSettings,
    cache: Cache,
    ffmpeg: FFmpeg,
    progress: Progress,
) -> list[_SpokenSentence]:
    engine: Engine | None = None
    result: list[_SpokenSentence] = []
    all_sentences = document.sentences
    for done, sentence in enumerate(all_sentences):
        progress("Synthesising speech", done, len(all_sentences))
        tokens: list[str] = []
        word_tokens: list[range] = []
        for spoken in speech_words(sentence.words, lexicon):
            parts = spoken.split()
            word_tokens.append(range(len(tokens), len(tokens) + len(parts)))
            tokens.extend(parts)
        key = content_key(SPEECH_STAGE, identity, tokens)
        synthesis = _load_synthesis(cache, key)
        fresh = synthesis is None
        if synthesis is None:
            if engine is None:
                engine = open_engine(
                    settings.engine, voice=settings.voice, ffmpeg=ffmpeg, timeout=settings.gtts_timeout
                )
            synthesis = engine.synthesize(tokens)
            _store_synthesis(cache, key, synthesis)
        result.append(_SpokenSentence(key, synthesis, word_tokens, fresh))
    progress("Synthesising speech", len(all_sentences), len(all_sentences))
    return result


def _load_synthesis(cache: Cache, key: str) -> Synthesis | None:
    path = cache.get("speech", key, ".npz")
    if path is None:
        return None
    try:
        with np.load(path) as data:
            times = tuple((float(a), float(b)) for a, b in data["times"].reshape(-1, 2))
            return Synthesis(data["samples"].astype(np.int16), int(data["rate"]), times)
    except (OSError, ValueError, KeyError):
        return None  # unreadable entry: synthesise again and overwrite it


def _store_synthesis(cache: Cache, key: str, synthesis: Synthesis) -> None:
    buffer = io.BytesIO()
    times = np.asarray(synthesis.token_times, dtype=np.float64).reshape(-1, 2)
    np.savez(buffer, samples=synthesis.samples, rate=np.int64(synthesis.sample_rate), times=times)
    cache.put_bytes("speech", key, ".npz", buffer.getvalue())


# --- layout and timeline -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    rate: int
    lead_in: int  # frames
    pause_after: list[int]  # frames of silence after each sentence
    starts: list[int]  # first frame of each sentence
    total: int  # frames


def _layout(document: Document, sentences: list[_SpokenSentence], pauses: Pauses) -> _Layout:
    """Where each sentence sits in the assembled audio, in frames (exact, so the timeline matches the audio)."""
    rate = sentences[0].synthesis.sample_rate
    boundaries: list[float] = []
    for c, chapter in enumerate(document.chapters):
        for p, paragraph in enumerate(chapter.paragraphs):
            for s, _sentence in enumerate(paragraph.sentences):
                if s < len(paragraph.sentences) - 1:
                    boundaries.append(pauses.sentence)
                elif p < len(chapter.paragraphs) - 1:
                    boundaries.append(pauses.paragraph)
                elif c < len(document.chapters) - 1:
                    boundaries.append(pauses.chapter)
                else:
                    boundaries.append(pauses.tail)
    pause_after = [round(seconds * rate) for seconds in boundaries]
    position = lead_in = round(pauses.lead_in * rate)
    starts = []
    for sentence, pause in zip(sentences, pause_after, strict=True):
        starts.append(position)
        position += len(sentence.synthesis.samples) + pause
    return _Layout(rate, lead_in, pause_after, starts, position)


def _timeline(document: Document, sentences: list[_SpokenSentence], layout: _Layout) -> Timeline:
    words: list[Word] = []
    chapter_starts: list[float] = []
    index = 0
    paragraph_index = 0
    for c, chapter in enumerate(document.chapters):
        for paragraph in chapter.paragraphs:
            for sentence in paragraph.sentences:
                spoken = sentences[index]
                offset = layout.starts[index] / layout.rate
                if not chapter_starts or len(chapter_starts) == c:
                    chapter_starts.append(0.0 if c == 0 else offset)
                last = offset
                for word, token_range in zip(sentence.words, spoken.word_tokens, strict=True):
                    if len(token_range):
                        times = spoken.synthesis.token_times
                        start = offset + times[token_range.start][0]
                        end = offset + times[token_range.stop - 1][1]
                        last = max(last, end)
                        words.append(
                            Word(word, round(start, 3), round(max(start, end), 3), sentence.index, paragraph_index, c)
                        )
                    else:  # nothing spoken for this word (a lone dash, an emoji): it sits where speech is
                        words.append(Word(word, round(last, 3), round(last, 3), sentence.index, paragraph_index, c))
                index += 1
            paragraph_index += 1
    duration = round(layout.total / layout.rate, 3)
    marks = tuple(
        ChapterMark(
            chapter.title,
            round(start, 3),
            round(chapter_starts[i + 1] if i + 1 < len(chapter_starts) else duration, 3),
        )
        for i, (chapter, start) in enumerate(zip(document.chapters, chapter_starts, strict=True))
    )
    return Timeline(document.title, document.author, duration, tuple(words), marks)


# --- narration: assemble, master, tag (cached as a whole) ---------------------------------------------------


def _narration(
    job: RenderJob,
    cache: Cache,
    sentence_keys: list[str],
    layout: _Layout,
    sentences: list[_SpokenSentence],
    tags: Tags,
    cover: bytes,
    timeline: Timeline,
    progress: Progress,
    previous: Solution | None,
) -> tuple[Path, Loudness, Solution | None]:
    settings = job.settings
    chapters = [ChapterTag(c.title, c.start, c.end) for c in timeline.chapters]
    key = content_key(
        NARRATION_STAGE,
        sentence_keys,
        settings.pauses,
        settings.mastering,
        tags,
        hashlib.sha256(cover).hexdigest(),
        chapters,
    )
    cached = cache.get("narration", key, ".mp3")
    meta = cache.get_json("narration", key)
    if cached is not None and meta is not None:
        return cached, Loudness(**meta["loudness"]), _solution(meta.get("mastering"))

    with cache.scratch() as work, atomic.atomic_path(cache.path("narration", key, ".mp3")) as mp3:
        pieces = (
            Piece(s.synthesis.samples, s.synthesis.sample_rate, pause / layout.rate)
            for s, pause in zip(sentences, layout.pause_after, strict=True)
        )
        assemble(pieces, work / "narration.wav", settings.pauses.lead_in)
        total = layout.total / layout.rate
        loudness, solution = master(
            job.ffmpeg,
            work / "narration.wav",
            mp3,
            settings.mastering,
            progress=lambda t: progress("Mastering narration", min(t, total), total),
            start=previous,
        )
        write_tags(mp3, tags, cover, chapters)
    cache.put_json("narration", key, {"loudness": loudness.__dict__, "mastering": solution.__dict__})
    return cache.path("narration", key, ".mp3"), loudness, solution


def _solution(value: Any) -> Solution | None:
    """A mastering solution from a record or cache entry, if it holds a well-formed one."""
    try:
        return Solution(str(value["chain"]), float(value["gain_db"]))
    except (TypeError, KeyError, ValueError):
        return None


def _previous_solution(out_dir: Path) -> Solution | None:
    """How the narration now in ``out_dir`` was mastered (a good start after an edit), if it says."""
    try:
        return _solution(manifest.read(out_dir).data.get("mastering"))
    except NlmgError:
        return None


def _cover(document: Document, cache: Cache) -> bytes:
    text = CoverText(document.title, document.author)
    key = content_key(COVER_STAGE, text)
    path = cache.get("cover", key, ".jpg")
    if path is not None:
        return path.read_bytes()
    data = draw_cover(text)
    cache.put_bytes("cover", key, ".jpg", data)
    return data


# --- outputs ------------------------------------------------------------------------------------------------


def _write_sidecars(
    out_dir: Path, narration: Path, cover: bytes, timeline: Timeline, cues: list[Cue]
) -> dict[str, Path]:
    files = {
        "narration": out_dir / "narration.mp3",
        "captions_srt": out_dir / "captions.srt",
        "captions_vtt": out_dir / "captions.vtt",
        "chapters": out_dir / "chapters.json",
        "transcript": out_dir / "transcript.json",
        "timeline": out_dir / "timeline.json",
        "cover": out_dir / "cover.jpg",
    }
    _copy_if_changed(narration, files["narration"])
    _write_if_changed(files["cover"], cover)
    _write_if_changed(files["captions_srt"], to_srt(cues).encode("utf-8"))
    _write_if_changed(files["captions_vtt"], to_vtt(cues).encode("utf-8"))
    _write_if_changed(files["chapters"], _json_bytes(chapters_json(timeline)))
    _write_if_changed(files["transcript"], _json_bytes(transcript_json(cues, timeline)))
    _write_if_changed(files["timeline"], _json_bytes(timeline.to_dict()))
    return files


def _json_bytes(value: Any) -> bytes:
    import json

    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _write_if_changed(target: Path, data: bytes) -> None:
    """Atomic write, skipped when the file already holds exactly these bytes (keeps mtimes and inodes stable)."""
    with contextlib.suppress(OSError):
        if target.stat().st_size == len(data) and target.read_bytes() == data:
            return
    atomic.write_bytes(target, data)


def _copy_if_changed(source: Path, target: Path) -> None:
    with contextlib.suppress(OSError):
        if target.stat().st_size == source.stat().st_size and sha256_file(target) == sha256_file(source):
            return
    with atomic.atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)


def _video(
    job: RenderJob,
    cache: Cache,
    narration: Path,
    out_dir: Path,
    timeline: Timeline,
    cues: list[Cue],
    progress: Progress,
) -> dict[str, Path]:
    from . import video

    if not hasattr(video, "render_videos"):  # the video stage is optional until it lands
        return {}
    made = video.render_videos(
        video.VideoJob(
            timeline=timeline,
            cues=tuple(cues),
            narration=narration,
            out_dir=out_dir,
            formats=job.settings.formats,
            cache=cache,
            ffmpeg=job.ffmpeg,
            motion=job.settings.motion,
        ),
        progress=lambda label, fraction: progress(label, fraction, 1.0),
    )
    return {f"video_{name}": path for name, path in made.items()}


def _record(
    job: RenderJob,
    document: Document,
    identity: dict[str, Any],
    timeline: Timeline,
    loudness: Loudness,
    out_dir: Path,
    files: dict[str, Path],
    sentences: int,
    synthesized: int,
) -> dict[str, Any]:
    from importlib.metadata import version

    voice_name = (
        job.settings.voice.name.removesuffix(".onnx")
        if job.settings.voice
        else ("en_US-joe-medium" if job.settings.engine == "piper" else job.settings.engine)
    )
    return {
        "title": document.title,
        "author": document.author,
        "year": document.year,
        "slug": document.slug,
        "description": document.paragraphs_text[0],
        "summary": {"path": str(job.summary), "sha256": document.source_sha256},
        "engine": job.settings.engine,
        "voice": voice_name,
        "voice_sha256": identity.get("voice"),
        "duration": timeline.duration,
        "chapters": [{"title": c.title, "start": c.start, "end": c.end} for c in timeline.chapters],
        "loudness": {"integrated_lufs": loudness.integrated_lufs, "true_peak_dbtp": loudness.true_peak_dbtp},
        "files": {role: manifest.file_entry(out_dir, path.name) for role, path in files.items()},
        "rendered_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "versions": {
            "nlmg-media": __version__,
            "piper-tts": version("piper-tts"),
            "gtts": version("gTTS"),
            "ffmpeg": job.ffmpeg.version(),
        },
        "stats": {"sentences": sentences, "synthesized": synthesized, "cached": sentences - synthesized},
    }


# --- output folder: writable check -----------------------------------------------------------------


def _prepare_output(out_dir: Path) -> Path:
    atomic.make_folder(out_dir, "output folder")
    if not out_dir.is_dir():
        raise OutputError(f"output path is not a folder: {out_dir}")
    try:  # a unique name: renders waiting for this folder's lock probe it at the same time
        fd, probe = tempfile.mkstemp(prefix=f"{atomic.TEMP_PREFIX}probe-", dir=out_dir)
    except OSError as exc:
        raise OutputError(f"output folder is not writable: {out_dir} ({exc.strerror})") from exc
    os.close(fd)
    Path(probe).unlink(missing_ok=True)  # the lock holder may already have cleared it as a leftover
    return out_dir


class _Stopwatch:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, stage: str):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = round(time.perf_counter() - start, 3)
