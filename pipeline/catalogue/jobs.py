"""One book of a catalogue: what it is, its job id, and rendering it wherever a worker runs.

A ``BookJob`` carries the summary's bytes (and its lexicon's), not only a path, so a worker on another machine
can render it. Its id is a hash of those bytes, the engine identity (the voice's own hash), every setting that
changes the output and the destination: the same catalogue enqueued twice maps to the same ids (RQ holds one
job per id), and a changed summary, lexicon or setting maps to a new one.

``render_book`` never raises for one book's expected failure: it returns a ``BookResult`` with the one-line
error, so a catalogue goes on with its other books. The queue worker re-raises it so RQ records the failure.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.cache import DEFAULT_LIMIT_MB, content_key
from pipeline.errors import EngineOfflineError, InputError, NetworkError, NlmgError
from pipeline.ffmpeg import FFmpeg
from pipeline.narration.document import load_summary
from pipeline.narration.tts import engine_identity
from pipeline.progress import Progress, quiet
from pipeline.render import DEFAULT_CACHE, LEXICON_NAME, RenderJob, RenderSettings, default_out_dir, render

JOB_VERSION = "catalogue/1"  # bump when what a job produces for the same inputs changes
SUMMARY_SUFFIXES = (".md", ".markdown")


@dataclass(frozen=True)
class BookJob:
    """One summary to render, self-contained: its bytes travel with it."""

    source: str  # the summary as the user named it (tables, errors, render.json when readable here)
    summary: bytes
    lexicon: bytes | None  # the named lexicon, or lexicon.toml beside the summary; None: no lexicon
    settings: RenderSettings  # voice and lexicon paths are resolved on the worker; only their contents count
    out: str  # destination root: a folder every worker reaches, or s3://bucket/prefix
    location: str = ""  # the summary's absolute path where it was read (used when a worker sees the same file)

    @property
    def job_id(self) -> str:
        identity = engine_identity(self.settings.engine, self.settings.voice)
        fields = dataclasses.asdict(dataclasses.replace(self.settings, voice=None, lexicon=None))
        digest = content_key(
            JOB_VERSION,
            __version__,
            hashlib.sha256(self.summary).hexdigest(),
            hashlib.sha256(self.lexicon).hexdigest() if self.lexicon is not None else None,
            identity,
            fields,
            self.out,
        )
        return f"nlmg-{digest[:32]}"

    @property
    def name(self) -> str:
        return Path(self.source).name


@dataclass(frozen=True)
class Workplace:
    """What a worker brings to every job: its own cache and ffmpeg, and where S3 renders are staged."""

    cache_dir: Path = DEFAULT_CACHE
    ffmpeg: FFmpeg | None = None
    cache_limit_mb: int | None = DEFAULT_LIMIT_MB
    staging: Path | None = None  # renders bound for S3 are made here first (default: beside the cache)
    endpoint_url: str | None = None  # S3-compatible endpoint for s3:// destinations


@dataclass
class BookResult:
    """What became of one book. ``status`` is ``rendered`` or ``failed`` (then ``error`` is the one line)."""

    source: str
    status: str
    job_id: str = ""
    title: str | None = None
    out: str | None = None
    duration: float | None = None
    sentences: int = 0
    synthesized: int = 0
    error: str | None = None
    seconds: float = 0.0
    reused: bool = False  # the destination already held this job's render: nothing was done
    transient: bool = False  # the failure may pass (a network error): worth retrying
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "rendered"

    @property
    def made(self) -> str:
        """How the narration came about: ``cached`` (no sentence synthesised) or ``synthesised N/M``."""
        if not self.ok:
            return ""
        if self.synthesized == 0:
            return "cached"
        return f"synthesised {self.synthesized}/{self.sentences}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"made": self.made}


def book_jobs(summaries: list[Path], settings: RenderSettings, out: str) -> list[BookJob]:
    """Read each summary (a ``.md`` file, or a folder of them) into a job. Unreadable files are input errors."""
    jobs = []
    for path in expand_summaries(summaries):
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read summary {path}: {exc.strerror}") from exc
        lexicon_path = settings.lexicon or (path.parent / LEXICON_NAME)
        lexicon = None
        if settings.lexicon is not None or lexicon_path.is_file():
            try:
                lexicon = lexicon_path.read_bytes()
            except OSError as exc:
                raise InputError(f"cannot read lexicon {lexicon_path}: {exc.strerror}") from exc
        jobs.append(BookJob(str(path), data, lexicon, settings, out, str(path.resolve())))
    return jobs


def expand_summaries(paths: list[Path]) -> list[Path]:
    """Files as given; a folder stands for the summaries in it (``*.md``, sorted by name), duplicates once."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.suffix.lower() in SUMMARY_SUFFIXES and p.is_file())
            if not inside:
                raise InputError(f"summary is a folder with no summaries (*.md) in it: {path}")
            found.extend(inside)
        elif path.exists():
            found.append(path)
        else:
            raise InputError(f"summary not found: {path}")
    return list(dict.fromkeys(found))


def render_book(job: BookJob, place: Workplace, progress: Progress = quiet) -> BookResult:
    """Render one book into ``<out>/<slug>/`` (or upload it to S3). Expected failures come back in the result."""
    start = time.perf_counter()
    result = BookResult(job.source, "failed", job.job_id)
    try:
        _render(job, place, progress, result)
        result.status = "rendered"
    except NlmgError as exc:
        result.error = " ".join(str(exc).split())
        result.transient = isinstance(exc, NetworkError | EngineOfflineError)
    result.seconds = round(time.perf_counter() - start, 3)
    return result


def _render(job: BookJob, place: Workplace, progress: Progress, result: BookResult) -> None:
    with _summary_file(job) as (summary, lexicon):
        try:
            _render_file(job, summary, lexicon, place, progress, result)
        except NlmgError as exc:
            if summary != Path(job.location or job.source):  # name it as the user did, not its scratch copy
                message = str(exc).replace(str(summary), job.source)
                exc.args = (message.replace(str(summary.parent), str(Path(job.source).parent)),)
            raise


def _render_file(
    job: BookJob, summary: Path, lexicon: Path | None, place: Workplace, progress: Progress, result: BookResult
) -> None:
    from pipeline.catalogue import storage

    document = load_summary(summary)
    result.title = document.title
    slug = document.slug
    remote = storage.is_remote(job.out)
    if remote:
        done = storage.current_render(job.out, slug, endpoint_url=place.endpoint_url)
        if done is not None and done.get("job_id") == job.job_id:
            result.out, result.reused = storage.render_url(job.out, slug), True
            result.duration = done.get("duration")
            return
        out_dir = (place.staging or place.cache_dir.parent / ".staging") / slug
    else:  # output/<slug>/, or output/<slug>-<hash>/ when another book's render has that slug's folder
        out_dir = default_out_dir(document, slug, Path(job.out))
        slug = out_dir.name
    made = render(
        RenderJob(
            summary=summary,
            out_dir=out_dir,
            slug=slug,
            cache_dir=place.cache_dir,
            ffmpeg=place.ffmpeg,
            settings=dataclasses.replace(job.settings, lexicon=lexicon),
            cache_limit_mb=place.cache_limit_mb,
        ),
        progress=progress,
    )
    result.duration, result.sentences, result.synthesized = made.duration, made.sentences, made.synthesized
    result.stages = made.seconds
    if remote:
        result.out = storage.upload_render(
            out_dir, job.out, slug, job.job_id, made.duration, endpoint_url=place.endpoint_url
        )
    else:
        result.out = str(made.out_dir)


@contextlib.contextmanager
def _summary_file(job: BookJob) -> Iterator[tuple[Path, Path | None]]:
    """The summary as a file here: the original when this machine has it unchanged, else a scratch copy."""
    original = Path(job.location or job.source)
    here = _unchanged_here(job)
    if here is not None:
        yield original, here[0]
        return
    with tempfile.TemporaryDirectory(prefix="nlmg-book-") as scratch:
        summary = Path(scratch) / (original.name or "summary.md")
        summary.write_bytes(job.summary)
        lexicon = None
        if job.lexicon is not None:
            lexicon = Path(scratch) / LEXICON_NAME
            lexicon.write_bytes(job.lexicon)
        yield summary, lexicon


def _unchanged_here(job: BookJob) -> tuple[Path | None] | None:
    """``(lexicon path,)`` when the summary (and lexicon) at their paths are still the job's bytes, else None."""
    original = Path(job.location or job.source)
    lexicon = job.settings.lexicon
    if lexicon is None and job.lexicon is not None:
        lexicon = original.parent / LEXICON_NAME
    try:
        if original.read_bytes() != job.summary:
            return None
        if job.lexicon is not None and (lexicon is None or lexicon.read_bytes() != job.lexicon):
            return None
    except OSError:
        return None
    return (lexicon,)
