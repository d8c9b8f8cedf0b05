"""``nlmg-media render``: options → ``pipeline.render.render`` → a summary of what was made."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from pipeline.cache import DEFAULT_LIMIT_MB
from pipeline.catalogue.jobs import Workplace, book_jobs
from pipeline.cli.catalogue import default_jobs, enqueue_many, render_many
from pipeline.cli.progress import TerminalProgress
from pipeline.cli.settings import layered
from pipeline.errors import ConfigError, InputError
from pipeline.ffmpeg import locate
from pipeline.narration.tts import DEFAULT_ENGINE, ENGINES
from pipeline.pictures.slides import CAPTION_STYLES
from pipeline.render import DEFAULT_CACHE, DEFAULT_OUT_ROOT, DEFAULT_SUMMARY, RenderJob, RenderSettings
from pipeline.render import render as run_render
from pipeline.video.music import music_source

VIDEO_FORMATS = ("landscape", "portrait", "square")

# The [render] table of nlmg-media.toml: key → TOML type. Options given on the command line win.
PROJECT_SCHEMA: dict[str, type] = {
    "summary": str, "out": str, "cache": str, "engine": str, "voice": str, "lexicon": str,
    "formats": list, "motion": bool, "video": bool, "cache_limit_mb": int, "captions": str, "music": str,
    "podcast_music": bool,
}  # fmt: skip
_OPTION_OF = {"out": "out_dir", "cache": "cache_dir"}  # others: the same name ("video" is --no-video inverted)


@click.command()
@click.argument("summaries", nargs=-1, metavar="[SUMMARY]...", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    metavar="DIR",
    help="Output folder. Default: output/<slug of the title>/. With several summaries: the folder each book "
    "goes into as <slug>/ (default output/), or s3://bucket/prefix.",
)
@click.option(
    "--cache",
    "cache_dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_CACHE,
    show_default=True,
    metavar="DIR",
    help="Cache shared by renders (synthesised sentences, pictures).",
)
@click.option(
    "--cache-limit",
    "cache_limit_mb",
    type=click.IntRange(min=0),
    default=DEFAULT_LIMIT_MB,
    show_default=True,
    metavar="MB",
    help="Keep the cache under this size: least recently used entries go first (0: no limit).",
)
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default=DEFAULT_ENGINE,
    show_default=True,
    help="hibari: offline Kokoro-class voice (default). piper: offline neural voice. gtts: Google's online voice "
    "(needs internet).",
)
@click.option(
    "--voice",
    type=click.Path(path_type=Path),
    metavar="NAME|PATH",
    help="hibari: a voice name (heart, bundled and default; emma, fenrir, fable, kore once downloaded by hand) or "
    "a hibari .onnx file. piper: a Piper .onnx voice (with its .onnx.json beside it); default en_US-joe-medium.",
)
@click.option(
    "--lexicon",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Pronunciation lexicon (TOML). Default: lexicon.toml beside the summary, if present.",
)
@click.option(
    "--format",
    "formats",
    type=click.Choice(VIDEO_FORMATS),
    multiple=True,
    help="Video format; repeat for several. Default: landscape (1920×1080).",
)
@click.option("--motion", is_flag=True, help="Slow Ken Burns pan/zoom on slides (off by default).")
@click.option(
    "--captions",
    type=click.Choice(CAPTION_STYLES),
    default="highlight",
    show_default=True,
    help="Captions burned into the video: highlight (the word being spoken lit), plain, or none. The soft "
    "subtitle track is always there.",
)
@click.option(
    "--music",
    default="auto",
    show_default=True,
    metavar="auto|none|FILE",
    help="Music bed under the video, ducked under every phrase from the word timings: auto (generated from "
    "the book, the same on every render), none, or an audio file (looped or trimmed, faded).",
)
@click.option(
    "--podcast-music",
    is_flag=True,
    help="Put the music bed under narration.mp3 too (off by default: podcast listeners expect a clean voice).",
)
@click.option(
    "--stems",
    "stems_dir",
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="Write the voice and the ducked bed as WAVs into DIR (at their levels in the mix).",
)
@click.option("--no-video", is_flag=True, help="Make the narration and its sidecars only.")
@click.option(
    "--slug",
    metavar="NAME",
    help="The book's name in folders, URLs and the feed (lower-case letters, digits, hyphens). Default: the title, "
    "transliterated (Война и мир → voyna-i-mir); output/<slug>-<hash>/ if another book already has the slug.",
)
@click.option("--force", is_flag=True, help="Replace another book's render in the output folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (for scripts).")
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Books rendered at once (processes sharing the cache). Default: the number of cores.",
)
@click.option(
    "--queue",
    "queue_url",
    metavar="URL",
    help="Enqueue one job per book on this Redis (redis://HOST:PORT/DB) for `nlmg-media worker`s instead.",
)
@click.option("--endpoint-url", metavar="URL", help="S3-compatible endpoint (MinIO, R2, …) for --out s3://.")
@click.option(
    "--progress/--no-progress",
    "show_progress",
    default=None,
    help="Report progress on stderr. Default: bars on a terminal (not with --json); --progress also writes "
    "plain lines to a pipe or log.",
)
@click.pass_context
def render(
    ctx: click.Context,
    summaries: tuple[Path, ...],
    out_dir: str | None,
    cache_dir: Path,
    cache_limit_mb: int,
    engine: str,
    voice: Path | None,
    lexicon: Path | None,
    formats: tuple[str, ...],
    motion: bool,
    captions: str,
    music: str,
    podcast_music: bool,
    stems_dir: Path | None,
    no_video: bool,
    slug: str | None,
    force: bool,
    as_json: bool,
    jobs: int | None,
    queue_url: str | None,
    endpoint_url: str | None,
    show_progress: bool | None,
) -> None:
    """Narrate SUMMARY (default assets/summary.md) into a mastered MP3 with captions, chapters and video.

    Several summaries, or a folder of them, make a catalogue: each book renders into <--out>/<slug>/, --jobs
    at a time, with one progress bar and a table at the end; with --queue URL they are enqueued for
    `nlmg-media worker` processes on any machine instead (see `nlmg-media worker --help`).

    \b
    Writes into the output folder:
      narration.mp3    mono 44.1 kHz MP3, -16 LUFS, ID3 tags, cover and chapters
      captions.srt/.vtt  captions timed to the spoken words
      chapters.json, transcript.json  Podcasting 2.0 sidecars
      timeline.json, cover.jpg, render.json
      video.mp4 (+ video-portrait.mp4, video-square.mp4 with --format): word-highlight
        captions, title/chapter/end cards, a progress bar, a music bed ducked under the voice

    Unchanged sentences are never synthesised again: a second render is almost instant. Defaults may come
    from the [render] table of nlmg-media.toml (summary, out, cache, cache_limit_mb, engine, voice, lexicon,
    formats, motion, video, captions, music, podcast_music); options given here win.
    """
    values = layered(ctx, "render", PROJECT_SCHEMA, _OPTION_OF)
    if values["engine"] not in ENGINES:
        raise ConfigError(f"project config [render] engine must be one of {', '.join(ENGINES)}")
    unknown = [name for name in values["formats"] if name not in VIDEO_FORMATS]
    if unknown:
        raise ConfigError(f"project config [render] has an unknown video format {unknown[0]!r}")
    cache_dir, voice, lexicon = (_path(values[name]) for name in ("cache_dir", "voice", "lexicon"))
    out = values["out_dir"]
    paths = list(summaries) or [Path(values.get("summary") or DEFAULT_SUMMARY)]
    engine, formats, motion, cache_limit_mb = (
        values[name] for name in ("engine", "formats", "motion", "cache_limit_mb")
    )
    if values["captions"] not in CAPTION_STYLES:
        raise ConfigError(f"project config [render] captions must be one of {', '.join(CAPTION_STYLES)}")
    no_video = no_video or not values.get("video", True)
    if engine == "gtts" and voice is not None:
        raise InputError("--voice applies to the hibari and piper engines only")
    settings = RenderSettings(
        engine=engine,
        voice=voice,
        lexicon=lexicon,
        video=not no_video,
        formats=tuple(dict.fromkeys(formats)) or ("landscape",),
        motion=motion,
        captions=values["captions"],
        music=music_source(values["music"]),
        podcast_music=values["podcast_music"],
        stems=stems_dir,
    )
    if queue_url or len(paths) > 1 or paths[0].is_dir() or (out and str(out).startswith("s3://")):
        books = book_jobs(paths, settings, _destination(out))
        if queue_url:  # the workers bring their own cache and ffmpeg
            enqueue_many(queue_url, books, as_json)
            return
        ffmpeg = locate(ctx.obj["ffmpeg"])
        place = Workplace(cache_dir, ffmpeg, cache_limit_mb or None, endpoint_url=endpoint_url)
        render_many(books, place, jobs or default_jobs(), as_json, show_progress)
        return
    ffmpeg = locate(ctx.obj["ffmpeg"])
    job = RenderJob(
        summary=paths[0],
        out_dir=_path(out),
        cache_dir=cache_dir,
        ffmpeg=ffmpeg,
        settings=settings,
        cache_limit_mb=cache_limit_mb or None,
        slug=slug,
        force=force,
    )
    with TerminalProgress(enabled=False if as_json and show_progress is None else show_progress) as progress:
        result = run_render(
            job,
            progress=progress.update,
            on_wait=lambda folder: click.echo(f"Waiting for another render into {folder} to finish…", err=True),
        )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "out_dir": str(result.out_dir),
                    "files": {role: str(path) for role, path in result.files.items()},
                    "duration": result.duration,
                    "loudness": result.loudness.__dict__,
                    "sentences": result.sentences,
                    "synthesized": result.synthesized,
                    "cues": result.cues,
                    "chapters": result.chapters,
                    "seconds": result.seconds,
                },
                indent=2,
            )
        )
        return
    minutes, seconds = divmod(result.duration, 60)
    click.echo(
        f"Rendered {result.out_dir}/: {int(minutes)}:{seconds:04.1f} of narration, {result.chapters} chapters, "
        f"{result.cues} captions; {result.synthesized} of {result.sentences} sentences synthesised; "
        f"{result.loudness.integrated_lufs:.1f} LUFS, {result.loudness.true_peak_dbtp:.1f} dBTP.",
        file=sys.stdout,
    )


def _destination(out: str | None) -> str:
    """Where a catalogue goes: ``s3://…`` as given, a folder as an absolute path (workers may run elsewhere)."""
    if out and out.startswith("s3://"):
        return out
    return str(Path(out or DEFAULT_OUT_ROOT).resolve())


def _path(value: Any) -> Any:
    """A path from an option (already a ``Path``) or from the project table (a string); ``None`` stays."""
    return Path(value) if isinstance(value, str) else value
