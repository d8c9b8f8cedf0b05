"""The summary parser: sentence splitting shares the speech normaliser's abbreviation table."""

from __future__ import annotations

import pytest

from pipeline.narration.abbreviations import ABBREVIATIONS
from pipeline.narration.document import split_sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Gov. Brown signed it.", ["Gov. Brown signed it."]),
        ("Sen. Ruiz and Rep. Cole spoke. Then they left.", ["Sen. Ruiz and Rep. Cole spoke.", "Then they left."]),
        ("She met Prof. Adler. He was late.", ["She met Prof. Adler.", "He was late."]),
        ("It rained. Nobody came.", ["It rained.", "Nobody came."]),
    ],
)
def test_abbreviations_do_not_end_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_every_spoken_abbreviation_keeps_its_sentence_whole() -> None:
    for key in sorted(ABBREVIATIONS):
        written = key[:1].upper() + key[1:] + "."
        assert split_sentences(f"Ask {written} Brown now.") == [f"Ask {written} Brown now."], written
