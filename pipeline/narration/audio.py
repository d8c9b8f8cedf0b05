"""Audio: the voice at the master rate, mastering (limiter and gain solved in-process), MP3 encoding, ID3 tags.

Mastering measures in-process (``loudness``: BS.1770 loudness and 4× oversampled true peak on numpy arrays) and
runs ffmpeg only to encode and to decode what it encoded:

1. the voice (24 kHz for hibari) is resampled to 44.1 kHz with SoX's resampler (no imaging of the band edge);
2. its loudness and per-sample true-peak envelope are measured once;
3. when the gain that reaches −16 LUFS would put the peaks over the ceiling, a look-ahead limiter is solved
   together with that gain: its threshold and the gain are found by a secant iteration on the loudness of the
   limited signal (each step a multiplication and a cumulative sum, not a pass over a file);
4. the mastered samples are encoded by LAME (the narration in segments, see ``segments``; ``master`` here for any
   other file), decoded and measured again ("measure, don't trust"), and solved again with the measured
   difference if they missed. LAME at 128 kbps takes up to half a LU from speech (not from its peaks): that loss
   is measured on a piece first and the samples are mastered that much louder under the same peak goal.

The limiter is a gain curve, not a compressor: for each sample the gain its true peak needs, then the least of
those needs plus a straight ramp (2 ms from 0 to 1 before a peak, 50 ms after it), computed as a running minimum
each way. No peak passes the threshold, the gain never jumps, and only the stretches around peaks are computed.
Where a cold narration's mastering time went before (seed summary): 4 ffmpeg passes with the limiter at 96 kHz and
a true-peak meter at 192 kHz, 8.4 s; now measuring and limiting take well under a second and LAME is the main
cost, spread over both cores.
"""

from __future__ import annotations

import math
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from pipeline.atomic import TEMP_PREFIX
from pipeline.errors import MediaError
from pipeline.ffmpeg import FFmpeg, ProgressCallback
from pipeline.narration.loudness import (
    Loudness,
    integrated_loudness,
    k_weighted_power,
    loudness_of_steps,
    measure,
    peak_envelope,
    step_length,
    step_sums,
)
from pipeline.narration.timeline import ChapterMark


@dataclass(frozen=True)
class MasteringTarget:
    integrated_lufs: float = -16.0
    true_peak_dbtp: float = -1.0  # ceiling for the final MP3
    headroom_db: float = 0.6  # aim this far under the ceiling before MP3 encoding (encoding adds peaks)
    sample_rate: int = 44100
    bitrate_kbps: int = 128


AIM_LU = 0.3  # mastering aims this close to the integrated target ...
TOLERANCE_LU = 1.0  # ... and accepts this (the podcast contract: -16 LUFS ±1) when the peak ceiling fights it
# ffmpeg's meter oversamples to 192 kHz, ours 4× (176.4 kHz at 44.1 kHz): the MP3 must clear the ceiling by this
# much on our meter, so that any meter's reading of it does.
METER_MARGIN_DB = 0.1
ATTACK_SECONDS = 0.002  # the limiter's gain falls from 1 to 0 in this long before a peak (−6 dB in 1 ms) ...
RELEASE_SECONDS = 0.050  # ... and rises from 0 to 1 in this long after it (from −6 dB in 25 ms)
MAX_LIMITING_DB = 20.0  # the threshold stays within this much of the peak: beyond, loudness is given up instead
_EXCERPT_SECONDS = 30.0


@dataclass(frozen=True)
class Solution:
    """How a narration was mastered: the limiter's threshold (dBFS before the gain; None: no limiter) and the
    gain after it."""

    limit_db: float | None
    gain_db: float  # includes encoder_db
    encoder_db: float = 0.0  # how much quieter LAME made it, measured on an excerpt and made up in the gain

    def rounded(self) -> Solution:
        """To a thousandth of a dB, as render.json records it: the same solution read back is equal to it."""
        limit = None if self.limit_db is None else round(self.limit_db, 3)
        return Solution(limit, round(self.gain_db, 3), round(self.encoder_db, 3))


def to_rate(samples: np.ndarray, source_rate: int, rate: int) -> np.ndarray:
    """16-bit voice samples as float samples at ``rate``: SoX's resampler (band-limited, so a 24 kHz voice's band
    edge is not imaged into the 44.1 kHz master)."""
    floats = samples.astype(np.float32) / np.float32(32768)
    if source_rate == rate or len(floats) == 0:
        return floats
    return np.asarray(soxr.resample(floats, source_rate, rate, quality="HQ"), dtype=np.float32)


RESAMPLER = f"soxr {soxr.__version__} HQ"


def master(
    ffmpeg: FFmpeg,
    wav_path: Path,
    mp3_path: Path,
    target: MasteringTarget = MasteringTarget(),
    progress: ProgressCallback | None = None,
    start: Solution | None = None,
) -> tuple[Loudness, Solution]:
    """Master an audio file to ``mp3_path`` (mono CBR MP3) at the target loudness; return the MP3's measured
    loudness and the solution that got there. (The narration itself is mastered in segments: ``segments``.)

    ``start`` (the solution of an earlier version of the same audio) is kept when it still predicts the target.
    """
    signal = read_audio(ffmpeg, wav_path, target.sample_rate)
    plan = Plan.of(lambda: signal, target.sample_rate)
    if start is not None and predicts_target([plan.limited_steps(start.limit_db)], plan.rate, start, target):
        solution = start
    else:
        solution = solve([plan], target, target.headroom_db)
        solution = solve([plan], target, target.headroom_db, _codec_offset(ffmpeg, plan, solution, mp3_path))
    kept = mp3_path.with_name(f"{TEMP_PREFIX}kept-{mp3_path.name}")  # hidden; a later run clears it if killed
    kept_result: tuple[Loudness, Solution] | None = None
    headroom = target.headroom_db
    result = Loudness(float("-inf"), float("-inf"))
    try:
        for _attempt in range(4):  # encoded, then checked on the MP3 itself
            encode_mp3(ffmpeg, plan.apply(solution), mp3_path, target, progress)
            result = measure_file(ffmpeg, mp3_path, target.sample_rate)
            verdict = Verdict.of(result, target)
            if verdict.on_target:
                return result, solution
            if verdict.acceptable and kept_result is None:
                mp3_path.replace(kept)  # within the contract: keep it while trying for the aim
                kept_result = result, solution
            solution, headroom = verdict.next_try(solution, [plan], target, headroom)
        if kept_result is not None:
            kept.replace(mp3_path)
            return kept_result
    finally:
        kept.unlink(missing_ok=True)
    raise MediaError(
        f"mastering missed its target: {result.integrated_lufs:.1f} LUFS, {result.true_peak_dbtp:.1f} dBTP"
    )


@dataclass(frozen=True)
class Verdict:
    """What the measurement of an encoded master says: on target, within the contract, or how far off."""

    miss: float  # LU to add to reach the target
    over: float  # dB the true peak is over the ceiling (with the meter margin); <= 0 when under

    @classmethod
    def of(cls, result: Loudness, target: MasteringTarget) -> Verdict:
        return cls(
            target.integrated_lufs - result.integrated_lufs,
            result.true_peak_dbtp - (target.true_peak_dbtp - METER_MARGIN_DB),
        )

    @property
    def on_target(self) -> bool:
        return abs(self.miss) <= AIM_LU and self.over <= 0

    @property
    def acceptable(self) -> bool:
        return abs(self.miss) <= TOLERANCE_LU and self.over <= 0

    def next_try(
        self, solution: Solution, plans: Sequence[Plan], target: MasteringTarget, headroom: float
    ) -> tuple[Solution, float]:
        """The solution to encode next, and the headroom it was solved with: with more headroom and a re-solved
        limiter when encoding pushed the peak over the ceiling, else with the gain corrected by the miss."""
        if self.over > 0:
            headroom += self.over + 0.2
            return solve(plans, target, headroom, solution.encoder_db), headroom
        # The miss is what encoding took away beyond the offset measured so far: it belongs to the encoder's share.
        return solve(plans, target, headroom, solution.encoder_db + self.miss), headroom


@dataclass(frozen=True)
class Plan:
    """A signal measured once for mastering: the K-weighted power and true-peak envelope the limiter and the gain
    are solved from. A narration is mastered as one or several plans (its segments), solved together."""

    samples: Callable[[], np.ndarray]  # the signal (float32, mono), made again when needed: not held meanwhile
    rate: int
    peak_db: float  # true peak
    power: np.ndarray  # K-weighted signal squared (float16)
    steps: np.ndarray  # its sums over 100 ms steps, what gating blocks are made of
    envelope: np.ndarray  # true peak each sample stands for (loudness.peak_envelope; float16)

    @classmethod
    def of(cls, samples: Callable[[], np.ndarray], rate: int) -> Plan:
        signal = samples()
        power = k_weighted_power(signal, rate)
        envelope = peak_envelope(signal, rate)
        highest = float(envelope.max(initial=0.0))
        peak = 20 * math.log10(highest) if highest > 0 else float("-inf")
        # Kept as half floats (a thousandth relative, 0.01 dB): only the limiter's corrections read them again.
        steps = step_sums(power, rate)
        return cls(samples, rate, peak, power.astype(np.float16), steps, envelope.astype(np.float16))

    def apply(self, solution: Solution) -> np.ndarray:
        """The mastered samples: limited (when the solution has a limiter), then the gain."""
        mastered = self.samples() * np.float32(10 ** (solution.gain_db / 20))
        if solution.limit_db is not None:
            for start, gain in self._limiter(solution.limit_db):
                mastered[start : start + len(gain)] *= gain
        return mastered

    def limited_steps(self, limit_db: float | None) -> np.ndarray:
        """The 100 ms step powers after limiting at ``limit_db`` (before the gain). The limiter's gain moves
        slowly against the K-weighting filter's response, so the weighted power of the limited signal is the
        gain squared times the weighted power (the MP3 is measured exactly afterwards)."""
        steps = self.steps.copy()
        if limit_db is None:
            return steps
        step = step_length(self.rate)
        for start, gain in self._limiter(limit_db):
            change = self.power[start : start + len(gain)].astype(np.float32) * (gain * gain - np.float32(1))
            edges = np.arange(-(start % step), len(change), step)  # where each step begins, relative to the run
            sums = np.add.reduceat(change, np.maximum(edges, 0), dtype=np.float64)
            first = start // step
            count = min(len(sums), len(steps) - first)
            steps[first : first + count] += sums[:count]
        return steps

    def _limiter(self, limit_db: float) -> list[tuple[int, np.ndarray]]:
        return limiter_gain(self.envelope, 10 ** (limit_db / 20), self.rate)


def solve(plans: Sequence[Plan], target: MasteringTarget, headroom: float, encoder_db: float = 0.0) -> Solution:
    """The solution that should land ``plans`` (one narration) on the target with ``headroom`` dB under the peak
    ceiling.

    Without a limiter when the gain alone keeps the peaks under it; otherwise the threshold L (dB before the
    gain) with L + gain(L) = the goal peak, where gain(L) is what the narration limited at L needs to reach the
    target loudness — found by a secant iteration (2–4 cheap steps). ``encoder_db`` is what the MP3 encoder will
    take away from the loudness (not from the peaks): the samples are mastered that much louder, under the same
    peak goal."""
    rate = plans[0].rate
    aim = target.integrated_lufs + encoder_db
    loudness = loudness_of_steps(np.concatenate([plan.steps for plan in plans]), rate)
    if loudness < -70:
        raise MediaError("the narration is silent: nothing to master")
    goal_peak = target.true_peak_dbtp - headroom
    gain = aim - loudness
    if max(plan.peak_db for plan in plans) + gain <= goal_peak:
        return Solution(None, gain, encoder_db)
    peak = max(plan.peak_db for plan in plans)
    floor = peak - MAX_LIMITING_DB
    limit = max(goal_peak - gain, floor)
    tried: list[tuple[float, float]] = []  # (threshold, residual)
    for _step in range(6):
        limited = loudness_of_steps(np.concatenate([plan.limited_steps(limit) for plan in plans]), rate)
        gain = aim - limited
        residual = goal_peak - gain - limit  # > 0: headroom left; < 0: peaks would pass the ceiling
        if -0.05 <= residual <= 0.05 or (limit <= floor and residual < 0):
            break
        tried.append((limit, residual))
        if len(tried) >= 2 and tried[-1][1] != tried[-2][1]:
            (l0, r0), (l1, r1) = tried[-2], tried[-1]
            limit = l1 - r1 * (l1 - l0) / (r1 - r0)
        else:
            limit += residual
        limit = max(limit, floor)
    return Solution(limit, min(gain, goal_peak - limit), encoder_db)  # the peaks never pass the goal


def predicts_target(limited: Sequence[np.ndarray], rate: int, solution: Solution, target: MasteringTarget) -> bool:
    """Whether ``solution`` (from an earlier version of this narration) still lands it on target, from each
    part's step powers after the solution's limiter (a limiter holds the peaks; without one they are checked
    when the MP3 is measured)."""
    loudness = loudness_of_steps(np.concatenate(list(limited)), rate) + solution.gain_db - solution.encoder_db
    return abs(loudness - target.integrated_lufs) <= AIM_LU / 2


def limiter_gain(envelope: np.ndarray, limit: float, rate: int) -> list[tuple[int, np.ndarray]]:
    """The limiter's gain where it is not 1, as (first sample, gains) runs: at most what each sample's true peak
    needs to stay under ``limit``, falling before a peak in at most ``ATTACK_SECONDS`` and rising after it in
    ``RELEASE_SECONDS`` (straight ramps of the gain from 0 to 1; in dB a deep cut recovers fast, a slight one
    slowly, like an exponential release).

    The gain at n is the least, over all samples k, of what k needs plus the ramp from k to n — a running minimum
    each way (``np.minimum.accumulate``), so no peak passes the limit and the cost is linear. Only the stretches
    around samples over the limit are computed: elsewhere the gain is 1."""
    over = np.flatnonzero(envelope > limit)
    if over.size == 0:
        return []
    before, after = math.ceil(ATTACK_SECONDS * rate), math.ceil(RELEASE_SECONDS * rate)
    breaks = np.flatnonzero(np.diff(over) > before + after)
    firsts = np.maximum(np.concatenate(([over[0]], over[breaks + 1])) - before, 0)
    lasts = np.minimum(np.concatenate((over[breaks], [over[-1]])) + after + 1, len(envelope))
    runs = []
    for first, last in zip(firsts, lasts, strict=True):
        need = np.minimum(1.0, limit / np.maximum(envelope[first:last], 1e-9, dtype=np.float64))
        ramp = np.arange(last - first, dtype=np.float64)
        gain = np.minimum.accumulate(need - ramp / after) + ramp / after  # rising after each peak
        gain = np.minimum.accumulate((gain + ramp / before)[::-1])[::-1] - ramp / before  # falling before it
        runs.append((int(first), gain.astype(np.float32)))
    return runs


def _codec_offset(ffmpeg: FFmpeg, plan: Plan, solution: Solution, mp3_path: Path) -> float:
    """How much louder the input must be for the MP3 to land on the target: LAME at 128 kbps measures up to half a
    LU under its input on speech. Measured on a 30 s excerpt from the middle, so the full encode lands at the
    first attempt. 0 for short narrations, where a second full encode costs little."""
    duration = len(plan.envelope) / plan.rate
    if duration < 3 * _EXCERPT_SECONDS:
        return 0.0
    middle, half = len(plan.envelope) // 2, int(_EXCERPT_SECONDS * plan.rate / 2)
    mastered = plan.apply(solution)[middle - half : middle + half]
    excerpt = mp3_path.with_name(f"{TEMP_PREFIX}excerpt-{mp3_path.name}")
    try:
        encode_mp3(ffmpeg, mastered, excerpt, MasteringTarget(sample_rate=plan.rate), None)
        after = integrated_loudness(decode(ffmpeg, excerpt, plan.rate), plan.rate)
    finally:
        excerpt.unlink(missing_ok=True)
    offset = integrated_loudness(mastered, plan.rate) - after
    return offset if abs(offset) <= TOLERANCE_LU else 0.0  # beyond that the excerpt is not telling the truth


def read_audio(ffmpeg: FFmpeg, path: Path, rate: int) -> np.ndarray:
    """Mono float samples of an audio file at ``rate``: a 16-bit WAV (what ``assemble`` writes) is read and
    resampled here with SoX's resampler; anything else is decoded by ffmpeg."""
    try:
        with wave.open(str(path), "rb") as source:
            if source.getsampwidth() == 2 and source.getnchannels() == 1:
                pcm = np.frombuffer(source.readframes(source.getnframes()), dtype="<i2")
                return to_rate(pcm, source.getframerate(), rate)
    except (wave.Error, EOFError):
        pass  # not a PCM WAV (e.g. 32-bit float): ffmpeg reads it
    return decode(ffmpeg, path, rate)


def decode(ffmpeg: FFmpeg, path: Path, rate: int) -> np.ndarray:
    """A file's audio as mono float samples at ``rate``, decoded (and resampled with soxr) by ffmpeg."""
    raw = ffmpeg.pipe(
        ["-i", path, "-af", f"aresample={rate}:resampler=soxr", "-ac", "1", "-f", "f32le", "pipe:1"],
        b"",
        what=f"decoding {path.name}",
    )
    return np.frombuffer(raw, dtype="<f4")


def measure_file(ffmpeg: FFmpeg, path: Path, rate: int = 44100) -> Loudness:
    """Integrated loudness, true peak and loudness range of an audio file, decoded at ``rate``."""
    return measure(decode(ffmpeg, path, rate), rate)


def encode_mp3(
    ffmpeg: FFmpeg, samples: np.ndarray, mp3_path: Path, target: MasteringTarget, progress: ProgressCallback | None
) -> None:
    """Mono CBR MP3 of float ``samples`` at the target's rate and bitrate, with a LAME (Xing) header."""
    ffmpeg.run(
        ["-f", "f32le", "-ar", str(target.sample_rate), "-ac", "1", "-i", "pipe:0",
         "-c:a", "libmp3lame", "-b:a", f"{target.bitrate_kbps}k", "-map_metadata", "-1",
         "-id3v2_version", "4", "-write_xing", "1", "-f", "mp3", mp3_path],
        input_bytes=np.ascontiguousarray(samples, dtype="<f4").tobytes(),
        progress=progress,
        what="encoding the narration",
    )  # fmt: skip


@dataclass(frozen=True)
class Tags:
    title: str
    artist: str
    album: str
    year: int | None
    genre: str = "Podcast"
    comment: str = ""


def write_tags(mp3_path: Path, tags: Tags, cover_jpeg: bytes | None, chapters: Sequence[ChapterMark]) -> None:
    """ID3v2.4: text frames, a comment, the cover as APIC, one CHAP per chapter and a top-level ordered CTOC."""
    from mutagen.id3 import APIC, CHAP, COMM, CTOC, TALB, TCON, TDRC, TIT2, TPE1, CTOCFlags

    id3 = _ChapterOrderID3()
    id3.add(TIT2(encoding=3, text=tags.title))
    id3.add(TPE1(encoding=3, text=tags.artist))
    id3.add(TALB(encoding=3, text=tags.album))
    if tags.year:
        id3.add(TDRC(encoding=3, text=str(tags.year)))
    id3.add(TCON(encoding=3, text=tags.genre))
    id3.add(COMM(encoding=3, lang="eng", desc="", text=tags.comment))
    ids = [f"chp{i}" for i in range(len(chapters))]
    id3.add(
        CTOC(
            element_id="toc",
            flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
            child_element_ids=ids,
            sub_frames=[TIT2(encoding=3, text="Chapters")],
        )
    )
    for element_id, chapter in zip(ids, chapters, strict=True):
        id3.add(
            CHAP(
                element_id=element_id,
                start_time=int(round(chapter.start * 1000)),
                end_time=int(round(chapter.end * 1000)),
                sub_frames=[TIT2(encoding=3, text=chapter.title)],
            )
        )
    if cover_jpeg:
        id3.add(APIC(encoding=3, mime="image/jpeg", type=3, desc="Cover", data=cover_jpeg))
    id3.save(str(mp3_path), v2_version=4)


def _chapter_order_id3():  # type: ignore[no-untyped-def]
    from mutagen.id3 import ID3
    from mutagen.id3._tags import save_frame  # mutagen's own frame serialiser

    class ChapterOrderID3(ID3):  # type: ignore[misc]
        """mutagen writes frames sorted by size; readers that walk the file would then meet chapters out of
        order. Write text frames first, then the table of contents, the chapters by start time, pictures last."""

        def _write(self, config):  # type: ignore[no-untyped-def]
            def rank(frame):  # type: ignore[no-untyped-def]
                kind = frame.FrameID
                group = {"CTOC": 2, "CHAP": 3, "APIC": 4}.get(kind, 0 if kind.startswith("T") else 1)
                return (group, getattr(frame, "start_time", 0), frame.HashKey)

            frames = sorted(self.values(), key=rank)
            return bytearray().join(save_frame(frame, config=config) for frame in frames)

    return ChapterOrderID3


_ChapterOrderID3 = _chapter_order_id3()
