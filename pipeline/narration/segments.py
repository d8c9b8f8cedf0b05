"""The narration's MP3 made in segments: each stretch between long pauses encoded on its own, cached, joined.

Why: a one-sentence edit should encode one paragraph again, not the whole narration (LAME is most of a cold
narration's mastering time), and a cold render encodes its segments on both cores.

How the join stays exact. An MP3 frame holds 1152 samples (``GRID``). The layout (``timeline.layout`` with a grid)
starts each segment on a multiple of the grid, in the pause before a paragraph, and ends the previous one a grid
step earlier. Given n·1152 samples, LAME writes exactly n + 1 frames, whose first 1105 decoded samples are its
priming (encoder delay 576 + decoder delay 529). So a segment whose span is (n + 1)·1152 is encoded from its first
n·1152 samples, and its n + 1 frames, laid after the previous segments' frames, decode where the layout puts them:
the decoder trims the first stream's priming (the LAME tag's delay), and each later stream's priming fills the
silent grid step it stands in for. Every stream starts with an empty bit reservoir, so no frame refers across a
join. ffmpeg rewrites the Info header over the joined frames (frame count, seek table, CRCs); the end padding is
then set to the last stream's, so the MP3 decodes to the layout's length exactly.

Cached per segment and mastering solution: the encoded stream and the measurement of its decoded audio (loudness
steps and true peak), so the whole MP3 is measured from encoded audio without decoding unchanged segments again;
and per limiter threshold, its loudness steps after the limiter, so an edit can check that the previous solution
still holds without measuring the unchanged segments again.
"""

from __future__ import annotations

import concurrent.futures
import functools
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.cache import Cache, content_key
from pipeline.errors import MediaError
from pipeline.ffmpeg import FFmpeg
from pipeline.narration.audio import (
    TOLERANCE_LU,
    MasteringTarget,
    Plan,
    Solution,
    Verdict,
    decode,
    predicts_target,
    solve,
)
from pipeline.narration.loudness import Loudness, k_weighted_power, loudness_of_steps, step_sums, true_peak
from pipeline.narration.timeline import Layout

STAGE = "segment/1"
GRID = 1152  # samples in an MPEG-1 Layer III frame
_INFO_AT = 4 + 17  # the Info tag in a mono MPEG-1 frame: after the header and the side information
_MPEG1_RATES = {44100: 0, 48000: 1, 32000: 2}
_BITRATES = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)


@dataclass(frozen=True)
class Segment:
    """A stretch of the narration encoded as one MP3 stream."""

    key: str  # its content: sentences, their places, the resampler
    sentences: range
    start: int  # first sample in the narration (a multiple of GRID)
    samples: int  # samples encoded (a multiple of GRID); the stream is one frame longer


@dataclass(frozen=True)
class Encoded:
    """A segment's MP3 stream and the measurement of its decoded audio."""

    mp3: bytes
    steps: np.ndarray  # K-weighted power per 100 ms step
    peak_db: float  # true peak


def split(placed: Layout, sentence_keys: Sequence[str], resampler: str) -> list[Segment]:
    """The segments of a layout made with ``grid=GRID``."""
    if placed.grid != GRID:
        raise MediaError(f"the narration is laid out on a grid of {placed.grid}, not an MP3 frame's {GRID}")
    bounds = [(0, 0), *placed.segments, (len(placed.lengths), placed.total + GRID)]
    segments = []
    for (first, start), (last, next_start) in zip(bounds, bounds[1:], strict=False):
        sentences = range(first, last)
        key = content_key(
            STAGE, resampler, placed.rate, next_start - start,
            [(sentence_keys[i], placed.starts[i] - start) for i in sentences],
        )  # fmt: skip
        segments.append(Segment(key, sentences, start, next_start - start - GRID))
    return segments


def master_segments(
    segments: Sequence[Segment],
    audio: Callable[[Segment], np.ndarray],
    mp3_path: Path,
    target: MasteringTarget,
    ffmpeg: FFmpeg,
    cache: Cache,
    start: Solution | None = None,
    progress: Callable[[float], None] | None = None,
) -> tuple[Loudness, Solution]:
    """Master the narration made of ``segments`` (``audio`` gives a segment's samples at the target's rate) to
    ``mp3_path``: one solution for all of it, each segment encoded once per solution, the MP3 measured from its
    segments' decoded audio and joined. Returns the MP3's loudness and the solution."""
    rate = target.sample_rate
    if rate not in _MPEG1_RATES:
        raise MediaError(f"segmented MP3 needs an MPEG-1 rate (32, 44.1 or 48 kHz), not {rate} Hz")
    plans: dict[int, Plan] = {}

    def plan(index: int) -> Plan:
        if index not in plans:
            plans[index] = Plan.of(functools.partial(audio, segments[index]), rate)
        return plans[index]

    try:
        return _master(segments, plan, plans, mp3_path, target, ffmpeg, cache, start, progress)
    except _Unaligned:
        if len(segments) == 1:
            raise
    # This ffmpeg's LAME frames a stream differently (an explicit ffmpeg of another build): one stream, no joins.
    whole = Segment(
        content_key(STAGE, "whole", [segment.key for segment in segments]),
        range(segments[0].sentences.start, segments[-1].sentences.stop),
        0,
        segments[-1].start + segments[-1].samples,
    )
    return master_segments([whole], audio, mp3_path, target, ffmpeg, cache, None, progress)


class _Unaligned(MediaError):
    """The encoder did not frame a segment as the joins need."""


def _master(
    segments: Sequence[Segment], plan: Callable[[int], Plan], plans: dict[int, Plan], mp3_path: Path,
    target: MasteringTarget, ffmpeg: FFmpeg, cache: Cache, start: Solution | None,
    progress: Callable[[float], None] | None,
) -> tuple[Loudness, Solution]:  # fmt: skip
    rate = target.sample_rate
    solution = start if start is not None and _still_holds(start, segments, plan, target, cache) else None
    if solution is None:
        solution = solve([plan(i) for i in range(len(segments))], target, target.headroom_db)
        solution = _with_encoder_offset(solution, segments, plan, target, ffmpeg, cache)
    headroom = target.headroom_db
    for _attempt in range(4):
        solution = solution.rounded()  # segments are cached by it; an edit reads it back from render.json
        encoded = _encode_all(segments, plan, solution, target, ffmpeg, cache, progress)
        result = Loudness(
            loudness_of_steps(np.concatenate([e.steps for e in encoded]), rate), max(e.peak_db for e in encoded)
        )
        verdict = Verdict.of(result, target)
        if verdict.on_target or (verdict.acceptable and _attempt == 3):
            _join([e.mp3 for e in encoded], mp3_path, ffmpeg)
            for index, measured in plans.items():  # what the next edit checks this solution against
                _limited_steps(segments[index], measured, solution.limit_db, cache)
            return result, solution
        solution, headroom = verdict.next_try(solution, [plan(i) for i in range(len(segments))], target, headroom)
    raise MediaError(
        f"mastering missed its target: {result.integrated_lufs:.1f} LUFS, {result.true_peak_dbtp:.1f} dBTP"
    )


def _still_holds(
    solution: Solution, segments: Sequence[Segment], plan: Callable[[int], Plan], target: MasteringTarget,
    cache: Cache,
) -> bool:  # fmt: skip
    """Whether an earlier solution still lands this narration on target (only changed segments are measured)."""
    limited = [
        _limited_steps(segment, functools.partial(plan, index), solution.limit_db, cache)
        for index, segment in enumerate(segments)
    ]
    return predicts_target(limited, target.sample_rate, solution, target)


def _limited_steps(
    segment: Segment, measured: Plan | Callable[[], Plan], limit_db: float | None, cache: Cache
) -> np.ndarray:
    """A segment's loudness steps after the limiter at ``limit_db``, from the cache or measured (and cached)."""
    key = content_key(STAGE, "limited", segment.key, limit_db)
    found = cache.get("segment", key, ".npy")
    steps = _load_steps(found) if found is not None else None
    if steps is None:
        steps = (measured if isinstance(measured, Plan) else measured()).limited_steps(limit_db)
        cache.put_bytes("segment", key, ".npy", _steps_bytes(steps))
    return steps


def _with_encoder_offset(
    solution: Solution, segments: Sequence[Segment], plan: Callable[[int], Plan], target: MasteringTarget,
    ffmpeg: FFmpeg, cache: Cache,
) -> Solution:  # fmt: skip
    """The solution with its gain raised by what LAME takes away (up to half a LU on speech), measured on the
    longest segment: encoded at this solution, decoded and compared with what went in."""
    longest = max(range(len(segments)), key=lambda i: segments[i].samples)
    if segments[longest].samples < 10 * target.sample_rate:
        return solution  # too short to tell; the measurement of the MP3 corrects it
    encoded = _encode_one(segments[longest], plan(longest), solution, target, ffmpeg, cache)
    before = loudness_of_steps(plan(longest).limited_steps(solution.limit_db), target.sample_rate)
    offset = before + solution.gain_db - loudness_of_steps(encoded.steps, target.sample_rate)
    if abs(offset) > TOLERANCE_LU:
        return solution  # the excerpt is not telling the truth
    return solve([plan(i) for i in range(len(segments))], target, target.headroom_db, offset)


def _encode_all(
    segments: Sequence[Segment], plan: Callable[[int], Plan], solution: Solution, target: MasteringTarget,
    ffmpeg: FFmpeg, cache: Cache, progress: Callable[[float], None] | None,
) -> list[Encoded]:  # fmt: skip
    """Every segment encoded at ``solution``: from the cache, or two at a time (one ffmpeg per core)."""
    done = 0.0
    results: dict[int, Encoded] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {}
        for index, segment in enumerate(segments):
            cached = _cached(segment, solution, target, cache)
            if cached is not None:
                results[index] = cached
                continue
            # Mastered in the worker (numpy lets go of the GIL), so only two segments' samples are in memory.
            work = functools.partial(_encode_one, segment, plan(index), solution, target, ffmpeg, cache)
            futures[pool.submit(work)] = index
        for future in concurrent.futures.as_completed(futures):
            index = futures[future]
            results[index] = future.result()
            done += segments[index].samples / target.sample_rate
            if progress is not None:
                progress(done)
    return [results[i] for i in range(len(segments))]


def _encode_one(
    segment: Segment, plan: Plan, solution: Solution, target: MasteringTarget, ffmpeg: FFmpeg, cache: Cache
) -> Encoded:
    cached = _cached(segment, solution, target, cache)
    return cached or _encode_samples(segment, plan.apply(solution), solution, target, ffmpeg, cache)


def _encoded_key(segment: Segment, solution: Solution, target: MasteringTarget) -> str:
    return content_key(STAGE, "mp3", segment.key, solution.limit_db, solution.gain_db, target)


def _cached(segment: Segment, solution: Solution, target: MasteringTarget, cache: Cache) -> Encoded | None:
    key = _encoded_key(segment, solution, target)
    mp3, meta = cache.get("segment", key, ".mp3"), cache.get_json("segment", key)
    if mp3 is None or meta is None:
        return None
    try:
        return Encoded(mp3.read_bytes(), np.asarray(meta["steps"], dtype=np.float64), float(meta["peak_db"]))
    except (OSError, KeyError, TypeError, ValueError):
        return None


def _encode_samples(
    segment: Segment, mastered: np.ndarray, solution: Solution, target: MasteringTarget, ffmpeg: FFmpeg, cache: Cache
) -> Encoded:
    """One segment's stream: encoded, decoded and measured (loudness steps, true peak), cached."""
    if len(mastered) != segment.samples or segment.samples % GRID:
        raise MediaError(f"a segment of {len(mastered)} samples where {segment.samples} were laid out")
    key = _encoded_key(segment, solution, target)
    with cache.scratch() as work:
        path = work / "segment.mp3"
        ffmpeg.run(
            ["-f", "f32le", "-ar", str(target.sample_rate), "-ac", "1", "-i", "pipe:0",
             "-c:a", "libmp3lame", "-b:a", f"{target.bitrate_kbps}k", "-map_metadata", "-1",
             "-id3v2_version", "0", "-write_xing", "1", "-f", "mp3", path],
            input_bytes=np.ascontiguousarray(mastered, dtype="<f4").tobytes(),
            what="encoding the narration",
        )  # fmt: skip
        mp3 = path.read_bytes()
        decoded = decode(ffmpeg, path, target.sample_rate)
    frames = _frame_offsets(mp3)
    if len(frames) != segment.samples // GRID + 2 or len(decoded) != segment.samples:  # Info frame + n + 1
        raise _Unaligned(
            f"the MP3 encoder framed the narration unexpectedly ({len(frames)} frames, {len(decoded)} samples "
            f"decoded for {segment.samples})"
        )
    steps = step_sums(k_weighted_power(decoded, target.sample_rate), target.sample_rate)
    encoded = Encoded(mp3, steps, true_peak(decoded, target.sample_rate))
    cache.put_bytes("segment", key, ".mp3", mp3)
    cache.put_json("segment", key, {"steps": steps.tolist(), "peak_db": _finite(encoded.peak_db)})
    return encoded


def _join(streams: Sequence[bytes], mp3_path: Path, ffmpeg: FFmpeg) -> None:
    """The segments' streams as one MP3: the first stream whole (its Info frame carries LAME's delay), the others'
    audio frames after it; ffmpeg then writes a fresh Info header for the whole, and its end padding is set to the
    last stream's, so the MP3 decodes to exactly the laid-out length."""
    joined = bytearray(streams[0])
    for stream in streams[1:]:
        joined += stream[_frame_offsets(stream)[1] :]  # without its Info frame
    raw = mp3_path.with_name(mp3_path.name + ".joined")
    try:
        raw.write_bytes(joined)
        ffmpeg.run(
            ["-i", raw, "-c:a", "copy", "-map_metadata", "-1", "-id3v2_version", "0", "-write_xing", "1",
             "-f", "mp3", mp3_path],
            what="joining the narration's segments",
        )  # fmt: skip
    finally:
        raw.unlink(missing_ok=True)
    padding = _delay_and_padding(streams[-1]) & 0xFFF
    with open(mp3_path, "r+b") as handle:
        head = bytearray(handle.read(190))  # the Info frame's part that the tag and its CRC cover
        lame = _lame_tag(head)
        head[lame + 21 : lame + 24] = ((_delay_and_padding(head) & 0xFFF000) | padding).to_bytes(3, "big")
        head[lame + 34 : lame + 36] = b"\0\0"  # the tag's CRC, as ffmpeg computes it: over these 190 bytes
        head[lame + 34 : lame + 36] = _crc16(bytes(head)).to_bytes(2, "big")
        handle.seek(0)
        handle.write(head)


def _frame_offsets(mp3: bytes) -> list[int]:
    """Where each MPEG-1 Layer III frame of a stream (without ID3 tags) starts."""
    offsets = []
    position = 0
    while position + 4 <= len(mp3):
        header = int.from_bytes(mp3[position : position + 4], "big")
        if header >> 21 != 0x7FF or (header >> 17) & 0xF != 0b1101:  # sync, MPEG-1, Layer III
            raise MediaError(f"not an MPEG-1 Layer III frame at byte {position}")
        bitrate = _BITRATES[(header >> 12) & 0xF] * 1000
        rate = next(r for r, i in _MPEG1_RATES.items() if i == (header >> 10) & 0x3)
        offsets.append(position)
        position += 144 * bitrate // rate + ((header >> 9) & 1)
    return offsets


def _lame_tag(data: bytes | bytearray) -> int:
    """Where the LAME tag of a stream's Info frame starts (the stream without ID3 tags, mono MPEG-1)."""
    flags = int.from_bytes(data[_INFO_AT + 4 : _INFO_AT + 8], "big")
    if data[_INFO_AT : _INFO_AT + 4] not in (b"Info", b"Xing") or flags & 0x7 != 0x7:
        raise _Unaligned("an MP3 stream without an Info header holding a frame count, a size and a seek table")
    return _INFO_AT + 8 + 4 + 4 + 100 + (4 if flags & 0x8 else 0)  # after frames, bytes, seek table, quality


def _delay_and_padding(data: bytes | bytearray) -> int:
    """The LAME tag's 24 bits of encoder delay (high 12) and end padding (low 12)."""
    lame = _lame_tag(data)
    return int.from_bytes(data[lame + 21 : lame + 24], "big")


def _crc16(data: bytes) -> int:
    """CRC-16 (polynomial 0x8005, reflected) as the LAME tag uses it."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def _steps_bytes(steps: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, steps.astype(np.float64), allow_pickle=False)
    return buffer.getvalue()


def _load_steps(path: Path) -> np.ndarray | None:
    try:
        return np.asarray(np.load(path, allow_pickle=False), dtype=np.float64)
    except (OSError, ValueError):
        return None


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
