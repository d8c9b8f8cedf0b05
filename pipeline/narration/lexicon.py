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
    """Words the voice gets wrong, mapped to respellings it says right (keys compared case-insensitively), and
    optionally to phonemes the hibari voice says exactly as written (``[hibari]``, misaki's alphabet)."""

    entries: Mapping[str, str] = field(default_factory=dict, hash=False)
    phonemes: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        entries = {_lexicon_key(k): v for k, v in self.entries.items()}
        object.__setattr__(self, "entries", MappingProxyType(entries))
        object.__setattr__(self, "phonemes", MappingProxyType({_lexicon_key(k): v for k, v in self.phonemes.items()}))

    @classmethod
    def empty(cls) -> Lexicon:
        return cls({})

    @classmethod
    def load(cls, path: Path) -> Lexicon:
        """Read a lexicon file: a ``[words]`` table of ``word = "respelling"`` and an optional ``[hibari]`` table
        of ``word = "phonemes"``; every mistake is a ConfigError."""
        from pipeline.config import load_toml

        data = load_toml(path, "lexicon")
        unknown = sorted(k for k in data if k not in ("words", "hibari"))
        if unknown:
            raise ConfigError(
                f"lexicon {path}: unknown key {unknown[0]!r} (the file holds a [words] and a [hibari] table)"
            )
        tables: list[dict[str, str]] = []
        for name, kind, value_kind in (
            ("words", "respelling", "a string respelling"),
            ("hibari", "phonemes", "a string of phonemes"),
        ):
            table = data.get(name, {})
            if not isinstance(table, dict):
                raise ConfigError(f'lexicon {path}: [{name}] must be a table of word = "{kind}"')
            for key, value in table.items():
                if not isinstance(value, str):
                    raise ConfigError(
                        f"lexicon {path}: [{name}] {key!r} must be {value_kind}, not {type(value).__name__}"
                    )
                if not key or any(ch.isspace() for ch in key):
                    raise ConfigError(f"lexicon {path}: [{name}] key {key!r} must be one word without spaces")
                if name == "hibari" and not value.strip():
                    raise ConfigError(f"lexicon {path}: [hibari] {key!r} has no phonemes")
            tables.append(table)
        return cls(tables[0], tables[1])

    def respelling(self, word: str) -> str | None:
        """The respelling for a bare written word (no surrounding punctuation) as written in the file, or None.
        (The speech normaliser says it like any other text: numbers and symbols in it are spelled out.)"""
        return self.entries.get(_lexicon_key(word))

    def pronunciations(self) -> dict[str, str]:
        """Phonemes by the speech token that carries them (case-folded): the written word and, when it also has
        a one-word respelling, that respelling (what the voice is handed instead of the word)."""
        found: dict[str, str] = {}
        for key, value in self.phonemes.items():
            found[key] = value
            respelled = self.entries.get(key, "").strip().rstrip(",.;:!?")
            if respelled and " " not in respelled:
                found[_lexicon_key(respelled)] = value
        return found

    def __len__(self) -> int:
        return len(self.entries) + len(self.phonemes)

    def __bool__(self) -> bool:  # the speech normaliser's fast path: only respellings change what it says
        return bool(self.entries)
