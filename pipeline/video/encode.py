"""The captioned slideshow video: landscape, portrait and square MP4s from the narration timeline.

No waste: the picture is piecewise constant (``pipeline.pictures.slides.plan_shots``), so each distinct picture is
drawn once (Pillow, cached by content) and a frame is encoded only when the picture changes. The output is
variable frame rate on a 30 fps grid: every change lands on the frame at or before its exact time (a cue's text is
visible from its start), there is a frame at least every half second (the progress bar moves while the picture
holds), and the stream keeps the usual 1/15360 timescale.

A still video's frames are composited in numpy (``pipeline.video.frames``: only what changed is repainted — a new
slide, a new cue's box, the rectangles where the highlight moved, the progress bar's fill, which grows from the
first chapter slide to the end card) and streamed to x264 as raw YUV in Matroska, one timestamp per frame. (Before,
ffmpeg decoded every PNG slide and TGA strip and stacked them with three ``overlay`` filters, one of them fed a
30 fps colour source for the fill: that graph cost more than x264 itself.) With motion the layers still go through
ffmpeg's filter graph (below).

The sound is whatever ``VideoJob.narration`` is: the mastered narration, or a ``Sound`` made while the pictures
encode (``pipeline.video.music.MusicMix``: the narration and the ducked music bed mastered together). The AAC is
encoded once per sound, in a thread of its own (which first makes the sound), and shared by the formats; the
pictures are encoded without waiting for it, into a video-only file that is then muxed with the sound, the
subtitles and the chapters (streams copied).

The finished file — H.264 High yuv420p, AAC from the mastered narration, a soft ``mov_text`` track (eng, off by
default: the captions are burned in), chapter marks, title/artist, ``+faststart`` — is cached under a key of
everything that goes into the encode (the pictures' content keys and frames, the fill, the filters, the encoder
options, the audio, subtitles and metadata), so an unchanged re-render copies it and encodes nothing, and a
caption edit redraws only the caption pictures it touches.

Optional motion (``VideoJob.motion``): a slow Ken Burns zoom and drift of the backdrop inside ffmpeg's filter
graph (``zoompan``) under still text (layers from ffmpeg's concat demuxer, one still per entry); that output is
constant frame rate, and costs a real encode of every frame. While one motion format encodes, the next one's
pictures are drawn.
"""

from __future__ import annotations

import os
import shutil
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO, Protocol

from pipeline import atomic
from pipeline.cache import Cache, content_key, sha256_file
from pipeline.errors import InputError
from pipeline.ffmpeg import FFmpeg, stop_running
from pipeline.narration.captions import Cue, to_srt
from pipeline.narration.timeline import Timeline
from pipeline.pictures.drawing import COVER_CARDS, SlideStore, progress_bar_height
from pipeline.pictures.slides import CAPTION_STYLES, Card, Layer, Picture, Shot, Slide, caption_area, plan_shots
from pipeline.progress import Progress, ProgressEvent, quiet
from pipeline.video.frames import Frame, FrameCompositor, FrameSource, ProgressFill

FORMATS: dict[str, tuple[int, int]] = {
    "landscape": (1920, 1080),
    "portrait": (1080, 1920),
    "square": (1080, 1080),
}
OUTPUT_NAMES: dict[str, str] = {
    "landscape": "video.mp4",
    "portrait": "video-portrait.mp4",
    "square": "video-square.mp4",
}

_PROGRESS_FILL = "E9C47A"  # the accent colour of the slides (RGB hex)

# Part of every cache key: bump when the output for the same recipe would change (e.g. another ffmpeg build).
VIDEO_STAGE = "video/5"


@dataclass(frozen=True)
class VideoSettings:
    """Encoder settings. Defaults suit publishing; all of them end up in the cache key (through the recipe)."""

    frame_rate: int = 30  # the grid every picture change snaps to; the output rate with motion
    # x264's quantiser. Stills: a constant QP (each frame is a picture held until the next one; CRF's complexity
    # estimate costs ~10 % of x264's time there, and decoded frames measure 55–59 dB PSNR without it, 0.8 of
    # CRF's size). Motion: the CRF of the same number.
    quality: int = 20
    # Every frame is a full 1080p picture to x264 even when only a word's pill moved: its per-frame analysis is
    # most of the stage. ultrafast (with CABAC and 8×8 transforms back, ``_output_args``) costs about half of
    # veryfast's CPU for a file ~1.5× as large (still well under 1 Mb/s) that looks the same on decoded frames.
    preset: str = "ultrafast"
    audio_bitrate: int = 136_000  # AAC, bits/s, mono (~141 measured: the MP4 promises ≥ 128; the MP3 has 96)
    keyframe_seconds: float = 10.0  # a keyframe at the first picture change after each interval (seeking)
    motion_zoom: float = 0.08  # Ken Burns: zoom reached at the end of a body slide (1.0 → 1.08)


class Sound(Protocol):
    """A video's sound that is made while the pictures encode: ``key`` names its content before it exists (it is
    part of the cache key of its AAC); ``path()`` makes it (once) and returns the file."""

    key: str

    def path(self) -> Path: ...


@dataclass(frozen=True)
class VideoJob:
    timeline: Timeline
    cues: tuple[Cue, ...]
    narration: Path | Sound  # the mastered narration.mp3 the timeline describes, or a sound made from it
    out_dir: Path
    cache: Cache
    ffmpeg: FFmpeg
    formats: tuple[str, ...] = ("landscape",)
    motion: bool = False
    settings: VideoSettings = VideoSettings()
    captions: str = "highlight"  # burned-in captions: highlight | plain | none (the soft track is always there)


def render_videos(job: VideoJob, progress: Progress = quiet) -> dict[str, Path]:
    """Write one MP4 per format in ``job.formats`` into ``job.out_dir`` (atomically); return {format: path}.

    Raises ``InputError`` for an unknown format, a missing narration or an empty timeline, and ``MediaError``
    when ffmpeg fails. ``progress`` is only ever called from the calling thread.
    """
    report = _FractionReport(progress)
    formats = tuple(dict.fromkeys(job.formats))
    unknown = [name for name in formats if name not in FORMATS]
    if unknown:
        raise InputError(f"unknown video format {unknown[0]!r} (choose from {', '.join(FORMATS)})")
    if not formats:
        return {}
    if isinstance(job.narration, Path | str) and not Path(job.narration).is_file():
        raise InputError(f"narration not found: {job.narration} (render the narration before the video)")
    if job.timeline.duration <= 0:
        raise InputError("the narration is empty: there is nothing to put in a video")
    if job.captions not in CAPTION_STYLES:
        raise InputError(f"unknown caption style {job.captions!r} (choose from {', '.join(CAPTION_STYLES)})")

    shots = _snap(plan_shots(job.timeline, job.cues, job.captions), job.settings.frame_rate, job.timeline.duration)
    audio = _AudioTrack(job)
    recipes = {name: _Recipe.build(job, name, shots, audio.key) for name in formats}
    pending = [name for name in formats if job.cache.get("video", recipes[name].key, ".mp4") is None]
    if pending:
        audio.start()  # the AAC encodes in its own process while pictures are drawn
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="video-encode") as encoder:
            encoding: _Encoding | None = None
            try:
                for name in pending:
                    recipe = recipes[name]
                    if recipe.plan.motion:  # still videos draw their pictures as their frames are composited
                        label = f"Video {name}: pictures"
                        recipe.store.paths(recipe.plan.layers(), progress=partial(report, label))
                    if encoding is not None:
                        encoding.finish(report, audio)
                    encoding = _Encoding.start(encoder, job, recipe, audio)
                if encoding is not None:
                    encoding.finish(report, audio)
            except BaseException:  # e.g. Ctrl-C: stop the encodes in the worker threads instead of awaiting them
                stop_running()
                raise
            finally:
                audio.wait(raise_errors=False)
    made: dict[str, Path] = {}
    for name in formats:
        target = Path(job.out_dir) / OUTPUT_NAMES[name]
        _copy(job.cache.path("video", recipes[name].key, ".mp4"), target)
        made[name] = target
    return made


class _FractionReport:
    """Reports a fraction of a labelled step as a progress event (the video steps count in fractions of 1)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def __call__(self, label: str, fraction: float) -> None:
        self.progress(ProgressEvent(label, fraction, 1.0))


# --- timing ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Held:
    """Something shown from frame ``start`` to frame ``end`` (exclusive) on the frame grid."""

    start: int
    end: int
    what: object


def _snap(shots: Sequence[Shot], fps: int, duration: float) -> list[_Held]:
    """Snap picture changes to the frame grid. A change moves to the frame at or before its exact time, so a
    caption never appears late; a picture that snaps to no frame at all is dropped (the next one starts there)."""
    total = max(1, round(duration * fps))
    held: list[_Held] = []
    for shot in shots:
        start = 0 if not held else min(total, int(shot.start * fps + 1e-6))
        if held and start <= held[-1].start:
            held[-1] = _Held(held[-1].start, held[-1].end, shot.picture)  # the later picture wins the frame
            continue
        if held:
            held[-1] = _Held(held[-1].start, start, held[-1].what)
        if start >= total:
            break
        held.append(_Held(start, total, shot.picture))
    merged: list[_Held] = []
    for item in held:
        if merged and merged[-1].what == item.what:
            merged[-1] = _Held(merged[-1].start, item.end, item.what)
        else:
            merged.append(item)
    return merged


def _runs(shots: list[_Held], layer: Callable[[Picture], Layer]) -> list[_Held]:
    """The runs of one layer: consecutive shots sharing it make one entry."""
    runs: list[_Held] = []
    for shot in shots:
        what = layer(shot.what)  # type: ignore[arg-type]
        if runs and runs[-1].what == what:
            runs[-1] = _Held(runs[-1].start, shot.end, what)
        else:
            runs.append(_Held(shot.start, shot.end, what))
    return runs


@dataclass(frozen=True)
class _LayerPlan:
    """The concat streams of one video: the clock, then the layer streams in stacking order.

    Still: ``slide`` (backdrop and card text flattened) under ``caption``. With motion the backdrop moves under
    still text, so it is a stream of its own: ``backdrop``, ``card``, ``caption``.
    """

    clock: list[_Held]
    streams: dict[str, list[_Held]]
    motion: bool

    @classmethod
    def build(cls, shots: list[_Held], motion: bool) -> _LayerPlan:
        pictures: dict[str, Callable[[Picture], Layer]] = (
            {"backdrop": lambda p: p.backdrop, "card": lambda p: p.card}
            if motion
            else {"slide": lambda p: Slide(p.backdrop, p.card)}
        )
        pictures["caption"] = lambda p: p.caption
        return cls(
            clock=[_Held(s.start, s.end, None) for s in shots],
            streams={name: _runs(shots, layer) for name, layer in pictures.items()},
            motion=motion,
        )

    def layers(self) -> list[Layer]:
        return [run.what for runs in self.streams.values() for run in runs]  # type: ignore[misc]

    @property
    def total(self) -> int:
        return self.clock[-1].end


# --- the recipe of one encode --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Recipe:
    """Everything one format's encode consumes, as text; its hash is the cache key of the finished video."""

    name: str
    plan: _LayerPlan
    store: SlideStore
    listings: dict[str, str]  # motion: stream name → concat listing (layer files are content-addressed cache paths)
    graph: str  # motion: the filter graph; still: the filters after the composited frames
    output_args: tuple[str, ...]
    srt: str
    metadata: str
    key: str
    frames: tuple[Frame, ...] = ()  # still: the frames to composite
    fill: ProgressFill | None = None  # still: the progress bar's fill

    @classmethod
    def build(cls, job: VideoJob, name: str, shots: list[_Held], audio_key: str) -> _Recipe:
        settings = job.settings
        fps = settings.frame_rate
        store = SlideStore(job.cache, FORMATS[name])
        plan = _LayerPlan.build(shots, job.motion)
        output_args = _output_args(settings, plan.motion)
        srt = to_srt(list(job.cues))
        metadata = _ffmetadata(job.timeline)
        if not plan.motion:
            frames = _still_frames(shots, fps)
            fill = _progress_fill(plan, FORMATS[name])
            slide_keys = {slide: store.key(slide) for slide in dict.fromkeys(f.slide for f in frames)}
            box_keys = {caption: store.box_key(caption) for caption in dict.fromkeys(f.caption for f in frames)}
            schedule = "".join(f"{f.number} {slide_keys[f.slide]} {box_keys[f.caption]}\n" for f in frames)
            graph = _STILL_FILTERS
            key = content_key(VIDEO_STAGE, name, schedule, fill, graph, output_args, srt, metadata, audio_key)
            return cls(name, plan, store, {}, graph, output_args, srt, metadata, key, tuple(frames), fill)
        streams: dict[str, list[_Held]] = {}
        for stream, runs in plan.streams.items():
            streams[stream] = [_Held(r.start, r.end, store.path(r.what)) for r in runs]  # type: ignore[arg-type]
        listings = {stream: _ffconcat(entries, fps, plan.total) for stream, entries in streams.items()}
        graph = _filter_graph(plan, FORMATS[name], fps, settings.motion_zoom, _progress_span(plan))
        key = content_key(VIDEO_STAGE, name, listings, graph, output_args, srt, metadata, audio_key)
        return cls(name, plan, store, listings, graph, output_args, srt, metadata, key)


# The composited frames are BT.709 limited range already (``pipeline.video.frames``): only say so.
_STILL_FILTERS = "setparams=colorspace=bt709:color_primaries=bt709:color_trc=bt709:range=tv,setsar=1"


def _still_frames(shots: list[_Held], fps: int) -> list[Frame]:
    """A frame at each picture change, and at least every half second (the progress bar moves even while the
    picture holds still); the last picture again on the last frame, so the video ends with the narration."""
    frames = [Frame(start, Slide(shot.what.backdrop, shot.what.card), shot.what.caption)  # type: ignore[attr-defined]
              for shot in shots for start in range(shot.start, shot.end, max(1, fps // 2))]  # fmt: skip
    total = shots[-1].end
    if frames[-1].number < total - 1:
        frames.append(Frame(total - 1, frames[-1].slide, frames[-1].caption))
    return frames


def _progress_fill(plan: _LayerPlan, size: tuple[int, int]) -> ProgressFill | None:
    span = _progress_span(plan)
    if span is None:
        return None
    colour = (int(_PROGRESS_FILL[0:2], 16), int(_PROGRESS_FILL[2:4], 16), int(_PROGRESS_FILL[4:6], 16))
    return ProgressFill(span[0], span[1], plan.total, progress_bar_height(size), colour)


def _output_args(settings: VideoSettings, motion: bool) -> tuple[str, ...]:
    # CABAC and 8×8 transforms whatever the preset: High profile, and ~10 % smaller than ultrafast without them.
    tools = "cabac=1:8x8dct=1"
    if motion:
        timing: tuple[str, ...] = ("-fps_mode", "cfr", "-r", str(settings.frame_rate), "-crf", str(settings.quality),
                                   "-x264-params", tools)  # fmt: skip
    else:
        # Stills: timestamps pass through on the 1/fps grid. No B-frames: they save nothing between pictures
        # seconds apart, and with variable frame rate they shift decode times by seconds (a long edit-list
        # offset some players mishandle). A constant quantiser: a rate control would weigh each frame by how
        # long it is shown, and spend ~0.5 MB on every picture held for seconds, for no visible gain.
        # Threads: all cores but one, which the compositor (and the sound) need. x264's own choice, 1.5 per
        # core, spends ~30 % more CPU on its frame threads; on 2 cores one thread encodes the seed in 6.9 CPU-s
        # against 9.0, while the frames are painted on the other core.
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 2)
        threads = max(1, cores - 1)
        timing = ("-fps_mode", "passthrough", "-enc_time_base", f"1/{settings.frame_rate}",
                  "-bf", "0", "-qp", str(settings.quality), "-x264-params", f"{tools}:threads={threads}")  # fmt: skip
    return (
        "-c:v", "libx264", "-preset", settings.preset,
        "-profile:v", "high", "-pix_fmt", "yuv420p", *timing,
        "-force_key_frames", f"expr:gte(t,n_forced*{settings.keyframe_seconds:g})",
    )  # fmt: skip


def _progress_span(plan: _LayerPlan) -> tuple[int, int] | None:
    """The frames during which the progress bar shows: from the first chapter or body slide to the end card."""
    cards = [run for run in plan.streams.get("slide", plan.streams.get("card", []))]
    kinds = [(run.start, run.end, _card_of(run.what)) for run in cards]
    shown = [(start, end) for start, end, card in kinds if card is not None and card.kind not in COVER_CARDS]
    if not shown:
        return None
    return shown[0][0], shown[-1][1]


def _card_of(layer: object) -> Card | None:
    if isinstance(layer, Slide):
        return layer.card
    return layer if isinstance(layer, Card) else None


def _filter_graph(
    plan: _LayerPlan, size: tuple[int, int], fps: int, zoom: float, progress: tuple[int, int] | None = None
) -> str:
    """Motion: stack the layers over the moving backdrop; the caption strip goes into the bottom band; the
    progress bar fills along the bottom edge (a strip of the accent colour sliding in from the left, on the track
    the slides draw). (A still video's frames are composited in numpy instead: ``pipeline.video.frames``.)

    Pictures become BT.709 limited-range YUV once per picture (not once per frame), as HD players assume.
    """
    width, height = size
    to_yuv = "scale=out_color_matrix=bt709:out_range=tv"
    band = caption_area(size)
    # The clock is a constant-rate source inside the graph: every output frame is asked for in turn, and the
    # sparse layer streams are only held (a dense stream made by ``fps`` from a sparse one runs ahead of the other
    # inputs, and ffmpeg queues gigabytes of frames).
    lines = [
        f"color=c=black:s={width}x{height}:r={fps}:d={plan.total / fps:.6f},format=yuv420p,"
        f"trim=end_frame={plan.total}[clock]",
        f"[0:v]{to_yuv},format=yuv420p[backdrop]",
        f"[clock][backdrop]overlay=format=yuv420,"
        f"zoompan=z='{_zoom_expression(plan, fps, zoom)}':x='{_pan_expression(plan, fps)}'"
        f":y='(ih-ih/zoom)/2':d=1:s={width}x{height}:fps={fps},setsar=1[moving]",
        f"[1:v]{to_yuv},format=yuva420p[card]",
        "[moving][card]overlay=format=yuv420[base]",
    ]
    finish = "setparams=colorspace=bt709:color_primaries=bt709:color_trc=bt709:range=tv,setsar=1[video]"
    lines.append(f"[2:v]{to_yuv},format=yuva420p[caption]")
    overlay = f"[base][caption]overlay=x=0:y={band.y}:format=yuv420"
    if progress is None:
        lines.append(f"{overlay},{finish}")
    else:
        total = plan.total / fps
        bar = progress_bar_height(size)
        first, last = progress[0] / fps, progress[1] / fps
        lines += [
            f"{overlay}[captioned]",
            f"color=c=0x{_PROGRESS_FILL}:s={width}x{bar}:r={fps}:d={total:.6f},format=yuv420p[fill]",
            f"[captioned][fill]overlay=x='w*(t/{total:.6f}-1)':y=H-h:format=yuv420:eval=frame"
            f":enable='between(t,{first:.6f},{last - 0.5 / fps:.6f})',{finish}",
        ]
    return ";\n".join(lines) + "\n"


def _body_runs(plan: _LayerPlan) -> list[_Held]:
    return [run for run in plan.streams["card"] if isinstance(run.what, Card) and run.what.kind == "body"]


def _zoom_expression(plan: _LayerPlan, fps: int, zoom: float) -> str:
    """Zoom 1 → 1+zoom across each body slide (``it``: the input frame's time); still on the cards."""
    expression = "1"
    for run in reversed(_body_runs(plan)):
        start, end = run.start / fps, run.end / fps
        expression = f"if(between(it,{start:.4f},{end:.4f}),1+{zoom:g}*(it-{start:.4f})/{end - start:.4f},{expression})"
    return expression


def _pan_expression(plan: _LayerPlan, fps: int) -> str:
    """Drift sideways while zooming, alternating direction from one body slide to the next."""
    expression = "(iw-iw/zoom)/2"
    for index, run in reversed(list(enumerate(_body_runs(plan)))):
        start, end = run.start / fps, run.end / fps
        toward = "" if index % 2 else "1-"
        expression = (
            f"if(between(it,{start:.4f},{end:.4f}),(iw-iw/zoom)*({toward}(0.2+0.6*(it-{start:.4f})"
            f"/{end - start:.4f})),{expression})"
        )
    return expression


def _ffconcat(entries: list[_Held], fps: int, total: int) -> str:
    """A concat-demuxer listing: each still with its duration in frames.

    The demuxer gives the last entry a length of its own choosing whatever its ``duration`` says, so the last
    picture is split off into a final one-frame entry: every stream then ends exactly at ``total``.
    """
    if entries and entries[-1].end - entries[-1].start > 1:
        last = entries[-1]
        entries = [*entries[:-1], _Held(last.start, total - 1, last.what), _Held(total - 1, total, last.what)]
    out = ["ffconcat version 1.0"]
    for entry in entries:
        quoted = "'" + str(entry.what).replace("'", "'\\''") + "'"
        # framerate: the still's time base becomes 1/fps, so durations in whole frames stay exact.
        out += [f"file {quoted}", f"option framerate {fps}", f"duration {(entry.end - entry.start) / fps:.6f}"]
    return "\n".join(out) + "\n"


def _ffmetadata(timeline: Timeline) -> str:
    """ffmpeg's metadata file: title/artist and one [CHAPTER] per narration chapter (milliseconds)."""
    lines = [";FFMETADATA1", f"title={_escape_metadata(timeline.title)}"]
    if timeline.author:
        lines.append(f"artist={_escape_metadata(timeline.author)}")
    total_ms = round(timeline.duration * 1000)
    for index, chapter in enumerate(timeline.chapters):
        start = round(chapter.start * 1000)
        end = round(timeline.chapters[index + 1].start * 1000) if index + 1 < len(timeline.chapters) else total_ms
        lines += ["", "[CHAPTER]", "TIMEBASE=1/1000", f"START={start}", f"END={max(end, start)}",
                  f"title={_escape_metadata(chapter.title)}"]  # fmt: skip
    return "\n".join(lines) + "\n"


def _escape_metadata(value: str) -> str:
    # ffmetadata: '=', ';', '#' and '\' are special and are backslash-escaped; newlines would end the value.
    value = " ".join(value.split())
    for ch in "\\=;#":
        value = value.replace(ch, "\\" + ch)
    return value


# --- audio -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _FileSound:
    """A sound that is a file already (the mastered narration): known by its content."""

    file: Path
    key: str

    @classmethod
    def of(cls, file: Path) -> _FileSound:
        return cls(file, sha256_file(file))

    def path(self) -> Path:
        return self.file


class _AudioTrack:
    """The sound as AAC, encoded once per sound (in a background thread, which first makes a ``Sound``) and cached
    for every format.

    Kept in Matroska rather than MP4: ffmpeg then carries the encoder delay into the final MP4's edit list, and
    (unlike an MP4 source) does not break the QuickTime chapter track when it is muxed with ``mov_text``.
    """

    def __init__(self, job: VideoJob) -> None:
        self.job = job
        sound = job.narration
        self.sound = _FileSound.of(Path(sound)) if isinstance(sound, Path | str) else sound
        self.key = content_key(VIDEO_STAGE, "aac", self.sound.key, job.settings.audio_bitrate)
        self._thread: threading.Thread | None = None
        self._path: Path | None = None
        self._error: BaseException | None = None

    def start(self) -> None:
        if self._thread is None and self._path is None:
            self._path = self.job.cache.get("video", self.key, ".mka")
            if self._path is None:
                self._thread = threading.Thread(target=self._encode, name="aac-encode", daemon=True)
                self._thread.start()

    def _encode(self) -> None:
        try:
            target = self.job.cache.path("video", self.key, ".mka")
            source = self.sound.path()
            with atomic.atomic_path(target) as tmp:
                self.job.ffmpeg.run(
                    # aac_coder fast: half the CPU of the default two-loop search; at this rate for one voice
                    # the difference is not audible. An explicit 20 kHz band (all anyone hears; the narration's
                    # MP3 stops near 17 kHz) takes a third of the CPU of the encoder's own choice. The seed's
                    # 4 minutes: ~2 s at 128–136 kb/s, 3.4 s at 160, 12 s at 160 with the default band.
                    ["-i", source, "-map", "0:a:0", "-vn", "-c:a", "aac", "-aac_coder", "fast",
                     "-cutoff", "20000", "-b:a", str(self.job.settings.audio_bitrate), "-f", "matroska", tmp],
                    what="encoding the sound to AAC",
                )  # fmt: skip
            self._path = target
        except BaseException as exc:  # handed over to the calling thread by wait()
            self._error = exc

    @property
    def error(self) -> BaseException | None:
        """Why the sound could not be made or encoded (e.g. a music file that holds no audio), once it failed."""
        return self._error

    def wait(self, raise_errors: bool = True) -> Path:
        if self._thread is not None:
            self._thread.join()
        if self._error is not None and raise_errors:
            raise self._error
        if self._path is None and raise_errors:
            self.start()
            return self.wait()
        return self._path  # type: ignore[return-value]


# --- encoding ----------------------------------------------------------------------------------------------


@dataclass
class _Encoding:
    """One format's encode running in the encoder thread; its progress is relayed from the calling thread."""

    name: str
    future: Future[None]
    fraction: list[float]  # written by the encoder thread, read by the calling thread

    @classmethod
    def start(cls, pool: ThreadPoolExecutor, job: VideoJob, recipe: _Recipe, audio: _AudioTrack) -> _Encoding:
        fraction = [0.0]

        def encode() -> None:
            _encode(job, recipe, audio, lambda f: fraction.__setitem__(0, f))

        return cls(recipe.name, pool.submit(encode), fraction)

    def finish(self, report: _FractionReport, audio: _AudioTrack) -> None:
        """Relay the encode's progress until it ends. A sound that failed ends it at once: the pictures would be
        encoded for nothing."""
        label = f"Video {self.name}: encoding"
        while True:
            report(label, self.fraction[0])
            try:
                self.future.result(timeout=0.25)
            except FutureTimeout:
                if audio.error is not None:
                    raise audio.error from None  # the caller stops the encode
                continue
            report(label, 1.0)
            return


def _encode(job: VideoJob, recipe: _Recipe, audio: _AudioTrack, progress: Callable[[float], None]) -> None:
    """Run the recipe's encode into the cache (atomically: a failed encode leaves no entry).

    The pictures are encoded first, into a video-only file (the AAC may still be encoding: it is not waited for),
    then muxed with the sound, the soft subtitles and the chapters (streams copied).
    """
    target = job.cache.path("video", recipe.key, ".mp4")
    duration = recipe.plan.total / job.settings.frame_rate
    stored: list[Future[None]] = []  # pictures drawn for this encode, being written to the cache
    with (
        job.cache.scratch() as folder,
        ThreadPoolExecutor(1, thread_name_prefix="slides") as prefetch,
        ThreadPoolExecutor(1, thread_name_prefix="pictures-store") as storing,
    ):
        inputs: list[str | Path] = []
        chunks: Iterator[bytes | memoryview] | None = None
        if recipe.plan.motion:
            for stream, listing in recipe.listings.items():
                path = folder / f"{stream}.ffconcat"
                path.write_text(listing, "utf-8")
                inputs += ["-f", "concat", "-safe", "0", "-i", path]
            (folder / "graph.txt").write_text(recipe.graph, "utf-8")
            filters: list[str | Path] = ["-/filter_complex", folder / "graph.txt", "-map", "[video]"]
        else:
            chunks = _composited(
                recipe, job.settings.frame_rate, prefetch, lambda work: stored.append(storing.submit(work))
            )
            inputs += ["-f", "matroska", "-i", "pipe:0"]
            filters = ["-vf", recipe.graph, "-map", "0:v:0"]
        pictures = folder / "pictures.mp4"
        job.ffmpeg.run(
            [*inputs, *filters, *recipe.output_args, "-an", pictures],
            progress=lambda seconds: progress(min(0.99, seconds / duration)),
            input_chunks=chunks,
            what=f"encoding the {recipe.name} video",
        )
        for picture in stored:
            picture.result()  # a picture that could not be stored (a full disk…) fails the encode
        inputs = ["-i", pictures, "-i", audio.wait()]
        maps: list[str] = ["-map", "0:v:0", "-map", "1:a:0"]
        next_index = 2
        if recipe.srt.strip():
            (folder / "captions.srt").write_text(recipe.srt, "utf-8")
            inputs += ["-f", "srt", "-i", folder / "captions.srt"]
            maps += ["-map", f"{next_index}:s:0", "-c:s", "mov_text", "-metadata:s:s:0", "language=eng"]
            next_index += 1
        (folder / "metadata.txt").write_text(recipe.metadata, "utf-8")
        inputs += ["-f", "ffmetadata", "-i", folder / "metadata.txt"]
        maps += ["-map_metadata", str(next_index), "-map_chapters", str(next_index)]
        with atomic.atomic_path(target) as tmp:
            job.ffmpeg.run([*inputs, *maps, "-c:v", "copy", "-c:a", "copy", "-movflags", "+faststart", tmp],
                           what=f"muxing the {recipe.name} video")  # fmt: skip
            _subtitles_off_by_default(tmp)


def _composited(recipe: _Recipe, fps: int, prefetch: ThreadPoolExecutor,
                store: Callable[[Callable[[], None]], object]) -> Iterator[bytes | memoryview]:  # fmt: skip
    """The still video's frames as a Matroska stream. Slides are read or drawn ahead in ``prefetch``; pictures
    missing from the cache are drawn as they are needed and written to it by ``store``."""
    pictures = recipe.store
    source = FrameSource(slide=partial(pictures.slide_image, store=store),
                         caption=partial(pictures.caption_box, store=store),
                         lit=partial(pictures.caption_lit, store=store))  # fmt: skip
    compositor = FrameCompositor(pictures.size, caption_area(pictures.size).y, source, recipe.fill, prefetch)
    return compositor.stream(recipe.frames, fps)


def _subtitles_off_by_default(path: Path) -> None:
    """Clear the "enabled" flag of the ``mov_text`` track, in place.

    ffmpeg's MP4 muxer enables the first track of every kind whatever its disposition, and players then show the
    soft subtitles on top of the captions already burned into the picture. The flag is 1 bit of the track
    header (``tkhd``); with ``+faststart`` the ``moov`` box is near the start of the file.
    """
    with open(path, "r+b") as handle:
        for start, end, kind in _boxes(handle, 0, path.stat().st_size):
            if kind != b"moov":
                continue
            for trak_start, trak_end, trak_kind in _boxes(handle, start, end):
                if trak_kind != b"trak":
                    continue
                children = {k: (s, e) for s, e, k in _boxes(handle, trak_start, trak_end)}
                media = children.get(b"mdia")
                header = children.get(b"tkhd")
                if media is None or header is None:
                    continue
                handler = {k: s for s, e, k in _boxes(handle, *media)}.get(b"hdlr")
                if handler is None:
                    continue
                handle.seek(handler + 8)  # hdlr: version/flags (4), pre-defined (4), then the handler type
                if handle.read(4) != b"sbtl":
                    continue
                handle.seek(header[0] + 1)  # tkhd: version (1), then 24 bits of flags; bit 0 is "enabled"
                flags = int.from_bytes(handle.read(3), "big")
                handle.seek(header[0] + 1)
                handle.write((flags & ~1).to_bytes(3, "big"))
            return


def _boxes(handle: BinaryIO, start: int, end: int) -> Iterator[tuple[int, int, bytes]]:
    """(payload start, box end, type) of each ISO-BMFF box between ``start`` and ``end``."""
    position = start
    while position + 8 <= end:
        handle.seek(position)
        size, kind = struct.unpack(">I4s", handle.read(8))
        payload = position + 8
        if size == 1:
            size = struct.unpack(">Q", handle.read(8))[0]
            payload += 8
        elif size == 0:
            size = end - position
        if size < 8:
            return
        yield payload, position + size, kind
        position += size


def _copy(source: Path, target: Path) -> None:
    """Publish a cached video into the render folder (a copy: editing the output never alters the cache)."""
    with atomic.atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
