"""Audio: assemble sentence audio with the timeline's pauses (pydub), master it, export MP3 with ID3 tags.

Mastering is two-pass loudness normalisation that follows "measure, don't trust" (DESIGN.md): pass 1 measures
integrated loudness with ffmpeg's EBU R128 meter (the peak comes from the samples, plus an inter-sample allowance);
when the gain needed to reach −16 LUFS would push the peak over the ceiling, a limiter (at 4× the source rate, so
sample peaks approximate true peaks) is solved together with that gain, metering loudness only; pass 2 applies the
linear gain, resamples to 44.1 kHz with SoX's resampler and encodes. The MP3 itself is then measured (loudness and
true peak) and, if it missed, re-encoded with a corrected gain. LAME at 128 kbps measures up to half a LU quieter
than its input on speech, which would cost a second full encode every time; a 30 s excerpt measures that first.
(A single linear ``loudnorm`` pass can silently land over 1 LU short when its own true-peak ceiling binds.)

Where a cold narration's time went (seed summary, Piper): 8 full ffmpeg passes — 6 meters with true peak (192 kHz
oversampling) and 2 encodes, the second only for LAME's loudness offset — with the limiter at 176.4 kHz in 4 of them.
Now: one loudness meter, one limiter trial (usually), a 30 s excerpt, one encode, one measurement of the MP3.
"""

from __future__ import annotations

import contextlib
import re
import warnings
import wave
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.atomic import TEMP_PREFIX
from pipeline.errors import MediaError
from pipeline.ffmpeg import FFmpeg, ProgressCallback
from pipeline.narration.timeline import ChapterMark, Layout

with warnings.catch_warnings():  # pydub warns at import when ffmpeg is not on PATH; we never let it run ffmpeg
    warnings.simplefilter("ignore", RuntimeWarning)
    from pydub import AudioSegment


@dataclass(frozen=True)
class MasteringTarget:
    integrated_lufs: float = -16.0
    true_peak_dbtp: float = -1.0  # ceiling for the final MP3
    headroom_db: float = 0.6  # aim this far under the ceiling before MP3 encoding (encoding adds peaks)
    sample_rate: int = 44100
    bitrate_kbps: int = 128


AIM_LU = 0.3  # mastering aims this close to the integrated target ...
TOLERANCE_LU = 1.0  # ... and accepts this (the podcast contract: -16 LUFS ±1) when the peak ceiling fights it


@dataclass(frozen=True)
class Loudness:
    integrated_lufs: float
    true_peak_dbtp: float
    lra: float = 0.0


@dataclass(frozen=True)
class Solution:
    """How a narration was mastered: the filter chain before the gain (resampling, limiter) and the gain."""

    chain: str
    gain_db: float

    @property
    def filters(self) -> str:
        return f"{self.chain},volume={self.gain_db:.3f}dB"


def assemble(samples: Iterable[np.ndarray], placed: Layout, wav_path: Path) -> None:
    """Write each sentence's int16 mono samples into a WAV file, with the silences of ``placed`` between them.

    The audio is written from the same layout the timeline is built from, so word times match it to the frame.
    Written piece by piece so memory stays bounded however long the summary is.
    """
    rate = placed.rate
    with wave.open(str(wav_path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(_silence(placed.lead_in, rate).raw_data)
        count = 0
        for piece, length, pause in zip(samples, placed.lengths, placed.pause_after, strict=False):
            if len(piece) != length:
                raise MediaError(f"sentence audio of {len(piece)} frames laid out as {length}")
            segment = AudioSegment(piece.astype(np.int16).tobytes(), frame_rate=rate, sample_width=2, channels=1)
            out.writeframes((segment + _silence(pause, rate)).raw_data)
            count += 1
    if count != len(placed.lengths):
        raise MediaError(f"{count} sentences of audio for a layout of {len(placed.lengths)}")


def _silence(frames: int, rate: int) -> AudioSegment:
    return AudioSegment(b"\0\0" * frames, frame_rate=rate, sample_width=2, channels=1)


def master(
    ffmpeg: FFmpeg,
    wav_path: Path,
    mp3_path: Path,
    target: MasteringTarget = MasteringTarget(),
    progress: ProgressCallback | None = None,
    start: Solution | None = None,
) -> tuple[Loudness, Solution]:
    """Master ``wav_path`` to ``mp3_path`` (mono CBR MP3) at the target loudness; return the measured result
    and the solution that got there.

    Pass 1 measures; pass 2 applies a linear gain (after the limiter, when one is needed) and encodes; the MP3 is
    then measured again and re-encoded if it missed: with a corrected gain, or — when encoding pushed the true peak
    over the ceiling — with more headroom and a re-solved limiter. ``start`` (the solution of an earlier version
    of this narration, e.g. before a one-sentence edit) is tried first: if its MP3 measures on target, the
    measuring passes are skipped; if not, it only cost one encode.
    """
    if start is not None:
        with contextlib.suppress(MediaError):  # a stale or foreign solution: solve from scratch below
            _encode(ffmpeg, wav_path, mp3_path, start.filters, target, progress)
            result = measure(ffmpeg, mp3_path)
            if _on_target(result, target):
                return result, start
    first = _first_look(ffmpeg, wav_path)  # pass 1
    if first.integrated_lufs < -70:
        raise MediaError("the narration is silent: nothing to master")
    headroom = target.headroom_db
    solution = plan_solution(ffmpeg, wav_path, target, first, headroom)
    solution = Solution(solution.chain, solution.gain_db + _codec_offset(ffmpeg, wav_path, mp3_path, solution, target))
    kept = mp3_path.with_name(f"{TEMP_PREFIX}kept-{mp3_path.name}")  # hidden; a later run clears it if killed
    kept_result: tuple[Loudness, Solution] | None = None
    result = first
    try:
        for _attempt in range(4):  # pass 2, checked on the MP3 itself
            _encode(ffmpeg, wav_path, mp3_path, solution.filters, target, progress)
            result = measure(ffmpeg, mp3_path)
            miss = target.integrated_lufs - result.integrated_lufs
            over = result.true_peak_dbtp - target.true_peak_dbtp
            if _on_target(result, target):
                return result, solution
            if over <= 0 and abs(miss) <= TOLERANCE_LU and kept_result is None:
                mp3_path.replace(kept)  # within the contract: keep it while trying for the aim
                kept_result = result, solution
            if over > 0:  # encoding added more peak than the headroom allowed: limit harder, then re-solve
                headroom += over + 0.2
                solution = plan_solution(ffmpeg, wav_path, target, first, headroom)
            else:
                solution = Solution(solution.chain, solution.gain_db + miss)
        if kept_result is not None:
            kept.replace(mp3_path)
            return kept_result
    finally:
        kept.unlink(missing_ok=True)
    raise MediaError(
        f"mastering missed its target: {result.integrated_lufs:.1f} LUFS, {result.true_peak_dbtp:.1f} dBTP"
    )


# Inter-sample peaks of the resampled master over the source's sample peak, allowed for when deciding whether a
# gain alone keeps the ceiling (the MP3's true peak is measured afterwards either way).
INTER_SAMPLE_DB = 0.6
_EXCERPT_SECONDS = 30.0


def _first_look(ffmpeg: FFmpeg, wav_path: Path) -> Loudness:
    """Integrated loudness by the meter (without its true-peak oversampling, most of a pass's cost) and the peak
    from the samples themselves, read in blocks, plus the inter-sample allowance."""
    loudness = measure(ffmpeg, wav_path, peak=False)
    peak = 0
    with wave.open(str(wav_path), "rb") as source:
        while block := source.readframes(1 << 20):
            samples = np.frombuffer(block, dtype="<i2")
            peak = max(peak, int(np.abs(samples.astype(np.int32)).max(initial=0)))
    peak_db = 20 * np.log10(peak / 32768) if peak else -120.0
    return Loudness(loudness.integrated_lufs, float(peak_db) + INTER_SAMPLE_DB, loudness.lra)


def _codec_offset(ffmpeg: FFmpeg, wav_path: Path, mp3_path: Path, solution: Solution, target: MasteringTarget) -> float:
    """How much louder the input must be for the MP3 to land on the target: LAME at 128 kbps measures up to half a
    LU under its input on speech. Measured on a 30 s excerpt from the middle (one encode that also meters its
    input, one measurement of the excerpt's MP3), so the full encode lands at the first attempt. 0 for short
    narrations, where a second full encode costs little."""
    with wave.open(str(wav_path), "rb") as source:
        duration = source.getnframes() / source.getframerate()
    if duration < 3 * _EXCERPT_SECONDS:
        return 0.0
    excerpt = mp3_path.with_name(f"{TEMP_PREFIX}excerpt-{mp3_path.name}")
    window = ["-ss", f"{duration / 2 - _EXCERPT_SECONDS / 2:.3f}", "-t", f"{_EXCERPT_SECONDS:.3f}"]
    try:
        stderr = ffmpeg.run(
            [*window, "-i", wav_path, "-filter_complex",
             f"[0:a]{solution.filters},asplit=2[encode][meter];[meter]ebur128=framelog=quiet,anullsink",
             "-map", "[encode]", "-ar", str(target.sample_rate), "-ac", "1", "-c:a", "libmp3lame",
             "-b:a", f"{target.bitrate_kbps}k", excerpt],
            what="measuring the MP3 encoder on an excerpt",
        )  # fmt: skip
        before = _EBU_I.search(stderr[stderr.rfind("Summary:") :])
        after = measure(ffmpeg, excerpt, peak=False)
    finally:
        excerpt.unlink(missing_ok=True)
    if before is None:
        return 0.0
    offset = float(before.group(1)) - after.integrated_lufs
    return offset if abs(offset) <= TOLERANCE_LU else 0.0  # beyond that the excerpt is not telling the truth


def _on_target(result: Loudness, target: MasteringTarget) -> bool:
    return (
        abs(target.integrated_lufs - result.integrated_lufs) <= AIM_LU
        and result.true_peak_dbtp <= target.true_peak_dbtp
    )


def plan_solution(
    ffmpeg: FFmpeg, wav_path: Path, target: MasteringTarget, first: Loudness, headroom: float
) -> Solution:
    """The solution that should land on the target with ``headroom`` dB under the peak ceiling."""
    goal_peak = target.true_peak_dbtp - headroom
    gain = target.integrated_lufs - first.integrated_lufs
    if first.true_peak_dbtp + gain <= goal_peak:
        return Solution(resampler(target.sample_rate), gain)
    return Solution(*_solve_limiter(ffmpeg, wav_path, target, goal_peak, gain))


def resampler(rate: int) -> str:
    """The resampling filter to ``rate``: SoX's resampler (band-limited, no imaging of a 24 kHz voice's band edge
    into the 44.1 kHz master), which ffmpeg's default swr interpolator approximates with a shorter filter."""
    return f"aresample={rate}:resampler=soxr"


def _source_rate(wav_path: Path, default: int) -> int:
    """The sample rate in a WAV file's ``fmt `` chunk (PCM or float; the ``wave`` module reads only PCM)."""
    with open(wav_path, "rb") as handle:
        head = handle.read(1 << 16)
    found = head.find(b"fmt ", 12)
    if head[:4] != b"RIFF" or found < 0 or len(head) < found + 16:
        return default
    return int.from_bytes(head[found + 12 : found + 16], "little") or default


def _solve_limiter(
    ffmpeg: FFmpeg, wav_path: Path, target: MasteringTarget, goal_peak: float, gain: float
) -> tuple[str, float]:
    """Find the limiter threshold L (dB, input scale) with L + gain(L) = goal_peak, and that gain.

    The peak ceiling binds before the loudness target, so peaks are limited first — at 4x the output rate, so
    sample peaks stand for true peaks. Limiting lowers the loudness, which raises the gain needed afterwards:
    the threshold and the gain are solved together by a secant iteration (2–3 measurements).
    """
    limit = goal_peak - gain
    tried: list[tuple[float, float]] = []  # (threshold, residual)
    chain = ""
    source_rate = _source_rate(wav_path, target.sample_rate)
    for _step in range(5):
        limit = max(limit, -23.9)  # alimiter accepts down to 0.0625 (-24 dB)
        chain = _limiter(limit, source_rate, target.sample_rate)
        # Only the loudness after limiting matters here (the limiter sets the peaks): no true-peak meter, whose
        # 192 kHz oversampling is most of a measuring pass's cost.
        gain = target.integrated_lufs - measure(ffmpeg, wav_path, chain, peak=False).integrated_lufs
        residual = goal_peak - gain - limit  # > 0: headroom left; < 0: peaks would pass the ceiling
        if -0.05 <= residual <= 0.4:
            break
        if not tried and -0.5 <= residual < -0.05:
            # Nearly there: limit that much harder and keep the gain. Limiting 0.5 dB more costs well under the
            # aim's 0.3 LU of loudness, and the MP3 is measured anyway; this saves a whole measuring pass.
            limit += residual
            chain = _limiter(max(limit, -23.9), source_rate, target.sample_rate)
            break
        tried.append((limit, residual))
        if len(tried) >= 2 and tried[-1][1] != tried[-2][1]:
            (l0, r0), (l1, r1) = tried[-2], tried[-1]
            limit = l1 - r1 * (l1 - l0) / (r1 - r0)
        else:
            limit += residual
    return chain, gain


def _limiter(limit_db: float, source_rate: int, rate: int) -> str:
    """Peak limiting at 4x the source rate (sample peaks there stand for true peaks), then to ``rate``."""
    return (
        f"aresample={source_rate * 4}:resampler=soxr,"
        f"alimiter=limit={10 ** (limit_db / 20):.5f}:attack=1:release=50:level=false:latency=true,"
        f"{resampler(rate)}"
    )


def _encode(
    ffmpeg: FFmpeg,
    source: Path,
    mp3_path: Path,
    chain: str,
    target: MasteringTarget,
    progress: ProgressCallback | None,
) -> None:
    ffmpeg.run(
        [
            "-i",
            source,
            "-af",
            chain,
            "-ar",
            str(target.sample_rate),
            "-ac",
            "1",
            "-c:a",
            "libmp3lame",
            "-b:a",
            f"{target.bitrate_kbps}k",
            "-map_metadata",
            "-1",
            "-id3v2_version",
            "4",
            "-write_xing",
            "1",
            mp3_path,
        ],
        progress=progress,
        what="mastering the narration",
    )


_EBU_I = re.compile(r"Integrated loudness:\s*I:\s*(-?[\d.]+|-inf) LUFS.*?LRA:\s*(-?[\d.]+) LU", re.S)
_EBU_PEAK = re.compile(r"True peak:\s*Peak:\s*(-?[\d.]+|-inf) dBFS", re.S)


def measure(ffmpeg: FFmpeg, path: Path, chain: str = "", peak: bool = True) -> Loudness:
    """Integrated loudness and true peak of a file (after ``chain``, if given), by ffmpeg's EBU R128 meter.
    With ``peak=False`` the true peak is not measured (reported as -inf)."""
    meter = "ebur128=peak=true:framelog=quiet" if peak else "ebur128=framelog=quiet"
    stderr = ffmpeg.run(
        ["-i", path, "-af", f"{chain},{meter}" if chain else meter, "-f", "null", "-"], what="measuring loudness"
    )
    summary = stderr[stderr.rfind("Summary:") :]
    loud, found_peak = _EBU_I.search(summary), _EBU_PEAK.search(summary)
    if not loud or (peak and not found_peak):
        raise MediaError(f"could not read the loudness of {path}")
    true_peak = float(found_peak.group(1)) if peak and found_peak else float("-inf")
    return Loudness(float(loud.group(1)), true_peak, float(loud.group(2)))


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
