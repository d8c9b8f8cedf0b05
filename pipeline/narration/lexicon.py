"""The pronunciation lexicon: respellings for words the voice gets wrong (``assets/lexicon.toml``, or a
``lexicon.toml`` beside the summary). Names are fixed here, never in code."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from pipeline.errors import ConfigError


def _lexicon_key(word: str) -> str:
    """How a lexicon key and a written word are compared: NFKC, straight apostrophes, case-folded."""
    return unicodedata.normalize("NFKC", word).replace("’", "'").replace("‘", "'").casefold()


@dataclass(frozen=True)
class Lexicon:
    """Words the voice gets wrong, mapped to respellings it says right (keys compared case-insensitively)."""

    entries: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        entries = {_lexicon_key(k): v for k, v in self.entries.items()}
        object.__setattr__(self, "entries", MappingProxyType(entries))

    @classmethod
    def empty(cls) -> Lexicon:
        return cls({})

    @classmethod
    def load(cls, path: Path) -> Lexicon:
        """Read a lexicon file: a ``[words]`` table of ``word = "respelling"``; every mistake is a ConfigError."""
        from pipeline.config import load_toml

        data = load_toml(path, "lexicon")
        unknown = sorted(k for k in data if k != "words")
        if unknown:
            raise ConfigError(f"lexicon {path}: unknown key {unknown[0]!r} (the file holds one [words] table)")
        words = data.get("words", {})
        if not isinstance(words, dict):
            raise ConfigError(f'lexicon {path}: [words] must be a table of word = "respelling"')
        for key, value in words.items():
            if not isinstance(value, str):
                raise ConfigError(
                    f"lexicon {path}: [words] {key!r} must be a string respelling, not {type(value).__name__}"
                )
            if not key or any(ch.isspace() for ch in key):
                raise ConfigError(f"lexicon {path}: [words] key {key!r} must be one word without spaces")
        return cls(words)

    def respelling(self, word: str) -> str | None:
        """The respelling for a bare written word (no surrounding punctuation) as written in the file, or None.
        (The speech normaliser says it like any other text: numbers and symbols in it are spelled out.)"""
        return self.entries.get(_lexicon_key(word))

    def __len__(self) -> int:
        return len(self.entries)
