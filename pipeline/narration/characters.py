"""What a character says: vulgar fractions and powers before NFKC, symbols, Cyrillic and Greek romanised, and
the characters that are not spoken at all (emoji, other scripts, controls)."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Before NFKC, which would turn "½" into "1⁄2" and "²" into "2" ("10²" must not become "102").
_VULGAR = {
    "½": ("one half", "a half"),
    "⅓": ("one third", "a third"),
    "⅔": ("two thirds", "two thirds"),
    "¼": ("one quarter", "a quarter"),
    "¾": ("three quarters", "three quarters"),
    "⅛": ("one eighth", "an eighth"),
    "⅜": ("three eighths", "three eighths"),
    "⅝": ("five eighths", "five eighths"),
    "⅞": ("seven eighths", "seven eighths"),
}
_POWERS = {"²": "squared", "³": "cubed"}
_BEFORE_NFKC = re.compile(r"(?P<digit>[0-9])?(?P<char>[½⅓⅔¼¾⅛⅜⅝⅞²³¹⁰⁴-⁹™℠®©‰№])")


def _before_nfkc(match: re.Match[str]) -> str:
    digit, char = match["digit"] or "", match["char"]
    if char in _VULGAR:
        whole, part = _VULGAR[char]
        return f"{digit} and {part} " if digit else f" {whole} "
    if char in _POWERS:
        # After a digit an exponent ("10²"); after a word almost always a footnote mark, which is not read.
        return f"{digit} {_POWERS[char]} " if digit else ""
    if char in "¹⁰⁴⁵⁶⁷⁸⁹™℠®":
        return digit  # footnote marks and trademark signs are not read
    return digit + {"©": " copyright ", "‰": " per thousand ", "№": " number "}[char]


# After NFKC: characters kept as the ASCII the parsers below understand, or replaced by words.
_CHAR_MAP = {
    **dict.fromkeys("“”„‟«»‹›〝〞″", '"'),
    **dict.fromkeys("‘’‚‛′‵`", "'"),
    **dict.fromkeys("‐‑", "-"),
    "−": "-",  # minus sign
    "‒": "–",
    **dict.fromkeys("―⸺⸻", "—"),
    "⁄": "/",
    **dict.fromkeys("•·‧∙◦‣⁃", " "),
    **dict.fromkeys("¿¡†‡¶※", ""),
    "×": " times ",
    "÷": " divided by ",
    "±": " plus or minus ",
    "≈": " about ",
    "≠": " not equal to ",
    "≤": " at most ",
    "≥": " at least ",
    "→": " to ",
    "⇒": " to ",
    "⟶": " to ",
    "∞": " infinity ",
    "π": " pi ",
    "§": " section ",
    # Understood by the number parsers; kept.
    **{ch: ch for ch in "£€¥₹¢°—–"},
}
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@lru_cache(maxsize=4096)
def _char_action(ch: str) -> str | None:
    """What a non-ASCII character becomes after NFKC: a replacement, or None to drop it."""
    if ch in _CHAR_MAP:
        return _CHAR_MAP[ch]
    category = unicodedata.category(ch)
    if category == "Nd":
        return str(unicodedata.decimal(ch))
    if category[0] in "LM":
        # Latin letters are kept, Cyrillic and Greek romanised; espeak's English voice would spell any other
        # script out as letter names.
        if unicodedata.name(ch, "").startswith(("LATIN", "COMBINING")):
            return ch
        return _romanised(ch)
    if category[0] == "Z" or category == "Cc":
        return " "
    return None  # emoji and other symbols, format and private-use characters, unassigned code points


# A plain romanisation for English readers (close to BGN/PCGN, without diacritics); "-" marks the signs that only
# soften or harden the letter before them and are not said.
_ROMAN_PAIRS = """
а a  б b  в v  г g  д d  е e  ё yo  ж zh  з z  и i  й y  к k  л l  м m  н n  о o  п p  р r  с s  т t  у u  ф f
х kh  ц ts  ч ch  ш sh  щ shch  ъ -  ы y  ь -  э e  ю yu  я ya  і i  ї yi  є ye  ґ g  ў u  ј j  љ lj  њ nj  ђ dj
ћ c  џ dz  ѕ dz
α a  β v  γ g  δ d  ε e  ζ z  η i  θ th  ι i  κ k  λ l  μ m  ν n  ξ x  ο o  π p  ρ r  σ s  ς s  τ t  υ y  φ f
χ ch  ψ ps  ω o
"""
_ROMAN = {
    letter: "" if roman == "-" else roman
    for letter, roman in zip(_ROMAN_PAIRS.split()[::2], _ROMAN_PAIRS.split()[1::2], strict=True)
}


def _romanised(ch: str) -> str | None:
    """A Cyrillic or Greek letter in Latin letters (Greek accents dropped, a capital kept), else None."""
    letter = ch.lower()
    roman = _ROMAN.get(letter)
    if roman is None:  # an accented Greek letter: romanise its base
        roman = _ROMAN.get(unicodedata.normalize("NFD", letter)[0])
    if roman is None:
        return None
    return roman.capitalize() if ch.isupper() else roman


def spoken_characters(word: str) -> str:
    """The word as ASCII-punctuated Latin text; symbols needing words become words; the unspeakable goes."""
    if word.isascii():
        return _ASCII_CONTROL.sub(" ", word)
    word = unicodedata.normalize("NFKC", _BEFORE_NFKC.sub(_before_nfkc, word))
    out: list[str] = []
    for ch in word:
        if ch.isascii():
            out.append(" " if ch < " " or ch == "\x7f" else ch)
            continue
        action = _char_action(ch)
        if action is None:
            continue
        if unicodedata.category(ch)[0] == "M" and not (out and out[-1][-1:].isalpha()):
            continue  # a combining mark belongs on a letter we kept; on anything else (a dropped one) it goes
        out.append(action)
    return unicodedata.normalize("NFC", "".join(out))
