"""Text-to-speech engines behind one interface: speech words in, audio plus per-word timings out.

An engine synthesises one sentence at a time (the unit of caching). It receives the sentence as a list of
*speech tokens* (already normalised by ``pipeline.narration.speech``; a token may carry punctuation that shapes prosody)
and returns mono 16-bit samples and one ``(start, end)`` in seconds per token.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.errors import InputError
from pipeline.narration.tts.engine import Engine, Synthesis

ENGINES = ("hibari", "piper", "gtts")
DEFAULT_ENGINE = "hibari"

__all__ = ["DEFAULT_ENGINE", "ENGINES", "Engine", "Synthesis", "engine_identity", "open_engine"]


def engine_identity(name: str, voice: Path | None = None) -> dict[str, Any]:
    """The cache identity of an engine without loading it (a warm render never loads a voice model)."""
    if name == "hibari":
        from pipeline.narration.tts.hibari import identity as hibari_identity

        return hibari_identity(voice)
    if name == "piper":
        from pipeline.narration.tts.piper import identity

        return identity(voice)
    if name == "gtts":
        from pipeline.narration.tts.gtts import identity as gtts_identity

        return gtts_identity()
    raise InputError(f"unknown engine {name!r}; choose one of: {', '.join(ENGINES)}")


def open_engine(
    name: str,
    *,
    voice: Path | None = None,
    ffmpeg: Any = None,
    timeout: float = 10.0,
    pronunciations: Mapping[str, str] | None = None,
) -> Engine:
    """Build the named engine. ``voice``: a hibari voice name or ``.onnx`` path, or a Piper ``.onnx`` path;
    ``pronunciations``: phonemes by speech token from the lexicon's ``[hibari]`` table (hibari only)."""
    if name == "hibari":
        from pipeline.narration.tts.hibari import HibariEngine

        return HibariEngine.open(voice, pronunciations)
    if name == "piper":
        from pipeline.narration.tts.piper import PiperEngine

        return PiperEngine.open(voice)
    if name == "gtts":
        if voice is not None:
            raise InputError("--voice applies to the hibari and piper engines only (gTTS has no voice files)")
        from pipeline.narration.tts.gtts import GttsEngine

        return GttsEngine(ffmpeg=ffmpeg, timeout=timeout)
    raise InputError(f"unknown engine {name!r}; choose one of: {', '.join(ENGINES)}")
