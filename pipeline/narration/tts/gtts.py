"""gTTS (Google Translate's voice, online). Each sentence is spoken in caption-sized chunks, one request each.

gTTS returns MP3 with no timing information. Synthesising per chunk makes timings exact at chunk edges; within a
chunk the voiced region (leading and trailing silence trimmed) is shared among its tokens by letter count. Any
network failure becomes ``EngineOfflineError`` quickly (``timeout`` bounds connect and read).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.errors import EngineOfflineError
from pipeline.ffmpeg import FFmpeg
from pipeline.narration.tts.engine import Synthesis

SAMPLE_RATE = 24000  # gTTS MP3s are 24 kHz mono
CHUNK_CHARS = 42  # one caption line: short enough for exact edges, long enough for natural prosody
_CLAUSE_END = re.compile(r"[,;:.!?…—]$")


@dataclass
class GttsEngine:
    name = "gtts"
    ffmpeg: FFmpeg
    timeout: float = 10.0
    lang: str = "en"
    tld: str = "com"
    endpoint: str | None = None  # another URL for the batchexecute API (tests use a loopback server)

    def identity(self) -> dict[str, Any]:
        return identity(self.lang, self.tld)

    def synthesize(self, tokens: Sequence[str]) -> Synthesis:
        pieces: list[np.ndarray] = []
        times: list[tuple[float, float]] = [(0.0, 0.0)] * len(tokens)
        offset = 0
        for chunk in _chunks(tokens):
            text = " ".join(tokens[i] for i in chunk)
            if not any(ch.isalnum() for ch in text):
                for i in chunk:
                    times[i] = (offset / SAMPLE_RATE,) * 2
                continue
            samples = self._speak(text)
            first, last = _voiced_region(samples)
            weights = [sum(ch.isalnum() for ch in tokens[i]) for i in chunk]
            total = sum(weights) or 1
            cursor = float(first)
            for i, weight in zip(chunk, weights, strict=True):
                span = (last - first) * weight / total
                times[i] = ((offset + cursor) / SAMPLE_RATE, (offset + cursor + span) / SAMPLE_RATE)
                cursor += span
            pieces.append(samples)
            offset += len(samples)
        audio = np.concatenate(pieces) if pieces else np.zeros(0, np.int16)
        return Synthesis(audio, SAMPLE_RATE, tuple(times))

    def _speak(self, text: str) -> np.ndarray:
        from gtts import gTTS
        from gtts.tts import gTTSError

        class _Endpoint(gTTS):  # type: ignore[misc]
            def _prepare_requests(inner: Any) -> Any:
                requests = super()._prepare_requests()
                if self.endpoint:
                    for request in requests:
                        request.prepare_url(self.endpoint, None)
                return requests

        tts = _Endpoint(text, lang=self.lang, tld=self.tld, lang_check=False, timeout=self.timeout)
        try:
            mp3 = b"".join(tts.stream())
        except gTTSError as exc:
            reason = str(exc).split(". Probable cause")[0]
            raise EngineOfflineError(f"gTTS needs internet access ({reason}); use --engine hibari") from exc
        except Exception as exc:  # requests' own errors can escape gTTS's wrapping (e.g. bad chunked data)
            raise EngineOfflineError(f"gTTS needs internet access ({type(exc).__name__}); use --engine hibari") from exc
        if not mp3:
            raise EngineOfflineError("gTTS needs internet access (empty answer from the service); use --engine hibari")
        pcm = self.ffmpeg.pipe(
            ["-f", "mp3", "-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar", str(SAMPLE_RATE), "pipe:1"],
            mp3,
            what="decoding gTTS audio",
        )
        return np.frombuffer(pcm, dtype=np.int16).copy()


def identity(lang: str = "en", tld: str = "com") -> dict[str, Any]:
    return {"engine": "gtts", "lang": lang, "tld": tld, "chunk": CHUNK_CHARS}


def _chunks(tokens: Sequence[str]) -> list[list[int]]:
    """Group token indices into runs of at most ``CHUNK_CHARS``, preferring to end a run at a clause break."""
    chunks: list[list[int]] = []
    current: list[int] = []
    length = 0
    for i, token in enumerate(tokens):
        extra = len(token) + (1 if current else 0)
        if current and length + extra > CHUNK_CHARS:
            # Move back to the last clause break in the run if there is one reasonably far in.
            cut = max((k for k, j in enumerate(current) if _CLAUSE_END.search(tokens[j])), default=-1)
            if cut >= len(current) // 2:
                chunks.append(current[: cut + 1])
                current = current[cut + 1 :]
            else:
                chunks.append(current)
                current = []
            length = len(" ".join(tokens[j] for j in current))
            extra = len(token) + (1 if current else 0)
        current.append(i)
        length += extra
    if current:
        chunks.append(current)
    return chunks


def _voiced_region(samples: np.ndarray, threshold: float = 0.02, frame: int = 240) -> tuple[int, int]:
    """First and last sample of the part above ``threshold`` of full scale (10 ms frames)."""
    if len(samples) == 0:
        return 0, 0
    peak = 32768 * threshold
    frames = len(samples) // frame
    if frames == 0:
        return 0, len(samples)
    levels = np.abs(samples[: frames * frame].astype(np.int32)).reshape(frames, frame).max(axis=1)
    loud = np.nonzero(levels > peak)[0]
    if len(loud) == 0:
        return 0, len(samples)
    return int(loud[0] * frame), int(min(len(samples), (loud[-1] + 1) * frame))
