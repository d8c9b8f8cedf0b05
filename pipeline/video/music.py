"""The music bed: a soft generated (or given) bed under the narration, ducked from the timeline, mastered with it.

``auto`` synthesises a beatless pad in numpy: a key, a mode and a four-chord progression chosen from the book's
title and author (so a book always gets the same music, and an edit of the summary does not change it), each
chord a few detuned partials under a slow swell, chords cross-faded with power-complementary windows. It is
royalty-free by construction and identical on every render. A file (``FILE``) is decoded, looped or trimmed to
the narration and faded in and out.

Ducking is planned, not reactive: the timeline says when every word is spoken, so the bed's gain falls *before*
each phrase begins (look-ahead: the fall ends as the first word starts) and rises again once the phrase is over,
with raised-cosine ramps; pauses too short for a fall and a rise keep the bed down. The bed is therefore up in the
opening pause, in the pauses between chapters and at the end, and low under every word.

The ducked bed is mixed with the mastered narration and the mix is mastered again by the narration's own
mastering (two-pass loudness, true-peak limiter when needed): −16 LUFS ± 1, ≤ −1 dBTP. Bed and mix are cached
by content, so an unchanged render makes neither again; ``MusicMix`` makes them where they are first needed (for a
video: in its AAC's thread, while the pictures encode).
"""

from __future__ import annotations

import hashlib
import math
import struct
import threading
import wave
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline import atomic
from pipeline.cache import Cache, content_key, sha256_file
from pipeline.errors import InputError
from pipeline.ffmpeg import FFmpeg
from pipeline.narration.audio import (
    AIM_LU,
    METER_MARGIN_DB,
    MasteringTarget,
    Plan,
    Solution,
    Tags,
    decode,
    master,
    read_audio,
    solve,
    write_tags,
)
from pipeline.narration.loudness import Loudness, measure
from pipeline.narration.timeline import Timeline, Word
from pipeline.progress import Progress, quiet, seconds_of

MUSIC_STAGE = "music/4"
RATE = 44100
_BLOCK_SECONDS = 10.0  # the bed is written in blocks: memory stays flat however long the narration is
_CONTROL_STEP = RATE // 1000  # samples between two points of the gain envelope


@dataclass(frozen=True)
class BedLevels:
    """How loud the bed sits under a narration mastered at −16 LUFS (dBFS RMS of the bed itself)."""

    open_db: float = -27.0  # in pauses: clearly there, well under the voice
    ducked_db: float = -43.0  # under words: a bed felt rather than heard (≥ 18 dB under the voice)
    attack: float = 0.35  # the fall before a phrase (ends as its first word starts)
    release: float = 0.45  # the rise after a phrase
    hold: float = 0.10  # after the last word of a phrase before the rise starts
    fade_in: float = 1.0
    fade_out: float = 2.0


@dataclass(frozen=True)
class Soundtrack:
    """The mastered mix of narration and bed, and what the stems need."""

    mix: Path  # WAV (32-bit float), mastered
    bed: Path  # WAV, ducked, at its level in the mix before the master's gain
    loudness: Loudness
    solution: Solution


def music_source(value: str) -> str | Path | None:
    """``auto``, ``none`` or an audio file, as given to ``--music``: None for none."""
    if value == "none":
        return None
    if value == "auto":
        return "auto"
    path = Path(value)
    if not path.is_file():
        raise InputError(f"music file not found: {value} (give auto, none or an audio file)")
    return path


# --- the gain envelope --------------------------------------------------------------------------------------


def phrases(words: Sequence[Word], merge_gap: float) -> list[tuple[float, float]]:
    """Runs of words with gaps shorter than ``merge_gap`` between them, as (first start, last end)."""
    out: list[tuple[float, float]] = []
    for word in words:
        start, end = word.start, max(word.start, word.end)
        if out and start - out[-1][1] < merge_gap:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def duck_gain_db(words: Sequence[Word], times: np.ndarray, levels: BedLevels) -> np.ndarray:
    """The bed's gain (dB relative to open) at ``times`` (seconds, increasing): 0 in pauses, ``ducked − open``
    under every phrase, falling over ``attack`` before it and rising over ``release`` after it (+``hold``)."""
    depth = levels.open_db - levels.ducked_db
    gain = np.zeros(len(times), np.float64)
    if len(times) == 0:
        return gain
    merge = levels.attack + levels.release + levels.hold
    for start, end in phrases(words, merge):
        first = int(np.searchsorted(times, start - levels.attack))
        last = int(np.searchsorted(times, end + levels.hold + levels.release, side="right"))
        if first >= last:
            continue
        t = times[first:last]
        down = np.clip((t - (start - levels.attack)) / levels.attack, 0.0, 1.0)
        up = np.clip((t - (end + levels.hold)) / levels.release, 0.0, 1.0)
        ducked = (0.5 - 0.5 * np.cos(np.pi * down)) * (0.5 + 0.5 * np.cos(np.pi * up))
        gain[first:last] = np.minimum(gain[first:last], -depth * ducked)
    return gain


# --- the generated bed ----------------------------------------------------------------------------------------

_QUALITIES = {"maj": (0, 4, 7, 11), "min": (0, 3, 7, 10), "sus": (0, 5, 7, 14)}
_MAJOR = (
    ((0, "maj"), (9, "min"), (5, "maj"), (7, "sus")),  # I vi IV V(sus)
    ((0, "maj"), (5, "maj"), (9, "min"), (7, "sus")),  # I IV vi V(sus)
    ((0, "maj"), (4, "min"), (5, "maj"), (7, "sus")),  # I iii IV V(sus)
)
_MINOR = (
    ((0, "min"), (8, "maj"), (3, "maj"), (10, "maj")),  # i VI III VII
    ((0, "min"), (5, "min"), (8, "maj"), (7, "sus")),  # i iv VI V(sus)
)
_CHORD_SECONDS = 8.0
_PARTIALS = ((1, 1.0), (2, 0.35), (3, 0.12))  # soft: a few harmonics, falling fast
_BLOCK = 4096


@dataclass(frozen=True)
class BedRecipe:
    """What the generated bed is made of (derived from the book, stable across edits of the summary)."""

    root_midi: int
    minor: bool
    progression: tuple[tuple[int, str], ...]
    seed: int

    @classmethod
    def for_book(cls, title: str, author: str | None) -> BedRecipe:
        digest = hashlib.sha256(f"{title}\n{author or ''}".encode()).digest()
        seed = int.from_bytes(digest[:8], "big")
        rng = np.random.default_rng(seed)
        minor = bool(rng.integers(2))
        choices = _MINOR if minor else _MAJOR
        progression = choices[int(rng.integers(len(choices)))]
        return cls(root_midi=45 + int(rng.integers(0, 10)), minor=minor, progression=progression, seed=seed)


def _phase_ramp(frequency: float, count: int, phase: float) -> np.ndarray:
    """2π·f·n/RATE + phase for n < count, in float32 but accurate however long the ramp (block offsets are
    reduced modulo 2π in float64)."""
    step = 2 * np.pi * frequency / RATE
    blocks = -(-count // _BLOCK)
    offsets = np.mod(np.arange(blocks, dtype=np.float64) * (_BLOCK * step) + phase, 2 * np.pi).astype(np.float32)
    inner = np.arange(_BLOCK, dtype=np.float32) * np.float32(step)
    return (offsets[:, None] + inner[None, :]).reshape(-1)[:count]


def synthesise_loop(recipe: BedRecipe) -> np.ndarray:
    """One pass of the progression as a seamless loop (float32, RMS 1): each chord is windowed over two chord
    lengths centred on its own, and the window's tail wraps around to the loop's start."""
    rng = np.random.default_rng(recipe.seed)
    segment = int(_CHORD_SECONDS * RATE)
    length = segment * len(recipe.progression)
    loop = np.zeros(length, np.float32)
    span = 2 * segment
    window = np.sin(np.pi * np.arange(span) / span).astype(np.float32)  # sin²+cos²: constant power across chords
    seconds = np.arange(span, dtype=np.float32) / RATE
    for index, (degree, quality) in enumerate(recipe.progression):
        base = recipe.root_midi + degree
        notes = [base - 12] + [base + 12 + interval for interval in _QUALITIES[quality]]
        chord = np.zeros(span, np.float32)
        for order, note in enumerate(notes):
            frequency = 440.0 * 2 ** ((note - 69) / 12)
            amplitude = 0.5 if order == 0 else 0.28 / (1 + 0.25 * order)
            for detune in (-0.0025, 0.0025):  # two voices a few cents apart: a slow, warm beating
                phase = _phase_ramp(frequency * (1 + detune), span, rng.uniform(0, 2 * np.pi))
                for harmonic, weight in _PARTIALS:
                    if frequency * harmonic < 4000:
                        chord += np.float32(amplitude * weight * 0.5) * np.sin(
                            phase * harmonic if harmonic > 1 else phase
                        )
        swell = 1 + 0.15 * np.sin(2 * np.pi * seconds / (2 * _CHORD_SECONDS) + np.float32(rng.uniform(0, 2 * np.pi)))
        chord *= window * swell
        start = (index * segment - segment // 2) % length
        first = min(span, length - start)
        loop[start : start + first] += chord[:first]
        if first < span:
            loop[: span - first] += chord[first:]
    loop /= np.float32(math.sqrt(float(np.mean(loop.astype(np.float64) ** 2))) or 1.0)
    return loop


def decode_music(ffmpeg: FFmpeg, path: Path) -> np.ndarray:
    """A music file as mono float32 at 44.1 kHz, RMS 1 (an InputError if it holds no sound)."""
    raw = ffmpeg.pipe(["-i", path, "-vn", "-ac", "1", "-ar", str(RATE), "-f", "f32le", "pipe:1"], b"",
                      what=f"reading the music file {path.name}")  # fmt: skip
    samples = np.frombuffer(raw, np.float32)
    rms = math.sqrt(float(np.mean(samples.astype(np.float64) ** 2))) if len(samples) else 0.0
    if len(samples) < RATE // 10 or rms < 1e-5:
        raise InputError(f"the music file holds no sound: {path}")
    return samples / np.float32(rms)


def _blocks(total: int) -> Iterator[tuple[int, int]]:
    step = int(_BLOCK_SECONDS * RATE)
    for start in range(0, total, step):
        yield start, min(total, start + step)


def write_bed(loop: np.ndarray, timeline: Timeline, levels: BedLevels, target: Path, crossfade: bool) -> None:
    """Loop ``loop`` over the narration, fade it in and out, apply the ducking, write a 16-bit mono WAV.

    ``crossfade``: a file loops with a short cross-fade at the seam (a generated loop is seamless already)."""
    total = round(timeline.duration * RATE)
    if crossfade and len(loop) > 4 * RATE and total > len(loop):
        seam = RATE // 2
        head, tail = loop[:seam], loop[-seam:]
        ramp = np.linspace(0, 1, seam, dtype=np.float32)
        loop = np.concatenate([tail * (1 - ramp) + head * ramp, loop[seam:-seam]])
    open_gain = 10 ** (levels.open_db / 20)
    fade_in, fade_out = max(1, int(levels.fade_in * RATE)), max(1, int(levels.fade_out * RATE))
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        # The gain is smooth (ramps of a third of a second and more): computed at 1 kHz, interpolated per sample.
        control = np.arange(0, total + _CONTROL_STEP, _CONTROL_STEP)
        gain = open_gain * np.power(10.0, duck_gain_db(timeline.words, control / RATE, levels) / 20)
        gain *= np.clip(control / fade_in, 0, 1) * np.clip((total - control) / fade_out, 0, 1)
        for start, end in _blocks(total):
            index = np.arange(start, end)
            block = loop[index % len(loop)] * np.interp(index, control, gain).astype(np.float32)
            out.writeframes((np.clip(block, -1, 1) * 32767).astype("<i2").tobytes())


# --- mixing ------------------------------------------------------------------------------------------------------


def bed_key(source: str | Path, timeline: Timeline, levels: BedLevels) -> str:
    words = [(w.start, w.end) for w in timeline.words]
    identity: object = (
        ["auto", BedRecipe.for_book(timeline.title, timeline.author).__dict__]
        if source == "auto"
        else ["file", sha256_file(Path(source))]
    )
    return content_key(MUSIC_STAGE, "bed", identity, timeline.duration, words, levels.__dict__)


def make_bed(source: str | Path, timeline: Timeline, cache: Cache, ffmpeg: FFmpeg,
             levels: BedLevels = BedLevels()) -> Path:  # fmt: skip
    """The ducked bed for this timeline as a WAV in the cache (made once per content)."""
    key = bed_key(source, timeline, levels)
    found = cache.get("music", key, ".wav")
    if found is not None:
        return found
    if source == "auto":
        loop, crossfade = synthesise_loop(BedRecipe.for_book(timeline.title, timeline.author)), False
    else:
        loop, crossfade = decode_music(ffmpeg, Path(source)), True
    target = cache.path("music", key, ".wav")
    with atomic.atomic_path(target) as tmp:
        write_bed(loop, timeline, levels, tmp, crossfade)
    return target


class MusicMix:
    """The narration with the music bed under it (``make_bed``, then ``mix``), made on first use and kept: a render
    asks for it where it is needed (the video's AAC, ``--stems``, ``--podcast-music``). As a video's ``Sound`` it is
    made in the AAC's thread while the pictures encode: ``key`` names it before it exists (what it is made of)."""

    def __init__(self, source: str | Path, narration: Path, timeline: Timeline, cache: Cache, ffmpeg: FFmpeg,
                 target: MasteringTarget | None = None, levels: BedLevels = BedLevels()) -> None:  # fmt: skip
        self.source, self.narration, self.timeline, self.levels = source, narration, timeline, levels
        self.cache, self.ffmpeg, self.target = cache, ffmpeg, target or MasteringTarget()
        self.key = _mix_key(sha256_file(narration), bed_key(source, timeline, levels), self.target)
        self._lock = threading.Lock()
        self._made: Soundtrack | None = None

    def soundtrack(self) -> Soundtrack:
        with self._lock:
            if self._made is None:
                bed = make_bed(self.source, self.timeline, self.cache, self.ffmpeg, self.levels)
                self._made = mix(self.ffmpeg, self.narration, bed, self.cache, self.target)
            return self._made

    def path(self) -> Path:
        """The mastered mix (``pipeline.video.encode.Sound``)."""
        return self.soundtrack().mix


def _mix_key(narration_digest: str, bed: str, target: MasteringTarget) -> str:
    return content_key(MUSIC_STAGE, "mix", narration_digest, bed, target)


def mix(ffmpeg: FFmpeg, narration: Path, bed: Path, cache: Cache, target: MasteringTarget | None = None) -> Soundtrack:
    """Narration + bed as one mastered WAV (cached by both inputs): the video's sound.

    The narration is mastered already and the bed adds little, so the sum (made in numpy: the MP3 decoded, the bed
    added) usually measures on target as it is; when it does not, the narration's mastering solves a gain (and a
    limiter if the peaks need one) for it. Written as a 32-bit float WAV, which the AAC encode keeps (an MP3 here
    would lose ~0.4 LU and need a second pass).
    """
    target = target or MasteringTarget()
    key = _mix_key(sha256_file(narration), bed.stem, target)  # a bed in the cache is named by its key
    cached = cache.get("music", key, ".wav")
    meta = cache.get_json("music", key)
    if cached is not None and meta is not None:
        return Soundtrack(cached, bed, Loudness(**meta["loudness"]), Solution(**meta["solution"]))
    final = cache.path("music", key, ".wav")
    rate = target.sample_rate
    summed = decode(ffmpeg, narration, rate).copy()  # the voice, then the bed added in place (memory stays ~2×)
    summed += _fit(read_audio(ffmpeg, bed, rate), len(summed))
    loudness = measure(summed, rate)
    solution = Solution(None, 0.0)
    if abs(loudness.integrated_lufs - target.integrated_lufs) > AIM_LU or (
        loudness.true_peak_dbtp > target.true_peak_dbtp - METER_MARGIN_DB
    ):
        plan = Plan.of(lambda: summed, rate)
        solution = solve([plan], target, headroom=0.2)
        summed = plan.apply(solution)
        loudness = measure(summed, rate)
    with atomic.atomic_path(final) as tmp:
        _write_float_wav(tmp, summed, rate)
    cache.put_json("music", key, {"loudness": loudness.__dict__, "solution": solution.__dict__})
    return Soundtrack(final, bed, loudness, solution)


def _write_float_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    """Mono 32-bit float samples as a WAV file (format 3, IEEE float, with the ``fact`` chunk non-PCM data has)."""
    data = np.ascontiguousarray(samples, dtype="<f4")
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    with open(path, "wb") as out:
        out.write(b"RIFF" + struct.pack("<I", 4 + (8 + len(fmt)) + (8 + 4) + (8 + data.nbytes)) + b"WAVE")
        out.write(b"fmt " + struct.pack("<I", len(fmt)) + fmt)
        out.write(b"fact" + struct.pack("<II", 4, len(data)))
        out.write(b"data" + struct.pack("<I", data.nbytes))
        data.tofile(out)


def _fit(samples: np.ndarray, length: int) -> np.ndarray:
    """``samples`` cut or padded with silence to ``length`` (the mix lasts as long as the narration)."""
    if len(samples) >= length:
        return samples[:length]
    return np.concatenate([samples, np.zeros(length - len(samples), dtype=samples.dtype)])


def podcast_mix(
    soundtrack: Soundtrack,
    tags: Tags,
    cover: bytes,
    timeline: Timeline,
    target: MasteringTarget,
    ffmpeg: FFmpeg,
    cache: Cache,
    progress: Progress = quiet,
) -> tuple[Path, Loudness]:
    """``--podcast-music``: the mix as the podcast's MP3 (mastered by the narration's mastering, tagged like it)."""
    chapters = list(timeline.chapters)
    key = content_key(MUSIC_STAGE, "podcast", soundtrack.mix.name, target, tags, hashlib.sha256(cover).hexdigest(),
                      chapters)  # fmt: skip
    cached = cache.get("music", key, ".mp3")
    meta = cache.get_json("music", key)
    if cached is not None and meta is not None:
        return cached, Loudness(**meta["loudness"])
    with atomic.atomic_path(cache.path("music", key, ".mp3")) as mp3:
        report = seconds_of(progress, "Mastering narration with music", timeline.duration)
        loudness, _ = master(ffmpeg, soundtrack.mix, mp3, target, progress=report)
        write_tags(mp3, tags, cover, chapters)
    cache.put_json("music", key, {"loudness": loudness.__dict__})
    return cache.path("music", key, ".mp3"), loudness


def write_stems(ffmpeg: FFmpeg, narration: Path, soundtrack: Soundtrack, folder: Path) -> dict[str, Path]:
    """``voice.wav`` and ``bed.wav`` (mono 44.1 kHz, 16-bit) at their levels in the mastered mix: the master's
    gain applied to each (its limiter, when it used one, only touches the loudest voice peaks)."""
    atomic.make_folder(folder, "stems folder")
    gain = f"volume={soundtrack.solution.gain_db:.3f}dB"
    made: dict[str, Path] = {}
    for name, source in (("voice", narration), ("bed", soundtrack.bed)):
        path = folder / f"{name}.wav"
        with atomic.atomic_path(path) as tmp:
            ffmpeg.run(["-i", source, "-af", f"aresample={RATE},{gain}", "-ac", "1", "-c:a", "pcm_s16le",
                        "-f", "wav", tmp], what=f"writing the {name} stem")  # fmt: skip
        made[name] = path
    return made
