"""The engine interface: what every text-to-speech engine takes (speech tokens) and gives (a ``Synthesis``), and how
an engine cuts a long sentence into parts it can say with bounded memory."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class Synthesis:
    samples: np.ndarray  # int16, mono
    sample_rate: int
    token_times: tuple[tuple[float, float], ...]  # one per speech token, seconds from the first sample

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


class Engine(Protocol):
    name: str

    def identity(self) -> dict[str, Any]:
        """Everything about the engine that changes its output (goes into the cache key)."""
        ...

    def synthesize(self, tokens: Sequence[str]) -> Synthesis: ...


# A voice's memory grows with what it says at once (Piper: about 10-20 MB per second of speech, in its decoder), so
# a sentence longer than this many tokens is said in parts: ~100 MB more at most, where a 400-word run-on took 3 GB.
MAX_PART_TOKENS = 32
_CLAUSE_END = (",", ";", ":", "—", "–", ")")


def sentence_parts(tokens: Sequence[str], limit: int = MAX_PART_TOKENS) -> list[Sequence[str]]:
    """Cut a long sentence's tokens into parts of at most ``limit``: after the last clause punctuation in the
    second half of the window that leaves a real part behind (where a reader would breathe), else into equal
    lengths."""
    parts: list[Sequence[str]] = []
    start = 0
    while len(tokens) - start > limit:
        window = range(start + limit - 1, start + limit // 2 - 1, -1)
        cut = next(
            (i + 1 for i in window if tokens[i].rstrip().endswith(_CLAUSE_END) and len(tokens) - i > limit // 4),
            None,
        )
        if cut is None:
            remaining = len(tokens) - start
            count = -(-remaining // limit)
            cut = start + -(-remaining // count)
        parts.append(tokens[start:cut])
        start = cut
    parts.append(tokens[start:])
    return parts


SayPart = Callable[[Sequence[str]], tuple[np.ndarray, list[tuple[int, int]]]]
"""An engine's own synthesis of a few tokens: int16 samples and each token's (first, end) sample."""


def said_in_parts(tokens: Sequence[str], say: SayPart, rate: int) -> Synthesis:
    """A sentence said part by part (``sentence_parts``) and joined, its token times continuous across parts."""
    audio_parts: list[np.ndarray] = []
    times: list[tuple[int, int]] = []
    offset = 0
    for part in sentence_parts(tokens):
        audio, spans = say(part)
        times.extend((offset + start, offset + end) for start, end in spans)
        audio_parts.append(audio)
        offset += len(audio)
    audio = np.concatenate(audio_parts) if audio_parts else np.zeros(0, np.int16)
    return Synthesis(audio, rate, tuple((start / rate, end / rate) for start, end in times))
