"""Intelligibility, measured: an independent offline recogniser transcribes rendered narration, and the word error
rate against the words the voice was meant to say is counted.

The recogniser is PocketSphinx (a dev dependency: its US English model ships inside its wheel, so this works
offline). It is only a meter — used by the intelligibility test and ``scripts/bench.py``, never by a render. Each
sentence is cut from the mastered MP3 at the timeline's times (with a margin) and decoded as one utterance; the
reference is the sentence's *spoken* words without the pronunciation lexicon (numbers and abbreviations spelled
out as the voice says them, names as written), so respellings do not count against a voice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.ffmpeg import FFmpeg

RATE = 16_000  # what the recogniser's acoustic model expects
_MARGIN = 0.15  # seconds around a sentence's words
_WORD = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True)
class Score:
    errors: int  # substitutions + deletions + insertions
    words: int  # in the reference

    @property
    def wer(self) -> float:
        return self.errors / self.words if self.words else 0.0


def words_of(text: str) -> list[str]:
    """Lower-case words, hyphens as spaces: how references and transcripts are compared."""
    return _WORD.findall(text.lower().replace("-", " ").replace("’", "'"))


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Word-level Levenshtein distance."""
    row = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        diagonal, row[0] = row[0], i
        for j, hyp in enumerate(hypothesis, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (ref != hyp))
    return row[-1]


def decode(ffmpeg: FFmpeg, path: Path) -> np.ndarray:
    """A media file as mono 16 kHz int16 samples."""
    raw = ffmpeg.pipe(
        ["-i", path, "-ac", "1", "-ar", str(RATE), "-f", "s16le", "pipe:1"], b"", what="decoding for transcription"
    )
    return np.frombuffer(raw, dtype="<i2")


class Recogniser:
    """PocketSphinx with its bundled US English model, loaded once."""

    def __init__(self) -> None:
        from pocketsphinx import Decoder  # dev dependency

        self._decoder: Any = Decoder(samprate=RATE, loglevel="FATAL")

    def transcribe(self, samples: np.ndarray) -> list[str]:
        """The words heard in 16 kHz int16 ``samples``."""
        decoder = self._decoder
        decoder.start_utt()
        decoder.process_raw(np.ascontiguousarray(samples, dtype="<i2").tobytes(), full_utt=True)
        decoder.end_utt()
        hypothesis = decoder.hyp()
        return words_of(hypothesis.hypstr) if hypothesis is not None else []


def score_sentences(
    recogniser: Recogniser, samples: np.ndarray, sentences: Sequence[tuple[float, float, Sequence[str]]]
) -> Score:
    """Transcribe each (start, end, reference words) span of 16 kHz ``samples`` and add up the errors."""
    errors = words = 0
    for start, end, reference in sentences:
        a = max(0, int((start - _MARGIN) * RATE))
        b = min(len(samples), int((end + _MARGIN) * RATE))
        heard = recogniser.transcribe(samples[a:b])
        errors += edit_distance(reference, heard)
        words += len(reference)
    return Score(errors, words)


def narration_score(ffmpeg: FFmpeg, out_dir: Path, summary: Path, recogniser: Recogniser | None = None) -> Score:
    """The word error rate of a render folder's ``narration.mp3`` against its summary's spoken words."""
    from pipeline.narration.document import load_summary
    from pipeline.narration.speech import Lexicon, speech_words
    from pipeline.narration.timeline import Timeline

    document = load_summary(summary)
    timeline = Timeline.load(out_dir / "timeline.json")
    spans: dict[int, tuple[float, float]] = {}
    for word in timeline.words:
        if word.end > word.start:
            a, b = spans.get(word.sentence, (word.start, word.end))
            spans[word.sentence] = (min(a, word.start), max(b, word.end))
    empty = Lexicon.empty()
    sentences = [
        (*spans[s.index], words_of(" ".join(speech_words(s.words, empty))))
        for s in document.sentences
        if s.index in spans
    ]
    return score_sentences(recogniser or Recogniser(), decode(ffmpeg, out_dir / "narration.mp3"), sentences)
