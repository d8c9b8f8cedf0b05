"""Audio: assemble sentence audio with structural pauses (pydub), master it, export MP3 with ID3 tags.

Mastering follows "measure, don't trust" (DESIGN.md): pass 1 measures with ``loudnorm``; when the gain needed to
reach the target would push the true peak over the ceiling, a limiter at 4× oversampling (so sample peaks
approximate true peaks) runs first; pass 2 applies ``loudnorm`` in linear mode with the measured values. The
encoded MP3 is then measured independently with ``ebur128=peak=true`` and corrected once if it missed.
"""

from __future__ import annotations

import json
import math
import re
import warnings
import wave
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import MediaError
from .ffmpeg import FFmpeg, ProgressCallback

with (
    warnings.catch_warnings()
):  # pydub warns at import when ffmpeg is not on PATH; we never let it run ffmpeg
    warnings.simplefilter("ignore", RuntimeWarning)
    from pydub import AudioSegment


@dataclass(frozen=True)
class Pauses:
    """Silence (seconds) added after each unit of text, and around the whole narration."""

    lead_in: float = 0.6
    sentence: float = 0.35
    paragraph: float = 0.8
    chapter: float = 1.6
    tail: float = 1.2


@dataclass(frozen=True)
class MasteringTarget:
    integrated_lufs: float = -16.0
    true_peak_dbtp: float = -1.0  # ceiling for the final MP3
    headroom_db: float = 0.6  # aim this far under the ceiling before MP3 encoding (encoding adds peaks)
    sample_rate: int = 44100
    bitrate_kbps: int = 128


@dataclass(frozen=True)
class Loudness:
    integrated_lufs: float
    true_peak_dbtp: float
    lra: float = 0.0


@dataclass(frozen=True)
class Piece:
    """One sentence's audio and the pause that follows it."""

    samples: np.ndarray  # int16 mono
    sample_rate: int
    pause_after: float


def assemble(pieces: Iterable[Piece], wav_path: Path, lead_in: float) -> list[float]:
    """Write the pieces with their pauses into a WAV file; return each piece's start time in seconds.

    Written piece by piece so memory stays bounded however long the summary is.
    """
    starts: list[float] = []
    position = 0
    rate: int | None = None
    with wave.open(str(wav_path), "wb") as out:
        for piece in pieces:
            if rate is None:
                rate = piece.sample_rate
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(rate)
                lead = AudioSegment.silent(duration=lead_in * 1000, frame_rate=rate)
                out.writeframes(lead.raw_data)
                position += len(lead.raw_data) // 2
            if piece.sample_rate != rate:
                raise MediaError(f"sentence audio at {piece.sample_rate} Hz among {rate} Hz audio")
            segment = AudioSegment(piece.samples.tobytes(), frame_rate=rate, sample_width=2, channels=1)
            starts.append(position / rate)
            pause = AudioSegment.silent(duration=piece.pause_after * 1000, frame_rate=rate)
            out.writeframes(segment.raw_data + pause.raw_data)
            position += (len(segment.raw_data) + len(pause.raw_data)) // 2
        if rate is None:
            raise MediaError("nothing to assemble: no sentence audio")
    return starts


def master(
    ffmpeg: FFmpeg,
    wav_path: Path,
    mp3_path: Path,
    target: MasteringTarget = MasteringTarget(),
    progress: ProgressCallback | None = None,
) -> Loudness:
    """Master ``wav_path`` to ``mp3_path`` (mono CBR MP3) at the target loudness; return the measured result."""
    goal_peak = target.true_peak_dbtp - target.headroom_db
    first = _loudnorm_measure(ffmpeg, wav_path)  # pass 1
    gain = target.integrated_lufs - first["input_i"]
    chain = f"aresample={target.sample_rate}"
    limit_db = goal_peak - gain
    for _step in range(5):
        if first["input_tp"] <= limit_db:
            break
        # The peak ceiling binds before the loudness target: limit peaks first, at 4x the output rate so sample
        # peaks stand for true peaks. Limiting lowers the loudness, which raises the gain needed afterwards, so
        # the limit and the gain are solved together: limit = ceiling - gain(limit), a few steps converge.
        chain = _limiter(max(limit_db, -23.9), target.sample_rate)  # alimiter accepts down to -24 dB
        gain = target.integrated_lufs - _loudnorm_measure(ffmpeg, wav_path, chain)["input_i"]
        if goal_peak - gain >= limit_db - 0.1:
            break
        limit_db = goal_peak - gain
    result = Loudness(0.0, 0.0)
    for _attempt in range(3):  # pass 2: linear gain, then measure the MP3 itself and correct if it missed
        _encode(ffmpeg, wav_path, mp3_path, f"{chain},volume={gain:.3f}dB", target, progress)
        result = measure(ffmpeg, mp3_path)
        miss = target.integrated_lufs - result.integrated_lufs
        over = result.true_peak_dbtp - target.true_peak_dbtp
        if abs(miss) <= 0.3 and over <= 0:
            return result
        gain += miss if over <= 0 else -over - 0.2
    raise MediaError(
        f"mastering missed its target: {result.integrated_lufs:.1f} LUFS, {result.true_peak_dbtp:.1f} dBTP"
    )


def _limiter(limit_db: float, rate: int) -> str:
    return (
        f"aresample={rate * 4},"
        f"alimiter=limit={10 ** (limit_db / 20):.5f}:attack=1:release=50:level=false:latency=true,"
        f"aresample={rate}"
    )


def _loudnorm_measure(ffmpeg: FFmpeg, path: Path, chain: str = "") -> dict[str, float]:
    stderr = ffmpeg.run(
        ["-i", path, "-af", (chain + "," if chain else "") + "loudnorm=I=-16:TP=-1.5:LRA=11:print_format=json",
         "-f", "null", "-"],
        what="measuring loudness",
    )  # fmt: skip
    stats = _last_json(stderr)
    values = {
        k: float(stats[k]) for k in ("input_i", "input_tp", "input_lra", "input_thresh", "target_offset")
    }
    if not math.isfinite(values["input_i"]) or values["input_i"] < -70:
        raise MediaError("the narration is silent: nothing to master")
    return values


def _encode(
    ffmpeg: FFmpeg, source: Path, mp3_path: Path, chain: str, target: MasteringTarget,
    progress: ProgressCallback | None,
) -> None:  # fmt: skip
    ffmpeg.run(
        ["-i", source, "-af", chain, "-ar", str(target.sample_rate), "-ac", "1",
         "-c:a", "libmp3lame", "-b:a", f"{target.bitrate_kbps}k", "-map_metadata", "-1",
         "-id3v2_version", "4", "-write_xing", "1", mp3_path],
        progress=progress,
        what="mastering the narration",
    )  # fmt: skip


_EBU_I = re.compile(r"Integrated loudness:\s*I:\s*(-?[\d.]+|-inf) LUFS.*?LRA:\s*(-?[\d.]+) LU", re.S)
_EBU_PEAK = re.compile(r"True peak:\s*Peak:\s*(-?[\d.]+|-inf) dBFS", re.S)


def measure(ffmpeg: FFmpeg, path: Path) -> Loudness:
    """Integrated loudness and true peak of a file, by ffmpeg's EBU R128 meter (independent of loudnorm)."""
    stderr = ffmpeg.run(
        ["-i", path, "-af", "ebur128=peak=true:framelog=quiet", "-f", "null", "-"], what="measuring loudness"
    )
    summary = stderr[stderr.rfind("Summary:") :]
    loud, peak = _EBU_I.search(summary), _EBU_PEAK.search(summary)
    if not loud or not peak:
        raise MediaError(f"could not read the loudness of {path}")
    return Loudness(float(loud.group(1)), float(peak.group(1)), float(loud.group(2)))


def _last_json(text: str) -> dict[str, str]:
    start = text.rfind("{")
    end = text.rfind("}")
    if start < 0 or end < start:
        raise MediaError("loudnorm printed no measurement")
    return json.loads(text[start : end + 1])


@dataclass(frozen=True)
class Tags:
    title: str
    artist: str
    album: str
    year: int | None
    genre: str = "Podcast"
    comment: str = ""


@dataclass(frozen=True)
class ChapterTag:
    title: str
    start: float
    end: float


def write_tags(mp3_path: Path, tags: Tags, cover_jpeg: bytes | None, chapters: list[ChapterTag]) -> None:
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
    id3.add(CTOC(element_id="toc", flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED, child_element_ids=ids,
                 sub_frames=[TIT2(encoding=3, text="Chapters")]))  # fmt: skip
    for element_id, chapter in zip(ids, chapters, strict=True):
        id3.add(CHAP(element_id=element_id, start_time=int(round(chapter.start * 1000)),
                     end_time=int(round(chapter.end * 1000)), sub_frames=[TIT2(encoding=3, text=chapter.title)]))  # fmt: skip
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
