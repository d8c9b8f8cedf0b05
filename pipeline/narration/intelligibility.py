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
    # The same count when a reference word the recogniser has no entry for ("Hailsham") may be heard as any one
    # word: such a word is an error whatever the voice does, so this isolates what the voice can change.
    errors_known: int = 0
    unknown: int = 0  # reference words outside the recogniser's dictionary
    errors_verbatim: int = 0  # without the scoring conventions (``comparable``): every spelling counts

    @property
    def wer(self) -> float:
        return self.errors / self.words if self.words else 0.0

    @property
    def wer_known(self) -> float:
        return self.errors_known / self.words if self.words else 0.0


def words_of(text: str) -> list[str]:
    """Lower-case words, hyphens as spaces: how references and transcripts are compared."""
    return _WORD.findall(text.lower().replace("-", " ").replace("’", "'"))


# Scoring conventions, as ASR evaluations apply them (NIST's GLM alternations, Whisper's English normaliser): a
# contraction and its expansion are one reading, "ok" is "okay", and a compound written together or apart is the
# same words. Reference and transcript both go through them, so a voice is not charged for the recogniser's
# spelling of what it heard. Possessive/"is" 's is left alone: "that's" heard as "that" is an error.
_CONTRACTIONS = (("n't", ("not",)), ("'re", ("are",)), ("'m", ("am",)), ("'ve", ("have",)), ("'ll", ("will",)),
                 ("'d", ("would",)))  # fmt: skip
_WHOLE = {"can't": ("can", "not"), "won't": ("will", "not"), "let's": ("let", "us"), "ok": ("okay",)}


def comparable(words: Sequence[str], other: Sequence[str]) -> list[str]:
    """``words`` in the scoring conventions' form, compounds joined where ``other`` writes them as one word."""
    expanded: list[str] = []
    for word in words:
        if word in _WHOLE:
            expanded += _WHOLE[word]
            continue
        suffix = next((s for s, _ in _CONTRACTIONS if word.endswith(s) and len(word) > len(s)), None)
        expanded += [word[: -len(suffix)], *dict(_CONTRACTIONS)[suffix]] if suffix else [word]
    joined: list[str] = []
    whole = set(other)
    index = 0
    while index < len(expanded):
        if index + 1 < len(expanded) and expanded[index] + expanded[index + 1] in whole:
            joined.append(expanded[index] + expanded[index + 1])
            index += 2
        else:
            joined.append(expanded[index])
            index += 1
    return joined


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str], wildcards: frozenset[str] = frozenset()) -> int:
    """Word-level Levenshtein distance; a reference word in ``wildcards`` matches any one hypothesis word."""
    row = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        diagonal, row[0] = row[0], i
        free = ref in wildcards
        for j, hyp in enumerate(hypothesis, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (ref != hyp and not free))
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
        from pocketsphinx import Decoder, get_model_path  # dev dependency

        self._decoder: Any = Decoder(samprate=RATE, loglevel="FATAL")
        dictionary = Path(get_model_path("en-us/cmudict-en-us.dict"))
        with dictionary.open(encoding="utf-8", errors="replace") as lines:
            self.vocabulary = frozenset(line.split(" ", 1)[0].split("(", 1)[0] for line in lines if line.strip())

    def unknown(self, words: Sequence[str]) -> frozenset[str]:
        """The words the recogniser cannot hear as themselves: not in its dictionary."""
        return frozenset(w for w in words if w not in self.vocabulary)

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
    errors = words = errors_known = unknown = errors_verbatim = 0
    for start, end, reference in sentences:
        a = max(0, int((start - _MARGIN) * RATE))
        b = min(len(samples), int((end + _MARGIN) * RATE))
        verbatim = recogniser.transcribe(samples[a:b])
        errors_verbatim += edit_distance(reference, verbatim)
        said = comparable(reference, comparable(verbatim, ()))
        heard = comparable(verbatim, said)
        wildcards = recogniser.unknown(said)
        errors += edit_distance(said, heard)
        errors_known += edit_distance(said, heard, wildcards)
        words += len(said)
        unknown += sum(1 for word in said if word in wildcards)
    return Score(errors, words, errors_known, unknown, errors_verbatim)


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
