"""Synthesis: each sentence's written words → speech tokens → audio with token times, cached by content.

A sentence is synthesised only when its spoken tokens, the engine or the voice changed; otherwise its audio and
token times come from the cache. The engine is opened lazily, so an unchanged summary never loads a voice.
"""

from __future__ import annotations

import concurrent.futures
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.cache import Cache, content_key
from pipeline.narration.document import Document
from pipeline.narration.lexicon import Lexicon
from pipeline.narration.speech import speech_words
from pipeline.narration.tts import Engine, Synthesis
from pipeline.progress import Progress, ProgressEvent, quiet

# Bump when synthesis output for the same inputs changes, so old cache entries are not reused.
STAGE = "speech/1"
LABEL = "Synthesising speech"


@dataclass(frozen=True)
class SpokenSentence:
    key: str  # the cache key of its synthesis
    synthesis: Synthesis
    word_tokens: tuple[range, ...]  # for each written word, the tokens that say it (empty: a silent word)
    synthesized: bool  # made in this run (not from the cache)


def sentence_tokens(words: tuple[str, ...], lexicon: Lexicon) -> tuple[list[str], tuple[range, ...]]:
    """The speech tokens of one sentence, and for each written word the range of tokens that say it."""
    tokens: list[str] = []
    ranges: list[range] = []
    for spoken in speech_words(words, lexicon):
        parts = spoken.split()
        ranges.append(range(len(tokens), len(tokens) + len(parts)))
        tokens.extend(parts)
    return tokens, tuple(ranges)


def speak(
    document: Document,
    lexicon: Lexicon,
    identity: dict[str, Any],
    open_engine: Callable[[], Engine],
    cache: Cache,
    progress: Progress = quiet,
    pronounce: Callable[[str], str | None] | None = None,
) -> list[SpokenSentence]:
    """Every sentence of ``document`` spoken, from the cache where possible. ``pronounce`` gives the phonemes the
    lexicon fixes for a token (its ``[hibari]`` table); a sentence's key covers the ones it uses, so changing an
    entry says again only the sentences with that word."""
    sentences = document.sentences
    spoken: list[tuple[str, tuple[range, ...], list[str], Synthesis | None]] = []
    for sentence in sentences:
        tokens, word_tokens = sentence_tokens(sentence.words, lexicon)
        key = content_key(STAGE, identity, tokens)
        if pronounce is not None and (fixed := [(t, p) for t in tokens if (p := pronounce(t)) is not None]):
            key = content_key(STAGE, identity, tokens, fixed)
        spoken.append((key, word_tokens, tokens, _load(cache, key)))
    made = _synthesize(
        [(key, tokens) for key, _, tokens, found in spoken if found is None], open_engine, cache, progress, len(spoken)
    )
    return [
        SpokenSentence(key, found or made[key], word_tokens, found is None) for key, word_tokens, _, found in spoken
    ]


def _synthesize(
    wanted: list[tuple[str, list[str]]], open_engine: Callable[[], Engine], cache: Cache, progress: Progress,
    total: int,
) -> dict[str, Synthesis]:  # fmt: skip
    """Say the sentences the cache did not have (two at a time when the engine allows), storing each one."""
    done = total - len(wanted)
    progress(ProgressEvent(LABEL, done, total))
    made: dict[str, Synthesis] = {}
    if not wanted:
        return made
    engine = open_engine()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=2 if getattr(engine, "concurrent", False) else 1)
    try:
        for (key, _), synthesis in zip(wanted, pool.map(lambda item: engine.synthesize(item[1]), wanted), strict=True):
            _store(cache, key, synthesis)
            made[key] = synthesis
            done += 1
            progress(ProgressEvent(LABEL, done, total))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # on Ctrl-C: finish the sentences in flight, start no more
    return made


def _load(cache: Cache, key: str) -> Synthesis | None:
    path = cache.get("speech", key, ".npz")
    if path is None:
        return None
    try:
        with np.load(path) as data:
            times = tuple((float(a), float(b)) for a, b in data["times"].reshape(-1, 2))
            return Synthesis(data["samples"].astype(np.int16), int(data["rate"]), times)
    except (OSError, ValueError, KeyError):
        return None  # unreadable entry: synthesise again and overwrite it


def _store(cache: Cache, key: str, synthesis: Synthesis) -> None:
    buffer = io.BytesIO()
    times = np.asarray(synthesis.token_times, dtype=np.float64).reshape(-1, 2)
    np.savez(buffer, samples=synthesis.samples, rate=np.int64(synthesis.sample_rate), times=times)
    cache.put_bytes("speech", key, ".npz", buffer.getvalue())
