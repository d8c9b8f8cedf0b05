"""Speech text: what the voice should say for each written word (numbers, abbreviations, symbols, lexicon).

The captions show the summary's words exactly as written; the voice needs something else for many of them:
``$5`` is "five dollars", ``1990s`` is "nineteen nineties", ``Mr.`` is "Mister" (and its full stop is not the
end of a sentence), ``tape––which`` is "tape, which". This module derives the spoken form of each written word,
one for one, so the timeline can pair every caption word with the audio that says it::

    Lexicon.load(path) -> Lexicon             # assets/lexicon.toml; ConfigError with line/column when malformed
    Lexicon.empty() -> Lexicon
    speech_words(words: Sequence[str], lexicon: Lexicon) -> list[str]

``speech_words`` returns exactly one spoken form per written word ('' where nothing should be spoken: a lone
dash, an emoji, a word in a script the voice cannot read). A spoken form may hold several words ("1,000" ->
"one thousand") and may end in one prosody mark (``, ; : . ? !``) because Piper/espeak pause on commas and
full stops: dashes and brackets become commas, an ellipsis a comma (a full stop at the end of the sentence).
Spoken forms hold only Latin letters (with diacritics), apostrophes and hyphens inside words, single spaces
and those marks — never digits, symbols, quotes or control characters, and never a leading mark.

Decisions worth knowing:

- Cyrillic and Greek letters are romanised (Ольга -> Olga, Σοφία -> Sofia), so names in those alphabets are
  said roughly as an English reader would say them. Letters of other scripts (CJK, Hebrew, Arabic, …) are not
  spoken: the en_US espeak voice reads them as letter names ("Chinese letter", "Hebrew shin …"), which is worse
  than a short silence; the captions still show them. Emoji and other pictographic symbols are dropped too.
- A four-digit number from 1000 to 2099 reads as a year ("in 1999" -> "nineteen ninety nine") unless the words
  around it say it is a count ("1999 people", "about 1500"); for 2000–2009 both readings agree.
- Only a small table of abbreviations is expanded, some by context ("St." is Saint before a name and Street
  otherwise; "No." is "number" only before a number).
- Everything is linear in the length of the input: precompiled regular expressions, a fast path for plain
  words, and no pattern that can backtrack over a long run of one character.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from .errors import ConfigError

# --- pronunciation lexicon ----------------------------------------------------------------------------------


def _lexicon_key(word: str) -> str:
    """How a lexicon key and a written word are compared: NFKC, straight apostrophes, case-folded."""
    return unicodedata.normalize("NFKC", word).replace("’", "'").replace("‘", "'").casefold()


@dataclass(frozen=True)
class Lexicon:
    """Words the voice gets wrong, mapped to respellings it says right (keys compared case-insensitively)."""

    entries: Mapping[str, str] = field(default_factory=dict, hash=False)
    # The respellings after normalisation (numbers, symbols), computed once; what speech_words uses.
    _spoken: Mapping[str, str] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        entries = {_lexicon_key(k): v for k, v in self.entries.items()}
        object.__setattr__(self, "entries", MappingProxyType(entries))
        object.__setattr__(self, "_spoken", {k: _respelling(v) for k, v in entries.items()})

    @classmethod
    def empty(cls) -> Lexicon:
        return cls({})

    @classmethod
    def load(cls, path: Path) -> Lexicon:
        """Read a lexicon file: a ``[words]`` table of ``word = "respelling"``; every mistake is a ConfigError."""
        from .config import load_toml

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

    def spoken_form(self, word: str) -> str | None:
        """The respelling for a bare written word (no surrounding punctuation), or None."""
        return self._spoken.get(_lexicon_key(word))

    def __len__(self) -> int:
        return len(self.entries)


def _respelling(value: str) -> str:
    """A lexicon value as the voice gets it: normalised like any text, without a trailing prosody mark."""
    spoken = " ".join(s for s in speech_words(value.split(), _NO_LEXICON) if s)
    return spoken.rstrip(_MARKS)


# --- number words -------------------------------------------------------------------------------------------


def _word_list(text: str) -> tuple[str, ...]:
    """A long list of words written as one string, for readability."""
    return tuple(text.split())


_ONES = _word_list(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen"
)
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALES = (
    "",
    "thousand",
    "million",
    "billion",
    "trillion",
    "quadrillion",
    "quintillion",
    "sextillion",
    "septillion",
    "octillion",
    "nonillion",
    "decillion",
)
# Longer digit strings (serial numbers, a pasted hash) are read digit by digit rather than by a scale
# nobody says.
_MAX_CARDINAL_DIGITS = 3 * len(_SCALES)
_ORDINAL_WORDS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}


def _below_thousand(n: int) -> list[str]:
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [_ONES[hundreds], "hundred"]
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(_TENS[tens])
        if ones:
            words.append(_ONES[ones])
    elif rest or not words:
        words.append(_ONES[rest])
    return words


def cardinal(n: int) -> str:
    """``1234`` -> "one thousand two hundred thirty four" (US style: no "and"; spaces, not hyphens)."""
    if n < 0:
        return "minus " + cardinal(-n)
    if n == 0:
        return "zero"
    if len(str(n)) > _MAX_CARDINAL_DIGITS:
        return _digit_by_digit(str(n))
    groups: list[str] = []
    scale = 0
    while n:
        n, group = divmod(n, 1000)
        if group:
            words = _below_thousand(group)
            if _SCALES[scale]:
                words.append(_SCALES[scale])
            groups.append(" ".join(words))
        scale += 1
    return " ".join(reversed(groups))


def ordinal(n: int) -> str:
    """``21`` -> "twenty first"."""
    return _ordinal_of(cardinal(n))


def _ordinal_of(words: str) -> str:
    """The ordinal of a number said in words: the last word changes ("twenty one" -> "twenty first")."""
    head, _, last = words.rpartition(" ")
    if last in _ORDINAL_WORDS:
        last = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return f"{head} {last}" if head else last


def year(n: int) -> str:
    """A year as people say it: 1066 "ten sixty six", 1905 "nineteen oh five", 2005 "two thousand five"."""
    hundreds, rest = divmod(n, 100)
    if n % 1000 < 10 and hundreds % 10 == 0:  # 1000–1009, 2000–2009: "two thousand five"
        return cardinal(n)
    if rest == 0:
        return f"{cardinal(hundreds)} hundred"
    if rest < 10:
        return f"{cardinal(hundreds)} oh {_ONES[rest]}"
    return f"{cardinal(hundreds)} {cardinal(rest)}"


def _plural(words: str) -> str:
    """Plural of the last word of a number: "nineteen ninety" -> "nineteen nineties"."""
    if words.endswith("y"):
        return words[:-1] + "ies"
    if words.endswith("x"):
        return words + "es"
    return words + "s"


def _digit_by_digit(digits: str) -> str:
    return " ".join(_ONES[int(d)] for d in digits if d.isascii() and d.isdigit())


def _integer(digits: str) -> str:
    """Digits (commas allowed) as words; a leading zero ("007") or a huge number reads digit by digit."""
    digits = digits.replace(",", "")
    if len(digits) > 1 and digits[0] == "0" or len(digits) > _MAX_CARDINAL_DIGITS:
        return _digit_by_digit(digits)
    return cardinal(int(digits))


def _decimal(text: str) -> str:
    """``3.14`` -> "three point one four"; ``.5`` -> "point five"."""
    whole, dot, fraction = text.partition(".")
    words = _integer(whole) if whole else ""
    if dot and fraction:
        words = f"{words} point {_digit_by_digit(fraction)}".strip()
    return words


# --- context ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Context:
    prev: str  # previous written word, bare and lower-cased ('' at the start of the sentence)
    next: str  # next written word, bare, case kept ('' at the end)
    final: bool  # this is the last word of the sentence


_NO_CONTEXT = _Context("", "", False)

# Words before a four-digit number that make it a year, or a count.
_YEAR_CUES = frozenset(
    _word_list(
        "in since by from until till during before after circa c ca early late mid year summer spring autumn fall "
        "winter january february march april may june july august september october november december jan feb "
        "mar apr jun jul aug sep sept oct nov dec born died published founded"
    )
)
_COUNT_CUES = frozenset(
    _word_list(
        "about over under than nearly almost approximately roughly some exactly least most total only just "
        "another additional"
    )
)
# Words after a four-digit number that make it a count ("2050 people" is not the year 2050).
_COUNT_NOUNS = frozenset(
    _word_list(
        "people persons men women children kids students soldiers troops copies pages words books years days "
        "months weeks hours minutes seconds miles kilometres kilometers metres meters feet yards inches pounds "
        "dollars euros pence cents acres tons tonnes times members votes deaths lives cases units items pieces "
        "species workers employees jobs homes houses cars ships planes votes points calories steps more"
    )
)
_SCALE_WORDS = frozenset(("hundred", "thousand", "million", "billion", "trillion"))
_DIGIT_GROUPS = re.compile(r"[0-9]+(?:-[0-9]+)+")
_BARE_NUMBER = re.compile(r"[0-9][0-9,.:]*")


def _reads_as_year(ctx: _Context, use_next: bool) -> bool:
    if ctx.prev in _YEAR_CUES:
        return True
    if ctx.prev in _COUNT_CUES:
        return False
    return not (use_next and (ctx.next.lower() in _COUNT_NOUNS or ctx.next.lower() in _SCALE_WORDS))


# --- numbers, money, dates ----------------------------------------------------------------------------------

_INT = r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)"
_NUM = rf"(?:{_INT}(?:\.[0-9]+)?|\.[0-9]+)"
_INT_RE = re.compile(_INT)
_CURRENCIES = {
    # symbol: (one, many, one hundredth, many hundredths)
    "$": ("dollar", "dollars", "cent", "cents"),
    "US$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
    "¥": ("yen", "yen", "", ""),
    "₹": ("rupee", "rupees", "paisa", "paise"),
    "¢": ("cent", "cents", "", ""),
}
_MONEY_SCALES = {
    "k": "thousand",
    "K": "thousand",
    "m": "million",
    "M": "million",
    "mn": "million",
    "bn": "billion",
    "b": "billion",
    "B": "billion",
    "tn": "trillion",
    "T": "trillion",
    "thousand": "thousand",
    "million": "million",
    "billion": "billion",
    "trillion": "trillion",
}
_UNITS = {
    # attached ("5km") or following a number ("5 km"): (one, many)
    "km": ("kilometer", "kilometers"),
    "kg": ("kilogram", "kilograms"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "mg": ("milligram", "milligrams"),
    "ml": ("milliliter", "milliliters"),
    "lb": ("pound", "pounds"),
    "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "ft": ("foot", "feet"),
    "mph": ("mile per hour", "miles per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "kb": ("kilobyte", "kilobytes"),
    "mb": ("megabyte", "megabytes"),
    "gb": ("gigabyte", "gigabytes"),
    "tb": ("terabyte", "terabytes"),
    "k": ("thousand", "thousand"),
    "x": ("times", "times"),
    "am": ("A M", "A M"),
    "pm": ("P M", "P M"),
    "a.m": ("A M", "A M"),
    "p.m": ("P M", "P M"),
}
_CURRENCY_BEFORE = re.compile(
    rf"(?P<sign>[-+])?(?P<cur>US\$|[$£€¥₹])(?P<num>{_INT}(?:\.[0-9]+)?)"
    r"(?P<scale>k|K|mn|m|M|bn|b|B|tn|T|thousand|million|billion|trillion)?"
)
_CURRENCY_AFTER = re.compile(rf"(?P<sign>[-+])?(?P<num>{_NUM})(?P<cur>[$£€¥¢])")
_PERCENT = re.compile(rf"(?P<sign>[-+])?(?P<num>{_NUM})%")
_ORDINAL = re.compile(rf"(?P<num>{_INT})(?:st|nd|rd|th)", re.IGNORECASE)
_DECADE = re.compile(r"(?P<num>[0-9]{2}|[0-9]{3}0)'?s")
_PLURAL_NUMBER = re.compile(rf"(?P<num>{_INT})'?s")
_TIME = re.compile(r"(?P<h>[0-9]{1,2}):(?P<m>[0-9]{2})(?::(?P<s>[0-9]{2}))?(?P<ampm>[ap]\.?m\.?)?", re.IGNORECASE)
_HOUR = re.compile(r"(?P<h>[0-9]{1,2})(?P<ampm>[ap]\.?m\.?)", re.IGNORECASE)
_FRACTION = re.compile(r"(?P<a>[0-9]{1,6})/(?P<b>[0-9]{1,6})")
_DEGREES = re.compile(rf"(?P<sign>[-+])?(?P<num>{_NUM})°(?P<scale>[CF])?")
_NUMBER = re.compile(rf"(?P<sign>[-+~])?(?P<num>{_NUM})")
_WITH_UNIT = re.compile(rf"(?P<num>{_NUM})(?P<unit>[A-Za-z][A-Za-z./]*)")
_HASH_NUMBER = re.compile(rf"#(?P<num>{_INT})")
_SIGNS = {"-": "minus ", "+": "plus ", "~": "about ", "": ""}
_FRACTION_NAMES = {2: ("half", "halves"), 4: ("quarter", "quarters")}


def _money(match: re.Match[str], ctx: _Context, use_next: bool) -> tuple[str, str]:
    """Spoken money and the unit to move onto the next word ("$5 million" -> "five", "million dollars")."""
    one, many, cent, cents = _CURRENCIES[match["cur"]]
    sign = _SIGNS[match["sign"] or ""]
    num = match["num"]
    scale = match.groupdict().get("scale")
    if scale:
        return f"{sign}{_decimal(num)} {_MONEY_SCALES[scale]} {many}", ""
    if use_next and ctx.next.lower() in _SCALE_WORDS:
        return sign + _decimal(num), many
    whole, _, fraction = num.partition(".")
    significant = whole.replace(",", "").lstrip("0")  # never int() an arbitrarily long digit string
    if fraction and (len(fraction) != 2 or not cent):
        return f"{sign}{_decimal(num)} {many}", ""
    hundredths = int(fraction) if fraction else 0
    parts = []
    if significant or not hundredths:
        parts.append(f"{_integer(whole or '0')} {one if significant == '1' else many}")
    if hundredths:
        parts.append(f"{cardinal(hundredths)} {cent if hundredths == 1 else cents}")
    return sign + " and ".join(parts), ""


def _plain_number(match: re.Match[str], ctx: _Context, use_next: bool) -> str:
    sign = _SIGNS[match["sign"] or ""]
    num = match["num"]
    if not sign and len(num) == 4 and num.isdigit() and 1000 <= int(num) <= 2099 and _reads_as_year(ctx, use_next):
        return year(int(num))
    return sign + _decimal(num)


def _time(match: re.Match[str], ctx: _Context) -> str | None:
    hour, minute = int(match["h"]), int(match["m"])
    if hour > 24 or minute > 59:
        return None
    ampm = match["ampm"]
    words = cardinal(hour)
    if minute == 0 and not ampm and ctx.next.lower().replace(".", "") not in ("am", "pm"):
        words += " o'clock"
    elif minute:
        words += f" oh {_ONES[minute]}" if minute < 10 else f" {cardinal(minute)}"
    if match["s"]:
        words += f" and {cardinal(int(match['s']))} seconds"
    if ampm:
        words += " A M" if ampm[0].lower() == "a" else " P M"
    return words


def _fraction(match: re.Match[str]) -> str:
    a, b = int(match["a"]), int(match["b"])
    if 0 < a < b <= 10:
        one, many = _FRACTION_NAMES.get(b, (ordinal(b), ordinal(b) + "s"))
        return f"{cardinal(a)} {one if a == 1 else many}"
    # Not a small fraction: a date (9/11) or "24/7", said as the numbers.
    return f"{_integer(match['a'])} {_integer(match['b'])}"


def _decade(match: re.Match[str]) -> str:
    num = match["num"]
    if len(num) == 2:
        return "two thousands" if num == "00" else _plural(cardinal(int(num)))
    value = int(num)
    return _plural(year(value) if 1000 <= value <= 2099 else cardinal(value))


def _numeric(core: str, ctx: _Context, use_next: bool) -> tuple[str, str] | None:
    """A core holding a number in a form we know, spoken; with a unit carried to the next word; else None."""
    if m := _NUMBER.fullmatch(core):
        return _plain_number(m, ctx, use_next), ""
    if m := _CURRENCY_BEFORE.fullmatch(core):
        return _money(m, ctx, use_next)
    if m := _PERCENT.fullmatch(core):
        return f"{_SIGNS[m['sign'] or '']}{_decimal(m['num'])} percent", ""
    if m := _ORDINAL.fullmatch(core):
        return _ordinal_of(_integer(m["num"])), ""
    if m := _DECADE.fullmatch(core):
        return _decade(m), ""
    if m := _PLURAL_NUMBER.fullmatch(core):
        return _plural(_integer(m["num"])), ""  # "100s", "7s"
    if m := _CURRENCY_AFTER.fullmatch(core):
        return _money(m, ctx, use_next)
    if (m := _TIME.fullmatch(core)) and (spoken := _time(m, ctx)):
        return spoken, ""
    if m := _HOUR.fullmatch(core):
        return f"{cardinal(int(m['h']))} {'A M' if m['ampm'][0].lower() == 'a' else 'P M'}", ""
    if m := _FRACTION.fullmatch(core):
        return _fraction(m), ""
    if m := _DEGREES.fullmatch(core):
        scale = {"C": " Celsius", "F": " Fahrenheit"}.get(m["scale"] or "", "")
        return f"{_SIGNS[m['sign'] or '']}{_decimal(m['num'])} degrees{scale}", ""
    if m := _HASH_NUMBER.fullmatch(core):
        return f"number {_integer(m['num'])}", ""
    if (m := _WITH_UNIT.fullmatch(core)) and (unit := _UNITS.get(m["unit"].lower())):
        value = m["num"]
        return f"{_decimal(value)} {unit[0] if value == '1' else unit[1]}", ""
    return _range(core, ctx, use_next)


_RANGE_DASH = re.compile(r"(?<=[0-9%])[-–](?=[-+]?[$£€¥]?[0-9])")


def _range(core: str, ctx: _Context, use_next: bool) -> tuple[str, str] | None:
    """``1990–2000`` -> "nineteen ninety to two thousand"; ``10-20`` -> "ten to twenty"."""
    m = _RANGE_DASH.search(core)
    if not m:
        return None
    left, right = core[: m.start()], core[m.end() :]
    if len(left) > 40 or len(right) > 40:
        return None  # not a range anyone writes; the fallback reads it, without int() on huge digit strings
    if "–" in right or "-" in right.lstrip("-+"):
        return None
    if m.group() == "-" and not (left.isdigit() and right.isdigit()):
        return None  # a hyphen between anything but two plain numbers is not a range we can be sure of
    if m.group() == "-" and (
        left[0] == "0"
        or right[0] == "0"
        or (len(left), len(right)) == (3, 4)  # "555-1234" is a phone number, not a range
        or not (int(left) < int(right) or (len(left) == 4 and len(right) == 2))
    ):
        return None
    first = _numeric(left, _Context(ctx.prev, "", False), False)
    if first is None:
        return None
    left_is_year = len(left) == 4 and left.isdigit() and first[0] == year(int(left))
    if left_is_year and right.isdigit() and len(right) == 2:
        # "1990–95": the short end reads as the last two digits of a year ("oh six" for "06").
        value = int(right)
        second = f"oh {_ONES[value]}" if value < 10 else cardinal(value)
        return f"{first[0]} to {second}", ""
    right_ctx = _Context("in" if left_is_year else "", ctx.next, ctx.final)
    rest = _numeric(right, right_ctx, use_next)
    if rest is None:
        return None
    return f"{first[0]} to {rest[0]}", rest[1]


# --- abbreviations ------------------------------------------------------------------------------------------

# With a full stop (keys case-folded, without the final stop). Conditional ones are handled in _abbreviation.
_DOTTED = {
    "mr": "Mister",
    "mrs": "Missus",
    "ms": "Miz",
    "messrs": "Messieurs",
    "dr": "Doctor",
    "prof": "Professor",
    "jr": "Junior",
    "sr": "Senior",
    "gen": "General",
    "capt": "Captain",
    "lt": "Lieutenant",
    "col": "Colonel",
    "sgt": "Sergeant",
    "rev": "Reverend",
    "hon": "Honorable",
    "gov": "Governor",
    "sen": "Senator",
    "rep": "Representative",
    "pres": "President",
    "mt": "Mount",
    "etc": "et cetera",
    "vs": "versus",
    "v": "versus",
    "e.g": "for example",
    "i.e": "that is",
    "cf": "compare",
    "approx": "approximately",
    "ph.d": "P H D",
    "inc": "Incorporated",
    "ltd": "Limited",
    "co": "Company",
    "corp": "Corporation",
    "bros": "Brothers",
    "dept": "Department",
    "univ": "University",
    "ave": "Avenue",
    "blvd": "Boulevard",
    "rd": "Road",
    "vol": "volume",
    "vols": "volumes",
    "ch": "chapter",
    "chap": "chapter",
    "fig": "figure",
}
# Months only beside a day or year ("Jan. 5", "5 Dec. 1990"): alone, "Jan." may well be a name.
_MONTHS = {
    "jan": "January",
    "feb": "February",
    "mar": "March",
    "apr": "April",
    "jun": "June",
    "jul": "July",
    "aug": "August",
    "sep": "September",
    "sept": "September",
    "oct": "October",
    "nov": "November",
    "dec": "December",
}
# Meaningful only before a number ("No. 5", "p. 12", "c. 1500").
_BEFORE_NUMBER = {"no": "number", "nos": "numbers", "p": "page", "pp": "pages", "c": "circa", "ca": "circa"}
# Written without a full stop (British style) but still abbreviations; case-sensitive.
_UNDOTTED = {"Mr": "Mister", "Mrs": "Missus", "Ms": "Miz", "Dr": "Doctor", "vs": "versus"}
_DOTTED_KEYS = frozenset((*_DOTTED, *_MONTHS, *_BEFORE_NUMBER, "st", "ft"))
_INITIALISM = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")


def _abbreviation(core: str, dotted: bool, ctx: _Context) -> str | None:
    if not dotted:
        if core == "St":
            return _saint_or_street(ctx)
        return _UNDOTTED.get(core)
    key = core.casefold()
    if key == "st":
        return _saint_or_street(ctx)
    if key == "ft":
        return "Fort" if ctx.next[:1].isupper() else "feet"
    if key in _BEFORE_NUMBER:
        return _BEFORE_NUMBER[key] if ctx.next[:1].isdigit() or ctx.next[:1] == "#" else None
    if key in _DOTTED:
        return _DOTTED[key]
    if key in _MONTHS:
        return _MONTHS[key] if ctx.next[:1].isdigit() or _BARE_NUMBER.fullmatch(ctx.prev) else None
    if _INITIALISM.fullmatch(core):
        return " ".join(ch.upper() for ch in core if ch != ".")
    if len(core) == 1 and core.isupper() and not ctx.final:
        return core  # an initial: "J. K. Rowling" -> "J K Rowling" (its stop would end a sentence in espeak)
    return None


def _saint_or_street(ctx: _Context) -> str:
    return "Saint" if ctx.next[:1].isupper() else "Street"


# --- characters ---------------------------------------------------------------------------------------------

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


def _clean(word: str) -> str:
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


# --- words --------------------------------------------------------------------------------------------------

_MARKS = ",;:.?!"
_STRENGTH = {"": 0, ",": 1, ";": 2, ":": 2, ".": 3, "!": 4, "?": 4}
_OPENERS = "\"'([{<*_"
_CLOSERS = "\"')]}>*_,;:.?!"
# A written word that is plain letters with at most one trailing mark: said as written (the fast path).
_PLAIN = re.compile(r"(?P<core>[A-Za-z]+(?:'[A-Za-z]+)?)(?P<mark>[,;:.?!]?)")
# Where a written word breaks into pieces said with a pause between: dashes and ellipses. A single en dash
# between numbers is a range and is left for the number parser.
_BREAK = re.compile(r"[—–-]{2,}|—|\.{3,}|–(?![-+]?[$£€¥]?[0-9])|(?<![0-9%])–|\A-\Z")
_LETTERS = r"A-Za-zÀ-ÖØ-öø-ɏḀ-ỿ"
_WORD = re.compile(rf"[{_LETTERS}]+(?:['-][{_LETTERS}]+)*")
_RUN = re.compile(rf"[0-9]+(?:[.,][0-9]+)*|[{_LETTERS}\u0300-\u036f]+(?:'[{_LETTERS}]+)*|.", re.DOTALL)
_SYMBOL_WORDS = {
    "&": "and",
    "+": "plus",
    "@": "at",
    "#": "number",
    "%": "percent",
    "=": "equals",
    "<": "less than",
    ">": "more than",
    "~": "about",
    "°": "degrees",
    "$": "dollars",
    "£": "pounds",
    "€": "euros",
    "¥": "yen",
    "₹": "rupees",
    "¢": "cents",
}
_NOT_SPOKEN = re.compile(rf"[^{_LETTERS}\u0300-\u036f' ,;:.?!-]+")
_STRAY_JOINER = re.compile(rf"(?<![{_LETTERS}])['-]+|['-]+(?![{_LETTERS}])")
_SPACE_BEFORE_MARK = re.compile(r"\s+(?=[,;:.?!])")
_MARK_RUN = re.compile(r"[,;:.?!]{2,}")
_SPACES = re.compile(r"\s+")
_DIGITS = re.compile(r"[0-9]+")


def _stronger(a: str, b: str) -> str:
    return b if _STRENGTH[b] > _STRENGTH[a] else a


def _strongest(marks: str) -> str:
    best = ""
    for mark in marks:
        best = _stronger(best, mark)
    return best


def _tidy(text: str) -> str:
    """The final guarantee on a spoken form: allowed characters only, single spaces, no leading mark."""
    text = _DIGITS.sub(lambda m: f" {_integer(m.group())} ", text)
    text = _NOT_SPOKEN.sub(" ", text)
    text = _STRAY_JOINER.sub(" ", text)
    text = _SPACE_BEFORE_MARK.sub("", text)
    text = _MARK_RUN.sub(lambda m: _strongest(m.group()), text)
    text = _SPACES.sub(" ", text).strip()
    return text.lstrip(_MARKS + " ")


class _Speech:
    """The spoken form of one written word, built piece by piece."""

    __slots__ = ("lead", "text", "pending", "carry")

    def __init__(self, carry: str) -> None:
        self.lead = ""  # a pause before the first spoken word: it goes onto the previous written word
        self.text = ""
        self.pending = ""  # a pause after the last spoken word so far
        self.carry = carry  # a unit moved here from the previous word ("million" + "dollars")

    def mark(self, mark: str) -> None:
        if self.text:
            self.pending = _stronger(self.pending, mark)
        else:
            self.lead = _stronger(self.lead, mark)

    def say(self, words: str) -> None:
        if not words:
            return
        if self.carry:
            words, self.carry = f"{words} {self.carry}", ""
        self.text = f"{self.text}{self.pending} {words}" if self.text else words
        self.pending = ""


def _mark_of(punctuation: str, final: bool) -> str:
    """The pause a run of written punctuation asks for."""
    if not punctuation:
        return ""
    if "?" in punctuation:
        return "?"
    if "!" in punctuation:
        return "!"
    if ".." in punctuation:  # an ellipsis: a pause, and the end only at the end
        return "." if final else ","
    for mark in ".;:":
        if mark in punctuation:
            return mark
    if any(ch in punctuation for ch in ",)]}"):
        return ","
    return ""


def _say_piece(piece: str, speech: _Speech, ctx: _Context, lexicon: Lexicon, last_piece: bool) -> str:
    """Say one dash-free piece of a written word; return the unit to carry to the next written word."""
    stripped = piece.lstrip(_OPENERS)
    lead = piece[: len(piece) - len(stripped)]
    core = stripped.rstrip(_CLOSERS)
    trail = stripped[len(core) :]
    if any(ch in lead for ch in "([{"):
        speech.mark(",")
    final = ctx.final and last_piece
    if not core:
        speech.mark(_mark_of(trail, final))
        return ""
    spoken, carry = _say_core(core, trail, ctx, lexicon, last_piece)
    if spoken is None:  # an abbreviation that took the full stop
        spoken, trail = carry, trail[1:]
        carry = ""
        if final:
            trail = "." + trail
    speech.say(spoken)
    speech.mark(_mark_of(trail, final))
    return carry


def _say_core(core: str, trail: str, ctx: _Context, lexicon: Lexicon, last_piece: bool) -> tuple[str | None, str]:
    """(spoken, carried unit); (None, spoken) when an abbreviation consumed the full stop after it."""
    if not core:
        return "", ""
    if lexicon:
        if (spoken := lexicon.spoken_form(core)) is not None:
            return spoken, ""
        if core[-2:].lower() == "'s" and (spoken := lexicon.spoken_form(core[:-2])) is not None:
            return f"{spoken}'s", ""
    if core[-2:].lower() == "'s" and _INITIALISM.fullmatch(core[:-2].rstrip(".")):
        return " ".join(ch.upper() for ch in core[:-2] if ch != ".") + "'s", ""  # "U.K.'s"
    dotted = trail.startswith(".") and not trail.startswith("..")
    if (spoken := _abbreviation(core, dotted, ctx)) is not None:
        return (None, spoken) if dotted else (spoken, "")
    use_next = last_piece and not trail
    if dotted and core[-3:].lower() in ("a.m", "p.m") and (found := _numeric(core + ".", ctx, use_next)):
        return None, found[0]  # "3p.m." — the stop belongs to the abbreviation
    if core[0] in "0123456789$£€¥₹#.-+~" or any(ch.isdigit() for ch in core):
        found = _numeric(core, ctx, use_next)
        if found is not None:
            return found
    if core in _SYMBOL_WORDS:
        return _SYMBOL_WORDS[core], ""
    lower = core.lower()
    if lower in _UNITS and _BARE_NUMBER.fullmatch(ctx.prev):
        one, many = _UNITS[lower]
        return (one if ctx.prev == "1" else many), ""
    if _WORD.fullmatch(core):
        if "-" in core and lexicon:
            return "-".join(lexicon.spoken_form(p) or p for p in core.split("-")), ""
        return core, ""
    if _DIGIT_GROUPS.fullmatch(core):
        # Not a range: a phone number or a code ("555-1234"), said digit by digit, a pause between groups.
        return ", ".join(_digit_by_digit(group) for group in core.split("-")), ""
    if "-" in core.strip("-"):
        # "19th-century", "5-year-old", "COVID-19": each part on its own.
        parts = [
            _say_core(p.rstrip("."), p[len(p.rstrip(".")) :], _NO_CONTEXT, lexicon, False) for p in core.split("-")
        ]
        return " ".join(p[0] if p[0] is not None else p[1] for p in parts), ""
    return _say_runs(core.lstrip("-"), ctx, lexicon), ""


def _say_runs(core: str, ctx: _Context, lexicon: Lexicon) -> str:
    """The fallback for mixed tokens: letters as written, numbers as words, known symbols as words."""
    runs = _RUN.findall(core)
    words: list[str] = []
    for i, run in enumerate(runs):
        if run[0].isdigit():
            if "," in run and not _INT_RE.fullmatch(run):
                words.extend(_decimal(part) for part in run.split(","))
            elif run.count(".") > 1:
                words.append(" point ".join(_integer(part) for part in run.split(".")))
            else:
                words.append(_decimal(run))
        elif run[0].isalpha():
            words.append((lexicon.spoken_form(run) if lexicon else None) or run)
        elif run == "#":
            following = runs[i + 1] if i + 1 < len(runs) else ""
            words.append("hashtag" if following[:1].isalpha() else "number")
        elif run == "." and 0 < i < len(runs) - 1 and runs[i - 1][0].isalnum() and runs[i + 1][0].isalnum():
            words.append("dot")  # "Shortform.com"
        elif run in _SYMBOL_WORDS:
            words.append(_SYMBOL_WORDS[run])
    return " ".join(w for w in words if w)


def _bare(word: str) -> str:
    return word.strip(_OPENERS + _CLOSERS + "“”‘’—–")


def _say_word(word: str, ctx: _Context, lexicon: Lexicon, carry: str) -> tuple[str, str, str]:
    """(pause before, spoken form, unit to carry to the next word) of one written word."""
    if (m := _PLAIN.fullmatch(word)) and not carry:
        core, mark = m["core"], m["mark"]
        if not (
            (lexicon and (lexicon.spoken_form(core) is not None or lexicon.spoken_form(core[:-2]) is not None))
            or core in _UNDOTTED
            or core == "St"
            or (mark == "." and (len(core) == 1 or core.casefold() in _DOTTED_KEYS))
            or (core.lower() in _UNITS and _BARE_NUMBER.fullmatch(ctx.prev))
        ):
            return "", word, ""
    speech = _Speech(carry)
    next_carry = ""
    for token in _clean(word).split():
        pieces = _BREAK.split(token)
        breaks = _BREAK.findall(token)
        for i, piece in enumerate(pieces):
            if i:
                speech.mark("." if breaks[i - 1][0] == "." and ctx.final and i == len(pieces) - 1 else ",")
            next_carry = _say_piece(piece, speech, ctx, lexicon, i == len(pieces) - 1) or next_carry
    text = _tidy(speech.text + speech.pending) if speech.text else ""
    if speech.carry:  # the word meant to take the unit said nothing; say the unit here
        text = _tidy(f"{text} {speech.carry}")
    return speech.lead, text, next_carry


def speech_words(words: Sequence[str], lexicon: Lexicon) -> list[str]:
    """One spoken form per written word of one sentence; see the module docstring for what they hold."""
    count = len(words)
    bare = [_bare(w) for w in words]
    spoken: list[str] = []
    last_said = -1  # index of the last non-empty spoken form, where a pause before a word is written
    carry = ""
    for i, word in enumerate(words):
        ctx = _Context(
            prev=bare[i - 1].lower() if i else "",
            next=bare[i + 1] if i + 1 < count else "",
            final=i == count - 1,
        )
        lead, text, carry = _say_word(word, ctx, lexicon, carry)
        if lead and last_said >= 0:
            spoken[last_said] = _with_mark(spoken[last_said], lead)
        spoken.append(text)
        if text:
            last_said = i
    return spoken


def _with_mark(text: str, mark: str) -> str:
    """``text`` ending in the stronger of its own final mark and ``mark``."""
    body = text.rstrip(_MARKS)
    return body + _stronger(_strongest(text[len(body) :]), mark)


_NO_LEXICON = Lexicon.empty()
