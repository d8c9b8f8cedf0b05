"""The render: summary → narration.mp3, captions, chapters, transcript, timeline, cover, video, render.json.

This module is the list of stages; each stage lives in its domain package. Incremental by construction: each
sentence's synthesis is cached by (engine identity, speech tokens, stage version); the mastered narration by the
keys of all its sentences plus pauses, mastering and tags; pictures and encodes by what they show. An unchanged
summary performs no synthesis and no encode.

The output folder is always one consistent set: every file of a render (MP3, captions, chapters, transcript,
timeline, cover, videos and, last, ``render.json``) is staged in full and put in place together
(``atomic.FileSet``), files of the previous set the new one does not make are removed with it, and readers
(``publish``) hold the folder's lock shared while the render holds it exclusively. A folder holds one book: a
different book's render is refused there unless forced, and the default folder of a book whose slug another
book already uses is ``<slug>-<hash of the book>``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline import __version__, atomic
from pipeline.cache import DEFAULT_LIMIT_MB, Cache
from pipeline.errors import InputError, NlmgError, OutputError
from pipeline.ffmpeg import FFmpeg, locate
from pipeline.narration.audio import MasteringTarget, Solution
from pipeline.narration.captions import Cue, build_cues, to_srt, to_vtt
from pipeline.narration.document import Document, book_identity, load_summary, slug_problem
from pipeline.narration.lexicon import Lexicon
from pipeline.narration.loudness import Loudness
from pipeline.narration.mastered import Voiced, mastered_narration, solution_from, tags_for
from pipeline.narration.podcasting import chapters_json, transcript_json
from pipeline.narration.segments import GRID
from pipeline.narration.synthesis import speak
from pipeline.narration.timeline import Pauses, Timeline, build_timeline, layout
from pipeline.narration.tts import DEFAULT_ENGINE, engine_identity, open_engine
from pipeline.narration.tts.hibari import pronunciation
from pipeline.pictures.cover import CoverText, cached_cover
from pipeline.progress import Progress, ProgressEvent, quiet
from pipeline.record import RECORD_NAME, RENDER_LOCK, file_entry, read_record, write_record
from pipeline.video.music import MusicMix, podcast_mix, write_stems

DEFAULT_SUMMARY = Path("assets/summary.md")
DEFAULT_OUT_ROOT = Path("output")  # a summary renders into DEFAULT_OUT_ROOT/<slug of its title>/
DEFAULT_CACHE = DEFAULT_OUT_ROOT / ".cache"
LEXICON_NAME = "lexicon.toml"  # found beside the summary when no lexicon is named


@dataclass(frozen=True)
class RenderSettings:
    engine: str = DEFAULT_ENGINE
    voice: Path | None = None
    lexicon: Path | None = None  # None: LEXICON_NAME beside the summary, if there is one
    pauses: Pauses = Pauses()
    mastering: MasteringTarget = MasteringTarget()
    video: bool = True
    formats: tuple[str, ...] = ("landscape",)
    motion: bool = False
    gtts_timeout: float = 10.0
    captions: str = "highlight"  # burned into the video: highlight | plain | none
    music: str | Path | None = "auto"  # the bed under the video: "auto" (generated), an audio file, or None
    podcast_music: bool = False  # the bed under narration.mp3 too
    stems: Path | None = None  # a folder for voice.wav and bed.wav: the mix taken apart


@dataclass(frozen=True)
class RenderJob:
    summary: Path = DEFAULT_SUMMARY
    out_dir: Path | None = None  # None: DEFAULT_OUT_ROOT/<slug of the title>/
    cache_dir: Path = DEFAULT_CACHE
    ffmpeg: FFmpeg | None = None  # None: the bundled ffmpeg
    settings: RenderSettings = RenderSettings()
    cache_limit_mb: int | None = DEFAULT_LIMIT_MB  # least recently used entries go beyond this (None: never)
    slug: str | None = None  # None: the slug of the title (the folder's name when out_dir is the default one)
    force: bool = False  # replace another book's render in out_dir


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


def render(job: RenderJob, progress: Progress = quiet, on_wait: Callable[[Path], None] | None = None) -> RenderResult:
    """Run the whole render. Every expected failure raises a ``NlmgError``; outputs are replaced atomically.

    ``on_wait`` is called with the output folder when another render holds it (this one then waits its turn).
    """
    document = load_summary(job.summary)
    if job.slug is not None and (problem := slug_problem(job.slug)):
        raise InputError(f"--slug {job.slug!r} {problem}")
    lexicon = _lexicon(job)
    ffmpeg = job.ffmpeg or locate()
    slug = job.slug or document.slug
    if job.out_dir is None:
        out_dir = default_out_dir(document, slug)
        slug = out_dir.name
    else:
        out_dir = job.out_dir
    out_dir = _prepare_output(out_dir)
    cache = Cache(job.cache_dir.resolve(), job.cache_limit_mb)  # absolute: ffmpeg lists made elsewhere name it
    waiting = functools.partial(on_wait, out_dir) if on_wait else None
    with atomic.folder_lock(out_dir, RENDER_LOCK, on_wait=waiting), cache.in_use():
        atomic.finish_commit(out_dir)  # a render killed while putting its files in place: complete it first
        atomic.remove_stale_temps(out_dir)
        _check_same_book(out_dir, document, job.force)
        return _stages(job, document, slug, lexicon, ffmpeg, out_dir, cache, progress)


def default_out_dir(document: Document, slug: str, root: Path = DEFAULT_OUT_ROOT) -> Path:
    """``root/<slug>/``, unless another book's render is there: then ``root/<slug>-<hash of the book>/``."""
    folder = root / slug
    held = _book_in(folder)
    if held is None or held == document.book:
        return folder
    return root / f"{slug}-{hashlib.sha256(document.book.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"


def _book_in(folder: Path) -> str | None:
    """The book whose render ``folder`` holds, if it holds a readable one."""
    try:
        data = read_record(folder).data
    except NlmgError:
        return None
    return book_identity(str(data.get("title") or ""), data.get("author"))


def _check_same_book(out_dir: Path, document: Document, force: bool) -> None:
    held = _book_in(out_dir)
    if held is None or held == document.book or force:
        return
    data = read_record(out_dir).data
    by = f" by {data['author']}" if data.get("author") else ""
    raise OutputError(
        f"{out_dir} holds the render of another book, {data.get('title')!r}{by}: render {document.title!r} into "
        "its own folder (--out DIR or --slug NAME), or replace that render with --force"
    )


def _stages(
    job: RenderJob, document: Document, slug: str, lexicon: Lexicon, ffmpeg: FFmpeg, out_dir: Path, cache: Cache,
    progress: Progress,
) -> RenderResult:  # fmt: skip
    settings = job.settings
    clock = _Stopwatch()
    identity = engine_identity(settings.engine, settings.voice)
    pronunciations = lexicon.pronunciations() if settings.engine == "hibari" else {}

    with clock("speech"):
        sentences = speak(
            document,
            lexicon,
            identity,
            lambda: open_engine(
                settings.engine,
                voice=settings.voice,
                ffmpeg=ffmpeg,
                timeout=settings.gtts_timeout,
                pronunciations=pronunciations,
            ),
            cache,
            progress,
            pronounce=(lambda token: pronunciation(token, pronunciations)) if pronunciations else None,
        )
    with clock("narration"):
        rate = settings.mastering.sample_rate
        voiced = Voiced(sentences, rate, cache)
        placed = layout(document, voiced.lengths(), rate, settings.pauses, grid=GRID)
        timeline = build_timeline(
            document, placed, [s.synthesis.token_times for s in sentences], [s.word_tokens for s in sentences]
        )
        cover = cached_cover(CoverText(document.title, document.author), cache)
        # Captions need only the timeline: they are cut on the other core while the narration is mastered (its
        # encodes are ffmpeg processes and numpy, which leave the interpreter free).
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            cutting = pool.submit(build_cues, timeline)
            narration = mastered_narration(
                sentences, voiced, placed, settings.pauses, timeline, tags_for(document), cover, settings.mastering,
                ffmpeg, cache, previous=_previous_solution(out_dir), progress=progress,
            )  # fmt: skip
            with clock("captions"):
                cues = cutting.result()
    # The music is made where it is first needed: for the video alone, while its pictures encode.
    music: MusicMix | None = None
    if settings.music is not None and (settings.video or settings.podcast_music or settings.stems is not None):
        music = MusicMix(settings.music, narration.mp3, timeline, cache, ffmpeg, settings.mastering)
    podcast, loudness = narration.mp3, narration.loudness
    if music is not None and (settings.podcast_music or settings.stems is not None):
        with clock("music"):
            progress(ProgressEvent("Music bed", 0, 1))
            soundtrack = music.soundtrack()
            progress(ProgressEvent("Music bed", 1, 1))
        if settings.podcast_music:
            with clock("podcast music"):
                podcast, loudness = podcast_mix(
                    soundtrack, tags_for(document), cover, timeline, settings.mastering, ffmpeg, cache, progress
                )
        if settings.stems is not None:
            write_stems(ffmpeg, narration.mp3, soundtrack, settings.stems)
    synthesized = sum(1 for s in sentences if s.synthesized)
    # The new set is staged in full (videos are encoded into the cache and copied in), then put in place at once,
    # render.json with it; the previous set's files the new one does not make (an old video) go with it.
    with atomic.file_set(out_dir, remove=_previous_files(out_dir)) as staged:
        videos: dict[str, Path] = {}
        if settings.video:
            with clock("video"):
                videos = _video(job, ffmpeg, cache, music or narration.mp3, staged.staging, timeline, cues, progress)
        files = _write_sidecars(staged, podcast, cover, timeline, cues)
        files.update(videos)
        data = _record(job, ffmpeg, document, slug, identity, timeline, loudness, staged.staging, files,
                       len(sentences), synthesized)  # fmt: skip
        if music is not None:
            data["music"] = "auto" if settings.music == "auto" else Path(str(settings.music)).name
            data["music_under_narration"] = settings.podcast_music
        if narration.solution is not None:
            limit = narration.solution.limit_db
            data["mastering"] = {
                "limit_db": None if limit is None else round(limit, 3),
                "gain_db": round(narration.solution.gain_db, 3),
                "encoder_db": round(narration.solution.encoder_db, 3),
            }
        write_record(staged.staging, data)
    files = {role: out_dir / path.name for role, path in files.items()}
    files["render"] = out_dir / RECORD_NAME
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


def _lexicon(job: RenderJob) -> Lexicon:
    path = job.settings.lexicon
    if path is None and (job.summary.parent / LEXICON_NAME).is_file():
        path = job.summary.parent / LEXICON_NAME
    return Lexicon.load(path) if path else Lexicon.empty()


def _previous_solution(out_dir: Path) -> Solution | None:
    """How the narration now in ``out_dir`` was mastered (a good start after an edit), if it says."""
    try:
        return solution_from(read_record(out_dir).data.get("mastering"))
    except NlmgError:
        return None


# --- outputs ------------------------------------------------------------------------------------------------


def _previous_files(out_dir: Path) -> list[str]:
    """The files the render now in ``out_dir`` made (its ``render.json`` and what it lists)."""
    try:
        listed = read_record(out_dir).data.get("files") or {}
    except NlmgError:
        return []
    entries = listed.values() if isinstance(listed, dict) else []
    names = [entry.get("path") for entry in entries if isinstance(entry, dict)]
    return [RECORD_NAME, *(n for n in names if isinstance(n, str) and n == Path(n).name)]


def _write_sidecars(
    staged: atomic.FileSet, narration: Path, cover: bytes, timeline: Timeline, cues: list[Cue]
) -> dict[str, Path]:
    return {
        "narration": staged.copy("narration.mp3", narration),
        "captions_srt": staged.write_bytes("captions.srt", to_srt(cues).encode("utf-8")),
        "captions_vtt": staged.write_bytes("captions.vtt", to_vtt(cues).encode("utf-8")),
        "chapters": staged.write_bytes("chapters.json", _json_bytes(chapters_json(timeline))),
        "transcript": staged.write_bytes("transcript.json", _json_bytes(transcript_json(cues, timeline))),
        "timeline": staged.write_bytes("timeline.json", _json_bytes(timeline.to_dict())),
        "cover": staged.write_bytes("cover.jpg", cover),
    }


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _video(
    job: RenderJob,
    ffmpeg: FFmpeg,
    cache: Cache,
    sound: Path | MusicMix,
    out_dir: Path,
    timeline: Timeline,
    cues: list[Cue],
    progress: Progress,
) -> dict[str, Path]:
    from pipeline.video.encode import VideoJob, render_videos  # imported here: only videos need the pictures

    made = render_videos(
        VideoJob(
            timeline=timeline,
            cues=tuple(cues),
            narration=sound,
            out_dir=out_dir,
            formats=job.settings.formats,
            cache=cache,
            ffmpeg=ffmpeg,
            motion=job.settings.motion,
            captions=job.settings.captions,
        ),
        progress=progress,
    )
    return {f"video_{name}": path for name, path in made.items()}


def _record(
    job: RenderJob,
    ffmpeg: FFmpeg,
    document: Document,
    slug: str,
    identity: dict[str, Any],
    timeline: Timeline,
    loudness: Loudness,
    out_dir: Path,
    files: dict[str, Path],
    sentences: int,
    synthesized: int,
) -> dict[str, Any]:
    from importlib.metadata import version

    default_voice = {"hibari": "heart", "piper": "en_US-joe-medium"}.get(job.settings.engine, job.settings.engine)
    voice_name = job.settings.voice.name.removesuffix(".onnx") if job.settings.voice else default_voice
    return {
        "title": document.title,
        "author": document.author,
        "year": document.year,
        "slug": slug,
        "description": document.paragraphs_text[0],
        "summary": {"path": str(job.summary), "sha256": document.source_sha256},
        "engine": job.settings.engine,
        "voice": voice_name,
        "voice_sha256": identity.get("voice"),
        "duration": timeline.duration,
        "chapters": [{"title": c.title, "start": c.start, "end": c.end} for c in timeline.chapters],
        "loudness": {"integrated_lufs": loudness.integrated_lufs, "true_peak_dbtp": loudness.true_peak_dbtp},
        "files": {role: file_entry(out_dir, path.name) for role, path in files.items()},
        "rendered_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "versions": {
            "nlmg-media": __version__,
            "hibari-tts": version("hibari-tts"),
            "piper-tts": version("piper-tts"),
            "gtts": version("gTTS"),
            "ffmpeg": ffmpeg.version(),
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
